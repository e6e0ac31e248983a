#ifndef ORDERD_INTERNAL_ORDER_OP_CTX_H
#define ORDERD_INTERNAL_ORDER_OP_CTX_H

/*
 * The private half of order_ops.h: one operation's context and the helpers
 * every operation uses (src/order_op_ctx.c). Memory comes from the context's
 * allocator; nothing here changes the order the operation started from.
 */

#include "orderd/money.h"
#include "orderd/order_ops.h"

typedef struct op_ctx {
    const orderd_order_t *o;
    const orderd_alloc_t *a;
    orderd_order_doc_t doc;
    unsigned digits;
    int64_t at_ms;
    char id[ORDERD_ID_LEN + 1];
    /* the detail being written */
    unsigned char *detail;
    size_t detail_len, detail_cap;
    /* the 422's errors */
    orderd_field_error_t *errors;
    size_t n_errors, cap_errors;
    orderd_op_result_t *res;
} op_ctx_t;

/** Appends an entry to the operation's detail (text copied, padded to 8). */
void orderd_opc_detail_put(op_ctx_t *c, orderd_detail_kind_t kind, uint16_t ref, uint32_t quantity, int64_t amount,
                           orderd_str_t text);

/** Adds a 422 error for "list[i].member" ("operations[2].quantity"; "list" alone when i is SIZE_MAX). */
void orderd_opc_field_error(op_ctx_t *c, const char *list, size_t i, const char *member, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/** Sets the result's message (a 409's or 404's) and its outcome; returns the outcome. */
orderd_op_outcome_t orderd_opc_say(op_ctx_t *c, orderd_op_outcome_t outcome, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** The status the order started from, by name. */
const char *orderd_opc_status_of(const op_ctx_t *c);

/** The index of line `line_no` in the doc, or -1. */
long orderd_opc_find_line(const orderd_order_doc_t *d, uint16_t line_no);

/** What was paid for a line: price x the quantity not cancelled. */
int64_t orderd_opc_paid(const orderd_doc_line_t *l);

/** The doc's total, or -1 past ORDERD_MONEY_MAX_MINOR. */
int64_t orderd_opc_total_of(const orderd_order_doc_t *d);

/** `minor` as text in the order's digits. */
void orderd_opc_money_text(const op_ctx_t *c, int64_t minor, char buf[ORDERD_MONEY_FMT_MAX]);

/** Reads an amount in the order's currency: 0 and *out, or -1 with the error for list[i].member added. */
int orderd_opc_parse_amount(op_ctx_t *c, orderd_str_t text, const char *list, size_t i, const char *member,
                            int64_t *out);

/** "l<line_no>", in the context's memory. */
char *orderd_opc_line_name(const op_ctx_t *c, uint16_t line_no);

/** How much of a line an operation may take. */
typedef uint32_t (*room_fn)(const orderd_doc_line_t *l);

/** What is left of a line to ship or cancel; to return; to refund (by quantity). */
uint32_t orderd_opc_room_open(const orderd_doc_line_t *l);
uint32_t orderd_opc_room_returnable(const orderd_doc_line_t *l);
uint32_t orderd_opc_room_refundable_qty(const orderd_doc_line_t *l);

/**
 * The request's lines against the doc: an index and a quantity for each
 * (quantity 0 asks for all the room left; requests for one line add up), or
 * errors named "lines[i]..." added. Returns the indexes; *qty the quantities.
 */
size_t *orderd_opc_resolve_lines(op_ctx_t *c, const orderd_op_t *op, room_fn room, const char *verb, uint32_t **qty);

/** `n` zeroed parts. */
orderd_part_t *orderd_opc_parts_new(op_ctx_t *c, size_t n);

/** Adds an error for `list` when a line, or the order, would be paid less than was refunded of it. */
void orderd_opc_check_refunds_covered(op_ctx_t *c, const char *list);

/** A new refund (of `return_no`, 0: none) at the end of the doc's, with room for `n_parts` lines. */
orderd_doc_refund_t *orderd_opc_refund_new(op_ctx_t *c, size_t n_parts, uint16_t return_no);

/** Adds `amount` of line `l` to refund `f` and to the order's books. */
void orderd_opc_refund_line(op_ctx_t *c, orderd_doc_refund_t *f, orderd_doc_line_t *l, uint32_t quantity,
                            int64_t amount);

#endif
