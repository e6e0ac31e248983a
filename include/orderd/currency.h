#ifndef ORDERD_CURRENCY_H
#define ORDERD_CURRENCY_H

/*
 * ISO 4217 currencies and their minor units: how many decimal places an
 * amount in each has (JPY 0, USD 2, KWD 3, CLF 4). The table is in
 * src/currency.c; tests/currency_test.c checks its codes against Debian's
 * iso-codes (/usr/share/iso-codes/json/iso_4217.json), which lists the codes
 * but not their minor units.
 */

/** What orderd_currency_lookup answers for a code that is not a currency orders can use. */
typedef enum {
    ORDERD_CURRENCY_UNKNOWN = -1,     /* not an ISO 4217 code at all ("XYZ") */
    ORDERD_CURRENCY_NOT_PAYABLE = -2, /* an ISO 4217 code with no minor unit: funds, metals, testing ("XAU") */
} orderd_currency_err_t;

/**
 * The minor units (0 to 4) of the ISO 4217 code `code` (three bytes, not
 * NUL-terminated, compared exactly: "usd" is unknown), or
 * ORDERD_CURRENCY_UNKNOWN, or ORDERD_CURRENCY_NOT_PAYABLE for the ISO codes of
 * funds, precious metals and testing (XAU, XDR, XTS, XXX, ...) that have no
 * minor unit. Pure; safe from any thread.
 */
int orderd_currency_lookup(const char code[3]);

/**
 * The minor units (0 to 4) of `code`, or -1 when orderd_currency_lookup says
 * it is unknown or not payable.
 */
int orderd_currency_minor_units(const char code[3]);

#endif
