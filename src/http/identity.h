#ifndef ORDERD_HTTP_IDENTITY_H
#define ORDERD_HTTP_IDENTITY_H

/*
 * Who is asking, and whether the request may be read: the user's X-User-Id,
 * the operator's bearer token, the body's size and media type.
 */

#include <h2o.h>

#include "orderd/http.h"

/**
 * X-User-Id from `headers`, sent exactly once, 1 to 64 bytes of
 * [A-Za-z0-9._:@-]. Returns 0 with *user pointing into the header's value,
 * else -1 (absent, repeated or malformed). Sends nothing.
 */
int orderd_http_user_get(const h2o_headers_t *headers, orderd_str_t *user);

/**
 * The user: X-User-Id, sent exactly once, 1 to 64 bytes of [A-Za-z0-9._:@-].
 * Returns 0 with *user pointing into the request's headers, else -1 with the
 * 401 sent.
 */
int orderd_http_user_check(h2o_req_t *req, orderd_str_t *user);

/**
 * The token of `Authorization: Bearer <token>` ("bearer" in any case, the
 * spaces after it skipped), sent exactly once. Returns 0 with *token pointing
 * into the header's value (empty when only spaces follow the scheme), else -1
 * (absent, repeated, or not the Bearer scheme). Sends nothing.
 */
int orderd_http_bearer_get(const h2o_headers_t *headers, orderd_str_t *token);

/**
 * The operator's Authorization: Bearer token, compared in constant time.
 * Returns 0 when it is right, else -1 with the 401 (missing or malformed,
 * with WWW-Authenticate) or 403 (wrong token, or no operator) sent.
 */
int orderd_http_operator_check(h2o_req_t *req, orderd_app_t *app);

/**
 * The body's size and type: at most app->max_body bytes (else 413, and the
 * connection is not reused), and application/json when there is one (else
 * 415). Returns 0 when the request may go on, -1 when the error has been sent.
 */
int orderd_http_body_check(h2o_req_t *req, orderd_app_t *app);

#endif
