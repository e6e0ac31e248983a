#ifndef ORDERD_ORDER_H
#define ORDERD_ORDER_H

/*
 * The order record, its statuses and the rules for moving between them.
 *
 * An order is one contiguous, position-independent blob: a fixed header, the
 * items, then the strings. It holds no pointers, so copying it out of the
 * store is one memcpy, and the same bytes are the journal's payload.
 */

#include <stddef.h>
#include <stdint.h>

#include "orderd/common.h"

#define ORDERD_USER_ID_MAX 64
#define ORDERD_PRODUCT_ID_MAX 64
#define ORDERD_ADDRESS_MAX 1024
#define ORDERD_PAYMENT_MAX 32
#define ORDERD_ITEMS_MAX 1000
#define ORDERD_QUANTITY_MAX 1000000
/** Length of an order id's text form. */
#define ORDERD_ID_LEN 13
/** Longest RFC 3339 time orderd writes, NUL included: 2026-11-25T04:03:39.123Z */
#define ORDERD_TIME_FMT_MAX 32

typedef enum {
    ORDERD_STATUS_PENDING = 0,
    ORDERD_STATUS_PROCESSING,
    ORDERD_STATUS_SHIPPED,
    ORDERD_STATUS_DELIVERED,
    ORDERD_STATUS_CANCELLED,
    /* some quantity shipped, some still to ship (added after the first five:
     * the values are in the journal, they never change) */
    ORDERD_STATUS_PARTIALLY_SHIPPED,
    ORDERD_STATUS_COUNT
} orderd_status_t;

/** What a requested status change means for an order in a given status. */
typedef enum {
    ORDERD_TRANSITION_APPLY = 0, /* allowed: apply it */
    ORDERD_TRANSITION_NOOP,      /* already there and safe to repeat (cancel of a cancelled order) */
    ORDERD_TRANSITION_CONFLICT,  /* not allowed from the current status */
} orderd_transition_t;

/*
 * What an order's amounts count. Orders created before amounts followed each
 * currency's ISO 4217 minor unit counted hundredths in every currency; they
 * keep the amounts they were acknowledged with (JPY 10.50 stays 10.50).
 */
#define ORDERD_MONEY_SCALE_LEGACY 0   /* hundredths, whatever the currency */
#define ORDERD_MONEY_SCALE_CURRENCY 1 /* the currency's minor unit (currency.h) */

typedef struct orderd_item {
    int64_t price;       /* minor units */
    uint32_t quantity;
    uint16_t product_off; /* offset of product_id within the order's string area */
    uint8_t product_len;
    uint8_t _pad;
} orderd_item_t;

typedef struct orderd_order {
    uint64_t id;
    int64_t total;      /* minor units */
    int64_t created_ms; /* Unix time in milliseconds */
    int64_t updated_ms;
    uint32_t version;   /* 1 at creation, +1 per change */
    uint32_t size;      /* bytes of the whole blob */
    uint16_t n_items;
    uint16_t address_len;
    uint8_t user_len;
    uint8_t payment_len;
    uint8_t status;     /* orderd_status_t */
    char currency[3];
    uint8_t money_scale; /* ORDERD_MONEY_SCALE_*: what the amounts count */
    uint8_t _reserved;
    uint32_t ext_off;   /* 0: no extension (every order as created); else where it starts */
    orderd_item_t items[];
    /* then: user_id, shipping_address, payment_method, product ids;
     * then, at ext_off, the extension (orderd_order_ext_t) */
} orderd_order_t;

/** An order as a validated create request describes it, before it has an id. */
typedef struct orderd_item_draft {
    orderd_str_t product_id;
    uint32_t quantity;
    int64_t price;
} orderd_item_draft_t;

typedef struct orderd_order_draft {
    orderd_item_draft_t *items;
    size_t n_items;
    orderd_str_t shipping_address;
    orderd_str_t payment_method;
    char currency[3];
    int64_t total;
} orderd_order_draft_t;

/** Name of a status ("pending", ...); NULL for an out-of-range value. */
const char *orderd_status_name(orderd_status_t status);

/** Parses a status name; returns 0 and sets *out, or -1 for an unknown name. */
__attribute__((warn_unused_result)) int orderd_status_parse(const char *s, size_t len, orderd_status_t *out);

/**
 * The state machine. A customer cancel is `to == CANCELLED`: allowed from
 * pending, a repeat (NOOP) on a cancelled order, a conflict otherwise. Operator
 * fulfilment moves one step at a time, pending -> processing -> shipped ->
 * delivered; anything else (skips, going back, repeats, leaving cancelled or
 * delivered) is a conflict.
 */
orderd_transition_t orderd_status_transition(orderd_status_t from, orderd_status_t to);

/** Bytes an order built from `draft` for a user id of `user_len` bytes takes. */
size_t orderd_order_size(const orderd_order_draft_t *draft, size_t user_len);

/**
 * Builds the order blob into `dst` (orderd_order_size() bytes, 8-byte aligned):
 * status pending, version 1, created = updated = now_ms.
 */
void orderd_order_build(orderd_order_t *dst, uint64_t id, orderd_str_t user_id, const orderd_order_draft_t *draft,
                        int64_t now_ms);

/** Fraction digits of the order's amounts: its currency's minor unit, or 2 for a legacy order (or an unknown code). */
unsigned orderd_order_digits(const orderd_order_t *o);

/** The order's strings; valid as long as the blob is. */
orderd_str_t orderd_order_user(const orderd_order_t *o);
orderd_str_t orderd_order_address(const orderd_order_t *o);
orderd_str_t orderd_order_payment(const orderd_order_t *o);
orderd_str_t orderd_order_product(const orderd_order_t *o, size_t i);

/**
 * Checks that `size` bytes at `o` form a well-shaped order blob (lengths and
 * offsets inside the blob, a known status). Used on bytes read back from disk.
 * Returns 0 when sound, -1 otherwise.
 */
__attribute__((warn_unused_result)) int orderd_order_check(const orderd_order_t *o, size_t size);

/**
 * Order ids: a 64-bit number written as ORDERD_ID_LEN characters of
 * lower-case Crockford base32, so ids are URL-safe and sort by creation.
 * orderd_id_format writes exactly ORDERD_ID_LEN bytes (no NUL).
 */
void orderd_id_format(uint64_t id, char out[ORDERD_ID_LEN]);

/** Parses an id's text; returns 0 and sets *id, or -1 when it is not one. */
__attribute__((warn_unused_result)) int orderd_id_parse(const char *s, size_t len, uint64_t *id);

/**
 * Writes Unix time `ms` as RFC 3339 UTC with milliseconds
 * ("2026-11-25T04:03:39.123Z") into buf, NUL-terminated; returns the length.
 */
size_t orderd_time_format(int64_t ms, char buf[ORDERD_TIME_FMT_MAX]);

/** The wall clock as Unix time in milliseconds. */
int64_t orderd_now_ms(void);

/* --- the extension: what happens to an order after checkout (src/order_ext.c) ---
 *
 * An order that was only created, or only moved along by status changes,
 * has no extension (ext_off 0): its lines are l1, l2, ... in item order and
 * nothing of them is cancelled, shipped, returned or refunded. The first
 * operation (edit, partial cancel, shipment, return, refund) rebuilds the
 * blob with one, at ext_off (8-byte aligned), running to the blob's end:
 *
 *   orderd_order_ext_t   the header
 *   orderd_line_t        [n_items]      one per item, same index
 *   orderd_shipment_t    [n_shipments]  shipment k is "s<k+1>"
 *   orderd_return_t      [n_returns]    return k is "r<k+1>"
 *   orderd_refund_t      [n_refunds]    refund k is "rf<k+1>"
 *   orderd_part_t        [n_parts]      the lines of shipments, returns, refunds
 *   strings              [strings_len]  carriers, tracking, reasons
 *
 * Operations build a new blob through an orderd_order_doc_t (unpack, change,
 * pack), never in place: the table swaps whole blobs under the shard lock.
 */

/** Most shipments, returns and refunds an order may have, each, and their lines in all. */
#define ORDERD_SUBRECORDS_MAX 100
#define ORDERD_PARTS_MAX 4096
#define ORDERD_CARRIER_MAX 64
#define ORDERD_TRACKING_NUMBER_MAX 128
#define ORDERD_TRACKING_URL_MAX 1024
#define ORDERD_REASON_MAX 1024

typedef enum {
    ORDERD_RETURN_REQUESTED = 0,
    ORDERD_RETURN_APPROVED,
    ORDERD_RETURN_REJECTED,
    ORDERD_RETURN_RECEIVED,
    ORDERD_RETURN_STATUS_COUNT
} orderd_return_status_t;

typedef struct orderd_order_ext {
    int64_t refunded_total; /* minor units */
    int64_t delivered_ms;   /* when the order became delivered; 0: not */
    uint32_t strings_len;
    uint16_t next_line;     /* the highest line number handed out */
    uint16_t n_shipments, n_returns, n_refunds, n_parts;
    uint16_t _reserved;
} orderd_order_ext_t;

typedef struct orderd_line {
    int64_t refunded;    /* minor units refunded for this line */
    uint32_t cancelled;  /* quantities */
    uint32_t shipped;
    uint32_t returned;   /* in returns that are not rejected */
    uint16_t line_no;    /* "l<line_no>" */
    uint16_t _reserved;
} orderd_line_t;

typedef struct orderd_part {
    uint32_t quantity;
    uint16_t line_no;
    uint16_t _reserved;
    int64_t amount; /* refunds: minor units of this line; else 0 */
} orderd_part_t;

typedef struct orderd_shipment {
    int64_t shipped_ms;
    int64_t delivered_ms; /* 0: not delivered */
    uint32_t str_off;     /* carrier, tracking number, tracking url, in the strings */
    uint16_t carrier_len, tracking_len, url_len;
    uint16_t first_part, n_parts;
    uint16_t _reserved;
} orderd_shipment_t;

typedef struct orderd_return {
    int64_t requested_ms;
    int64_t updated_ms;
    uint32_t str_off; /* the reason */
    uint16_t reason_len;
    uint16_t first_part, n_parts;
    uint16_t refund_no; /* the refund a received return made (0: none) */
    uint8_t status;     /* orderd_return_status_t */
    uint8_t _reserved[7];
} orderd_return_t;

typedef struct orderd_refund {
    int64_t amount; /* minor units */
    int64_t at_ms;
    uint16_t return_no; /* the return it pays back (0: none) */
    uint16_t first_part, n_parts;
    uint16_t _reserved;
} orderd_refund_t;

/** An order taken apart for an operation; strings and arrays point into memory from an allocator. */
typedef struct orderd_doc_line {
    orderd_str_t product_id;
    int64_t price;
    uint32_t quantity;
    orderd_line_t x; /* cancelled, shipped, returned, refunded, line number */
} orderd_doc_line_t;

typedef struct orderd_doc_shipment {
    orderd_shipment_t h; /* times; offsets and counts are rebuilt by pack */
    orderd_str_t carrier, tracking_number, tracking_url;
    orderd_part_t *parts;
    size_t n_parts;
} orderd_doc_shipment_t;

typedef struct orderd_doc_return {
    orderd_return_t h;
    orderd_str_t reason;
    orderd_part_t *parts;
    size_t n_parts;
} orderd_doc_return_t;

typedef struct orderd_doc_refund {
    orderd_refund_t h;
    orderd_part_t *parts;
    size_t n_parts;
} orderd_doc_refund_t;

/** The order's own fields (the blob's counts and offsets are pack's). */
typedef struct orderd_doc_head {
    uint64_t id;
    int64_t total, created_ms, updated_ms;
    uint32_t version;
    uint8_t status, money_scale;
    char currency[3];
} orderd_doc_head_t;

typedef struct orderd_order_doc {
    orderd_doc_head_t head;
    orderd_str_t user_id, shipping_address, payment_method;
    orderd_doc_line_t *lines;
    size_t n_lines, cap_lines;
    orderd_order_ext_t ext; /* refunded_total, delivered_ms, next_line */
    orderd_doc_shipment_t *shipments;
    orderd_doc_return_t *returns;
    orderd_doc_refund_t *refunds;
    size_t n_shipments, n_returns, n_refunds;
} orderd_order_doc_t;

/** The extension of `o`, or NULL when it has none. */
const orderd_order_ext_t *orderd_order_ext(const orderd_order_t *o);

/**
 * Line i of `o` as its extension says, or for an order without one the
 * defaults (line number i + 1, nothing cancelled, shipped, returned or
 * refunded), written into *out. Returns out.
 */
const orderd_line_t *orderd_order_line(const orderd_order_t *o, size_t i, orderd_line_t *out);

/** The extension's arrays and strings (valid only when orderd_order_ext(o) is not NULL). */
const orderd_shipment_t *orderd_order_shipments(const orderd_order_t *o);
const orderd_return_t *orderd_order_returns(const orderd_order_t *o);
const orderd_refund_t *orderd_order_refunds(const orderd_order_t *o);
const orderd_part_t *orderd_order_parts(const orderd_order_t *o);
/** `len` bytes at `off` of the extension's strings. */
orderd_str_t orderd_order_ext_string(const orderd_order_t *o, uint32_t off, size_t len);

/** Takes `o` apart into *doc (arrays from `a`; strings point into `o`, which must outlive the doc). */
void orderd_order_unpack(const orderd_order_t *o, const orderd_alloc_t *a, orderd_order_doc_t *doc);

/** Bytes orderd_order_pack needs for `doc`; 0 when it cannot be one blob (a string area past 64 KiB). */
size_t orderd_order_pack_size(const orderd_order_doc_t *doc);

/**
 * Builds the blob of `doc` (always with an extension) into memory from `a`
 * and returns it; NULL when orderd_order_pack_size says 0. Padding is zero,
 * so equal docs give equal bytes.
 */
orderd_order_t *orderd_order_pack(const orderd_order_doc_t *doc, const orderd_alloc_t *a);

/** Checks an extension's shape against its blob (lengths, offsets, counts); 0 or -1. For orderd_order_check. */
int orderd_order_ext_check(const orderd_order_t *o, size_t size);

/** Name of a return status ("requested", ...); NULL when out of range. */
const char *orderd_return_status_name(unsigned status);

/** What is still to be shipped of a line: quantity - cancelled - shipped. */
static inline uint32_t orderd_line_open(uint32_t quantity, const orderd_line_t *x)
{
    return quantity - x->cancelled - x->shipped;
}

#endif
