#ifndef ORDERD_HTTP_ORDERS_H
#define ORDERD_HTTP_ORDERS_H

/* /api/orders: a user's orders, and the operator's status change on them. */

#include <h2o.h>

#include "orderd/http.h"

/** Registers /api/orders and everything below it on `host`. */
void orderd_http_orders_register(h2o_hostconf_t *host, orderd_app_t *app);

#endif
