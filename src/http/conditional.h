#ifndef ORDERD_HTTP_CONDITIONAL_H
#define ORDERD_HTTP_CONDITIONAL_H

/* Conditional requests (RFC 9110 section 13): If-None-Match and If-Match on an order's ETag. */

#include <h2o.h>

#include "orderd/store.h"

/** Whether If-None-Match names the order's current tag (weakly) or "*": answer 304. Cannot fail. */
int orderd_http_not_modified(h2o_req_t *req, const orderd_order_t *o);

/**
 * Reads If-Match for order `id` into *pre: the versions of this order's
 * strong tags it names, or any for "*" (pre->active = 0 when absent). Tags
 * of other orders, weak and malformed tags are skipped. Cannot fail.
 */
void orderd_http_if_match(h2o_req_t *req, uint64_t id, orderd_precondition_t *pre);

/** 412 with the order's current ETag: If-Match named none of it. Returns 0. */
int orderd_http_precondition_failed(h2o_req_t *req, const orderd_order_t *o);

#endif
