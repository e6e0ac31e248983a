#ifndef ORDERD_HTTP_REQUEST_ID_H
#define ORDERD_HTTP_REQUEST_ID_H

/* X-Request-Id: echoed on every response, made up where the request has none. */

#include <h2o.h>

#include "orderd/http.h"

/**
 * The request's X-Request-Id, or one made up for it (in the request's pool,
 * then kept in req->headers so every later call returns the same). Cannot fail.
 */
h2o_iovec_t orderd_http_request_id(h2o_req_t *req);

/** Seeds a worker thread's made-up request ids (getrandom, else the thread's address and the time). */
void orderd_http_request_id_seed(orderd_http_thread_t *t);

/** Installs the filter that puts X-Request-Id on every response of `path`; h2o's configuration owns it. */
void orderd_http_request_id_filter_register(h2o_pathconf_t *path);

#endif
