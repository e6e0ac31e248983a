#ifndef ORDERD_HTTP_FORWARDED_H
#define ORDERD_HTTP_FORWARDED_H

/* What a trusted reverse proxy (--trusted-proxy) says about a request:
 * X-Forwarded-Proto, X-Forwarded-Host and X-Forwarded-For, or RFC 7239
 * Forwarded (which wins when both are there). From any other peer these
 * headers are ignored. */

#include <h2o.h>

#include "orderd/cidr.h"
#include "orderd/http.h"

/** What the proxy's headers say; a field with len 0 was not said. Views into the header value. */
typedef struct orderd_forwarded {
    h2o_iovec_t proto;  /* "http" or "https" only */
    h2o_iovec_t host;   /* as given: the caller checks it before use */
    h2o_iovec_t client; /* an address without port or brackets, e.g. "192.0.2.7", "2001:db8::1" */
} orderd_forwarded_t;

/**
 * Parses one RFC 7239 Forwarded value into *out: proto= and host= of the
 * last element (the one our peer, the trusted proxy, added), and as client
 * the right-most for= address that is not in `trusted` (the left-most when
 * all are). A for= that is not an address ("unknown", "_hidden") ends the
 * walk with no client. Never fails: what is malformed is not said.
 */
void orderd_http_forwarded_parse(h2o_iovec_t value, const orderd_cidr_t *trusted, size_t ntrusted,
                                 orderd_forwarded_t *out);

/**
 * The client in an X-Forwarded-For list: the right-most address not in
 * `trusted` (the left-most when all are). len 0 when that entry is not an
 * address. A view into `value`.
 */
h2o_iovec_t orderd_http_forwarded_for_pick(h2o_iovec_t value, const orderd_cidr_t *trusted, size_t ntrusted);

/**
 * What the proxy says about `req` when its peer is in app->trusted_proxies
 * (returns 1, *out filled); 0 and *out zeroed for any other peer.
 */
int orderd_http_forwarded_get(h2o_req_t *req, const orderd_app_t *app, orderd_forwarded_t *out);

/**
 * The client's address for this request, as text in req->pool: what a
 * trusted proxy says, else the peer's own address; "-" when unknown. For
 * the access log.
 */
h2o_iovec_t orderd_http_forwarded_client(h2o_req_t *req, const orderd_app_t *app);

#endif
