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
    ORDERD_STATUS_COUNT
} orderd_status_t;

/** What a requested status change means for an order in a given status. */
typedef enum {
    ORDERD_TRANSITION_APPLY = 0, /* allowed: apply it */
    ORDERD_TRANSITION_NOOP,      /* already there and safe to repeat (cancel of a cancelled order) */
    ORDERD_TRANSITION_CONFLICT,  /* not allowed from the current status */
} orderd_transition_t;

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
    orderd_item_t items[];
    /* then: user_id, shipping_address, payment_method, product ids */
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

#endif
