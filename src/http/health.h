#ifndef ORDERD_HTTP_HEALTH_H
#define ORDERD_HTTP_HEALTH_H

/* GET /healthz (liveness), GET /readyz (readiness) and the gate that keeps
 * the API at 503 while the journal replays. */

#include <h2o.h>

#include "orderd/http.h"

/** Registers /healthz and /readyz on `host`. */
void orderd_http_health_register(h2o_hostconf_t *host, orderd_app_t *app);

/**
 * Puts a handler first on `path` that answers 503 (Retry-After: 1) while
 * app->readiness is REPLAYING and passes the request on afterwards. h2o's
 * configuration owns it.
 */
void orderd_http_health_gate(h2o_pathconf_t *path, orderd_app_t *app);

#endif
