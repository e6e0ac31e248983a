/* Unit tests for orderd/money.h: exact decimal parsing and formatting. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/money.h"
#include "test_util.h"

#define SENTINEL ((int64_t)0x5A5A5A5A5A5A5A5A)

/* Parses the NUL-terminated `text` with `digits` fraction digits. The text is
 * copied into an exactly-sized heap buffer so a read past len is an overflow
 * (visible under ASan). Returns the result; *out gets the value or stays
 * SENTINEL. */
static int parse_n(const char *text, size_t len, unsigned digits, int64_t *out)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, text, len);
    *out = SENTINEL;
    int rc = orderd_money_parse(copy, len, digits, out);
    free(copy);
    return rc;
}

static void check_ok(const char *text, unsigned digits, int64_t want, int line)
{
    int64_t got;
    int rc = parse_n(text, strlen(text), digits, &got);
    if (rc != ORDERD_MONEY_OK || got != want)
        fail_msg("line %d: parse(\"%.80s\"%s, %u) = rc %d value %" PRId64 ", want OK %" PRId64, line, text,
                 strlen(text) > 80 ? "..." : "", digits, rc, got, want);
}

static void check_err(const char *text, unsigned digits, int want_rc, int line)
{
    int64_t got;
    int rc = parse_n(text, strlen(text), digits, &got);
    if (rc != want_rc)
        fail_msg("line %d: parse(\"%.80s\"%s, %u) = rc %d (value %" PRId64 "), want rc %d", line, text,
                 strlen(text) > 80 ? "..." : "", digits, rc, got, want_rc);
    if (got != SENTINEL)
        fail_msg("line %d: parse(\"%.80s\") failed with %d but changed *out to %" PRId64, line, text, rc, got);
}

#define OK2(text, want) check_ok((text), 2, (want), __LINE__)
#define ERR2(text, rc) check_err((text), 2, (rc), __LINE__)
#define OK0(text, want) check_ok((text), 0, (want), __LINE__)
#define ERR0(text, rc) check_err((text), 0, (rc), __LINE__)

/* A string of `prefix`, then `n` copies of `c`, then `suffix` (heap). */
static char *repeat(const char *prefix, char c, size_t n, const char *suffix)
{
    size_t pl = strlen(prefix), sl = strlen(suffix);
    char *s = malloc(pl + n + sl + 1);
    assert_non_null(s);
    memcpy(s, prefix, pl);
    memset(s + pl, c, n);
    memcpy(s + pl + n, suffix, sl + 1);
    return s;
}

static void test_parse_plain(void **state)
{
    OK2("10.99", 1099);
    OK2("0", 0);
    OK2("0.0", 0);
    OK2("0.00", 0);
    OK2("1", 100);
    OK2("10.5", 1050);
    OK2("0.5", 50);
    OK2("0.05", 5);
    OK2("0.01", 1);
    OK2("20.00", 2000);
    OK2("123456789", 12345678900);
    OK2("12345678901234567.89", INT64_C(1234567890123456789));
}

static void test_parse_trailing_zeros(void **state)
{
    OK2("10.990", 1099);
    OK2("1.500", 150);
    OK2("12.5000000000000000000000000000", 1250);
    OK2("0.000", 0);
    char *s = repeat("7.25", '0', 5000, "");
    OK2(s, 725);
    free(s);
}

static void test_parse_too_precise(void **state)
{
    ERR2("10.999", ORDERD_MONEY_EPRECISION);
    ERR2("0.001", ORDERD_MONEY_EPRECISION);
    ERR2("10.9901", ORDERD_MONEY_EPRECISION);
    ERR2("1.0000000000000000000000001", ORDERD_MONEY_EPRECISION);
    /* 0.(40 zeros)1 = 1e-41 */
    char *s = repeat("0.", '0', 40, "1");
    ERR2(s, ORDERD_MONEY_EPRECISION);
    free(s);
}

static void test_parse_exponents(void **state)
{
    OK2("1.5e1", 1500);
    OK2("1E2", 10000);
    OK2("1e+2", 10000);
    OK2("1E+02", 10000);
    OK2("2E-0", 200);
    OK2("15e-1", 150);
    OK2("1234e-2", 1234);
    OK2("0.05e1", 50);
    OK2("0.5e-1", 5);
    OK2("123.456e1", 123456);
    OK2("1.23456e3", 123456);
    OK2("1000e-3", 100);
    OK2("100e-2", 100);
    OK2("1500000000000000000000e-20", 1500); /* 15.00 written with 22 digits */
    OK2("0e0", 0);
    ERR2("1e-3", ORDERD_MONEY_EPRECISION);
    ERR2("123.456e-1", ORDERD_MONEY_EPRECISION);
    ERR2("15e-3", ORDERD_MONEY_EPRECISION);
}

static void test_parse_huge_digit_strings(void **state)
{
    /* 1 followed by 30 zeros: 10^30, far over int64 cents */
    char *s = repeat("1", '0', 30, "");
    ERR2(s, ORDERD_MONEY_ERANGE);
    free(s);
    s = repeat("1", '0', 10000, "");
    ERR2(s, ORDERD_MONEY_ERANGE);
    free(s);
    ERR2("99999999999999999999", ORDERD_MONEY_ERANGE);
    /* the exact value decides, not the number of digits: 10^30 * 10^-30 = 1 */
    s = repeat("1", '0', 30, "e-30");
    OK2(s, 100);
    free(s);
    /* 0.(40 zeros)1 * 10^40 = 0.1 */
    s = repeat("0.", '0', 40, "1e40");
    OK2(s, 10);
    free(s);
    /* zero written with thousands of digits is still zero */
    s = repeat("0.", '0', 10000, "");
    OK2(s, 0);
    free(s);
}

static void test_parse_huge_exponents(void **state)
{
    ERR2("1e999999999999999999", ORDERD_MONEY_ERANGE);
    ERR2("1e99999999999999999999999999999999", ORDERD_MONEY_ERANGE);
    ERR2("1e19", ORDERD_MONEY_ERANGE);
    ERR2("1e400", ORDERD_MONEY_ERANGE);
    OK2("0e999999999", 0);
    OK2("0e999999999999999999999999", 0);
    OK2("0.00e-999999999999999999999", 0);
    ERR2("1e-999999999999", ORDERD_MONEY_EPRECISION);
    ERR2("1e-99999999999999999999999999", ORDERD_MONEY_EPRECISION);
    OK2("1e16", INT64_C(1000000000000000000)); /* 10^16 units = 10^18 cents, fits */
}

/* A fraction longer than any fixed exponent clamp moves the exponent back by
 * its length: the clamp must not cut the exponent short of that (it once was
 * 100000, and 0.(150000 zeros)1e1500010 parsed as 1.00). */
static void test_parse_long_fraction_big_exponent(void **state)
{
    static const struct {
        const char *prefix, *suffix; /* around 150000 zeros */
        int rc;
        int64_t want;
    } cases[] = {
        {"0.", "1e1500010", ORDERD_MONEY_ERANGE, 0},
        {"0.", "1e150001", ORDERD_MONEY_OK, 100},
        {"0.", "1e150003", ORDERD_MONEY_OK, 10000},
        {"0.", "1e150020", ORDERD_MONEY_ERANGE, 0},
        /* and negative exponents the other way: 1(150000 zeros)e-1500010 is far below a cent */
        {"1", "e-1500010", ORDERD_MONEY_EPRECISION, 0},
        {"1", "e-150002", ORDERD_MONEY_OK, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *s = repeat(cases[i].prefix, '0', 150000, cases[i].suffix);
        if (cases[i].rc == ORDERD_MONEY_OK)
            OK2(s, cases[i].want);
        else
            ERR2(s, cases[i].rc);
        free(s);
    }
}

static void test_parse_int64_boundary(void **state)
{
    OK2("92233720368547758.07", INT64_MAX);
    OK2("92233720368547758.070000", INT64_MAX);
    OK2("9223372036854775807e-2", INT64_MAX);
    OK2("0.9223372036854775807e17", INT64_MAX);
    OK2("92233720368547758.06", INT64_MAX - 1);
    ERR2("92233720368547758.08", ORDERD_MONEY_ERANGE);
    ERR2("92233720368547758.1", ORDERD_MONEY_ERANGE);
    ERR2("92233720368547759", ORDERD_MONEY_ERANGE);
    ERR2("9223372036854775808e-2", ORDERD_MONEY_ERANGE);
    ERR2("18446744073709551616", ORDERD_MONEY_ERANGE); /* 2^64: no wrap-around */
    ERR2("184467440737095516.16", ORDERD_MONEY_ERANGE); /* 2^64 cents */
    ERR2("1e17", ORDERD_MONEY_ERANGE);
}

static void test_parse_negative(void **state)
{
    ERR2("-1", ORDERD_MONEY_ENEGATIVE);
    ERR2("-0.01", ORDERD_MONEY_ENEGATIVE);
    ERR2("-10.99", ORDERD_MONEY_ENEGATIVE);
    ERR2("-1e2", ORDERD_MONEY_ENEGATIVE);
    OK2("-0", 0);
    OK2("-0.00", 0);
    OK2("-0.0", 0);
    OK2("-0e5", 0);
    OK2("-0.000e-99", 0);
}

static void test_parse_syntax(void **state)
{
    static const char *const bad[] = {
        "",     "abc",  "1.",   ".5",   "1e",    "1e+",   "1e-",  "--1",   "-",     "+1",  "1.2.3",
        " 1",   "1 ",   "1,5",  "0x10", "1e1.5", "e5",    "E5",   "1ee2",  "1e2e3", "1.e2", "-.5",
        "01",   "00",   "00.5", "-01",  "NaN",   "nan",   "Infinity", "-Infinity", "1f",  "1.5d", "١",
        "1\t",  "\n1",  "1_000", "1e--2", "1e+-2", "'1'", "\"1\"", "1.0.", "..",  "-e1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ERR2(bad[i], ORDERD_MONEY_ESYNTAX);
    /* an embedded NUL is not part of a number */
    int64_t v;
    assert_int_equal(parse_n("1\0" "5", 3, 2, &v), ORDERD_MONEY_ESYNTAX);
    assert_true(v == SENTINEL);
    assert_int_equal(parse_n("\0", 1, 2, &v), ORDERD_MONEY_ESYNTAX);
}

static void test_parse_respects_len(void **state)
{
    /* only [text, text+len) is the number */
    int64_t v = SENTINEL;
    const char *buf = "10.99xyz";
    assert_int_equal(orderd_money_parse(buf, 5, 2, &v), ORDERD_MONEY_OK);
    assert_true(v == 1099);
    v = SENTINEL;
    assert_int_equal(orderd_money_parse(buf, 2, 2, &v), ORDERD_MONEY_OK);
    assert_true(v == 1000);
    v = SENTINEL;
    assert_int_equal(orderd_money_parse("1.5e1,", 5, 2, &v), ORDERD_MONEY_OK);
    assert_true(v == 1500);
    v = SENTINEL;
    assert_int_equal(orderd_money_parse("10.999", 5, 2, &v), ORDERD_MONEY_OK); /* "10.99" */
    assert_true(v == 1099);
    v = SENTINEL;
    assert_int_equal(orderd_money_parse("1e5", 2, 2, &v), ORDERD_MONEY_ESYNTAX); /* "1e" */
    assert_true(v == SENTINEL);
    assert_int_equal(orderd_money_parse("5", 0, 2, &v), ORDERD_MONEY_ESYNTAX); /* "" */
    assert_true(v == SENTINEL);
}

static void test_parse_zero_fraction_digits(void **state)
{
    OK0("2", 2);
    OK0("0", 0);
    OK0("-0", 0);
    OK0("2.0", 2);
    OK0("2.000", 2);
    OK0("2e0", 2);
    OK0("1e3", 1000);
    OK0("150e-1", 15);
    OK0("1000000", 1000000);
    OK0("9223372036854775807", INT64_MAX);
    ERR0("9223372036854775808", ORDERD_MONEY_ERANGE);
    ERR0("1.5", ORDERD_MONEY_EPRECISION);
    ERR0("15e-1", ORDERD_MONEY_EPRECISION);
    ERR0("0.1", ORDERD_MONEY_EPRECISION);
    ERR0("-3", ORDERD_MONEY_ENEGATIVE);
    ERR0("2.", ORDERD_MONEY_ESYNTAX);
}

static void test_parse_other_fraction_digits(void **state)
{
    check_ok("1.234", 3, 1234, __LINE__);
    check_ok("1.2", 3, 1200, __LINE__);
    check_err("1.2345", 3, ORDERD_MONEY_EPRECISION, __LINE__);
    check_ok("0.5", 1, 5, __LINE__);
    check_err("0.05", 1, ORDERD_MONEY_EPRECISION, __LINE__);
}

static void check_format_d(int64_t v, unsigned digits, const char *want, int line)
{
    char buf[ORDERD_MONEY_FMT_MAX];
    memset(buf, 'X', sizeof(buf));
    size_t n = orderd_money_format(v, digits, buf);
    if (strcmp(buf, want) != 0 || n != strlen(want))
        fail_msg("line %d: format(%" PRId64 ", %u) = \"%s\" (len %zu), want \"%s\"", line, v, digits, buf, n, want);
}

#define FMT(v, digits, want) check_format_d((v), (digits), (want), __LINE__)

static void test_format_known(void **state)
{
    FMT(4197, 2, "41.97");
    FMT(1050, 2, "10.50");
    FMT(0, 2, "0.00");
    FMT(5, 2, "0.05");
    FMT(10, 2, "0.10");
    FMT(99, 2, "0.99");
    FMT(100, 2, "1.00");
    FMT(2000, 2, "20.00");
    FMT(1099, 2, "10.99");
    FMT(INT64_MAX, 2, "92233720368547758.07");
    FMT(INT64_MAX - 7, 2, "92233720368547758.00");
}

/* Every minor unit of ISO 4217: 0 has no point at all, 3 and 4 pad with zeros. */
static void test_format_every_minor_unit(void **state)
{
    FMT(10, 0, "10");
    FMT(0, 0, "0");
    FMT(1050, 0, "1050");
    FMT(ORDERD_MONEY_MAX_MINOR, 0, "999999999999999");
    FMT(1234, 3, "1.234");
    FMT(5, 3, "0.005");
    FMT(0, 3, "0.000");
    FMT(1050, 3, "1.050");
    FMT(ORDERD_MONEY_MAX_MINOR, 3, "999999999999.999");
    FMT(12345, 4, "1.2345");
    FMT(1, 4, "0.0001");
    FMT(0, 4, "0.0000");
    FMT(ORDERD_MONEY_MAX_MINOR, 4, "99999999999.9999");
    FMT(INT64_MAX, 4, "922337203685477.5807");
    FMT(INT64_MIN, 4, "-922337203685477.5808");
    FMT(INT64_MIN, 0, "-9223372036854775808");
    FMT(-5, 2, "-0.05");
    FMT(ORDERD_MONEY_MAX_MINOR, 2, "9999999999999.99");
    /* past ISO 4217's largest minor unit: four digits */
    FMT(12345, 5, "1.2345");
    FMT(12345, 1000, "1.2345");
}

/* 15 digits: the limit survives a double, the next amount would not always
 * (2^53 is 9007199254740992, 16 digits). */
static void test_max_minor_is_15_digits(void **state)
{
    assert_true(ORDERD_MONEY_MAX_MINOR == 999999999999999LL);
    assert_true((double)ORDERD_MONEY_MAX_MINOR == 999999999999999.0);
    assert_true((int64_t)(double)ORDERD_MONEY_MAX_MINOR == ORDERD_MONEY_MAX_MINOR);
    assert_true(ORDERD_MONEY_MAX_MINOR < (1LL << 53));
    char buf[ORDERD_MONEY_FMT_MAX], back[64];
    /* the example, 16 digits: a client parsing it as a double reads another cent */
    snprintf(back, sizeof(back), "%.2f", strtod("99999999999999.99", NULL));
    assert_string_equal(back, "99999999999999.98");
    for (unsigned d = 0; d <= ORDERD_MONEY_MAX_DIGITS; ++d) {
        size_t n = orderd_money_format(ORDERD_MONEY_MAX_MINOR, d, buf);
        assert_int_equal(n, 15 + (d ? 1 : 0));
        snprintf(back, sizeof(back), "%.*f", (int)d, strtod(buf, NULL));
        assert_string_equal(back, buf);
    }
    /* and every amount up to it, in every minor unit (what RFC 7493 promises) */
    test_rng_t rng = {0x7493};
    for (int i = 0; i < 100000; i++) {
        int64_t v = (int64_t)(test_rng_next(&rng) % (uint64_t)(ORDERD_MONEY_MAX_MINOR + 1));
        if (i < 16)
            v = ORDERD_MONEY_MAX_MINOR - i;
        unsigned d = (unsigned)(test_rng_next(&rng) % (ORDERD_MONEY_MAX_DIGITS + 1));
        (void)orderd_money_format(v, d, buf);
        snprintf(back, sizeof(back), "%.*f", (int)d, strtod(buf, NULL));
        if (strcmp(back, buf) != 0)
            fail_msg("%s read as a double is %s", buf, back);
    }
}

/* The reference: integer part and `digits`-digit remainder printed with printf. */
static void ref_format(int64_t v, unsigned digits, char *buf, size_t cap)
{
    static const int64_t pow10[] = {1, 10, 100, 1000, 10000};
    if (digits == 0)
        snprintf(buf, cap, "%" PRId64, v);
    else
        snprintf(buf, cap, "%" PRId64 ".%0*d", v / pow10[digits], (int)digits, (int)(v % pow10[digits]));
}

static void test_format_matches_reference_and_round_trips(void **state)
{
    test_rng_t rng = {0x1234567};
    char buf[ORDERD_MONEY_FMT_MAX], ref[64];
    for (int i = 0; i < 200000; i++) {
        uint64_t r = test_rng_next(&rng);
        /* spread over all magnitudes: keep a random number of low bits */
        unsigned bits = (unsigned)(test_rng_next(&rng) % 64);
        unsigned digits = (unsigned)(test_rng_next(&rng) % (ORDERD_MONEY_MAX_DIGITS + 1));
        int64_t v = (int64_t)((r & INT64_MAX) >> (63 - bits));
        if (i < 1000)
            v = i; /* every small value */
        size_t n = orderd_money_format(v, digits, buf);
        ref_format(v, digits, ref, sizeof(ref));
        if (strcmp(buf, ref) != 0 || n != strlen(ref))
            fail_msg("format(%" PRId64 ", %u) = \"%s\" (len %zu), want \"%s\"", v, digits, buf, n, ref);
        int64_t back = SENTINEL;
        int rc = orderd_money_parse(buf, n, digits, &back);
        if (rc != ORDERD_MONEY_OK || back != v)
            fail_msg("parse(format(%" PRId64 ", %u)) = rc %d value %" PRId64, v, digits, rc, back);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_plain),
        cmocka_unit_test(test_parse_trailing_zeros),
        cmocka_unit_test(test_parse_too_precise),
        cmocka_unit_test(test_parse_exponents),
        cmocka_unit_test(test_parse_huge_digit_strings),
        cmocka_unit_test(test_parse_huge_exponents),
        cmocka_unit_test(test_parse_long_fraction_big_exponent),
        cmocka_unit_test(test_parse_int64_boundary),
        cmocka_unit_test(test_parse_negative),
        cmocka_unit_test(test_parse_syntax),
        cmocka_unit_test(test_parse_respects_len),
        cmocka_unit_test(test_parse_zero_fraction_digits),
        cmocka_unit_test(test_parse_other_fraction_digits),
        cmocka_unit_test(test_format_known),
        cmocka_unit_test(test_format_every_minor_unit),
        cmocka_unit_test(test_max_minor_is_15_digits),
        cmocka_unit_test(test_format_matches_reference_and_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
