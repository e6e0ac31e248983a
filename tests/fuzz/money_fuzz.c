/*
 * The money parser (src/money.c) on any text: never reads past it, leaves
 * *out alone on failure, and what it accepts with 0 to 4 fraction digits
 * (every ISO 4217 minor unit) comes back from orderd_money_format as the same
 * amount. Input: one byte choosing the fraction digits, then the text.
 */
#include <inttypes.h>

#include "fuzz.h"
#include "orderd/money.h"

#define SENTINEL ((int64_t)0x5A5A5A5A5A5A5A5A)

/* 0 to 20 fraction digits mostly; now and then a huge count */
static unsigned frac_of(uint8_t b)
{
    return b < 0xf0 ? b % 21u : 1000u * (b - 0xefu);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned frac = frac_of(data[0]);
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    /* the formatter on any amount (the text's first 8 bytes) in any minor
     * unit (the ninth byte): the text parses back, or is negative */
    if (len >= 9) {
        int64_t minor;
        memcpy(&minor, text, sizeof(minor));
        unsigned digits = (unsigned)text[8] % (ORDERD_MONEY_MAX_DIGITS + 1);
        char buf[ORDERD_MONEY_FMT_MAX];
        size_t n = orderd_money_format(minor, digits, buf);
        FUZZ_CHECK(n < ORDERD_MONEY_FMT_MAX && buf[n] == '\0' && n >= digits + 1);
        FUZZ_CHECK(digits == 0 ? memchr(buf, '.', n) == NULL : n >= digits + 2 && buf[n - digits - 1] == '.');
        int64_t back = SENTINEL;
        int r = orderd_money_parse(buf, n, digits, &back);
        if (minor >= 0)
            FUZZ_CHECK(r == ORDERD_MONEY_OK && back == minor);
        else
            FUZZ_CHECK(r == ORDERD_MONEY_ENEGATIVE && back == SENTINEL);
    }
    int64_t v = SENTINEL;
    int rc = orderd_money_parse(text, len, frac, &v);
    FUZZ_CHECK(rc == ORDERD_MONEY_OK || rc == ORDERD_MONEY_ESYNTAX || rc == ORDERD_MONEY_EPRECISION ||
               rc == ORDERD_MONEY_ENEGATIVE || rc == ORDERD_MONEY_ERANGE);
    if (rc != ORDERD_MONEY_OK) {
        FUZZ_CHECK(v == SENTINEL);
        return 0;
    }
    FUZZ_CHECK(v >= 0);
    /* every accepted text is a JSON number: digits, sign, point, exponent */
    for (size_t i = 0; i < len; ++i)
        FUZZ_CHECK(strchr("0123456789-+.eE", text[i]) != NULL && text[i] != '\0');
    if (frac <= ORDERD_MONEY_MAX_DIGITS) {
        char buf[ORDERD_MONEY_FMT_MAX];
        size_t n = orderd_money_format(v, frac, buf);
        FUZZ_CHECK(n < ORDERD_MONEY_FMT_MAX && buf[n] == '\0' && strlen(buf) == n);
        int64_t back = SENTINEL;
        FUZZ_CHECK(orderd_money_parse(buf, n, frac, &back) == ORDERD_MONEY_OK && back == v);
    }
    return 0;
}
