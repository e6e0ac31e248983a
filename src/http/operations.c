/*
 * The operations after checkout, one handler each, reached through the
 * orders routing table (orders.c): POST /api/orders/{id}/edit (customer,
 * ?dry_run=true previews), /cancel with lines (customer; the operator too),
 * /shipments and /shipments/{s}/delivered (operator), /returns (customer)
 * and /returns/{r}/approve|reject|received (operator), /refunds (operator).
 * Each decodes its body (codec_ops.c), then one store verb,
 * orderd_store_amend, checks and applies it under the shard lock; the
 * answer is the order as it is after the change, sent once it is durable.
 */
#include <string.h>

#include "orderd/codec.h"
#include "orderd/store.h"

#include "conditional.h"
#include "durable.h"
#include "idem_key.h"
#include "identity.h"
#include "operations.h"
#include "respond.h"

/* ?dry_run=true (or 1): 1; false, 0 or absent: 0; anything else -1. */
static int dry_run_of(h2o_req_t *req)
{
    if (req->query_at == SIZE_MAX)
        return 0;
    const char *q = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    int result = 0;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q)), *stop = amp != NULL ? amp : end;
        size_t n = (size_t)(stop - q);
        if (n >= 8 && memcmp(q, "dry_run=", 8) == 0) {
            orderd_str_t v = {q + 8, n - 8};
            if (h2o_memis(v.base, v.len, H2O_STRLIT("true")) || h2o_memis(v.base, v.len, H2O_STRLIT("1")))
                result = 1;
            else if (h2o_memis(v.base, v.len, H2O_STRLIT("false")) || h2o_memis(v.base, v.len, H2O_STRLIT("0")))
                result = 0;
            else
                return -1;
        }
        q = stop + 1;
    }
    return result;
}

/* The number in "s3" (prefix "s") or "r12": 1 to 65535, or 0 when it is not one. */
static uint16_t sub_number(orderd_str_t sub, char prefix)
{
    unsigned v = 0;
    if (sub.len < 2 || sub.len > 6 || sub.base[0] != prefix || sub.base[1] == '0')
        return 0;
    for (size_t i = 1; i < sub.len; ++i) {
        if (sub.base[i] < '0' || sub.base[i] > '9')
            return 0;
        v = v * 10 + (unsigned)(sub.base[i] - '0');
    }
    return v <= UINT16_MAX ? (uint16_t)v : 0;
}

/* 404 for a shipment or return the path names that cannot exist (not "s<n>" / "r<n>"). */
static int no_such_part(h2o_req_t *req, orderd_str_t id, orderd_str_t sub, const char *what)
{
    return orderd_http_problem(req, ORDERD_PROBLEM_NOT_FOUND, NULL, 0, "order %.*s has no %s %.*s", (int)id.len,
                               id.base, what, (int)(sub.len > 16 ? 16 : sub.len), sub.base);
}

/* The store's answer to an operation. `status` is the answer's on success (201 for a new shipment, return or refund).
 */
static int answer(h2o_req_t *req, orderd_app_t *app, orderd_ticket_t *ticket, int ret, const orderd_op_result_t *res,
                  orderd_order_t *order, orderd_str_t user, orderd_str_t id_text, int status, int dry_run)
{
    if (ret == ORDERD_STORE_ECONFLICT) {
        orderd_ticket_drop(ticket);
        switch (res->outcome) {
        case ORDERD_OP_INVALID:
            return orderd_http_problem(req, ORDERD_PROBLEM_INVALID, res->errors, res->n_errors,
                                       "the request does not fit order %.*s", (int)id_text.len, id_text.base);
        case ORDERD_OP_NO_TARGET:
            return orderd_http_problem(req, ORDERD_PROBLEM_NOT_FOUND, NULL, 0, "%s", res->message);
        default:
            return orderd_http_problem(req, ORDERD_PROBLEM_CONFLICT, NULL, 0, "%s", res->message);
        }
    }
    if (orderd_store_err_is_limit(ret)) {
        orderd_ticket_drop(ticket);
        return orderd_http_limit_refused(req, app->store, user, ret);
    }
    if (dry_run && ret == ORDERD_STORE_OK) {
        orderd_alloc_t a = orderd_http_alloc(req);
        orderd_ticket_drop(ticket);
        return orderd_http_send_json(req, 200, orderd_codec_encode_preview(order, &a));
    }
    /* a safe repeat (nothing changed) is answered 200 */
    if (ret == ORDERD_STORE_OK && res->outcome == ORDERD_OP_NOOP)
        status = 200;
    if (ret == ORDERD_STORE_REPLAYED)
        return orderd_ticket_replay(req, app, ticket, status, order);
    if (ret == ORDERD_STORE_OK && ticket != NULL) {
        ticket->status = status;
        return orderd_ticket_wait(ticket, app, order);
    }
    if (ret == ORDERD_STORE_OK) {
        orderd_ticket_drop(ticket);
        return orderd_http_send_order(req, status, order);
    }
    return orderd_ticket_answer(req, app, ticket, ret, order, id_text);
}

/*
 * The steps every operation shares: its Idempotency-Key, the body (when the
 * operation has one), the id, If-Match and ticket, the store.
 */
static int run(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id_text, orderd_op_t *op,
               int has_body, int dry_run, int status)
{
    orderd_alloc_t a = orderd_http_alloc(req);
    orderd_idem_key_t *key;
    orderd_precondition_t pre;
    orderd_ticket_t *ticket;
    orderd_order_t *order;
    orderd_op_result_t res;
    uint64_t id;
    orderd_op_type_t type = op->type;
    uint16_t target = op->target;
    if (orderd_http_idem_key(req, (orderd_str_t){req->path_normalized.base, req->path_normalized.len}, &key) != 0)
        return 0;
    if (has_body) {
        orderd_decode_report_t report;
        int decoded = orderd_codec_decode_op(req->entity.base, req->entity.len, type, &a, op, &report);
        if (decoded != ORDERD_DECODE_OK)
            return orderd_http_bad_body(req, decoded, &report, "the request");
        op->target = target;
    }
    op->return_window_ms = app->return_window_ms;
    if (orderd_ticket_begin_change(req, app, id_text, &id, &pre, &ticket) != 0)
        return 0;
    int ret = orderd_store_amend(app->store, user, id, op, orderd_now_ms(), dry_run, &pre, key, &a, &order, &res,
                                 dry_run ? NULL : ticket);
    return answer(req, app, ticket, ret, &res, order, user, id_text, status, dry_run);
}

int orderd_http_op_edit(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id, orderd_str_t sub)
{
    (void)sub;
    int dry_run = dry_run_of(req);
    if (dry_run < 0)
        return orderd_http_problem(req, ORDERD_PROBLEM_MALFORMED, NULL, 0, "dry_run must be true or false");
    orderd_op_t op = {.type = ORDERD_OP_EDIT};
    return run(req, app, user, id, &op, 1, dry_run, 200);
}

int orderd_http_op_cancel_lines(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id)
{
    orderd_alloc_t a = orderd_http_alloc(req);
    orderd_decode_report_t report;
    orderd_op_t op;
    int decoded = orderd_codec_decode_op(req->entity.base, req->entity.len, ORDERD_OP_CANCEL_LINES, &a, &op, &report);
    if (decoded != ORDERD_DECODE_OK)
        return orderd_http_bad_body(req, decoded, &report, "the cancellation");
    if (op.n_lines == 0)
        return -1; /* no lines: the whole order, as a cancel without a body */
    return run(req, app, user, id, &op, 0, 0, 200);
}

int orderd_http_op_ship(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id, orderd_str_t sub)
{
    (void)sub;
    orderd_op_t op = {.type = ORDERD_OP_SHIP};
    return run(req, app, user, id, &op, req->entity.len != 0, 0, 201);
}

int orderd_http_op_deliver(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id, orderd_str_t sub)
{
    orderd_op_t op = {.type = ORDERD_OP_DELIVER, .target = sub_number(sub, 's')};
    if (op.target == 0)
        return no_such_part(req, id, sub, "shipment");
    return run(req, app, user, id, &op, 0, 0, 200);
}

int orderd_http_op_return(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id, orderd_str_t sub)
{
    (void)sub;
    orderd_op_t op = {.type = ORDERD_OP_RETURN_REQUEST};
    return run(req, app, user, id, &op, 1, 0, 201);
}

/* approve, reject, received: the last segment of the path says which */
int orderd_http_op_settle_return(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id,
                                 orderd_str_t sub)
{
    h2o_iovec_t path = req->path_normalized;
    orderd_op_t op = {.target = sub_number(sub, 'r')};
    if (path.len >= 8 && memcmp(path.base + path.len - 8, "/approve", 8) == 0)
        op.type = ORDERD_OP_RETURN_APPROVE;
    else if (path.len >= 7 && memcmp(path.base + path.len - 7, "/reject", 7) == 0)
        op.type = ORDERD_OP_RETURN_REJECT;
    else
        op.type = ORDERD_OP_RETURN_RECEIVE;
    if (op.target == 0)
        return no_such_part(req, id, sub, "return");
    return run(req, app, user, id, &op, 0, 0, 200);
}

int orderd_http_op_refund(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id, orderd_str_t sub)
{
    (void)sub;
    orderd_op_t op = {.type = ORDERD_OP_REFUND};
    return run(req, app, user, id, &op, 1, 0, 201);
}
