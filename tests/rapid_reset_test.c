/* Unit tests for src/http/rapid_reset.h: the sliding window that counts an
 * HTTP/2 connection's streams reset before their answer, and that HTTP/1
 * requests are never counted. The GOAWAY itself, on a real connection:
 * tests/hostile/rapid_reset_test.py. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "../src/http/rapid_reset.h"

#define W ORDERD_HTTP2_RESET_WINDOW_MS
#define T0 1700000000000ull /* h2o's loop clock: gettimeofday in ms */

static void test_burst_is_exact(void **state)
{
    orderd_http_reset_window_t w = {0};
    for (uint64_t i = 1; i <= 1000; ++i)
        assert_int_equal(orderd_http_reset_window_add(&w, T0), i);
}

static void test_spread_within_one_window(void **state)
{
    orderd_http_reset_window_t w = {0};
    for (uint64_t i = 0; i < 100; ++i)
        assert_int_equal(orderd_http_reset_window_add(&w, T0 + i * (W / 100)), i + 1);
}

static void test_previous_window_weighted(void **state)
{
    orderd_http_reset_window_t w = {0};
    for (int i = 0; i < 10; ++i)
        orderd_http_reset_window_add(&w, T0);
    /* at the start of the next window all of the previous one still counts */
    assert_int_equal(orderd_http_reset_window_add(&w, T0 + W), 11);
    /* half-way through it, half of the previous one: 2 + 10 / 2 */
    assert_int_equal(orderd_http_reset_window_add(&w, T0 + W + W / 2), 7);
    /* at its end, nearly none: 3 + 10 * 1 / W */
    assert_int_equal(orderd_http_reset_window_add(&w, T0 + 2 * W - 1), 3);
}

static void test_rate_below_the_limit_stays_below(void **state)
{
    /* one reset a second for ten minutes never counts more than a window holds */
    orderd_http_reset_window_t w = {0};
    uint64_t most = 0;
    for (uint64_t s = 0; s < 600; ++s) {
        uint64_t n = orderd_http_reset_window_add(&w, T0 + s * 1000);
        most = n > most ? n : most;
    }
    assert_true(most <= W / 1000 + 1);
    assert_true(most >= W / 1000 - 1);
}

static void test_quiet_then_again(void **state)
{
    orderd_http_reset_window_t w = {0};
    for (int i = 0; i < 50; ++i)
        orderd_http_reset_window_add(&w, T0);
    /* two windows of quiet: the count starts over */
    assert_int_equal(orderd_http_reset_window_add(&w, T0 + 2 * W), 1);
    assert_int_equal(orderd_http_reset_window_add(&w, T0 + 2 * W + 1), 2);
}

static void test_clock_going_back_starts_over(void **state)
{
    orderd_http_reset_window_t w = {0};
    for (int i = 0; i < 50; ++i)
        orderd_http_reset_window_add(&w, T0);
    assert_int_equal(orderd_http_reset_window_add(&w, T0 - 5000), 1);
}

static void test_http1_request_is_not_counted(void **state)
{
    /* read nothing but the version: the connection is HTTP/1's, not h2o_http2_conn_t */
    h2o_req_t req;
    memset(&req, 0, sizeof(req));
    req.version = 0x101;
    orderd_http_rapid_reset_note(&req);
    req.version = 0x100;
    orderd_http_rapid_reset_note(&req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_is_exact),
        cmocka_unit_test(test_spread_within_one_window),
        cmocka_unit_test(test_previous_window_weighted),
        cmocka_unit_test(test_rate_below_the_limit_stays_below),
        cmocka_unit_test(test_quiet_then_again),
        cmocka_unit_test(test_clock_going_back_starts_over),
        cmocka_unit_test(test_http1_request_is_not_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
