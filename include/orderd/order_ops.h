#ifndef ORDERD_ORDER_OPS_H
#define ORDERD_ORDER_OPS_H

/*
 * The operations after checkout, as pure functions of an order: edit a
 * pending order, cancel some of its quantities, record a shipment and its
 * delivery, request and settle a return, refund. orderd_op_apply checks an
 * operation against the order as it stands (its status, its lines, what is
 * left to ship, return or refund) and builds the order as it would be after
 * it, with the operation's "detail": what changed, in the form the journal
 * records and the audit trail shows. It changes nothing itself; the store
 * (orderd_store_amend) calls it under the shard lock and swaps the blob in.
 * Money is exact: integer minor units of the order's currency.
 *
 * docs/journal.md describes the detail byte by byte; docs/order-operations.md
 * the state machine.
 */

#include <stdint.h>

#include "orderd/change.h"
#include "orderd/common.h"
#include "orderd/order.h"

/** An operation; the values are the journal's record types (journal.h). */
typedef enum {
    ORDERD_OP_EDIT = 4,
    ORDERD_OP_CANCEL_LINES = 5,
    ORDERD_OP_SHIP = 6,
    ORDERD_OP_DELIVER = 7,
    ORDERD_OP_RETURN_REQUEST = 8,
    ORDERD_OP_RETURN_APPROVE = 9,
    ORDERD_OP_RETURN_REJECT = 10,
    ORDERD_OP_RETURN_RECEIVE = 11,
    ORDERD_OP_REFUND = 12,
    ORDERD_OP_LAST = ORDERD_OP_REFUND
} orderd_op_type_t;

/** Most steps one edit may have. */
#define ORDERD_EDIT_STEPS_MAX 100

/** One step of an edit. */
typedef enum {
    ORDERD_EDIT_ADD_ITEM = 1,
    ORDERD_EDIT_REMOVE_ITEM = 2,
    ORDERD_EDIT_SET_QUANTITY = 3,
    ORDERD_EDIT_SET_ADDRESS = 4,
} orderd_edit_kind_t;

typedef struct orderd_edit_step {
    orderd_edit_kind_t kind;
    uint16_t line_no;       /* remove_item, set_quantity */
    uint32_t quantity;      /* add_item, set_quantity: 1 to ORDERD_QUANTITY_MAX */
    orderd_str_t product_id; /* add_item */
    orderd_str_t price;     /* add_item: the JSON number's text, read in the order's currency */
    orderd_str_t address;   /* set_shipping_address */
} orderd_edit_step_t;

/** A line and a quantity of it; quantity 0: all of it that the operation may take. */
typedef struct orderd_line_qty {
    uint16_t line_no;
    uint32_t quantity;
} orderd_line_qty_t;

typedef struct orderd_op {
    orderd_op_type_t type;
    const orderd_edit_step_t *steps; /* EDIT */
    size_t n_steps;
    const orderd_line_qty_t *lines;  /* CANCEL_LINES, SHIP (none: every open quantity), RETURN_REQUEST, REFUND */
    size_t n_lines;
    orderd_str_t carrier, tracking_number, tracking_url; /* SHIP; empty: none */
    orderd_str_t reason;                                 /* RETURN_REQUEST; empty: none */
    orderd_str_t amount;     /* REFUND without lines: the JSON number's text */
    uint16_t target;         /* DELIVER: the shipment's number; RETURN_APPROVE..RECEIVE: the return's */
    int64_t return_window_ms; /* RETURN_REQUEST: how long after delivery a return may be asked for */
} orderd_op_t;

typedef enum {
    ORDERD_OP_OK = 0,
    ORDERD_OP_NOOP,      /* already so and safe to repeat (a delivered shipment delivered again): nothing changes */
    ORDERD_OP_CONFLICT,  /* not allowed in the order's (or the return's) current state: 409, `message` says which */
    ORDERD_OP_INVALID,   /* the request does not fit the order: 422 with `errors` */
    ORDERD_OP_NO_TARGET, /* the shipment or return named does not exist: 404, `message` says so */
} orderd_op_outcome_t;

typedef struct orderd_op_result {
    orderd_op_outcome_t outcome;
    orderd_order_t *after;        /* OK: the order after the operation (memory from `a`) */
    const unsigned char *detail;  /* OK: what changed (see orderd_detail_next) */
    uint32_t detail_len;
    const char *message;          /* CONFLICT, NO_TARGET */
    orderd_field_error_t *errors; /* INVALID */
    size_t n_errors;
} orderd_op_result_t;

/**
 * Checks `op` against order `o` for `actor` at `now_ms` and, when it is
 * allowed, builds the order as it would be after it: version + 1, updated
 * at max(now_ms, o's updated time), status as the operation leaves it.
 * Who may do what (the HTTP layer checks the role first; this checks the
 * state): an edit needs a pending order; a partial cancel a pending one, or
 * for the operator a processing one too; a shipment a processing or
 * partially shipped one; a return a delivered one within the window.
 * Everything comes from `a`. Returns res->outcome; never fails otherwise.
 */
orderd_op_outcome_t orderd_op_apply(const orderd_order_t *o, const orderd_op_t *op, orderd_actor_t actor,
                                    int64_t now_ms, const orderd_alloc_t *a, orderd_op_result_t *res);

/**
 * Name of an operation as the audit trail and the journal dump show it
 * ("edited", "lines_cancelled", "shipment_created", "shipment_delivered",
 * "return_requested", "return_approved", "return_rejected",
 * "return_received", "refunded"); NULL for another value.
 */
const char *orderd_op_name(unsigned op);

/* --- the detail: what an operation changed --- */

/** One entry of a detail. */
typedef enum {
    ORDERD_DETAIL_ADD_ITEM = 1,       /* line, quantity, amount = price, text = product id */
    ORDERD_DETAIL_REMOVE_ITEM = 2,    /* line, quantity = the quantity it had */
    ORDERD_DETAIL_SET_QUANTITY = 3,   /* line, quantity, amount = the quantity before */
    ORDERD_DETAIL_SET_ADDRESS = 4,    /* text = the new address */
    ORDERD_DETAIL_CANCEL_LINE = 5,    /* line, quantity cancelled */
    ORDERD_DETAIL_SHIPMENT = 6,       /* ref = shipment number */
    ORDERD_DETAIL_SHIP_LINE = 7,      /* line, quantity */
    ORDERD_DETAIL_DELIVERED = 8,      /* ref = shipment number */
    ORDERD_DETAIL_RETURN = 9,         /* ref = return number, quantity = its status after (orderd_return_status_t) */
    ORDERD_DETAIL_RETURN_LINE = 10,   /* line, quantity */
    ORDERD_DETAIL_REFUND = 11,        /* ref = refund number, amount */
    ORDERD_DETAIL_REFUND_LINE = 12,   /* line, quantity, amount */
    ORDERD_DETAIL_TOTAL = 13,         /* amount = the order's total after the change */
    ORDERD_DETAIL_LAST = ORDERD_DETAIL_TOTAL
} orderd_detail_kind_t;

/**
 * Name of a detail entry's kind ("add_item", "remove_item", "set_quantity",
 * "set_shipping_address", "cancel_line", "shipment", "ship_line",
 * "delivered", "return", "return_line", "refund", "refund_line", "total");
 * NULL for another value.
 */
const char *orderd_detail_kind_name(unsigned kind);

/** Bytes of an entry's fixed part; its text follows, padded with zeros to 8 bytes. */
#define ORDERD_DETAIL_ENTRY_SIZE 24

typedef struct orderd_detail_entry {
    uint8_t kind;      /* orderd_detail_kind_t */
    uint16_t ref;      /* a line number, or a shipment, return or refund number */
    uint32_t quantity;
    int64_t amount;    /* minor units */
    orderd_str_t text; /* points into the detail */
} orderd_detail_entry_t;

/**
 * Reads the entry at *off of the detail [p, p+len) into *e and moves *off
 * past it. Returns 1 with an entry, 0 at the end, -1 when the bytes there
 * are not an entry (so a damaged record is refused, never read past).
 */
int orderd_detail_next(const unsigned char *p, size_t len, size_t *off, orderd_detail_entry_t *e);

/** Whether [p, p+len) is a well-formed detail (every entry reads, kinds known). */
int orderd_detail_check(const unsigned char *p, size_t len);

#endif
