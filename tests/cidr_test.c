/* Unit tests for orderd/cidr.h: --trusted-proxy blocks and membership. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "orderd/cidr.h"

static int in(const char *block, const char *addr)
{
    orderd_cidr_t c;
    uint8_t a[16];
    assert_int_equal(orderd_cidr_parse(block, &c), 0);
    assert_int_equal(orderd_cidr_parse_addr(addr, strlen(addr), a), 0);
    return orderd_cidr_contains(&c, 1, a);
}

static void test_ipv4_blocks(void **state)
{
    assert_true(in("127.0.0.1/32", "127.0.0.1"));
    assert_false(in("127.0.0.1/32", "127.0.0.2"));
    assert_true(in("10.0.0.0/8", "10.255.1.2"));
    assert_false(in("10.0.0.0/8", "11.0.0.1"));
    assert_true(in("192.168.1.0/25", "192.168.1.127"));
    assert_false(in("192.168.1.0/25", "192.168.1.128"));
    assert_true(in("0.0.0.0/0", "203.0.113.9"));
    assert_true(in("198.51.100.7", "198.51.100.7")); /* a bare address is one host */
    assert_false(in("198.51.100.7", "198.51.100.8"));
    assert_true(in("10.1.2.3/8", "10.9.9.9")); /* host bits are cleared */
}

static void test_ipv6_blocks(void **state)
{
    assert_true(in("::1/128", "::1"));
    assert_true(in("::1", "[::1]"));
    assert_false(in("::1/128", "::2"));
    assert_true(in("2001:db8::/32", "2001:db8:cafe::17"));
    assert_false(in("2001:db8::/32", "2001:db9::1"));
    assert_true(in("fd00::/7", "fdff::1"));
    assert_false(in("fd00::/7", "fe00::1"));
    /* an IPv4 block holds the IPv4-mapped form, and an IPv6 /0 everything */
    assert_true(in("127.0.0.0/8", "::ffff:127.0.0.1"));
    assert_true(in("::/0", "127.0.0.1"));
    assert_false(in("::1/128", "127.0.0.1"));
}

static void test_bad_blocks(void **state)
{
    static const char *const bad[] = {"", "/8", "10.0.0.0/", "10.0.0.0/33", "::1/129", "10.0.0.0/8x", "10.0.0/8",
                                      "256.0.0.1", "host.example", "10.0.0.0/-1", "10.0.0.0/0008", "10.0.0.0/ 8",
                                      "1:2:3:4:5:6:7:8:9"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        orderd_cidr_t c = {.bits = 7};
        assert_int_not_equal(orderd_cidr_parse(bad[i], &c), 0);
        assert_int_equal(c.bits, 7); /* untouched */
    }
}

static void test_several_blocks(void **state)
{
    orderd_cidr_t c[2];
    uint8_t a[16];
    assert_int_equal(orderd_cidr_parse("10.0.0.0/8", &c[0]), 0);
    assert_int_equal(orderd_cidr_parse("::1", &c[1]), 0);
    assert_int_equal(orderd_cidr_parse_addr("::1", 3, a), 0);
    assert_true(orderd_cidr_contains(c, 2, a));
    assert_false(orderd_cidr_contains(c, 1, a));
    assert_false(orderd_cidr_contains(c, 0, a));
    assert_int_not_equal(orderd_cidr_parse_addr("unknown", 7, a), 0);
    assert_int_not_equal(orderd_cidr_parse_addr("", 0, a), 0);
}

/* orderd_cidr_format gives back what --trusted-proxy takes, host bits cleared. */
static void test_format_round_trip(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {{"10.0.0.0/8", "10.0.0.0/8"},         {"10.1.2.3/16", "10.1.0.0/16"}, {"192.0.2.7", "192.0.2.7/32"},
                 {"::1", "::1/128"},                   {"2001:db8::/32", "2001:db8::/32"},
                 {"0.0.0.0/0", "0.0.0.0/0"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        orderd_cidr_t block, again;
        char text[ORDERD_CIDR_TEXT_MAX];
        assert_int_equal(orderd_cidr_parse(cases[i].in, &block), 0);
        assert_string_equal(orderd_cidr_format(&block, text, sizeof(text)), cases[i].out);
        assert_int_equal(orderd_cidr_parse(text, &again), 0);
        assert_memory_equal(&again, &block, sizeof(block));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4_blocks),
        cmocka_unit_test(test_ipv6_blocks),
        cmocka_unit_test(test_bad_blocks),
        cmocka_unit_test(test_several_blocks),
        cmocka_unit_test(test_format_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
