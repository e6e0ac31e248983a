/*
 * The operations after checkout (order_ops.h): each takes the order apart
 * (orderd_order_unpack), checks the request against it, changes the parts
 * and packs a new blob. The order passed in is never touched.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "orderd/money.h"
#include "orderd/order_ops.h"

/* A detail entry as the journal holds it: the blob's byte order, like the order blob itself. */
typedef struct raw_entry {
    uint8_t kind;
    uint8_t _reserved;
    uint16_t ref;
    uint32_t quantity;
    int64_t amount;
    uint32_t text_len;
    uint32_t _reserved2;
} raw_entry_t;

_Static_assert(sizeof(raw_entry_t) == ORDERD_DETAIL_ENTRY_SIZE, "detail entry layout");

#define ALIGN8(n) (((n) + 7) & ~(size_t)7)

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

/* --- names --- */

static const char *const op_names[] = {"edited",           "lines_cancelled", "shipment_created",
                                       "shipment_delivered", "return_requested", "return_approved",
                                       "return_rejected",  "return_received", "refunded"};

const char *orderd_op_name(unsigned op)
{
    return op >= ORDERD_OP_EDIT && op <= ORDERD_OP_LAST ? op_names[op - ORDERD_OP_EDIT] : NULL;
}

static const char *const detail_names[] = {"add_item",   "remove_item", "set_quantity", "set_shipping_address",
                                           "cancel_line", "shipment",   "ship_line",    "delivered",
                                           "return",     "return_line", "refund",       "refund_line",
                                           "total"};

const char *orderd_detail_kind_name(unsigned kind)
{
    return kind >= 1 && kind <= ORDERD_DETAIL_LAST ? detail_names[kind - 1] : NULL;
}

/* --- detail --- */

static void detail_put(op_ctx_t *c, orderd_detail_kind_t kind, uint16_t ref, uint32_t quantity, int64_t amount,
                       orderd_str_t text)
{
    size_t need = ORDERD_DETAIL_ENTRY_SIZE + ALIGN8(text.len);
    if (c->detail_len + need > c->detail_cap) {
        size_t ncap = c->detail_cap == 0 ? 256 : c->detail_cap * 2;
        while (ncap < c->detail_len + need)
            ncap *= 2;
        unsigned char *n = orderd_alloc(c->a, ncap);
        if (c->detail_len != 0)
            memcpy(n, c->detail, c->detail_len);
        c->detail = n;
        c->detail_cap = ncap;
    }
    raw_entry_t e = {.kind = (uint8_t)kind, .ref = ref, .quantity = quantity, .amount = amount,
                     .text_len = (uint32_t)text.len};
    unsigned char *p = c->detail + c->detail_len;
    memcpy(p, &e, sizeof(e));
    memset(p + sizeof(e), 0, ALIGN8(text.len));
    if (text.len != 0)
        memcpy(p + sizeof(e), text.base, text.len);
    c->detail_len += need;
}

int orderd_detail_next(const unsigned char *p, size_t len, size_t *off, orderd_detail_entry_t *e)
{
    if (*off == len)
        return 0;
    if (*off > len || len - *off < ORDERD_DETAIL_ENTRY_SIZE)
        return -1;
    raw_entry_t r;
    memcpy(&r, p + *off, sizeof(r));
    size_t text = ALIGN8((size_t)r.text_len);
    if (r.kind == 0 || r.kind > ORDERD_DETAIL_LAST || r.text_len > len || len - *off - ORDERD_DETAIL_ENTRY_SIZE < text ||
        (r.kind == ORDERD_DETAIL_RETURN && r.quantity >= ORDERD_RETURN_STATUS_COUNT)) /* a return's status */
        return -1;
    *e = (orderd_detail_entry_t){.kind = r.kind,
                                 .ref = r.ref,
                                 .quantity = r.quantity,
                                 .amount = r.amount,
                                 .text = {(const char *)p + *off + ORDERD_DETAIL_ENTRY_SIZE, r.text_len}};
    *off += ORDERD_DETAIL_ENTRY_SIZE + text;
    return 1;
}

int orderd_detail_check(const unsigned char *p, size_t len)
{
    size_t off = 0;
    orderd_detail_entry_t e;
    int r;
    while ((r = orderd_detail_next(p, len, &off, &e)) == 1)
        ;
    return r == 0;
}

/* --- errors and outcomes --- */

static void field_error(op_ctx_t *c, const char *list, size_t i, const char *member, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* An error for "list[i].member" ("operations[2].quantity"), or "list" alone when i is SIZE_MAX. */
static void field_error(op_ctx_t *c, const char *list, size_t i, const char *member, const char *fmt, ...)
{
    char field[96], message[256];
    if (i == SIZE_MAX)
        snprintf(field, sizeof(field), "%s", list);
    else if (member == NULL)
        snprintf(field, sizeof(field), "%s[%zu]", list, i);
    else
        snprintf(field, sizeof(field), "%s[%zu].%s", list, i, member);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    if (c->n_errors == c->cap_errors) {
        size_t ncap = c->cap_errors == 0 ? 8 : c->cap_errors * 2;
        orderd_field_error_t *n = orderd_alloc(c->a, ncap * sizeof(*n));
        if (c->n_errors != 0)
            memcpy(n, c->errors, c->n_errors * sizeof(*n));
        c->errors = n;
        c->cap_errors = ncap;
    }
    char *f = orderd_alloc(c->a, strlen(field) + 1), *m = orderd_alloc(c->a, strlen(message) + 1);
    strcpy(f, field);
    strcpy(m, message);
    c->errors[c->n_errors++] = (orderd_field_error_t){f, m};
}

static orderd_op_outcome_t say(op_ctx_t *c, orderd_op_outcome_t outcome, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static orderd_op_outcome_t say(op_ctx_t *c, orderd_op_outcome_t outcome, const char *fmt, ...)
{
    char buf[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    char *m = orderd_alloc(c->a, strlen(buf) + 1);
    strcpy(m, buf);
    c->res->message = m;
    return c->res->outcome = outcome;
}

static const char *status_of(const op_ctx_t *c)
{
    return orderd_status_name((orderd_status_t)c->o->status);
}

/* --- lines and money --- */

static long find_line(const orderd_order_doc_t *d, uint16_t line_no)
{
    for (size_t i = 0; i < d->n_lines; ++i)
        if (d->lines[i].x.line_no == line_no)
            return (long)i;
    return -1;
}

/* What was paid for a line: price x the quantity not cancelled (exact: totals were checked when made). */
static int64_t paid(const orderd_doc_line_t *l)
{
    return l->price * (int64_t)(l->quantity - l->x.cancelled);
}

/* The total of the lines, or -1 past ORDERD_MONEY_MAX_MINOR. */
static int64_t total_of(const orderd_order_doc_t *d)
{
    int64_t total = 0, line;
    for (size_t i = 0; i < d->n_lines; ++i) {
        if (__builtin_mul_overflow(d->lines[i].price, (int64_t)(d->lines[i].quantity - d->lines[i].x.cancelled),
                                   &line) ||
            __builtin_add_overflow(total, line, &total) || total > ORDERD_MONEY_MAX_MINOR)
            return -1;
    }
    return total;
}

static void money_text(const op_ctx_t *c, int64_t minor, char buf[ORDERD_MONEY_FMT_MAX])
{
    orderd_money_format(minor, c->digits, buf);
}

/* Reads an amount in the order's currency: 0 and *out, or -1 with the error named. */
static int parse_amount(op_ctx_t *c, orderd_str_t text, const char *list, size_t i, const char *member, int64_t *out)
{
    int rc = orderd_money_parse(text.base, text.len, c->digits, out);
    if (rc == ORDERD_MONEY_OK && *out <= ORDERD_MONEY_MAX_MINOR)
        return 0;
    if (rc == ORDERD_MONEY_OK || rc == ORDERD_MONEY_ERANGE)
        field_error(c, list, i, member, "must fit in 15 significant digits (at most %lld minor units)",
                    ORDERD_MONEY_MAX_MINOR);
    else {
        char rule[ORDERD_MONEY_RULE_MAX];
        orderd_money_rule(c->digits, c->o->currency, rule);
        field_error(c, list, i, member, "%s", rule);
    }
    return -1;
}

static char *line_name(const op_ctx_t *c, uint16_t line_no)
{
    char *s = orderd_alloc(c->a, 8);
    snprintf(s, 8, "l%u", (unsigned)line_no);
    return s;
}

/* The lines of a request resolved against the doc: index and quantity for
 * each, or errors named "lines[i]...". `room` says how much of a line the
 * operation may take; requests for the same line add up. */
typedef uint32_t (*room_fn)(const orderd_doc_line_t *l);

static size_t *resolve_lines(op_ctx_t *c, const orderd_op_t *op, room_fn room, const char *verb, uint32_t **qty)
{
    size_t *idx = orderd_alloc(c->a, (op->n_lines + 1) * sizeof(*idx));
    uint32_t *q = orderd_alloc(c->a, (op->n_lines + 1) * sizeof(*q));
    uint32_t *taken = orderd_alloc(c->a, (c->doc.n_lines + 1) * sizeof(*taken));
    memset(taken, 0, (c->doc.n_lines + 1) * sizeof(*taken));
    for (size_t i = 0; i < op->n_lines; ++i) {
        long at = find_line(&c->doc, op->lines[i].line_no);
        if (at < 0) {
            field_error(c, "lines", i, "line_id", "names no line of order %s", c->id);
            continue;
        }
        uint32_t left = room(&c->doc.lines[at]) - taken[at];
        uint32_t want = op->lines[i].quantity != 0 ? op->lines[i].quantity : left;
        if (left == 0) {
            field_error(c, "lines", i, "quantity", "nothing of %s is left to %s", line_name(c, op->lines[i].line_no),
                        verb);
            continue;
        }
        if (want > left) {
            field_error(c, "lines", i, "quantity", "must be at most %u: what is left of %s to %s", left,
                        line_name(c, op->lines[i].line_no), verb);
            continue;
        }
        taken[at] += want;
        idx[i] = (size_t)at;
        q[i] = want;
    }
    *qty = q;
    return idx;
}

static uint32_t room_open(const orderd_doc_line_t *l)
{
    return orderd_line_open(l->quantity, &l->x);
}

static uint32_t room_returnable(const orderd_doc_line_t *l)
{
    return l->x.shipped - l->x.returned;
}

static uint32_t room_refundable_qty(const orderd_doc_line_t *l)
{
    return l->quantity - l->x.cancelled;
}

static orderd_part_t *parts_new(op_ctx_t *c, size_t n)
{
    orderd_part_t *p = orderd_alloc(c->a, (n + 1) * sizeof(*p));
    memset(p, 0, (n + 1) * sizeof(*p));
    return p;
}

/* --- the operations --- */

/* A change of quantities may not take a line, or the order, below what was refunded of it. */
static void check_refunds_covered(op_ctx_t *c, const char *list)
{
    const orderd_order_doc_t *d = &c->doc;
    char text[ORDERD_MONEY_FMT_MAX];
    for (size_t i = 0; i < d->n_lines; ++i)
        if (paid(&d->lines[i]) < d->lines[i].x.refunded) {
            money_text(c, d->lines[i].x.refunded, text);
            field_error(c, list, SIZE_MAX, NULL, "%s had %s refunded: what is paid for it cannot drop below that",
                        line_name(c, d->lines[i].x.line_no), text);
            return;
        }
    if (total_of(d) < d->ext.refunded_total) {
        money_text(c, d->ext.refunded_total, text);
        field_error(c, list, SIZE_MAX, NULL, "the order had %s refunded: its total cannot drop below that", text);
    }
}

static orderd_op_outcome_t edit(op_ctx_t *c, const orderd_op_t *op)
{
    orderd_order_doc_t *d = &c->doc;
    if (c->o->status != ORDERD_STATUS_PENDING)
        return say(c, ORDERD_OP_CONFLICT, "order %s is %s; only a pending order can be edited", c->id, status_of(c));
    /* room for every add */
    orderd_doc_line_t *lines = orderd_alloc(c->a, (d->n_lines + op->n_steps + 1) * sizeof(*lines));
    memcpy(lines, d->lines, d->n_lines * sizeof(*lines));
    d->lines = lines;
    for (size_t i = 0; i < op->n_steps; ++i) {
        const orderd_edit_step_t *s = &op->steps[i];
        long at = s->kind == ORDERD_EDIT_REMOVE_ITEM || s->kind == ORDERD_EDIT_SET_QUANTITY
                      ? find_line(d, s->line_no)
                      : 0;
        if (at < 0) {
            field_error(c, "operations", i, "line_id", "names no line of order %s", c->id);
            continue;
        }
        switch (s->kind) {
        case ORDERD_EDIT_ADD_ITEM: {
            int64_t price;
            if (parse_amount(c, s->price, "operations", i, "price", &price) != 0)
                continue;
            if (d->n_lines >= ORDERD_ITEMS_MAX || d->ext.next_line == UINT16_MAX) {
                field_error(c, "operations", i, NULL, "an order has at most %d lines", ORDERD_ITEMS_MAX);
                continue;
            }
            uint16_t no = ++d->ext.next_line;
            d->lines[d->n_lines++] = (orderd_doc_line_t){s->product_id, price, s->quantity, {.line_no = no}};
            detail_put(c, ORDERD_DETAIL_ADD_ITEM, no, s->quantity, price, s->product_id);
            break;
        }
        case ORDERD_EDIT_REMOVE_ITEM:
            detail_put(c, ORDERD_DETAIL_REMOVE_ITEM, s->line_no, d->lines[at].quantity, 0, (orderd_str_t){NULL, 0});
            memmove(&d->lines[at], &d->lines[at + 1], (d->n_lines - (size_t)at - 1) * sizeof(*d->lines));
            --d->n_lines;
            break;
        case ORDERD_EDIT_SET_QUANTITY:
            if (s->quantity <= d->lines[at].x.cancelled) {
                field_error(c, "operations", i, "quantity", "must be more than the %u of %s already cancelled",
                            d->lines[at].x.cancelled, line_name(c, s->line_no));
                continue;
            }
            detail_put(c, ORDERD_DETAIL_SET_QUANTITY, s->line_no, s->quantity, d->lines[at].quantity,
                       (orderd_str_t){NULL, 0});
            d->lines[at].quantity = s->quantity;
            break;
        case ORDERD_EDIT_SET_ADDRESS:
            d->shipping_address = s->address;
            detail_put(c, ORDERD_DETAIL_SET_ADDRESS, 0, 0, 0, s->address);
            break;
        }
    }
    if (c->n_errors != 0)
        return ORDERD_OP_INVALID;
    int any_open = 0;
    for (size_t i = 0; i < d->n_lines; ++i)
        any_open |= room_open(&d->lines[i]) != 0;
    if (!any_open)
        field_error(c, "operations", SIZE_MAX, NULL, "the edit would leave the order without a line");
    else if ((d->head.total = total_of(d)) < 0)
        field_error(c, "operations", SIZE_MAX, NULL,
                    "the order total would not fit in 15 significant digits (at most %lld minor units)",
                    ORDERD_MONEY_MAX_MINOR);
    else
        check_refunds_covered(c, "operations");
    return c->n_errors != 0 ? ORDERD_OP_INVALID : ORDERD_OP_OK;
}

static orderd_op_outcome_t cancel_lines(op_ctx_t *c, const orderd_op_t *op, orderd_actor_t actor)
{
    orderd_order_doc_t *d = &c->doc;
    int operator = actor == ORDERD_ACTOR_OPERATOR;
    if (c->o->status != ORDERD_STATUS_PENDING && !(operator && c->o->status == ORDERD_STATUS_PROCESSING))
        return say(c, ORDERD_OP_CONFLICT, "order %s is %s; only a %s order can be cancelled", c->id, status_of(c),
                   operator ? "pending or processing" : "pending");
    uint32_t *q;
    size_t *idx = resolve_lines(c, op, room_open, "cancel", &q);
    if (c->n_errors != 0)
        return ORDERD_OP_INVALID;
    int any_open = 0;
    for (size_t i = 0; i < op->n_lines; ++i) {
        d->lines[idx[i]].x.cancelled += q[i];
        detail_put(c, ORDERD_DETAIL_CANCEL_LINE, op->lines[i].line_no, q[i], 0, (orderd_str_t){NULL, 0});
    }
    for (size_t i = 0; i < d->n_lines; ++i)
        any_open |= room_open(&d->lines[i]) != 0;
    check_refunds_covered(c, "lines");
    if (c->n_errors != 0)
        return ORDERD_OP_INVALID;
    d->head.total = total_of(d); /* smaller than before: it fits */
    if (!any_open)
        d->head.status = ORDERD_STATUS_CANCELLED;
    return ORDERD_OP_OK;
}

static orderd_op_outcome_t ship(op_ctx_t *c, const orderd_op_t *op)
{
    orderd_order_doc_t *d = &c->doc;
    if (c->o->status != ORDERD_STATUS_PROCESSING && c->o->status != ORDERD_STATUS_PARTIALLY_SHIPPED)
        return say(c, ORDERD_OP_CONFLICT, "order %s is %s; only a processing or partially shipped order can be shipped",
                   c->id, status_of(c));
    if (d->n_shipments >= ORDERD_SUBRECORDS_MAX)
        return say(c, ORDERD_OP_CONFLICT, "order %s has %d shipments, the most an order may have", c->id,
                   ORDERD_SUBRECORDS_MAX);
    orderd_line_qty_t *all = NULL;
    orderd_op_t every = *op;
    if (op->n_lines == 0) { /* every open quantity */
        all = orderd_alloc(c->a, (d->n_lines + 1) * sizeof(*all));
        every.n_lines = 0;
        for (size_t i = 0; i < d->n_lines; ++i)
            if (room_open(&d->lines[i]) != 0)
                all[every.n_lines++] = (orderd_line_qty_t){d->lines[i].x.line_no, 0};
        every.lines = all;
    }
    uint32_t *q;
    size_t *idx = resolve_lines(c, &every, room_open, "ship", &q);
    if (c->n_errors != 0)
        return ORDERD_OP_INVALID;
    orderd_doc_shipment_t *sh = orderd_alloc(c->a, (d->n_shipments + 1) * sizeof(*sh));
    if (d->n_shipments != 0)
        memcpy(sh, d->shipments, d->n_shipments * sizeof(*sh));
    orderd_doc_shipment_t *s = &sh[d->n_shipments];
    *s = (orderd_doc_shipment_t){.h = {.shipped_ms = c->at_ms},
                                 .carrier = op->carrier,
                                 .tracking_number = op->tracking_number,
                                 .tracking_url = op->tracking_url,
                                 .parts = parts_new(c, every.n_lines),
                                 .n_parts = every.n_lines};
    d->shipments = sh;
    uint16_t no = (uint16_t)++d->n_shipments;
    detail_put(c, ORDERD_DETAIL_SHIPMENT, no, 0, 0, (orderd_str_t){NULL, 0});
    for (size_t i = 0; i < every.n_lines; ++i) {
        d->lines[idx[i]].x.shipped += q[i];
        s->parts[i] = (orderd_part_t){.quantity = q[i], .line_no = every.lines[i].line_no};
        detail_put(c, ORDERD_DETAIL_SHIP_LINE, every.lines[i].line_no, q[i], 0, (orderd_str_t){NULL, 0});
    }
    int any_open = 0;
    for (size_t i = 0; i < d->n_lines; ++i)
        any_open |= room_open(&d->lines[i]) != 0;
    d->head.status = any_open ? ORDERD_STATUS_PARTIALLY_SHIPPED : ORDERD_STATUS_SHIPPED;
    return ORDERD_OP_OK;
}

static orderd_op_outcome_t deliver(op_ctx_t *c, const orderd_op_t *op)
{
    orderd_order_doc_t *d = &c->doc;
    if (op->target == 0) { /* every shipment: the one-step status endpoint */
        if (c->o->status != ORDERD_STATUS_SHIPPED)
            return say(c, ORDERD_OP_CONFLICT, "order %s is %s; only a shipped order can be delivered", c->id,
                       status_of(c));
        for (size_t i = 0; i < d->n_shipments; ++i)
            if (d->shipments[i].h.delivered_ms == 0) {
                d->shipments[i].h.delivered_ms = c->at_ms;
                detail_put(c, ORDERD_DETAIL_DELIVERED, (uint16_t)(i + 1), 0, 0, (orderd_str_t){NULL, 0});
            }
        d->head.status = ORDERD_STATUS_DELIVERED;
        d->ext.delivered_ms = c->at_ms;
        return ORDERD_OP_OK;
    }
    if (op->target > d->n_shipments)
        return say(c, ORDERD_OP_NO_TARGET, "order %s has no shipment s%u", c->id, (unsigned)op->target);
    orderd_doc_shipment_t *s = &d->shipments[op->target - 1];
    if (s->h.delivered_ms != 0)
        return c->res->outcome = ORDERD_OP_NOOP;
    if (c->o->status != ORDERD_STATUS_SHIPPED && c->o->status != ORDERD_STATUS_PARTIALLY_SHIPPED)
        return say(c, ORDERD_OP_CONFLICT, "order %s is %s; its shipments cannot be delivered", c->id, status_of(c));
    s->h.delivered_ms = c->at_ms;
    detail_put(c, ORDERD_DETAIL_DELIVERED, op->target, 0, 0, (orderd_str_t){NULL, 0});
    int all = 1;
    for (size_t i = 0; i < d->n_shipments; ++i)
        all &= d->shipments[i].h.delivered_ms != 0;
    if (all && c->o->status == ORDERD_STATUS_SHIPPED) {
        d->head.status = ORDERD_STATUS_DELIVERED;
        d->ext.delivered_ms = c->at_ms;
    }
    return ORDERD_OP_OK;
}

static orderd_doc_refund_t *refund_new(op_ctx_t *c, size_t n_parts, uint16_t return_no)
{
    orderd_order_doc_t *d = &c->doc;
    orderd_doc_refund_t *rf = orderd_alloc(c->a, (d->n_refunds + 1) * sizeof(*rf));
    if (d->n_refunds != 0)
        memcpy(rf, d->refunds, d->n_refunds * sizeof(*rf));
    d->refunds = rf;
    orderd_doc_refund_t *f = &rf[d->n_refunds++];
    *f = (orderd_doc_refund_t){.h = {.at_ms = c->at_ms, .return_no = return_no}, .parts = parts_new(c, n_parts)};
    return f;
}

static orderd_op_outcome_t return_request(op_ctx_t *c, const orderd_op_t *op)
{
    orderd_order_doc_t *d = &c->doc;
    if (c->o->status != ORDERD_STATUS_DELIVERED)
        return say(c, ORDERD_OP_CONFLICT, "order %s is %s; only a delivered order can be returned", c->id,
                   status_of(c));
    /* an order delivered by a status change before shipments existed: its
     * delivery is its last change, kept from the first return on */
    int64_t since = d->ext.delivered_ms != 0 ? d->ext.delivered_ms : c->o->updated_ms;
    d->ext.delivered_ms = since;
    if (c->at_ms - since > op->return_window_ms) {
        char closed[ORDERD_TIME_FMT_MAX];
        orderd_time_format(since + op->return_window_ms, closed);
        return say(c, ORDERD_OP_CONFLICT, "order %s is delivered; its return window closed at %s", c->id, closed);
    }
    if (d->n_returns >= ORDERD_SUBRECORDS_MAX)
        return say(c, ORDERD_OP_CONFLICT, "order %s has %d returns, the most an order may have", c->id,
                   ORDERD_SUBRECORDS_MAX);
    uint32_t *q;
    size_t *idx = resolve_lines(c, op, room_returnable, "return", &q);
    if (c->n_errors != 0)
        return ORDERD_OP_INVALID;
    orderd_doc_return_t *rt = orderd_alloc(c->a, (d->n_returns + 1) * sizeof(*rt));
    if (d->n_returns != 0)
        memcpy(rt, d->returns, d->n_returns * sizeof(*rt));
    d->returns = rt;
    orderd_doc_return_t *r = &rt[d->n_returns];
    *r = (orderd_doc_return_t){.h = {.requested_ms = c->at_ms, .updated_ms = c->at_ms, .status = ORDERD_RETURN_REQUESTED},
                               .reason = op->reason,
                               .parts = parts_new(c, op->n_lines),
                               .n_parts = op->n_lines};
    uint16_t no = (uint16_t)++d->n_returns;
    detail_put(c, ORDERD_DETAIL_RETURN, no, ORDERD_RETURN_REQUESTED, 0, op->reason);
    for (size_t i = 0; i < op->n_lines; ++i) {
        d->lines[idx[i]].x.returned += q[i];
        r->parts[i] = (orderd_part_t){.quantity = q[i], .line_no = op->lines[i].line_no};
        detail_put(c, ORDERD_DETAIL_RETURN_LINE, op->lines[i].line_no, q[i], 0, (orderd_str_t){NULL, 0});
    }
    return ORDERD_OP_OK;
}

/* Adds `amount` of line `l` to refund `f` and the order's books. */
static void refund_line(op_ctx_t *c, orderd_doc_refund_t *f, orderd_doc_line_t *l, uint32_t quantity, int64_t amount)
{
    f->parts[f->n_parts++] = (orderd_part_t){.quantity = quantity, .line_no = l->x.line_no, .amount = amount};
    f->h.amount += amount;
    l->x.refunded += amount;
    c->doc.ext.refunded_total += amount;
}

static orderd_op_outcome_t return_settle(op_ctx_t *c, const orderd_op_t *op)
{
    orderd_order_doc_t *d = &c->doc;
    if (op->target == 0 || op->target > d->n_returns)
        return say(c, ORDERD_OP_NO_TARGET, "order %s has no return r%u", c->id, (unsigned)op->target);
    orderd_doc_return_t *r = &d->returns[op->target - 1];
    uint8_t from = r->h.status,
            to = op->type == ORDERD_OP_RETURN_APPROVE  ? ORDERD_RETURN_APPROVED
                 : op->type == ORDERD_OP_RETURN_REJECT ? ORDERD_RETURN_REJECTED
                                                       : ORDERD_RETURN_RECEIVED;
    uint8_t need = to == ORDERD_RETURN_RECEIVED ? ORDERD_RETURN_APPROVED : ORDERD_RETURN_REQUESTED;
    if (from == to)
        return c->res->outcome = ORDERD_OP_NOOP;
    if (from != need)
        return say(c, ORDERD_OP_CONFLICT, "return r%u of order %s is %s; only a%s %s return can be %s",
                   (unsigned)op->target, c->id, orderd_return_status_name(from),
                   need == ORDERD_RETURN_APPROVED ? "n" : "", orderd_return_status_name(need),
                   to == ORDERD_RETURN_APPROVED   ? "approved"
                   : to == ORDERD_RETURN_REJECTED ? "rejected"
                                                  : "received");
    r->h.status = to;
    r->h.updated_ms = c->at_ms;
    detail_put(c, ORDERD_DETAIL_RETURN, op->target, to, 0, (orderd_str_t){NULL, 0});
    if (to == ORDERD_RETURN_REJECTED) {
        for (size_t i = 0; i < r->n_parts; ++i) {
            long at = find_line(d, r->parts[i].line_no);
            if (at >= 0)
                d->lines[at].x.returned -= r->parts[i].quantity;
        }
        return ORDERD_OP_OK;
    }
    if (to != ORDERD_RETURN_RECEIVED)
        return ORDERD_OP_OK;
    /* the refund: each line's price x quantity, never more than is left of the line or the order */
    if (d->n_refunds >= ORDERD_SUBRECORDS_MAX)
        return say(c, ORDERD_OP_CONFLICT, "order %s has %d refunds, the most an order may have", c->id,
                   ORDERD_SUBRECORDS_MAX);
    int64_t order_left = d->head.total - d->ext.refunded_total, sum = 0;
    int64_t *amounts = orderd_alloc(c->a, (r->n_parts + 1) * sizeof(*amounts));
    for (size_t i = 0; i < r->n_parts; ++i) {
        long at = find_line(d, r->parts[i].line_no);
        orderd_doc_line_t *l = at >= 0 ? &d->lines[at] : NULL;
        int64_t amount = l != NULL ? l->price * (int64_t)r->parts[i].quantity : 0,
                left = l != NULL ? paid(l) - l->x.refunded : 0;
        if (amount > left)
            amount = left;
        if (amount > order_left)
            amount = order_left;
        if (amount < 0)
            amount = 0;
        order_left -= amount;
        sum += amount;
        amounts[i] = amount;
    }
    if (sum == 0) /* all of it was paid back already (a refund by amount): nothing more to refund */
        return ORDERD_OP_OK;
    orderd_doc_refund_t *f = refund_new(c, r->n_parts, op->target);
    for (size_t i = 0; i < r->n_parts; ++i) {
        long at = find_line(d, r->parts[i].line_no);
        if (at >= 0)
            refund_line(c, f, &d->lines[at], r->parts[i].quantity, amounts[i]);
    }
    r->h.refund_no = (uint16_t)d->n_refunds;
    detail_put(c, ORDERD_DETAIL_REFUND, (uint16_t)d->n_refunds, 0, f->h.amount, (orderd_str_t){NULL, 0});
    for (size_t i = 0; i < f->n_parts; ++i)
        detail_put(c, ORDERD_DETAIL_REFUND_LINE, f->parts[i].line_no, f->parts[i].quantity, f->parts[i].amount,
                   (orderd_str_t){NULL, 0});
    return ORDERD_OP_OK;
}

static orderd_op_outcome_t refund(op_ctx_t *c, const orderd_op_t *op)
{
    orderd_order_doc_t *d = &c->doc;
    char left_text[ORDERD_MONEY_FMT_MAX];
    int64_t order_left = d->head.total - d->ext.refunded_total;
    if (d->n_refunds >= ORDERD_SUBRECORDS_MAX)
        return say(c, ORDERD_OP_CONFLICT, "order %s has %d refunds, the most an order may have", c->id,
                   ORDERD_SUBRECORDS_MAX);
    if (op->n_lines == 0) {
        int64_t amount;
        if (parse_amount(c, op->amount, "amount", SIZE_MAX, NULL, &amount) != 0)
            return ORDERD_OP_INVALID;
        money_text(c, order_left, left_text);
        if (amount == 0 || amount > order_left) {
            field_error(c, "amount", SIZE_MAX, NULL, "must be more than 0 and at most %s, what is left to refund",
                        left_text);
            return ORDERD_OP_INVALID;
        }
        orderd_doc_refund_t *f = refund_new(c, 0, 0);
        f->h.amount = amount;
        d->ext.refunded_total += amount;
        detail_put(c, ORDERD_DETAIL_REFUND, (uint16_t)d->n_refunds, 0, amount, (orderd_str_t){NULL, 0});
        return ORDERD_OP_OK;
    }
    uint32_t *q;
    size_t *idx = resolve_lines(c, op, room_refundable_qty, "refund", &q);
    if (c->n_errors != 0)
        return ORDERD_OP_INVALID;
    orderd_doc_refund_t *f = refund_new(c, op->n_lines, 0);
    int64_t sum = 0;
    for (size_t i = 0; i < op->n_lines; ++i) {
        orderd_doc_line_t *l = &d->lines[idx[i]];
        int64_t amount = l->price * (int64_t)q[i], left = paid(l) - l->x.refunded;
        if (amount > left) {
            money_text(c, left, left_text);
            field_error(c, "lines", i, "quantity", "would refund more of %s than the %s left to refund",
                        line_name(c, l->x.line_no), left_text);
            continue;
        }
        sum += amount;
        refund_line(c, f, l, q[i], amount);
    }
    if (c->n_errors == 0 && sum > order_left) {
        money_text(c, order_left, left_text);
        field_error(c, "lines", SIZE_MAX, NULL, "would refund more than the %s left to refund on the order",
                    left_text);
    }
    if (c->n_errors != 0)
        return ORDERD_OP_INVALID;
    detail_put(c, ORDERD_DETAIL_REFUND, (uint16_t)d->n_refunds, 0, f->h.amount, (orderd_str_t){NULL, 0});
    for (size_t i = 0; i < f->n_parts; ++i)
        detail_put(c, ORDERD_DETAIL_REFUND_LINE, f->parts[i].line_no, f->parts[i].quantity, f->parts[i].amount,
                   (orderd_str_t){NULL, 0});
    return ORDERD_OP_OK;
}

orderd_op_outcome_t orderd_op_apply(const orderd_order_t *o, const orderd_op_t *op, orderd_actor_t actor,
                                    int64_t now_ms, const orderd_alloc_t *a, orderd_op_result_t *res)
{
    memset(res, 0, sizeof(*res));
    op_ctx_t c = {.o = o, .a = a, .digits = orderd_order_digits(o), .res = res,
                  .at_ms = now_ms > o->updated_ms ? now_ms : o->updated_ms};
    orderd_id_format(o->id, c.id);
    c.id[ORDERD_ID_LEN] = '\0';
    orderd_order_unpack(o, a, &c.doc);
    int64_t total_before = o->total;
    orderd_op_outcome_t out;
    switch (op->type) {
    case ORDERD_OP_EDIT:
        out = edit(&c, op);
        break;
    case ORDERD_OP_CANCEL_LINES:
        out = cancel_lines(&c, op, actor);
        break;
    case ORDERD_OP_SHIP:
        out = ship(&c, op);
        break;
    case ORDERD_OP_DELIVER:
        out = deliver(&c, op);
        break;
    case ORDERD_OP_RETURN_REQUEST:
        out = return_request(&c, op);
        break;
    case ORDERD_OP_RETURN_APPROVE:
    case ORDERD_OP_RETURN_REJECT:
    case ORDERD_OP_RETURN_RECEIVE:
        out = return_settle(&c, op);
        break;
    case ORDERD_OP_REFUND:
        out = refund(&c, op);
        break;
    default:
        out = say(&c, ORDERD_OP_CONFLICT, "unknown operation");
        break;
    }
    if (out == ORDERD_OP_INVALID) {
        res->errors = c.errors;
        res->n_errors = c.n_errors;
    }
    if (out != ORDERD_OP_OK)
        return res->outcome = out;
    if (c.doc.head.total != total_before)
        detail_put(&c, ORDERD_DETAIL_TOTAL, 0, 0, c.doc.head.total, (orderd_str_t){NULL, 0});
    c.doc.head.version = o->version + 1;
    c.doc.head.updated_ms = c.at_ms;
    if ((res->after = orderd_order_pack(&c.doc, a)) == NULL) {
        field_error(&c, "operations", SIZE_MAX, NULL, "the order would be larger than an order may be");
        res->errors = c.errors;
        res->n_errors = c.n_errors;
        return res->outcome = ORDERD_OP_INVALID;
    }
    res->detail = c.detail;
    res->detail_len = (uint32_t)c.detail_len;
    return res->outcome = ORDERD_OP_OK;
}
