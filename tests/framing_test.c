/* Unit tests for src/http/framing.h: what the head of an HTTP/1.x request
 * says about the length of its body, read as h2o's parser accepts it. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../src/http/framing.h"

/* Scans `text` from a heap block of exactly its length, so that a read past
 * the end is a sanitizer error; the method is the text's first word. */
static orderd_framing_t scan_minor(const char *text, int minor_version)
{
    size_t len = strlen(text);
    char *buf = malloc(len > 0 ? len : 1);
    assert_non_null(buf);
    memcpy(buf, text, len);
    const char *start = text + strspn(text, "\r\n");
    h2o_iovec_t method = h2o_iovec_init(start, strcspn(start, " "));
    orderd_framing_t f = orderd_http_framing_scan(buf, len, method, minor_version);
    free(buf);
    return f;
}

static orderd_framing_t scan(const char *text)
{
    return scan_minor(text, 1);
}

static void test_plain_requests(void **state)
{
    assert_int_equal(scan("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), ORDERD_FRAMING_OK);
    assert_int_equal(scan("GET / HTTP/1.1\r\n\r\n"), ORDERD_FRAMING_OK);
    assert_int_equal(scan("POST /api/orders HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"), ORDERD_FRAMING_OK);
    assert_int_equal(scan("POST /api/orders HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"),
                     ORDERD_FRAMING_OK);
    /* LF alone ends a line for h2o's parser too; empty lines may come first */
    assert_int_equal(scan("POST / HTTP/1.1\nContent-Length: 2\n\n{}"), ORDERD_FRAMING_OK);
    assert_int_equal(scan("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"), ORDERD_FRAMING_OK);
    /* HTTP/1.0 may send Content-Length */
    assert_int_equal(scan_minor("POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}", 0), ORDERD_FRAMING_OK);
    /* names that only contain the two */
    assert_int_equal(scan("POST / HTTP/1.1\r\nContent-Length: 2\r\nX-Content-Length: 9\r\n"
                          "Content-Length-X: 9\r\nTransfer-Encodings: chunked\r\n\r\n{}"),
                     ORDERD_FRAMING_OK);
}

static void test_both(void **state)
{
    assert_int_equal(scan("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
                     ORDERD_FRAMING_BOTH);
    assert_int_equal(scan("POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n"),
                     ORDERD_FRAMING_BOTH);
    assert_int_equal(scan("POST / HTTP/1.1\r\nCONTENT-LENGTH: 0\r\nTRANSFER-ENCODING: gzip\r\n\r\n"),
                     ORDERD_FRAMING_BOTH);
    /* with an empty value too: the header is there */
    assert_int_equal(scan("GET / HTTP/1.1\r\nContent-Length: 0\r\nTransfer-Encoding:\r\n\r\n"), ORDERD_FRAMING_BOTH);
    /* it comes first of the faults */
    assert_int_equal(scan("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n"),
                     ORDERD_FRAMING_BOTH);
}

static void test_repeated(void **state)
{
    assert_int_equal(scan("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 41\r\n\r\n"),
                     ORDERD_FRAMING_LENGTHS);
    /* the same value twice is refused as well: "exactly once" is the rule */
    assert_int_equal(scan("POST / HTTP/1.1\r\nContent-Length: 5\r\nHost: x\r\ncontent-length: 5\r\n\r\n"),
                     ORDERD_FRAMING_LENGTHS);
    assert_int_equal(scan("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"),
                     ORDERD_FRAMING_CODINGS);
    assert_int_equal(scan("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
                     ORDERD_FRAMING_CODINGS);
}

static void test_http10_coding(void **state)
{
    assert_int_equal(scan_minor("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 0),
                     ORDERD_FRAMING_HTTP10_CODING);
    assert_int_equal(scan_minor("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 1), ORDERD_FRAMING_OK);
}

static void test_folded(void **state)
{
    assert_int_equal(scan("GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n"), ORDERD_FRAMING_FOLDED);
    assert_int_equal(scan("GET / HTTP/1.1\r\nX-A: a\r\n\tb\r\nHost: x\r\n\r\n"), ORDERD_FRAMING_FOLDED);
    /* a hidden Transfer-Encoding value on the next line is still both */
    assert_int_equal(scan("POST / HTTP/1.1\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 3\r\n\r\n"),
                     ORDERD_FRAMING_BOTH);
}

static void test_only_the_head_is_read(void **state)
{
    /* the body and a pipelined request after the empty line are not headers */
    assert_int_equal(scan("POST / HTTP/1.1\r\nContent-Length: 24\r\n\r\nTransfer-Encoding: x\r\n\r\n"),
                     ORDERD_FRAMING_OK);
    assert_int_equal(scan("GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
                     ORDERD_FRAMING_OK);
}

static void test_unreadable(void **state)
{
    h2o_iovec_t get = h2o_iovec_init(H2O_STRLIT("GET"));
    /* not the method h2o parsed, or not followed by a space */
    assert_int_equal(orderd_http_framing_scan(H2O_STRLIT("POST / HTTP/1.1\r\n\r\n"), get, 1),
                     ORDERD_FRAMING_UNREADABLE);
    assert_int_equal(orderd_http_framing_scan(H2O_STRLIT("GETX / HTTP/1.1\r\n\r\n"), get, 1),
                     ORDERD_FRAMING_UNREADABLE);
    assert_int_equal(orderd_http_framing_scan(H2O_STRLIT("GET"), get, 1), ORDERD_FRAMING_UNREADABLE);
    assert_int_equal(orderd_http_framing_scan("", 0, get, 1), ORDERD_FRAMING_UNREADABLE);
    /* no empty line before the end */
    assert_int_equal(scan("GET / HTTP/1.1\r\nHost: x\r\n"), ORDERD_FRAMING_UNREADABLE);
    assert_int_equal(scan("GET / HTTP/1.1\r\nHost: x"), ORDERD_FRAMING_UNREADABLE);
    assert_int_equal(scan("GET / HTTP/1.1"), ORDERD_FRAMING_UNREADABLE);
    /* a line that is no header */
    assert_int_equal(scan("GET / HTTP/1.1\r\nnot a header\r\n\r\n"), ORDERD_FRAMING_UNREADABLE);
    /* only the first `len` bytes count */
    static const char full[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(orderd_http_framing_scan(full, sizeof(full) - 3, get, 1), ORDERD_FRAMING_UNREADABLE);
    assert_int_equal(orderd_http_framing_scan(full, sizeof(full) - 1, get, 1), ORDERD_FRAMING_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_requests), cmocka_unit_test(test_both),
        cmocka_unit_test(test_repeated),       cmocka_unit_test(test_http10_coding),
        cmocka_unit_test(test_folded),         cmocka_unit_test(test_only_the_head_is_read),
        cmocka_unit_test(test_unreadable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
