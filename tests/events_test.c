/* Unit tests for src/http/events.h: GET /api/admin/events's query string
 * (after, limit, wait: defaults, bounds, repeats, unknown names), the
 * Last-Event-ID header, and one event framed as a Server-Sent Event. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "../src/http/events.h"

static const char *parse(const char *query, orderd_events_query_t *q)
{
    return orderd_http_events_query_parse(query, strlen(query), q);
}

static void test_defaults(void **state)
{
    orderd_events_query_t q = {7, 7, 7};
    assert_null(parse("", &q));
    assert_int_equal(q.after, 0);
    assert_int_equal(q.limit, 100);
    assert_int_equal(q.wait, 0);
}

static void test_values_and_bounds(void **state)
{
    orderd_events_query_t q;
    assert_null(parse("after=18446744073709551615&limit=1000&wait=60", &q));
    assert_true(q.after == UINT64_MAX);
    assert_int_equal(q.limit, 1000);
    assert_int_equal(q.wait, 60);
    assert_null(parse("limit=1&&wait=0&after=0", &q));
    assert_int_equal(q.limit, 1);
    assert_int_equal(q.wait, 0);
}

/* Each refusal names its parameter. */
static void expect_refused(const char *query, const char *name)
{
    orderd_events_query_t q;
    const char *why = parse(query, &q);
    assert_non_null(why);
    if (strstr(why, name) == NULL)
        fail_msg("\"%s\": \"%s\" does not name %s", query, why, name);
}

static void test_refused(void **state)
{
    expect_refused("limit=0", "limit");
    expect_refused("limit=1001", "limit");
    expect_refused("limit=", "limit");
    expect_refused("limit", "limit");
    expect_refused("limit=-1", "limit");
    expect_refused("limit=1e3", "limit");
    expect_refused("wait=61", "wait");
    expect_refused("wait=1.5", "wait");
    expect_refused("after=18446744073709551616", "after");
    expect_refused("after=%31", "after");
    expect_refused("after=+1", "after");
    expect_refused("after=1&after=2", "after");
    expect_refused("limit=5&wait=1&limit=5", "limit");
    expect_refused("since=4", "after, limit and wait");
    expect_refused("Limit=4", "after, limit and wait");
}

static void test_last_event_id(void **state)
{
    uint64_t seq = 0;
    assert_int_equal(orderd_http_events_last_id_parse(" 42 ", 4, &seq), 0);
    assert_true(seq == 42);
    assert_int_equal(orderd_http_events_last_id_parse("0", 1, &seq), 0);
    assert_true(seq == 0);
    assert_int_equal(orderd_http_events_last_id_parse("", 0, &seq), -1);
    assert_int_equal(orderd_http_events_last_id_parse("1-42", 4, &seq), -1);
    assert_int_equal(orderd_http_events_last_id_parse("99999999999999999999", 20, &seq), -1);
}

static void test_sse_frame(void **state)
{
    static const char json[] = "{\"id\":\"3-17\",\"seq\":17,\"node\":3,\"type\":\"order.status_changed\","
                               "\"order\":{\"type\":\"x\",\"items\":[{\"type\":\"y\"}]}}";
    static const char want[] = "id: 17\nevent: order.status_changed\ndata: {\"id\":\"3-17\",\"seq\":17,\"node\":3,"
                               "\"type\":\"order.status_changed\",\"order\":{\"type\":\"x\",\"items\":[{\"type\":"
                               "\"y\"}]}}\n\n";
    char out[512];
    size_t need = orderd_http_events_sse_format(17, json, sizeof(json) - 1, NULL, 0);
    assert_int_equal(need, sizeof(want) - 1);
    assert_int_equal(orderd_http_events_sse_format(17, json, sizeof(json) - 1, out, need), need);
    assert_memory_equal(out, want, need);
}

/* A nested "type" is not the event's; a type that could break the framing is not used. */
static void test_sse_type_fallback(void **state)
{
    static const char nested[] = "{\"seq\":5,\"order\":{\"type\":\"order.created\"}}";
    static const char hostile[] = "{\"type\":\"a\\ndata: x\"}";
    char out[256];
    size_t n = orderd_http_events_sse_format(5, nested, sizeof(nested) - 1, out, sizeof(out));
    assert_true(n < sizeof(out));
    assert_memory_equal(out, "id: 5\nevent: message\ndata: ", 27);
    n = orderd_http_events_sse_format(6, hostile, sizeof(hostile) - 1, out, sizeof(out));
    assert_true(n < sizeof(out));
    assert_memory_equal(out, "id: 6\nevent: message\ndata: ", 27);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),       cmocka_unit_test(test_values_and_bounds),
        cmocka_unit_test(test_refused),        cmocka_unit_test(test_last_event_id),
        cmocka_unit_test(test_sse_frame),      cmocka_unit_test(test_sse_type_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
