#ifndef ORDERD_HTTP_OPERATIONS_H
#define ORDERD_HTTP_OPERATIONS_H

/*
 * The operations after checkout (src/http/operations.c): handlers of the
 * orders routing table (orders.c). `user` is the X-User-Id on a customer's
 * route and empty (NULL base) for the operator; `id` the order id and `sub`
 * the shipment or return id as the path gave them. Each returns 0 with the
 * answer sent (now, or once the change is durable).
 */

#include <h2o.h>

#include "orderd/common.h"
#include "orderd/http.h"

/** POST /api/orders/{id}/edit (?dry_run=true: the preview, nothing changed). */
int orderd_http_op_edit(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id, orderd_str_t sub);

/**
 * POST /api/orders/{id}/cancel with a body naming lines: the partial
 * cancellation. Returns -1 without answering when the body names no lines:
 * the caller cancels the whole order.
 */
int orderd_http_op_cancel_lines(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id);

/** POST /api/orders/{id}/shipments (201). */
int orderd_http_op_ship(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id, orderd_str_t sub);

/** POST /api/orders/{id}/shipments/{shipment_id}/delivered. */
int orderd_http_op_deliver(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id, orderd_str_t sub);

/** POST /api/orders/{id}/returns (201). */
int orderd_http_op_return(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id, orderd_str_t sub);

/** POST /api/orders/{id}/returns/{return_id}/approve, /reject or /received. */
int orderd_http_op_settle_return(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id,
                                 orderd_str_t sub);

/** POST /api/orders/{id}/refunds (201). */
int orderd_http_op_refund(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id, orderd_str_t sub);

#endif
