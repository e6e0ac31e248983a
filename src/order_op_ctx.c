/*
 * What the operations after checkout share (internal/order_op_ctx.h): an
 * operation's context and the detail it writes, reading a detail back and
 * the names of operations and entries, the 422's errors and the 409's
 * message, lines, money and what is left of a line to cancel, ship, return or
 * refund. The operations themselves are order_ops.c's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal/order_op_ctx.h"

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

/* --- names --- */

static const char *const op_names[] = {"edited",           "lines_cancelled", "shipment_created", "shipment_delivered",
                                       "return_requested", "return_approved", "return_rejected",  "return_received",
                                       "refunded"};

const char *orderd_op_name(unsigned op)
{
    return op >= ORDERD_OP_EDIT && op <= ORDERD_OP_LAST ? op_names[op - ORDERD_OP_EDIT] : NULL;
}

static const char *const detail_names[] = {"add_item",    "remove_item", "set_quantity", "set_shipping_address",
                                           "cancel_line", "shipment",    "ship_line",    "delivered",
                                           "return",      "return_line", "refund",       "refund_line",
                                           "total"};

const char *orderd_detail_kind_name(unsigned kind)
{
    return kind >= 1 && kind <= ORDERD_DETAIL_LAST ? detail_names[kind - 1] : NULL;
}

/* --- detail --- */

void orderd_opc_detail_put(op_ctx_t *c, orderd_detail_kind_t kind, uint16_t ref, uint32_t quantity, int64_t amount,
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
    raw_entry_t e = {
        .kind = (uint8_t)kind, .ref = ref, .quantity = quantity, .amount = amount, .text_len = (uint32_t)text.len};
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
    if (r.kind == 0 || r.kind > ORDERD_DETAIL_LAST || r.text_len > len ||
        len - *off - ORDERD_DETAIL_ENTRY_SIZE < text ||
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

/* An error for "list[i].member" ("operations[2].quantity"), or "list" alone when i is SIZE_MAX. */
void orderd_opc_field_error(op_ctx_t *c, const char *list, size_t i, const char *member, const char *fmt, ...)
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

orderd_op_outcome_t orderd_opc_say(op_ctx_t *c, orderd_op_outcome_t outcome, const char *fmt, ...)
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

const char *orderd_opc_status_of(const op_ctx_t *c)
{
    return orderd_status_name((orderd_status_t)c->o->status);
}

/* --- lines and money --- */

long orderd_opc_find_line(const orderd_order_doc_t *d, uint16_t line_no)
{
    for (size_t i = 0; i < d->n_lines; ++i)
        if (d->lines[i].x.line_no == line_no)
            return (long)i;
    return -1;
}

/* What was paid for a line: price x the quantity not cancelled (exact: totals were checked when made). */
int64_t orderd_opc_paid(const orderd_doc_line_t *l)
{
    return l->price * (int64_t)(l->quantity - l->x.cancelled);
}

/* The total of the lines, or -1 past ORDERD_MONEY_MAX_MINOR. */
int64_t orderd_opc_total_of(const orderd_order_doc_t *d)
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

void orderd_opc_money_text(const op_ctx_t *c, int64_t minor, char buf[ORDERD_MONEY_FMT_MAX])
{
    orderd_money_format(minor, c->digits, buf);
}

/* Reads an amount in the order's currency: 0 and *out, or -1 with the error named. */
int orderd_opc_parse_amount(op_ctx_t *c, orderd_str_t text, const char *list, size_t i, const char *member,
                            int64_t *out)
{
    int rc = orderd_money_parse(text.base, text.len, c->digits, out);
    if (rc == ORDERD_MONEY_OK && *out <= ORDERD_MONEY_MAX_MINOR)
        return 0;
    if (rc == ORDERD_MONEY_OK || rc == ORDERD_MONEY_ERANGE)
        orderd_opc_field_error(c, list, i, member, "must fit in 15 significant digits (at most %lld minor units)",
                               ORDERD_MONEY_MAX_MINOR);
    else {
        char rule[ORDERD_MONEY_RULE_MAX];
        orderd_money_rule(c->digits, c->o->currency, rule);
        orderd_opc_field_error(c, list, i, member, "%s", rule);
    }
    return -1;
}

char *orderd_opc_line_name(const op_ctx_t *c, uint16_t line_no)
{
    char *s = orderd_alloc(c->a, 8);
    snprintf(s, 8, "l%u", (unsigned)line_no);
    return s;
}

/* The lines of a request resolved against the doc: index and quantity for
 * each, or errors named "lines[i]...". `room` says how much of a line the
 * operation may take; requests for the same line add up. */
size_t *orderd_opc_resolve_lines(op_ctx_t *c, const orderd_op_t *op, room_fn room, const char *verb, uint32_t **qty)
{
    size_t *idx = orderd_alloc(c->a, (op->n_lines + 1) * sizeof(*idx));
    uint32_t *q = orderd_alloc(c->a, (op->n_lines + 1) * sizeof(*q));
    uint32_t *taken = orderd_alloc(c->a, (c->doc.n_lines + 1) * sizeof(*taken));
    memset(taken, 0, (c->doc.n_lines + 1) * sizeof(*taken));
    for (size_t i = 0; i < op->n_lines; ++i) {
        long at = orderd_opc_find_line(&c->doc, op->lines[i].line_no);
        if (at < 0) {
            orderd_opc_field_error(c, "lines", i, "line_id", "names no line of order %s", c->id);
            continue;
        }
        uint32_t left = room(&c->doc.lines[at]) - taken[at];
        uint32_t want = op->lines[i].quantity != 0 ? op->lines[i].quantity : left;
        if (left == 0) {
            orderd_opc_field_error(c, "lines", i, "quantity", "nothing of %s is left to %s",
                                   orderd_opc_line_name(c, op->lines[i].line_no), verb);
            continue;
        }
        if (want > left) {
            orderd_opc_field_error(c, "lines", i, "quantity", "must be at most %u: what is left of %s to %s", left,
                                   orderd_opc_line_name(c, op->lines[i].line_no), verb);
            continue;
        }
        taken[at] += want;
        idx[i] = (size_t)at;
        q[i] = want;
    }
    *qty = q;
    return idx;
}

uint32_t orderd_opc_room_open(const orderd_doc_line_t *l)
{
    return orderd_line_open(l->quantity, &l->x);
}

uint32_t orderd_opc_room_returnable(const orderd_doc_line_t *l)
{
    return l->x.shipped - l->x.returned;
}

uint32_t orderd_opc_room_refundable_qty(const orderd_doc_line_t *l)
{
    return l->quantity - l->x.cancelled;
}

orderd_part_t *orderd_opc_parts_new(op_ctx_t *c, size_t n)
{
    orderd_part_t *p = orderd_alloc(c->a, (n + 1) * sizeof(*p));
    memset(p, 0, (n + 1) * sizeof(*p));
    return p;
}

/* --- the operations --- */

/* A change of quantities may not take a line, or the order, below what was refunded of it. */
void orderd_opc_check_refunds_covered(op_ctx_t *c, const char *list)
{
    const orderd_order_doc_t *d = &c->doc;
    char text[ORDERD_MONEY_FMT_MAX];
    for (size_t i = 0; i < d->n_lines; ++i)
        if (orderd_opc_paid(&d->lines[i]) < d->lines[i].x.refunded) {
            orderd_opc_money_text(c, d->lines[i].x.refunded, text);
            orderd_opc_field_error(c, list, SIZE_MAX, NULL,
                                   "%s had %s refunded: what is paid for it cannot drop below that",
                                   orderd_opc_line_name(c, d->lines[i].x.line_no), text);
            return;
        }
    if (orderd_opc_total_of(d) < d->ext.refunded_total) {
        orderd_opc_money_text(c, d->ext.refunded_total, text);
        orderd_opc_field_error(c, list, SIZE_MAX, NULL, "the order had %s refunded: its total cannot drop below that",
                               text);
    }
}

orderd_doc_refund_t *orderd_opc_refund_new(op_ctx_t *c, size_t n_parts, uint16_t return_no)
{
    orderd_order_doc_t *d = &c->doc;
    orderd_doc_refund_t *rf = orderd_alloc(c->a, (d->n_refunds + 1) * sizeof(*rf));
    if (d->n_refunds != 0)
        memcpy(rf, d->refunds, d->n_refunds * sizeof(*rf));
    d->refunds = rf;
    orderd_doc_refund_t *f = &rf[d->n_refunds++];
    *f = (orderd_doc_refund_t){.h = {.at_ms = c->at_ms, .return_no = return_no},
                               .parts = orderd_opc_parts_new(c, n_parts)};
    return f;
}

/* Adds `amount` of line `l` to refund `f` and the order's books. */
void orderd_opc_refund_line(op_ctx_t *c, orderd_doc_refund_t *f, orderd_doc_line_t *l, uint32_t quantity,
                            int64_t amount)
{
    f->parts[f->n_parts++] = (orderd_part_t){.quantity = quantity, .line_no = l->x.line_no, .amount = amount};
    f->h.amount += amount;
    l->x.refunded += amount;
    c->doc.ext.refunded_total += amount;
}
