#ifndef ORDERD_HTTP_IDEM_KEY_H
#define ORDERD_HTTP_IDEM_KEY_H

/* The Idempotency-Key request header: read once, checked, fingerprinted with the request. */

#include <h2o.h>

#include "orderd/idempotency.h"
#include "orderd/store.h"

/**
 * The Idempotency-Key of `headers`: 1 with *key pointing into the header's
 * value (1 to 255 printable ASCII bytes, orderd_idem_key_valid), 0 when there
 * is none (*key untouched), -1 when it is sent twice or is not a valid key.
 * Sends nothing.
 */
int orderd_http_idem_key_get(const h2o_headers_t *headers, orderd_str_t *key);

/**
 * The request's Idempotency-Key: absent (0, *key = NULL), valid (0, *key in
 * the request's pool with the fingerprint over `op` and the body), or -1 with
 * the 400 sent. `op` names the operation, so the two create paths share their
 * keys.
 */
int orderd_http_idem_key(h2o_req_t *req, orderd_str_t op, orderd_idem_key_t **key);

#endif
