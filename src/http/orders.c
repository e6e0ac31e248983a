/* /api/orders: create, get, list and cancel a user's orders. */
#include <string.h>

#include "orderd/codec.h"
#include "orderd/idempotency.h"
#include "orderd/store.h"

#include "conditional.h"
#include "durable.h"
#include "identity.h"
#include "orders.h"
#include "query.h"
#include "respond.h"

static const char base_path[] = "/api/orders";

/* --- answers shared by the endpoints --- */

static int not_found(h2o_req_t *req, orderd_str_t id)
{
    return orderd_http_problem(req, ORDERD_PROBLEM_NOT_FOUND, NULL, 0, "there is no order %.*s",
                               (int)(id.len > ORDERD_ID_LEN ? ORDERD_ID_LEN : id.len), id.base);
}

/* 503: the journal refuses writes for now, or memory ran out; nothing changed. */
static int unavailable(h2o_req_t *req, int store_err)
{
    return orderd_http_problem(req, ORDERD_PROBLEM_UNAVAILABLE, NULL, 0, "%s",
                               store_err == ORDERD_STORE_EUNAVAILABLE
                                   ? "the journal cannot take writes right now; nothing was changed, retry later"
                                   : "the server is out of memory; nothing was changed");
}

/* 400 for a body that is not JSON, 422 listing the rules `what` breaks. */
static int bad_body(h2o_req_t *req, int decoded, const orderd_decode_report_t *report, const char *what)
{
    if (decoded == ORDERD_DECODE_SYNTAX)
        return orderd_http_problem(req, ORDERD_PROBLEM_MALFORMED, NULL, 0, "the request body is not valid JSON: %s",
                                   report->syntax);
    return orderd_http_problem(req, ORDERD_PROBLEM_INVALID, report->errors, report->n_errors,
                               "%s breaks %zu rule%s; see errors", what, report->n_errors,
                               report->n_errors == 1 ? "" : "s");
}

/* --- endpoints --- */

/*
 * Idempotency-Key: absent (0, *key untouched), valid (0, *key filled with the
 * request's fingerprint over `op` and the body), or -1 with a 400 sent. `op`
 * names the operation, so the two create paths share their keys.
 */
static int get_idem_key(h2o_req_t *req, orderd_str_t op, orderd_idem_key_t **key)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("idempotency-key"), -1);
    *key = NULL;
    if (i == -1)
        return 0;
    h2o_iovec_t v = req->headers.entries[i].value;
    if (h2o_find_header_by_str(&req->headers, H2O_STRLIT("idempotency-key"), i) != -1 ||
        !orderd_idem_key_valid((orderd_str_t){v.base, v.len})) {
        orderd_http_problem(req, ORDERD_PROBLEM_MALFORMED, NULL, 0,
                            "Idempotency-Key must be sent once, as 1 to 255 printable ASCII characters");
        return -1;
    }
    *key = h2o_mem_alloc_pool(&req->pool, sizeof(**key));
    (*key)->key = (orderd_str_t){v.base, v.len};
    orderd_idem_fingerprint(ORDERD_STR("POST"), op, (orderd_str_t){req->entity.base, req->entity.len},
                            (*key)->fingerprint);
    return 0;
}

static int key_mismatch(h2o_req_t *req)
{
    return orderd_http_problem(req, ORDERD_PROBLEM_INVALID, NULL, 0,
                               "this Idempotency-Key was used for a different request; use a new key");
}

/* Sends (or parks until durable) the first answer given under an idempotency key. */
static int replay(h2o_req_t *req, orderd_app_t *app, orderd_ticket_t *ticket, int status, const orderd_order_t *o)
{
    if (ticket != NULL) {
        ticket->status = status;
        ticket->replayed = 1;
        return orderd_ticket_wait(ticket, app, o);
    }
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("idempotent-replayed"), 0, NULL,
                          H2O_STRLIT("true"));
    return orderd_http_send_order(req, status, o);
}

static int create(h2o_req_t *req, orderd_app_t *app, orderd_str_t user)
{
    orderd_alloc_t a = orderd_http_alloc(req);
    orderd_order_draft_t draft;
    orderd_decode_report_t report;
    orderd_idem_key_t *key;
    if (get_idem_key(req, ORDERD_STR("create"), &key) != 0)
        return 0;
    int decoded = orderd_codec_decode_create(req->entity.base, req->entity.len, &a, &draft, &report);
    if (decoded != ORDERD_DECODE_OK)
        return bad_body(req, decoded, &report, "the order");
    int64_t now = orderd_now_ms();
    orderd_order_t *order = h2o_mem_alloc_pool(&req->pool, orderd_order_size(&draft, user.len)), *out = order;
    orderd_order_build(order, 0, user, &draft, now);
    orderd_ticket_t *ticket = NULL;
    if (app->durable && (ticket = orderd_ticket_new(req, 201)) == NULL)
        return unavailable(req, ORDERD_STORE_ENOMEM);
    int status = 201;
    int ret = key != NULL ? orderd_store_create_keyed(app->store, order, key, now, &a, &out, &status, ticket)
                          : orderd_store_create(app->store, order, ticket);
    if (ret == ORDERD_STORE_REPLAYED)
        return replay(req, app, ticket, status, out);
    if (ret != ORDERD_STORE_OK) {
        orderd_ticket_drop(ticket);
        return ret == ORDERD_STORE_EKEYMISMATCH ? key_mismatch(req) : unavailable(req, ret);
    }
    if (ticket != NULL)
        return orderd_ticket_wait(ticket, app, order); /* answered once the journal has it */
    return orderd_http_send_order(req, 201, order);
}

static int get(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id_text)
{
    orderd_alloc_t a = orderd_http_alloc(req);
    orderd_order_t *order;
    uint64_t id;
    if (orderd_id_parse(id_text.base, id_text.len, &id) != 0 ||
        orderd_store_get(app->store, user, id, &a, &order) != ORDERD_STORE_OK)
        return not_found(req, id_text);
    if (orderd_http_not_modified(req, order))
        return orderd_http_send_not_modified(req, order);
    return orderd_http_send_order(req, 200, order);
}

/* The answer to a status change (cancel or fulfilment) but for a conflict,
 * whose wording is the caller's. */
static int answer_change(h2o_req_t *req, orderd_app_t *app, orderd_ticket_t *ticket, int ret, orderd_order_t *order,
                         orderd_str_t id_text)
{
    if (ret == ORDERD_STORE_REPLAYED)
        return replay(req, app, ticket, 200, order);
    if (ret == ORDERD_STORE_OK && ticket != NULL)
        return orderd_ticket_wait(ticket, app, order); /* applied (or a repeat): answered once durable */
    orderd_ticket_drop(ticket);
    switch (ret) {
    case ORDERD_STORE_OK:
        return orderd_http_send_order(req, 200, order);
    case ORDERD_STORE_EPRECONDITION:
        return orderd_http_precondition_failed(req, order);
    case ORDERD_STORE_EKEYMISMATCH:
        return key_mismatch(req);
    case ORDERD_STORE_ENOTFOUND:
        return not_found(req, id_text);
    default:
        return unavailable(req, ret);
    }
}

static int cancel(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id_text)
{
    orderd_alloc_t a = orderd_http_alloc(req);
    orderd_order_t *order;
    orderd_precondition_t pre;
    orderd_idem_key_t *key;
    uint64_t id;
    if (get_idem_key(req, (orderd_str_t){req->path_normalized.base, req->path_normalized.len}, &key) != 0)
        return 0;
    if (orderd_id_parse(id_text.base, id_text.len, &id) != 0)
        return not_found(req, id_text);
    orderd_http_if_match(req, id, &pre);
    orderd_ticket_t *ticket = NULL;
    if (app->durable && (ticket = orderd_ticket_new(req, 200)) == NULL)
        return unavailable(req, ORDERD_STORE_ENOMEM);
    int ret = orderd_store_change_status(app->store, user, id, ORDERD_STATUS_CANCELLED, orderd_now_ms(), &pre, key, &a,
                                         &order, ticket);
    if (ret == ORDERD_STORE_ECONFLICT) {
        orderd_ticket_drop(ticket);
        return orderd_http_problem(req, ORDERD_PROBLEM_CONFLICT, NULL, 0,
                                   "order %.*s is %s; only a pending order can be cancelled", (int)id_text.len,
                                   id_text.base, orderd_status_name((orderd_status_t)order->status));
    }
    return answer_change(req, app, ticket, ret, order, id_text);
}

static int list(h2o_req_t *req, orderd_app_t *app, orderd_str_t user)
{
    orderd_list_query_t q;
    if (orderd_http_list_query(req, &q) != 0)
        return 0;
    orderd_alloc_t a = orderd_http_alloc(req);
    orderd_store_page_t page;
    if (orderd_store_list_page(app->store, user, &q.page, &a, &page) != ORDERD_STORE_OK)
        return unavailable(req, ORDERD_STORE_ENOMEM);
    return orderd_http_send_page(req, base_path, &q, &page);
}

static int events(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id_text)
{
    orderd_alloc_t a = orderd_http_alloc(req);
    orderd_order_t *order;
    orderd_order_event_t ev[ORDERD_HISTORY_MAX + 1];
    size_t n;
    uint64_t id;
    if (orderd_id_parse(id_text.base, id_text.len, &id) != 0 ||
        orderd_store_events(app->store, user, id, &a, &order, ev, &n) != ORDERD_STORE_OK)
        return not_found(req, id_text);
    return orderd_http_send_json(req, 200, orderd_codec_encode_events(order, ev, n, &a));
}

/* POST /api/orders/{id}/status: the operator moves an order along fulfilment. */
static int set_status(h2o_req_t *req, orderd_app_t *app, orderd_str_t id_text)
{
    orderd_alloc_t a = orderd_http_alloc(req);
    orderd_order_t *order;
    orderd_precondition_t pre;
    orderd_status_t to;
    orderd_decode_report_t report;
    uint64_t id;
    int decoded = orderd_codec_decode_status(req->entity.base, req->entity.len, &a, &to, &report);
    if (decoded != ORDERD_DECODE_OK)
        return bad_body(req, decoded, &report, "the status change");
    if (orderd_id_parse(id_text.base, id_text.len, &id) != 0)
        return not_found(req, id_text);
    orderd_http_if_match(req, id, &pre);
    orderd_ticket_t *ticket = NULL;
    if (app->durable && (ticket = orderd_ticket_new(req, 200)) == NULL)
        return unavailable(req, ORDERD_STORE_ENOMEM);
    /* fulfilment only goes forward: cancelling is the customer's, pending is where orders start */
    int ret = to == ORDERD_STATUS_PENDING || to == ORDERD_STATUS_CANCELLED
                  ? orderd_store_get(app->store, (orderd_str_t){NULL, 0}, id, &a, &order)
                  : orderd_store_change_status(app->store, (orderd_str_t){NULL, 0}, id, to, orderd_now_ms(), &pre, NULL,
                                               &a, &order, ticket);
    if (ret == ORDERD_STORE_OK && (to == ORDERD_STATUS_PENDING || to == ORDERD_STATUS_CANCELLED))
        ret = ORDERD_STORE_ECONFLICT;
    if (ret == ORDERD_STORE_ECONFLICT) {
        orderd_status_t now = (orderd_status_t)order->status;
        orderd_ticket_drop(ticket);
        return orderd_http_problem(req, ORDERD_PROBLEM_CONFLICT, NULL, 0, "order %.*s is %s; %s%s", (int)id_text.len,
                                   id_text.base, orderd_status_name(now),
                                   now < ORDERD_STATUS_DELIVERED && now != ORDERD_STATUS_CANCELLED
                                       ? "it can only move on to "
                                       : "it cannot change any more",
                                   now < ORDERD_STATUS_DELIVERED && now != ORDERD_STATUS_CANCELLED
                                       ? orderd_status_name(now + 1)
                                       : "");
    }
    return answer_change(req, app, ticket, ret, order, id_text);
}

/* --- routing --- */

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    orderd_app_t *app = ((orderd_handler_t *)_self)->app;
    const char *p = req->path_normalized.base + sizeof(base_path) - 1;
    size_t n = req->path_normalized.len - (sizeof(base_path) - 1);
    orderd_str_t user, id = {NULL, 0};

    enum { COLLECTION, CREATE, ORDER, CANCEL, STATUS, EVENTS } route;
    if (n == 0) {
        route = COLLECTION;
    } else if (h2o_memis(p, n, H2O_STRLIT("/create"))) {
        route = CREATE;
    } else {
        /* "/{id}" or "/{id}/cancel" */
        const char *slash = n > 1 ? memchr(p + 1, '/', n - 1) : NULL;
        id = (orderd_str_t){p + 1, (size_t)((slash != NULL ? slash : p + n) - (p + 1))};
        if (id.len == 0)
            return orderd_http_problem(req, ORDERD_PROBLEM_NOT_FOUND, NULL, 0, "there is no resource at this path");
        if (slash == NULL)
            route = ORDER;
        else if (h2o_memis(slash, (size_t)(p + n - slash), H2O_STRLIT("/cancel")))
            route = CANCEL;
        else if (h2o_memis(slash, (size_t)(p + n - slash), H2O_STRLIT("/status")))
            route = STATUS;
        else if (h2o_memis(slash, (size_t)(p + n - slash), H2O_STRLIT("/events")))
            route = EVENTS;
        else
            return orderd_http_problem(req, ORDERD_PROBLEM_NOT_FOUND, NULL, 0, "there is no resource at this path");
    }

    switch (route) {
    case COLLECTION:
        if (!orderd_http_method_is(req, "GET") && !orderd_http_method_is(req, "POST"))
            return orderd_http_method_not_allowed(req, "GET, HEAD, POST");
        break;
    case CREATE:
    case CANCEL:
    case STATUS:
        if (!orderd_http_method_is(req, "POST"))
            return orderd_http_method_not_allowed(req, "POST");
        break;
    case ORDER:
    case EVENTS:
        if (!orderd_http_method_is(req, "GET"))
            return orderd_http_method_not_allowed(req, "GET, HEAD");
        break;
    }
    if (route == STATUS) /* the operator's: a bearer token instead of X-User-Id */
        return orderd_http_operator_check(req, app) != 0 || orderd_http_body_check(req, app) != 0
                   ? 0
                   : set_status(req, app, id);
    if (orderd_http_user_check(req, &user) != 0 || orderd_http_body_check(req, app) != 0)
        return 0;

    switch (route) {
    case COLLECTION:
        return orderd_http_method_is(req, "POST") ? create(req, app, user) : list(req, app, user);
    case CREATE:
        return create(req, app, user);
    case ORDER:
        return get(req, app, user, id);
    case CANCEL:
        return cancel(req, app, user, id);
    case EVENTS:
        return events(req, app, user, id);
    case STATUS:
        break;
    }
    return 0;
}

void orderd_http_orders_register(h2o_hostconf_t *host, orderd_app_t *app)
{
    orderd_http_handler_new(h2o_config_register_path(host, base_path, 0), app, on_req);
}
