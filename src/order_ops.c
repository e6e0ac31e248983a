/*
 * The operations after checkout (order_ops.h): each takes the order apart
 * (orderd_order_unpack), checks the request against it, changes the parts
 * and packs a new blob. The order passed in is never touched. What they
 * share (the context, the detail, errors, lines and money) is
 * order_op_ctx.c's.
 */
#include <string.h>

#include "internal/order_op_ctx.h"

static orderd_op_outcome_t edit(op_ctx_t *c, const orderd_op_t *op)
{
    orderd_order_doc_t *d = &c->doc;
    if (c->o->status != ORDERD_STATUS_PENDING)
        return orderd_opc_say(c, ORDERD_OP_CONFLICT, "order %s is %s; only a pending order can be edited", c->id,
                              orderd_opc_status_of(c));
    /* room for every add */
    orderd_doc_line_t *lines = orderd_alloc(c->a, (d->n_lines + op->n_steps + 1) * sizeof(*lines));
    memcpy(lines, d->lines, d->n_lines * sizeof(*lines));
    d->lines = lines;
    for (size_t i = 0; i < op->n_steps; ++i) {
        const orderd_edit_step_t *s = &op->steps[i];
        long at = s->kind == ORDERD_EDIT_REMOVE_ITEM || s->kind == ORDERD_EDIT_SET_QUANTITY
                      ? orderd_opc_find_line(d, s->line_no)
                      : 0;
        if (at < 0) {
            orderd_opc_field_error(c, "operations", i, "line_id", "names no line of order %s", c->id);
            continue;
        }
        switch (s->kind) {
        case ORDERD_EDIT_ADD_ITEM: {
            int64_t price;
            if (orderd_opc_parse_amount(c, s->price, "operations", i, "price", &price) != 0)
                continue;
            if (d->n_lines >= ORDERD_ITEMS_MAX || d->ext.next_line == UINT16_MAX) {
                orderd_opc_field_error(c, "operations", i, NULL, "an order has at most %d lines", ORDERD_ITEMS_MAX);
                continue;
            }
            uint16_t no = ++d->ext.next_line;
            d->lines[d->n_lines++] = (orderd_doc_line_t){s->product_id, price, s->quantity, {.line_no = no}};
            orderd_opc_detail_put(c, ORDERD_DETAIL_ADD_ITEM, no, s->quantity, price, s->product_id);
            break;
        }
        case ORDERD_EDIT_REMOVE_ITEM:
            orderd_opc_detail_put(c, ORDERD_DETAIL_REMOVE_ITEM, s->line_no, d->lines[at].quantity, 0,
                                  (orderd_str_t){NULL, 0});
            memmove(&d->lines[at], &d->lines[at + 1], (d->n_lines - (size_t)at - 1) * sizeof(*d->lines));
            --d->n_lines;
            break;
        case ORDERD_EDIT_SET_QUANTITY:
            if (s->quantity <= d->lines[at].x.cancelled) {
                orderd_opc_field_error(c, "operations", i, "quantity",
                                       "must be more than the %u of %s already cancelled", d->lines[at].x.cancelled,
                                       orderd_opc_line_name(c, s->line_no));
                continue;
            }
            orderd_opc_detail_put(c, ORDERD_DETAIL_SET_QUANTITY, s->line_no, s->quantity, d->lines[at].quantity,
                                  (orderd_str_t){NULL, 0});
            d->lines[at].quantity = s->quantity;
            break;
        case ORDERD_EDIT_SET_ADDRESS:
            d->shipping_address = s->address;
            orderd_opc_detail_put(c, ORDERD_DETAIL_SET_ADDRESS, 0, 0, 0, s->address);
            break;
        }
    }
    if (c->n_errors != 0)
        return ORDERD_OP_INVALID;
    int any_open = 0;
    for (size_t i = 0; i < d->n_lines; ++i)
        any_open |= orderd_opc_room_open(&d->lines[i]) != 0;
    if (!any_open)
        orderd_opc_field_error(c, "operations", SIZE_MAX, NULL, "the edit would leave the order without a line");
    else if ((d->head.total = orderd_opc_total_of(d)) < 0)
        orderd_opc_field_error(c, "operations", SIZE_MAX, NULL,
                               "the order total would not fit in 15 significant digits (at most %lld minor units)",
                               ORDERD_MONEY_MAX_MINOR);
    else
        orderd_opc_check_refunds_covered(c, "operations");
    return c->n_errors != 0 ? ORDERD_OP_INVALID : ORDERD_OP_OK;
}

static orderd_op_outcome_t cancel_lines(op_ctx_t *c, const orderd_op_t *op, orderd_actor_t actor)
{
    orderd_order_doc_t *d = &c->doc;
    int operator= actor == ORDERD_ACTOR_OPERATOR;
    if (c->o->status != ORDERD_STATUS_PENDING && !(operator&& c->o->status == ORDERD_STATUS_PROCESSING))
        return orderd_opc_say(c, ORDERD_OP_CONFLICT, "order %s is %s; only a %s order can be cancelled", c->id,
                              orderd_opc_status_of(c), operator? "pending or processing" : "pending");
    uint32_t *q;
    size_t *idx = orderd_opc_resolve_lines(c, op, orderd_opc_room_open, "cancel", &q);
    if (c->n_errors != 0)
        return ORDERD_OP_INVALID;
    int any_open = 0;
    for (size_t i = 0; i < op->n_lines; ++i) {
        d->lines[idx[i]].x.cancelled += q[i];
        orderd_opc_detail_put(c, ORDERD_DETAIL_CANCEL_LINE, op->lines[i].line_no, q[i], 0, (orderd_str_t){NULL, 0});
    }
    for (size_t i = 0; i < d->n_lines; ++i)
        any_open |= orderd_opc_room_open(&d->lines[i]) != 0;
    orderd_opc_check_refunds_covered(c, "lines");
    if (c->n_errors != 0)
        return ORDERD_OP_INVALID;
    d->head.total = orderd_opc_total_of(d); /* smaller than before: it fits */
    if (!any_open)
        d->head.status = ORDERD_STATUS_CANCELLED;
    return ORDERD_OP_OK;
}

static orderd_op_outcome_t ship(op_ctx_t *c, const orderd_op_t *op)
{
    orderd_order_doc_t *d = &c->doc;
    if (c->o->status != ORDERD_STATUS_PROCESSING && c->o->status != ORDERD_STATUS_PARTIALLY_SHIPPED)
        return orderd_opc_say(c, ORDERD_OP_CONFLICT,
                              "order %s is %s; only a processing or partially shipped order can be shipped", c->id,
                              orderd_opc_status_of(c));
    if (d->n_shipments >= ORDERD_SUBRECORDS_MAX)
        return orderd_opc_say(c, ORDERD_OP_CONFLICT, "order %s has %d shipments, the most an order may have", c->id,
                              ORDERD_SUBRECORDS_MAX);
    orderd_line_qty_t *all = NULL;
    orderd_op_t every = *op;
    if (op->n_lines == 0) { /* every open quantity */
        all = orderd_alloc(c->a, (d->n_lines + 1) * sizeof(*all));
        every.n_lines = 0;
        for (size_t i = 0; i < d->n_lines; ++i)
            if (orderd_opc_room_open(&d->lines[i]) != 0)
                all[every.n_lines++] = (orderd_line_qty_t){d->lines[i].x.line_no, 0};
        every.lines = all;
    }
    uint32_t *q;
    size_t *idx = orderd_opc_resolve_lines(c, &every, orderd_opc_room_open, "ship", &q);
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
                                 .parts = orderd_opc_parts_new(c, every.n_lines),
                                 .n_parts = every.n_lines};
    d->shipments = sh;
    uint16_t no = (uint16_t)++d->n_shipments;
    orderd_opc_detail_put(c, ORDERD_DETAIL_SHIPMENT, no, 0, 0, (orderd_str_t){NULL, 0});
    for (size_t i = 0; i < every.n_lines; ++i) {
        d->lines[idx[i]].x.shipped += q[i];
        s->parts[i] = (orderd_part_t){.quantity = q[i], .line_no = every.lines[i].line_no};
        orderd_opc_detail_put(c, ORDERD_DETAIL_SHIP_LINE, every.lines[i].line_no, q[i], 0, (orderd_str_t){NULL, 0});
    }
    int any_open = 0;
    for (size_t i = 0; i < d->n_lines; ++i)
        any_open |= orderd_opc_room_open(&d->lines[i]) != 0;
    d->head.status = any_open ? ORDERD_STATUS_PARTIALLY_SHIPPED : ORDERD_STATUS_SHIPPED;
    return ORDERD_OP_OK;
}

static orderd_op_outcome_t deliver(op_ctx_t *c, const orderd_op_t *op)
{
    orderd_order_doc_t *d = &c->doc;
    if (op->target == 0) { /* every shipment: the one-step status endpoint */
        if (c->o->status != ORDERD_STATUS_SHIPPED)
            return orderd_opc_say(c, ORDERD_OP_CONFLICT, "order %s is %s; only a shipped order can be delivered", c->id,
                                  orderd_opc_status_of(c));
        for (size_t i = 0; i < d->n_shipments; ++i)
            if (d->shipments[i].h.delivered_ms == 0) {
                d->shipments[i].h.delivered_ms = c->at_ms;
                orderd_opc_detail_put(c, ORDERD_DETAIL_DELIVERED, (uint16_t)(i + 1), 0, 0, (orderd_str_t){NULL, 0});
            }
        d->head.status = ORDERD_STATUS_DELIVERED;
        d->ext.delivered_ms = c->at_ms;
        return ORDERD_OP_OK;
    }
    if (op->target > d->n_shipments)
        return orderd_opc_say(c, ORDERD_OP_NO_TARGET, "order %s has no shipment s%u", c->id, (unsigned)op->target);
    orderd_doc_shipment_t *s = &d->shipments[op->target - 1];
    if (s->h.delivered_ms != 0)
        return c->res->outcome = ORDERD_OP_NOOP;
    if (c->o->status != ORDERD_STATUS_SHIPPED && c->o->status != ORDERD_STATUS_PARTIALLY_SHIPPED)
        return orderd_opc_say(c, ORDERD_OP_CONFLICT, "order %s is %s; its shipments cannot be delivered", c->id,
                              orderd_opc_status_of(c));
    s->h.delivered_ms = c->at_ms;
    orderd_opc_detail_put(c, ORDERD_DETAIL_DELIVERED, op->target, 0, 0, (orderd_str_t){NULL, 0});
    int all = 1;
    for (size_t i = 0; i < d->n_shipments; ++i)
        all &= d->shipments[i].h.delivered_ms != 0;
    if (all && c->o->status == ORDERD_STATUS_SHIPPED) {
        d->head.status = ORDERD_STATUS_DELIVERED;
        d->ext.delivered_ms = c->at_ms;
    }
    return ORDERD_OP_OK;
}

static orderd_op_outcome_t return_request(op_ctx_t *c, const orderd_op_t *op)
{
    orderd_order_doc_t *d = &c->doc;
    if (c->o->status != ORDERD_STATUS_DELIVERED)
        return orderd_opc_say(c, ORDERD_OP_CONFLICT, "order %s is %s; only a delivered order can be returned", c->id,
                              orderd_opc_status_of(c));
    /* an order delivered by a status change before shipments existed: its
     * delivery is its last change, kept from the first return on */
    int64_t since = d->ext.delivered_ms != 0 ? d->ext.delivered_ms : c->o->updated_ms;
    d->ext.delivered_ms = since;
    if (c->at_ms - since > op->return_window_ms) {
        char closed[ORDERD_TIME_FMT_MAX];
        orderd_time_format(since + op->return_window_ms, closed);
        return orderd_opc_say(c, ORDERD_OP_CONFLICT, "order %s is delivered; its return window closed at %s", c->id,
                              closed);
    }
    if (d->n_returns >= ORDERD_SUBRECORDS_MAX)
        return orderd_opc_say(c, ORDERD_OP_CONFLICT, "order %s has %d returns, the most an order may have", c->id,
                              ORDERD_SUBRECORDS_MAX);
    uint32_t *q;
    size_t *idx = orderd_opc_resolve_lines(c, op, orderd_opc_room_returnable, "return", &q);
    if (c->n_errors != 0)
        return ORDERD_OP_INVALID;
    orderd_doc_return_t *rt = orderd_alloc(c->a, (d->n_returns + 1) * sizeof(*rt));
    if (d->n_returns != 0)
        memcpy(rt, d->returns, d->n_returns * sizeof(*rt));
    d->returns = rt;
    orderd_doc_return_t *r = &rt[d->n_returns];
    *r = (orderd_doc_return_t){
        .h = {.requested_ms = c->at_ms, .updated_ms = c->at_ms, .status = ORDERD_RETURN_REQUESTED},
        .reason = op->reason,
        .parts = orderd_opc_parts_new(c, op->n_lines),
        .n_parts = op->n_lines};
    uint16_t no = (uint16_t)++d->n_returns;
    orderd_opc_detail_put(c, ORDERD_DETAIL_RETURN, no, ORDERD_RETURN_REQUESTED, 0, op->reason);
    for (size_t i = 0; i < op->n_lines; ++i) {
        d->lines[idx[i]].x.returned += q[i];
        r->parts[i] = (orderd_part_t){.quantity = q[i], .line_no = op->lines[i].line_no};
        orderd_opc_detail_put(c, ORDERD_DETAIL_RETURN_LINE, op->lines[i].line_no, q[i], 0, (orderd_str_t){NULL, 0});
    }
    return ORDERD_OP_OK;
}

static orderd_op_outcome_t return_settle(op_ctx_t *c, const orderd_op_t *op)
{
    orderd_order_doc_t *d = &c->doc;
    if (op->target == 0 || op->target > d->n_returns)
        return orderd_opc_say(c, ORDERD_OP_NO_TARGET, "order %s has no return r%u", c->id, (unsigned)op->target);
    orderd_doc_return_t *r = &d->returns[op->target - 1];
    uint8_t from = r->h.status, to = op->type == ORDERD_OP_RETURN_APPROVE  ? ORDERD_RETURN_APPROVED
                                     : op->type == ORDERD_OP_RETURN_REJECT ? ORDERD_RETURN_REJECTED
                                                                           : ORDERD_RETURN_RECEIVED;
    uint8_t need = to == ORDERD_RETURN_RECEIVED ? ORDERD_RETURN_APPROVED : ORDERD_RETURN_REQUESTED;
    if (from == to)
        return c->res->outcome = ORDERD_OP_NOOP;
    if (from != need)
        return orderd_opc_say(c, ORDERD_OP_CONFLICT, "return r%u of order %s is %s; only a%s %s return can be %s",
                              (unsigned)op->target, c->id, orderd_return_status_name(from),
                              need == ORDERD_RETURN_APPROVED ? "n" : "", orderd_return_status_name(need),
                              to == ORDERD_RETURN_APPROVED   ? "approved"
                              : to == ORDERD_RETURN_REJECTED ? "rejected"
                                                             : "received");
    r->h.status = to;
    r->h.updated_ms = c->at_ms;
    orderd_opc_detail_put(c, ORDERD_DETAIL_RETURN, op->target, to, 0, (orderd_str_t){NULL, 0});
    if (to == ORDERD_RETURN_REJECTED) {
        for (size_t i = 0; i < r->n_parts; ++i) {
            long at = orderd_opc_find_line(d, r->parts[i].line_no);
            if (at >= 0)
                d->lines[at].x.returned -= r->parts[i].quantity;
        }
        return ORDERD_OP_OK;
    }
    if (to != ORDERD_RETURN_RECEIVED)
        return ORDERD_OP_OK;
    /* the refund: each line's price x quantity, never more than is left of the line or the order */
    if (d->n_refunds >= ORDERD_SUBRECORDS_MAX)
        return orderd_opc_say(c, ORDERD_OP_CONFLICT, "order %s has %d refunds, the most an order may have", c->id,
                              ORDERD_SUBRECORDS_MAX);
    int64_t order_left = d->head.total - d->ext.refunded_total, sum = 0;
    int64_t *amounts = orderd_alloc(c->a, (r->n_parts + 1) * sizeof(*amounts));
    for (size_t i = 0; i < r->n_parts; ++i) {
        long at = orderd_opc_find_line(d, r->parts[i].line_no);
        orderd_doc_line_t *l = at >= 0 ? &d->lines[at] : NULL;
        int64_t amount = l != NULL ? l->price * (int64_t)r->parts[i].quantity : 0,
                left = l != NULL ? orderd_opc_paid(l) - l->x.refunded : 0;
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
    orderd_doc_refund_t *f = orderd_opc_refund_new(c, r->n_parts, op->target);
    for (size_t i = 0; i < r->n_parts; ++i) {
        long at = orderd_opc_find_line(d, r->parts[i].line_no);
        if (at >= 0)
            orderd_opc_refund_line(c, f, &d->lines[at], r->parts[i].quantity, amounts[i]);
    }
    r->h.refund_no = (uint16_t)d->n_refunds;
    orderd_opc_detail_put(c, ORDERD_DETAIL_REFUND, (uint16_t)d->n_refunds, 0, f->h.amount, (orderd_str_t){NULL, 0});
    for (size_t i = 0; i < f->n_parts; ++i)
        orderd_opc_detail_put(c, ORDERD_DETAIL_REFUND_LINE, f->parts[i].line_no, f->parts[i].quantity,
                              f->parts[i].amount, (orderd_str_t){NULL, 0});
    return ORDERD_OP_OK;
}

static orderd_op_outcome_t refund(op_ctx_t *c, const orderd_op_t *op)
{
    orderd_order_doc_t *d = &c->doc;
    char left_text[ORDERD_MONEY_FMT_MAX];
    int64_t order_left = d->head.total - d->ext.refunded_total;
    if (d->n_refunds >= ORDERD_SUBRECORDS_MAX)
        return orderd_opc_say(c, ORDERD_OP_CONFLICT, "order %s has %d refunds, the most an order may have", c->id,
                              ORDERD_SUBRECORDS_MAX);
    if (op->n_lines == 0) {
        int64_t amount;
        if (orderd_opc_parse_amount(c, op->amount, "amount", SIZE_MAX, NULL, &amount) != 0)
            return ORDERD_OP_INVALID;
        orderd_opc_money_text(c, order_left, left_text);
        if (amount == 0 || amount > order_left) {
            orderd_opc_field_error(c, "amount", SIZE_MAX, NULL,
                                   "must be more than 0 and at most %s, what is left to refund", left_text);
            return ORDERD_OP_INVALID;
        }
        orderd_doc_refund_t *f = orderd_opc_refund_new(c, 0, 0);
        f->h.amount = amount;
        d->ext.refunded_total += amount;
        orderd_opc_detail_put(c, ORDERD_DETAIL_REFUND, (uint16_t)d->n_refunds, 0, amount, (orderd_str_t){NULL, 0});
        return ORDERD_OP_OK;
    }
    uint32_t *q;
    size_t *idx = orderd_opc_resolve_lines(c, op, orderd_opc_room_refundable_qty, "refund", &q);
    if (c->n_errors != 0)
        return ORDERD_OP_INVALID;
    orderd_doc_refund_t *f = orderd_opc_refund_new(c, op->n_lines, 0);
    int64_t sum = 0;
    for (size_t i = 0; i < op->n_lines; ++i) {
        orderd_doc_line_t *l = &d->lines[idx[i]];
        int64_t amount = l->price * (int64_t)q[i], left = orderd_opc_paid(l) - l->x.refunded;
        if (amount > left) {
            orderd_opc_money_text(c, left, left_text);
            orderd_opc_field_error(c, "lines", i, "quantity", "would refund more of %s than the %s left to refund",
                                   orderd_opc_line_name(c, l->x.line_no), left_text);
            continue;
        }
        sum += amount;
        orderd_opc_refund_line(c, f, l, q[i], amount);
    }
    if (c->n_errors == 0 && sum > order_left) {
        orderd_opc_money_text(c, order_left, left_text);
        orderd_opc_field_error(c, "lines", SIZE_MAX, NULL, "would refund more than the %s left to refund on the order",
                               left_text);
    }
    if (c->n_errors != 0)
        return ORDERD_OP_INVALID;
    orderd_opc_detail_put(c, ORDERD_DETAIL_REFUND, (uint16_t)d->n_refunds, 0, f->h.amount, (orderd_str_t){NULL, 0});
    for (size_t i = 0; i < f->n_parts; ++i)
        orderd_opc_detail_put(c, ORDERD_DETAIL_REFUND_LINE, f->parts[i].line_no, f->parts[i].quantity,
                              f->parts[i].amount, (orderd_str_t){NULL, 0});
    return ORDERD_OP_OK;
}

orderd_op_outcome_t orderd_op_apply(const orderd_order_t *o, const orderd_op_t *op, orderd_actor_t actor,
                                    int64_t now_ms, const orderd_alloc_t *a, orderd_op_result_t *res)
{
    memset(res, 0, sizeof(*res));
    op_ctx_t c = {.o = o,
                  .a = a,
                  .digits = orderd_order_digits(o),
                  .res = res,
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
        out = orderd_opc_say(&c, ORDERD_OP_CONFLICT, "unknown operation");
        break;
    }
    if (out == ORDERD_OP_INVALID) {
        res->errors = c.errors;
        res->n_errors = c.n_errors;
    }
    if (out != ORDERD_OP_OK)
        return res->outcome = out;
    if (c.doc.head.total != total_before)
        orderd_opc_detail_put(&c, ORDERD_DETAIL_TOTAL, 0, 0, c.doc.head.total, (orderd_str_t){NULL, 0});
    c.doc.head.version = o->version + 1;
    c.doc.head.updated_ms = c.at_ms;
    if ((res->after = orderd_order_pack(&c.doc, a)) == NULL) {
        orderd_opc_field_error(&c, "operations", SIZE_MAX, NULL, "the order would be larger than an order may be");
        res->errors = c.errors;
        res->n_errors = c.n_errors;
        return res->outcome = ORDERD_OP_INVALID;
    }
    res->detail = c.detail;
    res->detail_len = (uint32_t)c.detail_len;
    return res->outcome = ORDERD_OP_OK;
}
