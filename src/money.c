#include "orderd/money.h"

#include <stdio.h>
#include <string.h>

/*
 * value = digits x 10^(exp - fraction_digits). We keep the significant digits
 * as text positions and never build a double: the result is digits scaled by
 * 10^(exp - nfrac + frac_digits), which must be a whole number that fits.
 */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int orderd_money_parse(const char *text, size_t len, unsigned frac_digits, int64_t *out)
{
    const char *p = text, *end = text + len;
    int negative = 0;

    if (p < end && *p == '-') {
        negative = 1;
        ++p;
    }
    /* integer part: 0 | [1-9][0-9]* */
    const char *int_start = p;
    while (p < end && is_digit(*p))
        ++p;
    const char *int_end = p;
    if (int_end == int_start || (int_end - int_start > 1 && *int_start == '0'))
        return ORDERD_MONEY_ESYNTAX;
    /* fraction */
    const char *frac_start = p, *frac_end = p;
    if (p < end && *p == '.') {
        frac_start = ++p;
        while (p < end && is_digit(*p))
            ++p;
        frac_end = p;
        if (frac_end == frac_start)
            return ORDERD_MONEY_ESYNTAX;
    }
    /* exponent */
    long long exp = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        /* An exponent past the clamp is out of range (or below precision)
         * whatever the digits, as long as the clamp is larger than every
         * fraction, whose digits shift the exponent back: the text's length
         * is. A fixed clamp of 100000 made 0.(150000 zeros)1e1500010, a
         * number of 1.35 million digits, parse as 1.00. */
        const long long clamp = (long long)len + (long long)frac_digits + 20;
        int exp_negative = 0;
        ++p;
        if (p < end && (*p == '+' || *p == '-'))
            exp_negative = *p++ == '-';
        if (p == end || !is_digit(*p))
            return ORDERD_MONEY_ESYNTAX;
        for (; p < end && is_digit(*p); ++p)
            if (exp < clamp)
                exp = exp * 10 + (*p - '0');
        if (exp_negative)
            exp = -exp;
    }
    if (p != end)
        return ORDERD_MONEY_ESYNTAX;

    /* The significant digits are int part followed by fraction part; find the
     * first and last non-zero ones so leading and trailing zeros cost nothing. */
    size_t nint = (size_t)(int_end - int_start), nfrac = (size_t)(frac_end - frac_start);
    size_t ndigits = nint + nfrac;
#define DIGIT_AT(i) ((i) < nint ? int_start[i] : frac_start[(i)-nint])
    size_t first = 0, last = ndigits;
    while (first < ndigits && DIGIT_AT(first) == '0')
        ++first;
    if (first == ndigits) { /* zero, whatever the sign and exponent */
        *out = 0;
        return ORDERD_MONEY_OK;
    }
    if (negative)
        return ORDERD_MONEY_ENEGATIVE;
    while (DIGIT_AT(last - 1) == '0')
        --last;
    /* value = digits[first, last) x 10^scale */
    long long scale = exp - (long long)nfrac + (long long)frac_digits + (long long)(ndigits - last);
    if (scale < 0)
        return ORDERD_MONEY_EPRECISION;
    if ((long long)(last - first) + scale > 19)
        return ORDERD_MONEY_ERANGE;

    uint64_t v = 0;
    for (size_t i = first; i < last; ++i) {
        unsigned d = (unsigned)(DIGIT_AT(i) - '0');
        if (v > (UINT64_MAX - d) / 10)
            return ORDERD_MONEY_ERANGE;
        v = v * 10 + d;
    }
#undef DIGIT_AT
    for (long long i = 0; i < scale; ++i) {
        if (v > UINT64_MAX / 10)
            return ORDERD_MONEY_ERANGE;
        v *= 10;
    }
    if (v > (uint64_t)INT64_MAX)
        return ORDERD_MONEY_ERANGE;
    *out = (int64_t)v;
    return ORDERD_MONEY_OK;
}

size_t orderd_money_format(int64_t minor, unsigned digits, char buf[ORDERD_MONEY_FMT_MAX])
{
    char tmp[ORDERD_MONEY_FMT_MAX];
    size_t n = 0, len = 0;
    uint64_t v = minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor;

    if (digits > ORDERD_MONEY_MAX_DIGITS)
        digits = ORDERD_MONEY_MAX_DIGITS;
    /* digits in reverse, at least digits + 1 so there is a "0.0x" */
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0 || n < digits + 1);
    if (minor < 0)
        buf[len++] = '-';
    while (n > digits)
        buf[len++] = tmp[--n];
    if (digits != 0) {
        buf[len++] = '.';
        while (n > 0)
            buf[len++] = tmp[--n];
    }
    buf[len] = '\0';
    return len;
}

void orderd_money_rule(unsigned digits, const char currency[3], char buf[ORDERD_MONEY_RULE_MAX])
{
    if (digits == 2)
        snprintf(buf, ORDERD_MONEY_RULE_MAX, "must be a number >= 0 with at most 2 decimal places");
    else if (digits == 0)
        snprintf(buf, ORDERD_MONEY_RULE_MAX, "must be a number >= 0 with no decimal places for %.3s", currency);
    else
        snprintf(buf, ORDERD_MONEY_RULE_MAX, "must be a number >= 0 with at most %u decimal places for %.3s", digits,
                 currency);
}
