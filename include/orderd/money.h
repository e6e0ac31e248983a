#ifndef ORDERD_MONEY_H
#define ORDERD_MONEY_H

/*
 * Exact decimal amounts. A JSON number's text is turned into an integer count
 * of minor units (cents for two fraction digits) without ever going through a
 * floating-point value, so 10.99 is 1099 and never 1098.9999.
 */

#include <stddef.h>
#include <stdint.h>

typedef enum {
    ORDERD_MONEY_OK = 0,
    ORDERD_MONEY_ESYNTAX = -1,    /* not a JSON number */
    ORDERD_MONEY_EPRECISION = -2, /* more fraction digits than allowed (non-zero ones) */
    ORDERD_MONEY_ENEGATIVE = -3,  /* below zero */
    ORDERD_MONEY_ERANGE = -4,     /* does not fit in int64_t minor units */
} orderd_money_err_t;

/** Longest text orderd_money_rule writes, NUL included. */
#define ORDERD_MONEY_RULE_MAX 96

/**
 * The rule a price breaks when it is not an amount of a currency with
 * `digits` fraction digits, as a 422 says it: "must be a number >= 0 with at
 * most 2 decimal places" (every two-digit currency: the message clients have
 * always had), "... with no decimal places for JPY", "... with at most 3
 * decimal places for KWD". Writes it into buf, NUL-terminated.
 */
void orderd_money_rule(unsigned digits, const char currency[3], char buf[ORDERD_MONEY_RULE_MAX]);

/** Longest text orderd_money_format writes, NUL included. */
#define ORDERD_MONEY_FMT_MAX 24

/** Most fraction digits an amount has: ISO 4217's largest minor unit (CLF, UYW). */
#define ORDERD_MONEY_MAX_DIGITS 4

/**
 * The largest amount orderd accepts or returns, in minor units: 15 digits.
 * Any decimal of at most 15 significant digits survives a round trip through
 * an IEEE 754 double, so every JSON client (JavaScript, Python's json.loads)
 * reads a price or total exactly as written (RFC 7493, I-JSON). A price and an
 * order total above it are refused.
 */
#define ORDERD_MONEY_MAX_MINOR 999999999999999LL

/**
 * Parses the JSON number text [text, text+len) (e.g. "10.99", "1.5e1", "2E-0")
 * as a non-negative amount with at most `frac_digits` fraction digits and
 * stores it in *out as an integer scaled by 10^frac_digits. Trailing zeros past
 * the allowed digits are fine ("1.500" with 2 digits is 150). "-0" is zero.
 * Returns ORDERD_MONEY_OK, or a negative orderd_money_err_t and leaves *out alone.
 */
__attribute__((warn_unused_result)) int orderd_money_parse(const char *text, size_t len, unsigned frac_digits,
                                                           int64_t *out);

/**
 * Writes `minor` minor units with exactly `digits` fraction digits (a
 * currency's ISO 4217 minor unit, 0 to ORDERD_MONEY_MAX_DIGITS; larger counts
 * write ORDERD_MONEY_MAX_DIGITS) as a JSON number into buf, NUL-terminated:
 * 1050 is "1050" with 0 digits (no point), "10.50" with 2, "1.050" with 3,
 * "0.1050" with 4. Returns the length without the NUL. Cannot fail.
 */
size_t orderd_money_format(int64_t minor, unsigned digits, char buf[ORDERD_MONEY_FMT_MAX]);

#endif
