/*
 * Unit tests for orderd/currency.h: the ISO 4217 table. With --iso-codes FILE
 * (ctest currency_iso_codes) it checks the table's codes against Debian's
 * iso-codes instead, and exits 77 (a visible SKIP) when FILE is absent.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "orderd/currency.h"

static void expect_digits(const char *code, int want, int line)
{
    int got = orderd_currency_lookup(code);
    if (got != want)
        fail_msg("line %d: lookup(%.3s) = %d, want %d", line, code, got, want);
    int units = orderd_currency_minor_units(code);
    if (units != (want < 0 ? -1 : want))
        fail_msg("line %d: minor_units(%.3s) = %d, want %d", line, code, units, want < 0 ? -1 : want);
}

#define DIGITS(code, want) expect_digits((code), (want), __LINE__)

static void test_known_minor_units(void **state)
{
    DIGITS("USD", 2);
    DIGITS("EUR", 2);
    DIGITS("GBP", 2);
    DIGITS("AED", 2); /* the first */
    DIGITS("ZWL", 2); /* the last */
    DIGITS("JPY", 0);
    DIGITS("KRW", 0);
    DIGITS("ISK", 0);
    DIGITS("XOF", 0);
    DIGITS("KWD", 3);
    DIGITS("BHD", 3);
    DIGITS("TND", 3);
    DIGITS("CLF", 4);
    DIGITS("UYW", 4);
    /* funds with a minor unit are payable */
    DIGITS("BOV", 2);
    DIGITS("UYI", 0);
}

static void test_refused_codes(void **state)
{
    static const char *const not_payable[] = {"XAU", "XAG", "XPT", "XPD", "XDR", "XTS", "XXX",
                                              "XBA", "XBB", "XBC", "XBD", "XSU", "XUA"};
    for (size_t i = 0; i < sizeof(not_payable) / sizeof(not_payable[0]); i++)
        DIGITS(not_payable[i], ORDERD_CURRENCY_NOT_PAYABLE);
    static const char *const unknown[] = {"XYZ", "AAA", "ZZZ", "usd", "Usd", "US\0", "\0\0\0", "\xff\xff\xff",
                                          "ABC", "EUA", "DEM", "XEU"};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
        DIGITS(unknown[i], ORDERD_CURRENCY_UNKNOWN);
}

/* Over every code AAA..ZZZ: how many there are of each kind. A table out of
 * order (bsearch misses codes) or a code lost or added shows up here. */
static void test_every_code_counted(void **state)
{
    int count[5] = {0}, not_payable = 0, other = 0;
    char c[3];
    for (c[0] = 'A'; c[0] <= 'Z'; c[0]++)
        for (c[1] = 'A'; c[1] <= 'Z'; c[1]++)
            for (c[2] = 'A'; c[2] <= 'Z'; c[2]++) {
                int d = orderd_currency_lookup(c);
                if (d >= 0 && d <= 4)
                    count[d]++;
                else if (d == ORDERD_CURRENCY_NOT_PAYABLE)
                    not_payable++;
                else if (d != ORDERD_CURRENCY_UNKNOWN)
                    other++;
            }
    assert_int_equal(other, 0);
    assert_int_equal(count[1], 0);
    assert_int_equal(count[0], 17);
    assert_int_equal(count[3], 7);
    assert_int_equal(count[4], 2);
    assert_int_equal(count[0] + count[2] + count[3] + count[4], 168);
    assert_int_equal(not_payable, 13);
}

/* --iso-codes FILE: every active code of iso-codes is in the table (payable or
 * refused), and the table has no code iso-codes lacks. */
static int check_iso_codes(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        printf("SKIP: %s is absent (Debian package iso-codes, installed by .ci/deps)\n", path);
        return 77;
    }
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    char err[256];
    yajl_val root = yajl_tree_parse(text, err, sizeof(err));
    const char *list_path[] = {"4217", NULL};
    yajl_val list = root ? yajl_tree_get(root, list_path, yajl_t_array) : NULL;
    if (list == NULL) {
        printf("FAIL: %s: no \"4217\" array (%s)\n", path, root ? "other layout" : err);
        return 1;
    }
    static unsigned char in_iso[26 * 26 * 26];
    int failures = 0, active = 0;
    for (size_t i = 0; i < list->u.array.len; i++) {
        yajl_val e = list->u.array.values[i];
        const char *code_path[] = {"alpha_3", NULL}, *withdrawn_path[] = {"withdrawal_date", NULL};
        yajl_val code = yajl_tree_get(e, code_path, yajl_t_string);
        const char *s = code ? YAJL_GET_STRING(code) : NULL;
        if (s == NULL || strlen(s) != 3 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' || s[2] < 'A' ||
            s[2] > 'Z') {
            printf("FAIL: entry %zu has no three-letter alpha_3\n", i);
            failures++;
            continue;
        }
        if (yajl_tree_get(e, withdrawn_path, yajl_t_any) != NULL)
            continue; /* a historic code: neither required nor forbidden */
        active++;
        in_iso[((s[0] - 'A') * 26 + (s[1] - 'A')) * 26 + (s[2] - 'A')] = 1;
        if (orderd_currency_lookup(s) == ORDERD_CURRENCY_UNKNOWN) {
            printf("FAIL: %s is in iso-codes but neither in the table nor refused\n", s);
            failures++;
        }
    }
    char c[3];
    for (c[0] = 'A'; c[0] <= 'Z'; c[0]++)
        for (c[1] = 'A'; c[1] <= 'Z'; c[1]++)
            for (c[2] = 'A'; c[2] <= 'Z'; c[2]++)
                if (orderd_currency_lookup(c) != ORDERD_CURRENCY_UNKNOWN &&
                    !in_iso[((c[0] - 'A') * 26 + (c[1] - 'A')) * 26 + (c[2] - 'A')]) {
                    printf("FAIL: %.3s is in the table but not an active code of iso-codes\n", c);
                    failures++;
                }
    yajl_tree_free(root);
    printf("%s: %d active codes, %d mismatches\n", path, active, failures);
    return failures != 0 || active == 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--iso-codes") == 0)
        return check_iso_codes(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_minor_units),
        cmocka_unit_test(test_refused_codes),
        cmocka_unit_test(test_every_code_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
