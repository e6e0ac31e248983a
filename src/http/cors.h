#ifndef ORDERD_HTTP_CORS_H
#define ORDERD_HTTP_CORS_H

/* CORS for browser pages on other origins (--cors-origin): response
 * headers for a listed Origin, and preflight OPTIONS answered 204. */

#include <h2o.h>

#include "orderd/http.h"

/**
 * Adds the CORS filter to `path` when app->ncors_origins > 0 (nothing at
 * all otherwise). For a request whose Origin is listed (or any, with "*"),
 * it adds Access-Control-Allow-Origin, Vary: Origin and
 * Access-Control-Expose-Headers; a preflight (OPTIONS with
 * Access-Control-Request-Method) that the route answered 405 with Allow
 * becomes 204 with Access-Control-Allow-Methods (the Allow value),
 * -Allow-Headers and -Max-Age, its body dropped. Other origins' requests
 * pass unchanged (a preflight stays 405). Register it before the filters
 * that count or rewrite the status. h2o's configuration owns it; aborts
 * when out of memory (start-up).
 */
void orderd_http_cors_filter_register(h2o_pathconf_t *path, orderd_app_t *app);

#endif
