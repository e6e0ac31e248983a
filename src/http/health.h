#ifndef ORDERD_HTTP_HEALTH_H
#define ORDERD_HTTP_HEALTH_H

/* GET /healthz. */

#include <h2o.h>

#include "orderd/http.h"

/** Registers /healthz on `host`. */
void orderd_http_health_register(h2o_hostconf_t *host, orderd_app_t *app);

#endif
