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

/** The largest amount in minor units: 15 significant digits, exact as an IEEE double (I-JSON). */
#define ORDERD_MONEY_MAX_MINOR 999999999999999LL

/** The ISO 4217 minor unit of a currency code (0 to 4), or -1 for a code orders cannot be paid in. */
int orderd_currency_minor_units(const char code[3]);

/** Longest text orderd_money_format writes, NUL included. */
#define ORDERD_MONEY_FMT_MAX 24

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
 * Writes `minor` (minor units, two fraction digits) as a JSON number with both
 * digits ("41.97", "10.50", "0.00") into buf, NUL-terminated; returns the
 * length without the NUL.
 */
size_t orderd_money_format(int64_t minor, char buf[ORDERD_MONEY_FMT_MAX]);

#endif
