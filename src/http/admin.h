#ifndef ORDERD_HTTP_ADMIN_H
#define ORDERD_HTTP_ADMIN_H

/* The operator's endpoints. */

#include <h2o.h>

#include "orderd/http.h"

/** Registers GET /api/admin/orders on `host`. */
void orderd_http_admin_register(h2o_hostconf_t *host, orderd_app_t *app);

#endif
