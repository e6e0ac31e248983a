/*
 * A list's query string (orderd_http_list_query_parse, and the operator's
 * orderd_http_queue_query_parse, src/http/query.c) and the Link header built
 * from it (orderd_http_add_page_links) on any input: the query string, or
 * "HOST\nQUERY" to choose the Host the links are made from. Checked: a
 * refusal says why; an accepted query keeps its ranges (the operator's
 * filters too); the Link header is printable ASCII, names the pages that
 * exist and echoes the status filter as given and every other filter by
 * name.
 */
#include "http/query.h"
#include "fuzz.h"

static const char *link_of(h2o_req_t *req, size_t *len)
{
    ssize_t i = h2o_find_header(&req->res.headers, H2O_TOKEN_LINK, -1);
    if (i == -1)
        return NULL;
    *len = req->res.headers.entries[i].value.len;
    return req->res.headers.entries[i].value.base;
}

static int contains(const char *s, size_t len, const char *what, size_t what_len)
{
    return what_len == 0 || memmem(s, len, what, what_len) != NULL;
}

/* Links for one page; `next` / `prev`: whether the page has them. */
static void check_links(const orderd_list_query_t *q, h2o_iovec_t host, orderd_store_page_t *page, int next, int prev)
{
    static const orderd_app_t app; /* no trusted proxy: the links use the request's own Host */
    h2o_req_t req;
    fuzz_req_init(&req);
    req.input.scheme = &H2O_URL_SCHEME_HTTP;
    req.input.authority = host;
    orderd_http_add_page_links(&req, &app, "/api/orders", q, page);
    size_t len = 0;
    const char *link = link_of(&req, &len);
    FUZZ_CHECK((link != NULL) == (next || prev));
    if (link != NULL) {
        for (size_t i = 0; i < len; ++i)
            FUZZ_CHECK(link[i] >= 0x20 && link[i] < 0x7f);
        FUZZ_CHECK(contains(link, len, "rel=\"next\"", 10) == next);
        FUZZ_CHECK(contains(link, len, "rel=\"prev\"", 10) == prev);
        FUZZ_CHECK(contains(link, len, "/api/orders?limit=", 18));
        if (q->status.len > 0) {
            FUZZ_CHECK(contains(link, len, "&status=", 8) && contains(link, len, q->status.base, q->status.len));
        }
        FUZZ_CHECK(q->user_id.len == 0 || contains(link, len, "&user_id=", 9));
        FUZZ_CHECK(q->product_id.len == 0 || contains(link, len, "&product_id=", 12));
        FUZZ_CHECK(q->created_after.len == 0 || contains(link, len, "&created_after=", 15));
        FUZZ_CHECK(q->created_before.len == 0 || contains(link, len, "&created_before=", 16));
    }
    fuzz_req_dispose(&req);
}

/* One parser's answer to `query`, and the links of its pages. */
static void check_query(const char *(*parse)(h2o_mem_pool_t *, const char *, size_t, orderd_list_query_t *),
                        const char *query, size_t len, h2o_iovec_t host)
{
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    orderd_list_query_t q;
    const char *why = parse(&pool, query, len, &q);
    if (why != NULL) {
        FUZZ_CHECK(strlen(why) > 0);
        h2o_mem_clear_pool(&pool);
        return;
    }
    FUZZ_CHECK(q.page.limit >= 1 && q.page.limit <= 100);
    FUZZ_CHECK(q.page.mode == ORDERD_PAGE_OFFSET || q.page.mode == ORDERD_PAGE_AFTER ||
               q.page.mode == ORDERD_PAGE_BEFORE);
    FUZZ_CHECK(q.page.mode == ORDERD_PAGE_OFFSET || q.page.offset == 0);
    FUZZ_CHECK((q.status.len > 0) == (q.page.status_mask != 0));
    FUZZ_CHECK(q.page.status_mask < (1u << ORDERD_STATUS_COUNT));
    FUZZ_CHECK(q.status.len <= len);
    /* the operator's filters: only from the operator's parser, each in its range */
    FUZZ_CHECK(parse == orderd_http_queue_query_parse ||
               (q.page.user_id.base == NULL && q.page.product_id.base == NULL && q.page.created_after_ms == 0 &&
                q.page.created_before_ms == 0));
    FUZZ_CHECK(q.page.user_id.base == NULL || (q.page.user_id.len >= 1 && q.page.user_id.len <= ORDERD_USER_ID_MAX));
    FUZZ_CHECK(q.page.product_id.base == NULL ||
               (q.page.product_id.len >= 1 && q.page.product_id.len <= ORDERD_PRODUCT_ID_MAX));
    FUZZ_CHECK(q.page.created_after_ms >= 0 && (q.created_after.len > 0 || q.page.created_after_ms == 0));
    FUZZ_CHECK(q.page.created_before_ms >= 0 && (q.created_before.len > 0) == (q.page.created_before_ms != 0));

    /* a full page in the middle of the list, then an empty one past its end */
    orderd_order_t orders[3];
    orderd_order_t *ptrs[3];
    memset(orders, 0, sizeof(orders));
    size_t n = q.page.limit < 3 ? q.page.limit : 3;
    for (size_t i = 0; i < n; ++i) {
        orders[i].id = q.page.cursor + 1 + i;
        ptrs[i] = &orders[i];
    }
    int cursor = q.page.mode != ORDERD_PAGE_OFFSET;
    size_t offset = cursor ? 1 : q.page.offset;
    orderd_store_page_t page = {ptrs, n, offset + n + 5, offset};
    check_links(&q, host, &page, 1, offset > 0);
    orderd_store_page_t past = {ptrs, 0, 0, offset};
    check_links(&q, host, &past, 0, offset > 0);
    h2o_mem_clear_pool(&pool);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data, *nl = memchr(in, '\n', size);
    h2o_iovec_t host =
        nl != NULL ? h2o_iovec_init(in, (size_t)(nl - in)) : h2o_iovec_init(H2O_STRLIT("localhost:8080"));
    const char *query = nl != NULL ? nl + 1 : in;
    size_t len = size - (size_t)(query - in);
    check_query(orderd_http_list_query_parse, query, len, host);
    check_query(orderd_http_queue_query_parse, query, len, host);
    return 0;
}
