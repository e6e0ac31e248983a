/* /api/orders: create, get, list and cancel a user's orders, and the routing
 * table of every path below it (the operator's status change is admin.c's). */
#include <string.h>

#include "orderd/codec.h"
#include "orderd/idempotency.h"
#include "orderd/store.h"

#include "admin.h"
#include "conditional.h"
#include "durable.h"
#include "idem_key.h"
#include "identity.h"
#include "operations.h"
#include "orders.h"
#include "query.h"
#include "respond.h"

static const char base_path[] = "/api/orders";

/* --- endpoints: handlers of the routing table below --- */

static int create(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id)
{
    (void)id; /* the collection has none */
    orderd_alloc_t a = orderd_http_alloc(req);
    orderd_order_draft_t draft;
    orderd_decode_report_t report;
    orderd_idem_key_t *key;
    if (orderd_http_idem_key(req, ORDERD_STR("create"), &key) != 0)
        return 0;
    int decoded = orderd_codec_decode_create(req->entity.base, req->entity.len, &a, &draft, &report);
    if (decoded != ORDERD_DECODE_OK)
        return orderd_http_bad_body(req, decoded, &report, "the order");
    int64_t now = orderd_now_ms();
    orderd_order_t *order = h2o_mem_alloc_pool(&req->pool, orderd_order_size(&draft, user.len)), *out = order;
    orderd_order_build(order, 0, user, &draft, now);
    orderd_ticket_t *ticket = NULL;
    if (app->durable && (ticket = orderd_ticket_new(req, 201)) == NULL)
        return orderd_http_unavailable(req, ORDERD_STORE_ENOMEM);
    int status = 201;
    int ret = orderd_store_create(app->store, order, key, &a, &out, &status, ticket);
    if (ret == ORDERD_STORE_REPLAYED)
        return orderd_ticket_replay(req, app, ticket, status, out);
    if (ret != ORDERD_STORE_OK) {
        orderd_ticket_drop(ticket);
        if (orderd_store_err_is_limit(ret))
            return orderd_http_limit_refused(req, app->store, user, ret);
        return ret == ORDERD_STORE_EKEYMISMATCH ? orderd_http_key_mismatch(req) : orderd_http_unavailable(req, ret);
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
        return orderd_http_order_not_found(req, id_text);
    if (orderd_http_not_modified(req, order))
        return orderd_http_send_not_modified(req, order);
    return orderd_http_send_order(req, 200, order);
}

static int cancel(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id_text)
{
    orderd_alloc_t a = orderd_http_alloc(req);
    orderd_order_t *order;
    orderd_precondition_t pre;
    orderd_ticket_t *ticket;
    orderd_idem_key_t *key;
    uint64_t id;
    int partial;
    if (req->entity.len != 0 && (partial = orderd_http_op_cancel_lines(req, app, user, id_text)) != -1)
        return partial; /* some lines only */
    if (orderd_http_idem_key(req, (orderd_str_t){req->path_normalized.base, req->path_normalized.len}, &key) != 0)
        return 0;
    if (orderd_ticket_begin_change(req, app, id_text, &id, &pre, &ticket) != 0)
        return 0;
    int ret = orderd_store_set_status(app->store, user, id, ORDERD_STATUS_CANCELLED, orderd_now_ms(), &pre, key, &a,
                                      &order, ticket);
    if (ret == ORDERD_STORE_ECONFLICT) {
        orderd_ticket_drop(ticket);
        return orderd_http_problem(req, ORDERD_PROBLEM_CONFLICT, NULL, 0, "order %.*s is %s; only a %s order can be cancelled",
                                   (int)id_text.len, id_text.base, orderd_status_name((orderd_status_t)order->status),
                                   user.base == NULL ? "pending or processing" : "pending");
    }
    if (orderd_store_err_is_limit(ret)) {
        orderd_ticket_drop(ticket);
        return orderd_http_limit_refused(req, app->store, user, ret);
    }
    return orderd_ticket_answer(req, app, ticket, ret, order, id_text);
}

static int list(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id)
{
    (void)id; /* the collection has none */
    orderd_list_query_t q;
    if (orderd_http_list_query(req, &q) != 0)
        return 0;
    orderd_alloc_t a = orderd_http_alloc(req);
    orderd_store_page_t page;
    if (orderd_store_list(app->store, user, &q.page, &a, &page) != ORDERD_STORE_OK)
        return orderd_http_unavailable(req, ORDERD_STORE_ENOMEM);
    return orderd_http_send_page(req, app, base_path, &q, &page);
}

static int events(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id_text)
{
    orderd_alloc_t a = orderd_http_alloc(req);
    orderd_order_t *order;
    orderd_audit_entry_t *ev;
    size_t n;
    uint64_t id;
    if (orderd_id_parse(id_text.base, id_text.len, &id) != 0 ||
        orderd_store_audit_trail(app->store, user, id, &a, &order, &ev, &n) != ORDERD_STORE_OK)
        return orderd_http_order_not_found(req, id_text);
    return orderd_http_send_json(req, 200, orderd_codec_encode_audit_trail(order, ev, n, &a));
}

/* --- routing --- */

/* `user`: the X-User-Id on a user's route, empty (a NULL base) on the
 * operator's; `id`: the order id as the path gave it, empty on a route
 * without one. */
typedef int (*route_handler_t)(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id);
/* An operation after checkout (operations.h): `sub` is the path's shipment or return id ("*" in the suffix). */
typedef int (*route_op_t)(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id, orderd_str_t sub);

typedef enum { AT_BASE, AT_ORDER } route_at_t;          /* the suffix follows /api/orders, or /api/orders/{id} */
/* X-User-Id; the operator's bearer token; either, the token winning when both are sent (the operator reads any order) */
typedef enum { AS_USER, AS_OPERATOR, AS_USER_OR_OPERATOR } route_identity_t;

typedef struct route {
    route_at_t at;
    h2o_iovec_t suffix;
    const char *allow; /* the methods, as a 405's Allow header says them */
    route_identity_t identity;
    route_handler_t get, post; /* NULL: 405; get also serves HEAD */
    route_op_t op;             /* the POST of an operation after checkout (post is NULL) */
} route_t;

/* The routes at the base come first: "/create" is a path, not an order id. */
static const route_t routes[] = {
    {AT_BASE, {H2O_STRLIT("")}, "GET, HEAD, POST", AS_USER, list, create, NULL},
    {AT_BASE, {H2O_STRLIT("/create")}, "POST", AS_USER, NULL, create, NULL},
    {AT_ORDER, {H2O_STRLIT("")}, "GET, HEAD", AS_USER_OR_OPERATOR, get, NULL, NULL},
    {AT_ORDER, {H2O_STRLIT("/cancel")}, "POST", AS_USER_OR_OPERATOR, NULL, cancel, NULL},
    {AT_ORDER, {H2O_STRLIT("/status")}, "POST", AS_OPERATOR, NULL, orderd_http_admin_set_status, NULL},
    {AT_ORDER, {H2O_STRLIT("/events")}, "GET, HEAD", AS_USER_OR_OPERATOR, events, NULL, NULL},
    {AT_ORDER, {H2O_STRLIT("/edit")}, "POST", AS_USER, NULL, NULL, orderd_http_op_edit},
    {AT_ORDER, {H2O_STRLIT("/shipments")}, "POST", AS_OPERATOR, NULL, NULL, orderd_http_op_ship},
    {AT_ORDER, {H2O_STRLIT("/shipments/*/delivered")}, "POST", AS_OPERATOR, NULL, NULL, orderd_http_op_deliver},
    {AT_ORDER, {H2O_STRLIT("/returns")}, "POST", AS_USER, NULL, NULL, orderd_http_op_return},
    {AT_ORDER, {H2O_STRLIT("/returns/*/approve")}, "POST", AS_OPERATOR, NULL, NULL, orderd_http_op_settle_return},
    {AT_ORDER, {H2O_STRLIT("/returns/*/reject")}, "POST", AS_OPERATOR, NULL, NULL, orderd_http_op_settle_return},
    {AT_ORDER, {H2O_STRLIT("/returns/*/received")}, "POST", AS_OPERATOR, NULL, NULL, orderd_http_op_settle_return},
    {AT_ORDER, {H2O_STRLIT("/refunds")}, "POST", AS_OPERATOR, NULL, NULL, orderd_http_op_refund},
};

/* Whether `s` (n bytes) is `pattern`, where a "*" stands for one non-empty
 * path segment, which goes into *sub. */
static int suffix_is(const char *s, size_t n, h2o_iovec_t pattern, orderd_str_t *sub)
{
    const char *star = memchr(pattern.base, '*', pattern.len);
    if (star == NULL)
        return h2o_memis(s, n, pattern.base, pattern.len);
    size_t head = (size_t)(star - pattern.base), tail = pattern.len - head - 1;
    if (n < head + tail + 1 || memcmp(s, pattern.base, head) != 0 || memcmp(s + n - tail, star + 1, tail) != 0)
        return 0;
    *sub = (orderd_str_t){s + head, n - head - tail};
    return memchr(sub->base, '/', sub->len) == NULL;
}

/* The route of `p` (n bytes: the path after /api/orders), with *id set on a
 * route at an order; NULL when no route has that path. */
static const route_t *find_route(const char *p, size_t n, orderd_str_t *id, orderd_str_t *sub)
{
    const route_t *r = routes, *end = routes + sizeof(routes) / sizeof(routes[0]);
    for (; r < end && r->at == AT_BASE; ++r)
        if (h2o_memis(p, n, r->suffix.base, r->suffix.len))
            return r;
    if (n < 2) /* "/" names no order */
        return NULL;
    /* "/{id}", then the suffix */
    const char *stop = p + n, *slash = memchr(p + 1, '/', n - 1), *rest = slash != NULL ? slash : stop;
    *id = (orderd_str_t){p + 1, (size_t)(rest - (p + 1))};
    if (id->len == 0)
        return NULL;
    for (; r < end; ++r)
        if (suffix_is(rest, (size_t)(stop - rest), r->suffix, sub))
            return r;
    return NULL;
}

/* The checks run in this order for every route: path (404), method (405),
 * identity (401, 403), body size (413) and type (415); then the handler. */
static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    orderd_app_t *app = ((orderd_handler_t *)_self)->app;
    orderd_str_t user = {NULL, 0}, id = {NULL, 0}, sub = {NULL, 0};
    const route_t *r = find_route(req->path_normalized.base + sizeof(base_path) - 1,
                                  req->path_normalized.len - (sizeof(base_path) - 1), &id, &sub);
    if (r == NULL)
        return orderd_http_problem(req, ORDERD_PROBLEM_NOT_FOUND, NULL, 0, "there is no resource at this path");
    int is_post = orderd_http_method_is(req, "POST");
    route_handler_t handler = orderd_http_method_is(req, "GET") ? r->get : is_post ? r->post : NULL;
    if (handler == NULL && !(is_post && r->op != NULL))
        return orderd_http_method_not_allowed(req, r->allow);
    int as_operator = r->identity == AS_OPERATOR ||
                      (r->identity == AS_USER_OR_OPERATOR && orderd_http_operator_is(req, app));
    if ((as_operator ? orderd_http_operator_check(req, app) : orderd_http_user_check(req, &user)) != 0 ||
        orderd_http_body_check(req, app) != 0)
        return 0;
    return handler != NULL ? handler(req, app, user, id) : r->op(req, app, user, id, sub);
}

void orderd_http_orders_register(h2o_hostconf_t *host, orderd_app_t *app)
{
    orderd_http_handler_new(h2o_config_register_path(host, base_path, 0), app, on_req);
}
