#ifndef ORDERD_HTTP_IDENTITY_H
#define ORDERD_HTTP_IDENTITY_H

/*
 * Who is asking, and whether the request may be read: the user's X-User-Id
 * or verified JWT (--user-auth), the operator's bearer token, the body's
 * size and media type.
 */

#include <h2o.h>

#include "orderd/http.h"

/**
 * Whether [s, s+len) is a user id: 1 to ORDERD_USER_ID_MAX bytes of
 * [A-Za-z0-9._:@-], as X-User-Id and a token's user claim must be.
 */
int orderd_http_user_id_valid(const char *s, size_t len);

/**
 * X-User-Id from `headers`, sent exactly once, 1 to 64 bytes of
 * [A-Za-z0-9._:@-]. Returns 0 with *user pointing into the header's value,
 * else -1 (absent, repeated or malformed). Sends nothing.
 */
int orderd_http_user_get(const h2o_headers_t *headers, orderd_str_t *user);

/**
 * The user. With --user-auth header (the thread holds no JWT keys):
 * X-User-Id, sent exactly once, 1 to 64 bytes of [A-Za-z0-9._:@-], with
 * *user pointing into the request's headers. With --user-auth jwt: the
 * claim of the Authorization: Bearer JWT the thread's keys verify, held to
 * the same rules and copied into the request's pool; X-User-Id is ignored.
 * Returns 0, else -1 with the 401 sent (WWW-Authenticate: Bearer, with
 * error="invalid_token" for a token that was sent and refused), or the 503
 * when out of memory.
 */
int orderd_http_user_check(h2o_req_t *req, orderd_str_t *user);

/**
 * The thread's end of --user-auth jwt: a reference of its own to app->jwt
 * (none with --user-auth header) and the receiver of orderd_http_jwt_send on
 * `queue`. Called by orderd_http_thread_init, on the thread.
 */
void orderd_http_identity_thread_init(orderd_http_thread_t *t, h2o_multithread_queue_t *queue, orderd_app_t *app);

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
 * Whether the request carries the operator's Authorization: Bearer token
 * (sent once, compared in constant time; never with no operator token
 * configured). Sends nothing: on the routes a user or the operator may
 * call, a request without the right token is the user's.
 */
int orderd_http_operator_is(const h2o_req_t *req, const orderd_app_t *app);

/**
 * The body's size and type: at most app->max_body bytes (else 413, and the
 * connection is not reused), and application/json when there is one (else
 * 415). Returns 0 when the request may go on, -1 when the error has been sent.
 */
int orderd_http_body_check(h2o_req_t *req, orderd_app_t *app);

#endif
