/* Unit tests for src/http/query.h: the lists' query strings (the user's and
 * the operator's filters: user_id, product_id, created_after and
 * created_before as RFC 3339 times) and the Link header that echoes them. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../src/http/query.h"

/* 2026-12-01T10:00:00Z (Python's datetime says so) */
#define DEC1_MS 1796119200000LL

static h2o_mem_pool_t pool;

static int setup(void **state)
{
    h2o_mem_init_pool(&pool);
    return 0;
}

static int teardown(void **state)
{
    h2o_mem_clear_pool(&pool);
    return 0;
}

/* The operator's list's answer to `query`: NULL (accepted, *q filled) or why not. */
static const char *queue(const char *query, orderd_list_query_t *q)
{
    return orderd_http_queue_query_parse(&pool, query, strlen(query), q);
}

static void assert_str(orderd_str_t got, const char *want)
{
    assert_int_equal(got.len, strlen(want));
    assert_memory_equal(got.base, want, got.len);
}

/* created_after=`text` is accepted as `ms`. */
static void assert_after(const char *text, int64_t ms)
{
    char query[128];
    orderd_list_query_t q;
    snprintf(query, sizeof(query), "created_after=%s", text);
    const char *why = queue(query, &q);
    if (why != NULL)
        fail_msg("%s refused: %s", text, why);
    assert_int_equal(q.page.created_after_ms, ms);
    assert_int_equal(q.page.created_before_ms, 0);
}

/* Both bounds refuse `text`, each naming itself. */
static void assert_bad_time(const char *text)
{
    char query[128];
    orderd_list_query_t q;
    snprintf(query, sizeof(query), "created_after=%s", text);
    const char *why = queue(query, &q);
    if (why == NULL)
        fail_msg("created_after=%s accepted as %lld", text, (long long)q.page.created_after_ms);
    assert_non_null(strstr(why, "created_after must be an RFC 3339 date-time"));
    snprintf(query, sizeof(query), "created_before=%s", text);
    why = queue(query, &q);
    if (why == NULL)
        fail_msg("created_before=%s accepted", text);
    assert_non_null(strstr(why, "created_before must be an RFC 3339 date-time"));
}

static void test_user_list_takes_no_operator_filter(void **state)
{
    orderd_list_query_t q;
    const char *names[] = {"user_id=alice", "product_id=sku-1", "created_after=2026-12-01T10:00:00Z",
                           "created_before=2026-12-01T10:00:00Z"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); ++i) {
        const char *why = orderd_http_list_query_parse(&pool, names[i], strlen(names[i]), &q);
        assert_non_null(why);
        assert_string_equal(why, "unknown query parameter; lists take limit, offset, status, after and before");
    }
    /* and the operator's list names what it takes */
    const char *why = queue("bogus=1", &q);
    assert_non_null(why);
    assert_non_null(strstr(why, "user_id, product_id, created_after and created_before"));
}

static void test_user_and_product(void **state)
{
    orderd_list_query_t q;
    assert_null(queue("user_id=alice.b%40shop:1&product_id=sku%201%2F%C3%A9&limit=5", &q));
    assert_str(q.page.user_id, "alice.b@shop:1");
    assert_str(q.user_id, "alice.b@shop:1");
    assert_str(q.page.product_id, "sku 1/\xc3\xa9");
    assert_int_equal(q.page.limit, 5);
    assert_int_equal(q.page.created_after_ms, 0);
    assert_int_equal(q.page.created_before_ms, 0);
    /* none given: every user and product (NULL bases) */
    assert_null(queue("", &q));
    assert_null(q.page.user_id.base);
    assert_null(q.page.product_id.base);

    assert_string_equal(queue("user_id=", &q), "user_id must be 1 to 64 characters of A-Z a-z 0-9 . _ : @ -");
    assert_non_null(queue("user_id=a%20b", &q));
    assert_non_null(queue("user_id=a/b", &q));
    assert_string_equal(queue("product_id=", &q), "product_id must be 1 to 64 bytes");
    assert_string_equal(queue("product_id", &q), "product_id must be 1 to 64 bytes");
    /* both take 64 bytes, not 65 */
    const char *names[] = {"user_id", "product_id"};
    for (size_t i = 0; i < 2; ++i) {
        char longq[128];
        snprintf(longq, sizeof(longq), "%s=%065d", names[i], 0);
        assert_non_null(queue(longq, &q));
        snprintf(longq, sizeof(longq), "%s=%064d", names[i], 0);
        assert_null(queue(longq, &q));
    }

    assert_string_equal(queue("user_id=a&user_id=b", &q), "a query parameter is given more than once");
    assert_string_equal(queue("product_id=a&product_id=a", &q), "a query parameter is given more than once");
    assert_string_equal(queue("created_after=2026-12-01T10:00:00Z&created_after=2026-12-01T10:00:00Z", &q),
                        "a query parameter is given more than once");
}

static void test_rfc3339_times(void **state)
{
    assert_after("2026-12-01T10:00:00Z", DEC1_MS);
    assert_after("2026-12-01t10:00:00z", DEC1_MS);
    assert_after("2026-12-01T10:00:00.123Z", DEC1_MS + 123);
    assert_after("2026-12-01T10:00:00.1Z", DEC1_MS + 100);
    assert_after("2026-12-01T10:00:00.000000000Z", DEC1_MS);
    assert_after("2026-12-01T11:00:00%2B01:00", DEC1_MS);   /* +01:00, encoded */
    assert_after("2026-12-01T11:00:00+01:00", DEC1_MS);     /* the '+' read as a space, taken as '+' */
    assert_after("2026-12-01T04:30:00-05:30", DEC1_MS);
    assert_after("2026-12-01T10:00:00.5%2B00:00", DEC1_MS + 500);
    assert_after("2026-12-01T10:00:00-00:00", DEC1_MS);
    assert_after("2028-02-29T23:59:59Z", 1835481599000LL);  /* a leap day */
    assert_after("2016-12-31T23:59:60Z", 1483228800000LL);  /* a leap second: the second after :59 */
    assert_after("1970-01-01T00:00:00.001Z", 1);
}

static void test_rfc3339_refused(void **state)
{
    const char *bad[] = {
        "",                            /* empty */
        "2026-12-01",                  /* a date only */
        "2026-12-01T10:00:00",         /* no offset */
        "2026-12-01T10:00Z",           /* no seconds */
        "2026-12-01 10:00:00Z",        /* a space for T */
        "2026-12-01T10:00:00ZZ",       /* trailing */
        "2026-12-01T10:00:00+0100",    /* offset without its colon */
        "2026-12-01T10:00:00+24:00",   /* offset hour */
        "2026-12-01T10:00:00+01:60",   /* offset minute */
        "2026-13-01T10:00:00Z",        /* month */
        "2026-00-01T10:00:00Z",
        "2026-02-29T10:00:00Z",        /* not a leap year */
        "2026-04-31T10:00:00Z",        /* April has 30 days */
        "2026-12-00T10:00:00Z",
        "2026-12-01T24:00:00Z",        /* hour */
        "2026-12-01T10:60:00Z",        /* minute */
        "2026-12-01T10:00:61Z",        /* second */
        "2026-12-01T10:00:00.Z",       /* an empty fraction */
        "2026-12-01T10:00:00.1234567891Z", /* ten digits */
        "2026-12-01T10:00:0aZ",
        "+2026-12-01T10:00:00Z",
        "1969-12-31T23:59:59Z",        /* before the epoch */
        "1970-01-01T00:00:00Z",        /* the epoch itself: nothing is created at or before it */
        "1970-01-01T00:30:00%2B01:00", /* 1969 in UTC */
        "2026-12-01T10:00:00%00Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i)
        assert_bad_time(bad[i]);
}

/* Finer than a millisecond: after rounds down, before rounds up, so each stays strict and exact. */
static void test_bounds_are_strict_to_the_millisecond(void **state)
{
    orderd_list_query_t q;
    assert_null(queue("created_after=2026-12-01T10:00:00.1234Z&created_before=2026-12-01T10:00:00.1234Z", &q));
    assert_int_equal(q.page.created_after_ms, DEC1_MS + 123);   /* > .1234 means >= .124, i.e. > .123 */
    assert_int_equal(q.page.created_before_ms, DEC1_MS + 124);  /* < .1234 means <= .123, i.e. < .124 */
    assert_null(queue("created_after=2026-12-01T10:00:00.123000Z&created_before=2026-12-01T10:00:00.123000Z", &q));
    assert_int_equal(q.page.created_after_ms, DEC1_MS + 123);
    assert_int_equal(q.page.created_before_ms, DEC1_MS + 123);
    assert_str(q.created_after, "2026-12-01T10:00:00.123000Z");
    /* a reversed range is a query that matches nothing, not an error */
    assert_null(queue("created_after=2026-12-02T00:00:00Z&created_before=2026-12-01T00:00:00Z", &q));
    /* with the other parameters */
    assert_null(queue("status=pending&after=0000000000001&user_id=u&product_id=p&created_before=2026-12-01T10:00:00Z",
                      &q));
    assert_int_equal(q.page.mode, ORDERD_PAGE_AFTER);
    assert_int_equal(q.page.status_mask, 1u << ORDERD_STATUS_PENDING);
    assert_int_equal(q.page.created_before_ms, DEC1_MS);
}

static void test_status_refusal_names_every_status(void **state)
{
    orderd_list_query_t q;
    const char *why = orderd_http_list_query_parse(&pool, "status=teleported", 17, &q);
    assert_non_null(why);
    assert_int_equal(strncmp(why, "status must be one or more (comma-separated) of pending, processing", 67), 0);
    for (int i = 0; i < ORDERD_STATUS_COUNT; ++i) {
        const char *name = orderd_status_name((orderd_status_t)i);
        assert_non_null(strstr(why, name));
        /* and each of them is taken */
        char query[64];
        snprintf(query, sizeof(query), "status=%s", name);
        assert_null(queue(query, &q));
        assert_int_equal(q.page.status_mask, 1u << i);
    }
    assert_string_equal(queue("status=pending,", &q), why);
}

/* The Link header of a middle page of the operator's list for `query`. */
static h2o_iovec_t links_of(h2o_req_t *req, const char *query, orderd_list_query_t *q)
{
    static const orderd_app_t app; /* no trusted proxy */
    static orderd_order_t orders[2];
    static orderd_order_t *ptrs[2] = {&orders[0], &orders[1]};
    memset(req, 0, sizeof(*req));
    h2o_mem_init_pool(&req->pool);
    req->input.scheme = &H2O_URL_SCHEME_HTTP;
    req->input.authority = h2o_iovec_init(H2O_STRLIT("127.0.0.1:8080"));
    assert_null(orderd_http_queue_query_parse(&req->pool, query, strlen(query), q));
    orders[0].id = 1001;
    orders[1].id = 1002;
    orderd_store_page_t page = {ptrs, 2, 10, 4};
    orderd_http_add_page_links(req, &app, "/api/admin/orders", q, &page);
    ssize_t i = h2o_find_header(&req->res.headers, H2O_TOKEN_LINK, -1);
    assert_true(i >= 0);
    return req->res.headers.entries[i].value;
}

/* The query of the link with rel="REL" in `link`, copied into the pool. */
static const char *link_query(h2o_iovec_t link, const char *rel)
{
    char want[32];
    snprintf(want, sizeof(want), "rel=\"%s\"", rel);
    const char *p = link.base, *end = link.base + link.len;
    while (p < end) {
        const char *open = memchr(p, '<', (size_t)(end - p));
        if (open == NULL)
            break;
        const char *close = memchr(open, '>', (size_t)(end - open));
        assert_non_null(close);
        const char *next = memchr(close, '<', (size_t)(end - close));
        size_t tail = (size_t)((next != NULL ? next : end) - close);
        if (memmem(close, tail, want, strlen(want)) != NULL) {
            const char *qm = memchr(open, '?', (size_t)(close - open));
            assert_non_null(qm);
            return h2o_strdup(&pool, qm + 1, (size_t)(close - qm - 1)).base;
        }
        p = close;
    }
    fail_msg("no %s link in %.*s", rel, (int)link.len, link.base);
    return NULL;
}

static void test_links_echo_filters(void **state)
{
    h2o_req_t req;
    orderd_list_query_t q, back;
    h2o_iovec_t link = links_of(&req,
                                "status=pending,processing&user_id=al.ice%40x&product_id=sku%201%2F%C3%A9%26%3D"
                                "&created_after=2026-12-01T11:00:00%2B01:00&created_before=2026-12-02T00:00:00.5Z",
                                &q);
    for (size_t i = 0; i < link.len; ++i)
        assert_true(link.base[i] >= 0x20 && link.base[i] < 0x7f);
    const char *next = link_query(link, "next"), *prev = link_query(link, "prev");
    assert_string_equal(next, "limit=10&status=pending,processing&user_id=al.ice%40x&product_id=sku%201%2F%C3%A9%26%3D"
                              "&created_after=2026-12-01T11%3A00%3A00%2B01%3A00"
                              "&created_before=2026-12-02T00%3A00%3A00.5Z&offset=14");
    /* each link, read back, asks for the same filters */
    const char *each[] = {next, prev};
    for (size_t i = 0; i < 2; ++i) {
        assert_null(orderd_http_queue_query_parse(&pool, each[i], strlen(each[i]), &back));
        assert_int_equal(back.page.status_mask, q.page.status_mask);
        assert_str(back.page.user_id, "al.ice@x");
        assert_str(back.page.product_id, "sku 1/\xc3\xa9&=");
        assert_int_equal(back.page.created_after_ms, DEC1_MS);
        assert_int_equal(back.page.created_before_ms, q.page.created_before_ms);
    }
    h2o_mem_clear_pool(&req.pool);

    /* cursors keep the filters too; a query without filters makes the links it made before */
    char want[96], last[ORDERD_ID_LEN];
    link = links_of(&req, "after=0000000000001&product_id=p", &q);
    orderd_id_format(1002, last);
    snprintf(want, sizeof(want), "limit=10&product_id=p&after=%.*s", ORDERD_ID_LEN, last);
    assert_string_equal(link_query(link, "next"), want);
    h2o_mem_clear_pool(&req.pool);
    link = links_of(&req, "status=pending", &q);
    assert_string_equal(link_query(link, "next"), "limit=10&status=pending&offset=14");
    h2o_mem_clear_pool(&req.pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_user_list_takes_no_operator_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_and_product, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rfc3339_times, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rfc3339_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounds_are_strict_to_the_millisecond, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_refusal_names_every_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_links_echo_filters, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
