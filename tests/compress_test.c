/* Unit tests for src/http/compress.h: which answers h2o's compress filter
 * may code (the hint: the size threshold, never with an ETag) and that the
 * filter is there only with --compress on. What goes over the wire (gzip,
 * Vary, Content-Length): tests/integration/compress_test.py. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "../src/http/compress.h"

static h2o_req_t req;

static int setup_req(void **state)
{
    memset(&req, 0, sizeof(req));
    h2o_mem_init_pool(&req.pool);
    return 0;
}

static int teardown_req(void **state)
{
    h2o_mem_clear_pool(&req.pool);
    return 0;
}

static void test_hint_by_size(void **state)
{
    static const struct {
        size_t len;
        char want;
    } cases[] = {
        {0, H2O_COMPRESS_HINT_DISABLE},
        {400, H2O_COMPRESS_HINT_DISABLE}, /* a seed-sized order */
        {ORDERD_HTTP_COMPRESS_MIN_BYTES - 1, H2O_COMPRESS_HINT_DISABLE},
        {ORDERD_HTTP_COMPRESS_MIN_BYTES, H2O_COMPRESS_HINT_ENABLE},
        {3700, H2O_COMPRESS_HINT_ENABLE}, /* a page of 10 */
        {SIZE_MAX, H2O_COMPRESS_HINT_ENABLE},
    };
    h2o_add_header(&req.pool, &req.res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_add_header(&req.pool, &req.res.headers, H2O_TOKEN_LINK, NULL, H2O_STRLIT("</api/orders?offset=10>"));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        req.compress_hint = H2O_COMPRESS_HINT_AUTO;
        orderd_http_compress_hint(&req, cases[i].len);
        if (req.compress_hint != cases[i].want)
            fail_msg("a body of %zu bytes: hint %d, want %d", cases[i].len, req.compress_hint, cases[i].want);
    }
}

static void test_hint_never_with_etag(void **state)
{
    h2o_add_header(&req.pool, &req.res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_add_header(&req.pool, &req.res.headers, H2O_TOKEN_ETAG, NULL, H2O_STRLIT("\"0000000000001-2\""));
    size_t sizes[] = {0, ORDERD_HTTP_COMPRESS_MIN_BYTES, 1 << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); ++i) {
        req.compress_hint = H2O_COMPRESS_HINT_ENABLE;
        orderd_http_compress_hint(&req, sizes[i]);
        if (req.compress_hint != H2O_COMPRESS_HINT_DISABLE)
            fail_msg("a body of %zu bytes with an ETag: hint %d, want DISABLE", sizes[i], req.compress_hint);
    }
}

static void test_filter_only_when_on(void **state)
{
    h2o_globalconf_t gc;
    h2o_config_init(&gc);
    h2o_hostconf_t *host = h2o_config_register_host(&gc, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *off = h2o_config_register_path(host, "/off", 0);
    h2o_pathconf_t *on = h2o_config_register_path(host, "/on", 0);
    /* h2o puts its chunked filter on every path itself */
    size_t before = off->filters.size;
    assert_int_equal(on->filters.size, before);
    orderd_app_t app = {.compress = 0};
    orderd_http_compress_filter_register(off, &app);
    assert_int_equal(off->filters.size, before);
    app.compress = 1;
    orderd_http_compress_filter_register(on, &app);
    assert_int_equal(on->filters.size, before + 1);
    assert_non_null(on->filters.entries[before]->on_setup_ostream);
    h2o_config_dispose(&gc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hint_by_size, setup_req, teardown_req),
        cmocka_unit_test_setup_teardown(test_hint_never_with_etag, setup_req, teardown_req),
        cmocka_unit_test(test_filter_only_when_on),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
