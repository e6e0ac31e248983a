/*
 * Differential check of the money parser: orderd_money_parse (src/money.c)
 * against a second implementation written here from the contract in
 * include/orderd/money.h, sharing no code with it. The reference checks the
 * JSON number grammar with a state table, keeps the significant digits as
 * text and decides range by comparing digit strings with INT64_MAX's; the
 * production parser walks the text once and multiplies. Input: one byte
 * choosing the fraction digits (its value mod 20), then the text. Any
 * difference in the result or the value is a crash.
 *
 * tests/fuzz/money_diff_test.py is the same check against Python's decimal.
 */
#include <inttypes.h>

#include "fuzz.h"
#include "orderd/money.h"

enum { S_START, S_MINUS, S_ZERO, S_INT, S_POINT, S_FRAC, S_E, S_ESIGN, S_EXP, S_BAD };

/* RFC 8259 section 6: number = [ minus ] int [ frac ] [ exp ] */
static int step(int state, char c)
{
    int digit = c >= '0' && c <= '9';
    switch (state) {
    case S_START:
        return c == '-' ? S_MINUS : c == '0' ? S_ZERO : digit ? S_INT : S_BAD;
    case S_MINUS:
        return c == '0' ? S_ZERO : digit ? S_INT : S_BAD;
    case S_ZERO:
        return c == '.' ? S_POINT : (c == 'e' || c == 'E') ? S_E : S_BAD;
    case S_INT:
        return digit ? S_INT : c == '.' ? S_POINT : (c == 'e' || c == 'E') ? S_E : S_BAD;
    case S_POINT:
        return digit ? S_FRAC : S_BAD;
    case S_FRAC:
        return digit ? S_FRAC : (c == 'e' || c == 'E') ? S_E : S_BAD;
    case S_E:
        return (c == '+' || c == '-') ? S_ESIGN : digit ? S_EXP : S_BAD;
    case S_ESIGN:
    case S_EXP:
        return digit ? S_EXP : S_BAD;
    }
    return S_BAD;
}

/* The value's digits without leading zeros as a decimal string: does it fit in int64_t? */
static int fits_int64(const char *digits, size_t n)
{
    static const char max[] = "9223372036854775807";
    if (n != sizeof(max) - 1)
        return n < sizeof(max) - 1;
    return memcmp(digits, max, n) <= 0;
}

static int reference(const char *t, size_t n, unsigned frac, int64_t *out)
{
    int state = S_START;
    for (size_t i = 0; i < n && state != S_BAD; ++i)
        state = step(state, t[i]);
    if (state != S_ZERO && state != S_INT && state != S_FRAC && state != S_EXP)
        return ORDERD_MONEY_ESYNTAX;

    /* mantissa digits (integer and fraction parts as one string), fraction length, exponent */
    char *digits = malloc(n + 1);
    FUZZ_CHECK(digits != NULL);
    size_t nd = 0, nfrac = 0, exp_digits = 0;
    int in_frac = 0, in_exp = 0, exp_negative = 0, negative = t[0] == '-';
    long long exp = 0;
    for (size_t i = 0; i < n; ++i) {
        char c = t[i];
        if (in_exp) {
            if (c == '-')
                exp_negative = 1;
            if (c >= '0' && c <= '9' && (exp != 0 || c != '0')) {
                ++exp_digits;
                if (exp_digits <= 15) /* beyond 15 significant digits the exponent is "huge" */
                    exp = exp * 10 + (c - '0');
            }
        } else if (c == '.') {
            in_frac = 1;
        } else if (c == 'e' || c == 'E') {
            in_exp = 1;
        } else if (c >= '0' && c <= '9') {
            digits[nd++] = c;
            nfrac += in_frac;
        }
    }
    int rc = ORDERD_MONEY_OK;
    size_t first = 0;
    while (first < nd && digits[first] == '0')
        ++first;
    if (first == nd) { /* zero: any sign, any exponent */
        *out = 0;
        goto done;
    }
    if (negative) {
        rc = ORDERD_MONEY_ENEGATIVE;
        goto done;
    }
    int huge = exp_digits > 15;
    /* value = digits[first, nd) x 10^(exp - nfrac); scaled: x 10^shift */
    size_t last = nd;
    while (digits[last - 1] == '0')
        --last;
    size_t trailing = nd - last;
    if (huge) {
        rc = exp_negative ? ORDERD_MONEY_EPRECISION : ORDERD_MONEY_ERANGE;
        goto done;
    }
    long long shift = (exp_negative ? -exp : exp) - (long long)nfrac + (long long)frac;
    if (shift < 0 && (unsigned long long)-shift > trailing) {
        rc = ORDERD_MONEY_EPRECISION;
        goto done;
    }
    /* the scaled value's digits: the significant ones, then zeros (or fewer of the trailing zeros) */
    long long len = (long long)(nd - first) + shift;
    if (len > 19) {
        rc = ORDERD_MONEY_ERANGE;
        goto done;
    }
    char scaled[20];
    for (long long i = 0; i < len; ++i)
        scaled[i] = (size_t)i < nd - first ? digits[first + (size_t)i] : '0';
    if (!fits_int64(scaled, (size_t)len)) {
        rc = ORDERD_MONEY_ERANGE;
        goto done;
    }
    int64_t v = 0;
    for (long long i = 0; i < len; ++i)
        v = v * 10 + (scaled[i] - '0');
    *out = v;
done:
    free(digits);
    return rc;
}

#define SENTINEL ((int64_t)0x5A5A5A5A5A5A5A5A)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned frac = data[0] % 20u;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    int64_t got = SENTINEL, want = SENTINEL;
    int rc = orderd_money_parse(text, len, frac, &got);
    int ref = reference(text, len, frac, &want);
    if (rc != ref || got != want) {
        fprintf(stderr,
                "money_diff: \"%.*s\" with %u fraction digits: orderd %d %" PRId64 ", reference %d %" PRId64 "\n",
                (int)(len < 200 ? len : 200), text, frac, rc, got, ref, want);
        abort();
    }
    return 0;
}
