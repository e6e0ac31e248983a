/* Unit tests for src/http/forwarded.h: RFC 7239 Forwarded and
 * X-Forwarded-For as a trusted proxy sends them. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "../src/http/forwarded.h"

static orderd_cidr_t trusted[2];

static int setup(void **state)
{
    if (orderd_cidr_parse("10.0.0.0/8", &trusted[0]) != 0 || orderd_cidr_parse("::1", &trusted[1]) != 0)
        return -1;
    return 0;
}

static void assert_iov(h2o_iovec_t got, const char *want)
{
    if (want == NULL) {
        assert_int_equal(got.len, 0);
        return;
    }
    assert_int_equal(got.len, strlen(want));
    assert_memory_equal(got.base, want, got.len);
}

static orderd_forwarded_t parse(const char *value)
{
    orderd_forwarded_t f;
    orderd_http_forwarded_parse(h2o_iovec_init(value, strlen(value)), trusted, 2, &f);
    return f;
}

static void test_forwarded_one_element(void **state)
{
    orderd_forwarded_t f = parse("for=192.0.2.60;proto=https;host=shop.example");
    assert_iov(f.proto, "https");
    assert_iov(f.host, "shop.example");
    assert_iov(f.client, "192.0.2.60");
    f = parse("For=\"[2001:db8:cafe::17]:4711\"; Proto=http; Host=\"shop.example:8443\"");
    assert_iov(f.proto, "http");
    assert_iov(f.host, "shop.example:8443");
    assert_iov(f.client, "2001:db8:cafe::17");
    f = parse("for=\"192.0.2.43:47011\"");
    assert_iov(f.client, "192.0.2.43");
    assert_iov(f.proto, NULL);
    assert_iov(f.host, NULL);
}

static void test_forwarded_chain(void **state)
{
    /* the last element is our peer's: its proto and host; the client is the right-most untrusted for= */
    orderd_forwarded_t f = parse("for=198.51.100.1;proto=http, for=203.0.113.5, for=10.1.1.1;proto=https;host=a.example");
    assert_iov(f.proto, "https");
    assert_iov(f.host, "a.example");
    assert_iov(f.client, "203.0.113.5");
    f = parse("for=10.0.0.1, for=\"[::1]\"");
    assert_iov(f.client, "10.0.0.1"); /* all trusted: the left-most */
    f = parse("for=unknown, for=10.0.0.2");
    assert_iov(f.client, NULL); /* an obfuscated hop ends the walk: no client */
    f = parse("proto=\"a,b\";host=x, proto=https");
    assert_iov(f.proto, "https"); /* a quoted comma does not split elements */
    assert_iov(f.host, NULL);
}

static void test_forwarded_refuses(void **state)
{
    orderd_forwarded_t f = parse("proto=gopher;host=x.example");
    assert_iov(f.proto, NULL); /* only http and https */
    assert_iov(f.host, "x.example");
    f = parse("");
    assert_iov(f.proto, NULL);
    assert_iov(f.client, NULL);
    f = parse(";;,,=;proto");
    assert_iov(f.proto, NULL);
    assert_iov(f.client, NULL);
    f = parse("for=not-an-address");
    assert_iov(f.client, NULL);
}

static h2o_iovec_t pick(const char *value)
{
    return orderd_http_forwarded_for_pick(h2o_iovec_init(value, strlen(value)), trusted, 2);
}

static void test_x_forwarded_for(void **state)
{
    assert_iov(pick("203.0.113.7"), "203.0.113.7");
    /* a client may send its own X-Forwarded-For: the proxy appends, the right-most untrusted counts */
    assert_iov(pick("1.2.3.4, 203.0.113.7, 10.0.0.9"), "203.0.113.7");
    assert_iov(pick(" 10.0.0.1 ,::1"), "10.0.0.1");
    assert_iov(pick("2001:db8::5"), "2001:db8::5");
    assert_iov(pick("[2001:db8::5]:80"), "2001:db8::5");
    assert_iov(pick("198.51.100.2:5555"), "198.51.100.2");
    assert_iov(pick("1.2.3.4, garbage"), NULL);
    assert_iov(pick(""), NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forwarded_one_element),
        cmocka_unit_test(test_forwarded_chain),
        cmocka_unit_test(test_forwarded_refuses),
        cmocka_unit_test(test_x_forwarded_for),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
