#ifndef ORDERD_HTTP_ADMIN_H
#define ORDERD_HTTP_ADMIN_H

/* The operator's endpoints. */

#include <h2o.h>

#include "orderd/http.h"

/**
 * POST /api/orders/{id}/status, the route orders.c's table sends here once
 * the operator's token and the body's size and type are checked: moves order
 * `id` (as the path gave it) one step along fulfilment, for any user
 * (`user` is empty). Answers 400/422 (body), 404, 409, 412 or 503 through
 * respond.c, else 200 now or once durable. Returns 0.
 */
int orderd_http_admin_set_status(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id);

/** Registers GET /api/admin/orders on `host`. */
void orderd_http_admin_register(h2o_hostconf_t *host, orderd_app_t *app);

#endif
