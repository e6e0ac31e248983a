#ifndef ORDERD_HTTP_ADMIN_H
#define ORDERD_HTTP_ADMIN_H

/* The operator's endpoints. */

#include <h2o.h>

#include "orderd/http.h"

/**
 * The operator's Authorization: Bearer token, compared in constant time.
 * Returns 0 when it is right, else -1 with the 401 (missing or malformed) or
 * 403 (wrong token) sent.
 */
int orderd_http_operator_check(h2o_req_t *req, orderd_app_t *app);

/** Registers GET /api/admin/orders on `host`. */
void orderd_http_admin_register(h2o_hostconf_t *host, orderd_app_t *app);

#endif
