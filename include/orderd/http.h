#ifndef ORDERD_HTTP_H
#define ORDERD_HTTP_H

/* The HTTP API on libh2o: registers every resource on a host configuration. */

#include <h2o.h>

#include "orderd/store.h"

/** What every handler shares: read-only after start-up, but for the store. */
typedef struct orderd_app {
    orderd_store_t *store;
    size_t max_body;
} orderd_app_t;

/**
 * Registers the API (/api/orders..., /healthz, a problem+json 404 for every
 * other path, and a filter turning h2o's own plain-text errors into
 * problem+json) on `host`. `app` must outlive the server.
 */
void orderd_http_register(h2o_hostconf_t *host, orderd_app_t *app);

#endif
