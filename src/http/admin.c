/*
 * The operator's endpoints: GET /api/admin/orders, every user's orders
 * oldest first (a fulfilment worker's queue, e.g. ?status=pending; or one
 * user's, one product's, a creation time range), and
 * POST /api/orders/{id}/status, which the orders routing table sends here.
 */
#include "orderd/codec.h"
#include "orderd/store.h"

#include "admin.h"
#include "durable.h"
#include "identity.h"
#include "query.h"
#include "respond.h"

static const char admin_path[] = "/api/admin/orders";

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    orderd_app_t *app = ((orderd_handler_t *)_self)->app;
    if (req->path_normalized.len != sizeof(admin_path) - 1)
        return orderd_http_problem(req, ORDERD_PROBLEM_NOT_FOUND, NULL, 0, "there is no resource at this path");
    if (!orderd_http_method_is(req, "GET"))
        return orderd_http_method_not_allowed(req, "GET, HEAD");
    if (orderd_http_operator_check(req, app) != 0)
        return 0;
    orderd_list_query_t q;
    if (orderd_http_queue_query(req, &q) != 0)
        return 0;
    orderd_alloc_t a = orderd_http_alloc(req);
    orderd_store_page_t page;
    if (orderd_store_queue(app->store, &q.page, &a, &page) != ORDERD_STORE_OK)
        return orderd_http_unavailable(req, ORDERD_STORE_ENOMEM);
    return orderd_http_send_page(req, app, admin_path, &q, &page);
}

/* POST /api/orders/{id}/status: the operator moves an order along fulfilment. */
int orderd_http_admin_set_status(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id_text)
{
    (void)user; /* the operator acts for no user: the route table passes none */
    orderd_alloc_t a = orderd_http_alloc(req);
    orderd_order_t *order;
    orderd_precondition_t pre;
    orderd_ticket_t *ticket;
    orderd_status_t to;
    orderd_decode_report_t report;
    uint64_t id;
    int decoded = orderd_codec_decode_status(req->entity.base, req->entity.len, &a, &to, &report);
    if (decoded != ORDERD_DECODE_OK)
        return orderd_http_bad_body(req, decoded, &report, "the status change");
    if (orderd_ticket_begin_change(req, app, id_text, &id, &pre, &ticket) != 0)
        return 0;
    /* fulfilment only goes forward: cancelling is the customer's, pending is where orders start */
    int ret = to == ORDERD_STATUS_PENDING || to == ORDERD_STATUS_CANCELLED
                  ? orderd_store_get(app->store, (orderd_str_t){NULL, 0}, id, &a, &order)
                  : orderd_store_set_status(app->store, (orderd_str_t){NULL, 0}, id, to, orderd_now_ms(), &pre, NULL,
                                            &a, &order, ticket);
    if (ret == ORDERD_STORE_OK && (to == ORDERD_STATUS_PENDING || to == ORDERD_STATUS_CANCELLED))
        ret = ORDERD_STORE_ECONFLICT;
    if (ret == ORDERD_STORE_ECONFLICT) {
        orderd_status_t now = (orderd_status_t)order->status;
        orderd_status_t next = now == ORDERD_STATUS_PENDING    ? ORDERD_STATUS_PROCESSING
                               : now == ORDERD_STATUS_SHIPPED  ? ORDERD_STATUS_DELIVERED
                               : now == ORDERD_STATUS_PROCESSING || now == ORDERD_STATUS_PARTIALLY_SHIPPED
                                   ? ORDERD_STATUS_SHIPPED
                                   : ORDERD_STATUS_COUNT; /* delivered, cancelled: no further */
        orderd_ticket_drop(ticket);
        return orderd_http_problem(req, ORDERD_PROBLEM_CONFLICT, NULL, 0, "order %.*s is %s; %s%s", (int)id_text.len,
                                   id_text.base, orderd_status_name(now),
                                   next != ORDERD_STATUS_COUNT ? "it can only move on to " : "it cannot change any more",
                                   next != ORDERD_STATUS_COUNT ? orderd_status_name(next) : "");
    }
    return orderd_ticket_answer(req, app, ticket, ret, order, id_text);
}

void orderd_http_admin_register(h2o_hostconf_t *host, orderd_app_t *app)
{
    orderd_http_handler_new(h2o_config_register_path(host, admin_path, 0), app, on_req);
}
