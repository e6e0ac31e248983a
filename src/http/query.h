#ifndef ORDERD_HTTP_QUERY_H
#define ORDERD_HTTP_QUERY_H

/* List queries and their pages, shared by the user's list and the operator's list. */

#include <h2o.h>

#include "orderd/http.h"
#include "orderd/store.h"

/** A list's query: the page it asks for, and its filters as given (for links). */
typedef struct orderd_list_query {
    orderd_page_req_t page;
    /* each empty when not given; all point into the request's pool */
    orderd_str_t status;
    /* the operator's list only: as decoded (page.user_id and page.product_id are the same bytes) */
    orderd_str_t user_id, product_id, created_after, created_before;
} orderd_list_query_t;

/**
 * Parses a list's query string [query, query+len) (after the '?'): limit,
 * offset, status (comma-separated), after and before into *q, decoded into
 * `pool`. Returns NULL, or why it is refused (a 400's detail: unknown,
 * repeated, empty or out-of-range parameter; offset, after and before
 * combined; a broken percent-encoding). Sends nothing.
 */
const char *orderd_http_list_query_parse(h2o_mem_pool_t *pool, const char *query, size_t len, orderd_list_query_t *q);

/**
 * The operator's list's query string: what orderd_http_list_query_parse
 * takes, and user_id (a user id, as X-User-Id takes it), product_id (1 to
 * ORDERD_PRODUCT_ID_MAX bytes), created_after and created_before (RFC 3339
 * date-times later than 1970-01-01T00:00:00Z, with an optional fraction of
 * up to 9 digits and Z or a numeric offset; a space where the offset's sign
 * goes is read as the '+' that the query string's form encoding turned into
 * one). The bounds are strict: created_after keeps orders created later than
 * the time, created_before those created earlier, to the millisecond (a
 * finer fraction rounds so that this stays exact). Returns NULL or why it is
 * refused, as orderd_http_list_query_parse does. Sends nothing.
 */
const char *orderd_http_queue_query_parse(h2o_mem_pool_t *pool, const char *query, size_t len,
                                          orderd_list_query_t *q);

/**
 * Reads limit, offset, status (comma-separated), after and before from the
 * query string into *q (decoded into the request's pool). Returns 0, or -1
 * when it sent a 400 (unknown, repeated, empty or out-of-range parameter;
 * offset, after and before combined).
 */
int orderd_http_list_query(h2o_req_t *req, orderd_list_query_t *q);

/**
 * The operator's list: as orderd_http_list_query, with the parameters of
 * orderd_http_queue_query_parse. Returns 0, or -1 when it sent the 400.
 */
int orderd_http_queue_query(h2o_req_t *req, orderd_list_query_t *q);

/**
 * Adds the Link header (rel="next" while more follow, rel="prev" while some
 * precede) for the list at path `base`, built in the request's pool, with
 * the query's filters in each link (percent-encoded); the URLs' scheme and
 * host are what a trusted proxy (app) says, if one does.
 */
void orderd_http_add_page_links(h2o_req_t *req, const orderd_app_t *app, const char *base, const orderd_list_query_t *q,
                                const orderd_store_page_t *page);

/** Sends a page as {"orders","limit","offset","total"} with its Link header. Returns 0. */
int orderd_http_send_page(h2o_req_t *req, const orderd_app_t *app, const char *base, const orderd_list_query_t *q,
                          const orderd_store_page_t *page);

#endif
