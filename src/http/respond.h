#ifndef ORDERD_HTTP_RESPOND_H
#define ORDERD_HTTP_RESPOND_H

/*
 * The one place responses are built: JSON bodies, problem+json errors,
 * headers. Every response carries Content-Length; no handler builds its own
 * error.
 */

#include <h2o.h>

#include "orderd/codec.h"
#include "orderd/http.h"

/** A handler of the API: h2o's handler plus the shared application state. */
typedef struct orderd_handler {
    h2o_handler_t super;
    orderd_app_t *app;
} orderd_handler_t;

/** Problem kinds: each has its status, type slug and title in respond.c. */
typedef enum {
    ORDERD_PROBLEM_MALFORMED = 0,   /* 400 */
    ORDERD_PROBLEM_UNAUTHORIZED,    /* 401 */
    ORDERD_PROBLEM_NOT_FOUND,       /* 404 */
    ORDERD_PROBLEM_METHOD,          /* 405 */
    ORDERD_PROBLEM_CONFLICT,        /* 409 */
    ORDERD_PROBLEM_TOO_LARGE,       /* 413 */
    ORDERD_PROBLEM_MEDIA_TYPE,      /* 415 */
    ORDERD_PROBLEM_INVALID,         /* 422 */
    ORDERD_PROBLEM_UNAVAILABLE,     /* 503 */
    ORDERD_PROBLEM_INTERNAL,        /* 500 */
    ORDERD_PROBLEM_FORBIDDEN,       /* 403 */
    ORDERD_PROBLEM_PRECONDITION,    /* 412 */
} orderd_problem_kind_t;

/** A request waiting for the journal (see durable.c). */
typedef struct orderd_ticket {
    h2o_multithread_message_t msg;
    h2o_multithread_receiver_t *receiver;
    h2o_req_t *req;                /* NULL once the client has gone */
    struct orderd_ticket **guard;  /* pool-owned back pointer */
    int durable;
    int status;                    /* 201 or 200 */
    orderd_str_t body;             /* the order's JSON, encoded while the journal works */
    const orderd_order_t *order;   /* for the Location header */
    int replayed;                  /* an idempotency key's first answer: Idempotent-Replayed: true */
} orderd_ticket_t;

/** A ticket for `req`, to be answered with `status` and t->order once durable; NULL out of memory. */
orderd_ticket_t *orderd_ticket_new(h2o_req_t *req, int status);

/** Frees a ticket that was never handed to the journal (or NULL). */
void orderd_ticket_drop(orderd_ticket_t *t);

/**
 * The ticket's change is queued: encodes `order` now, so the answer is only
 * a write once the journal is done, and wakes the writer after this loop
 * iteration. Returns 0 (for on_req).
 */
int orderd_ticket_wait(orderd_ticket_t *t, orderd_app_t *app, const orderd_order_t *order);

/** Sends an already encoded order (201 adds Location). Returns 0. */
int orderd_http_send_order_body(h2o_req_t *req, int status, const orderd_order_t *order, orderd_str_t body);

/** A request allocator backed by req->pool. */
orderd_alloc_t orderd_http_alloc(h2o_req_t *req);

/** Creates an orderd_handler_t on `path` for `app`. */
orderd_handler_t *orderd_http_handler_new(h2o_pathconf_t *path, orderd_app_t *app,
                                          int (*on_req)(h2o_handler_t *, h2o_req_t *));

/** Sends `body` as application/json with `status`. Returns 0 (for on_req). */
int orderd_http_send_json(h2o_req_t *req, int status, orderd_str_t body);

/** Sends an order (201 adds Location: /api/orders/{id}). Returns 0. */
int orderd_http_send_order(h2o_req_t *req, int status, const orderd_order_t *order);

/**
 * Sends a problem of `kind` whose detail is printf(fmt, ...); `errors` (may be
 * NULL) become the 422 list. Returns 0.
 */
int orderd_http_problem(h2o_req_t *req, orderd_problem_kind_t kind, const orderd_field_error_t *errors,
                        size_t n_errors, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/** 405 with `Allow: allow`. Returns 0. */
int orderd_http_method_not_allowed(h2o_req_t *req, const char *allow);

/** Whether the request's method is `m` (HEAD counts as GET). */
int orderd_http_method_is(h2o_req_t *req, const char *m);

/**
 * Installs the filter that turns h2o's own plain-text error responses (an
 * HTTP/1 body over the size limit, broken chunked encoding) into problem+json.
 */
void orderd_http_problem_filter_register(h2o_pathconf_t *path, orderd_app_t *app);

/** Adds the order's ETag ("<id>-<version>") to the response. */
void orderd_http_add_etag(h2o_req_t *req, const orderd_order_t *o);

/** Whether If-None-Match names the order's current tag (or "*"): answer 304. */
int orderd_http_not_modified(h2o_req_t *req, const orderd_order_t *o);

/** Sends 304 Not Modified with the order's ETag and no body. Returns 0. */
int orderd_http_send_not_modified(h2o_req_t *req, const orderd_order_t *order);

/** 412 with the order's current ETag: If-Match named none of it. Returns 0. */
int orderd_http_precondition_failed(h2o_req_t *req, const orderd_order_t *o);

/**
 * The operator's Authorization: Bearer token, compared in constant time.
 * Returns 0 when it is right, else -1 with the 401 (missing or malformed) or
 * 403 (wrong token) sent.
 */
int orderd_http_operator_check(h2o_req_t *req, orderd_app_t *app);

/** Reads If-Match for order `id` into *pre (pre->active = 0 when absent). */
void orderd_http_if_match(h2o_req_t *req, uint64_t id, orderd_precondition_t *pre);

/** A list's query: the page it asks for, and its status filter as given (for links). */
typedef struct orderd_list_query {
    orderd_page_req_t page;
    orderd_str_t status; /* empty: no filter */
} orderd_list_query_t;

/**
 * Reads limit, offset, status (comma-separated), after and before from the
 * query string. Returns 0, or -1 when it sent a 400 (unknown, repeated,
 * empty or out-of-range parameter; offset, after and before combined).
 */
int orderd_http_list_query(h2o_req_t *req, orderd_list_query_t *q);

/** Adds the Link header (rel="next" while more follow, rel="prev" while some precede). */
void orderd_http_add_page_links(h2o_req_t *req, const char *base, const orderd_list_query_t *q,
                                const orderd_store_page_t *page);

/** Sends a page as {"orders","limit","offset","total"} with its Link header. Returns 0. */
int orderd_http_send_page(h2o_req_t *req, const char *base, const orderd_list_query_t *q,
                          const orderd_store_page_t *page);

/** The request's X-Request-Id, or one made up for it (then kept in req->headers). */
h2o_iovec_t orderd_http_request_id(h2o_req_t *req);

/** Seeds a worker thread's made-up request ids. */
void orderd_http_request_id_seed(orderd_http_thread_t *t);

/** Installs the filter that puts X-Request-Id on every response of `path`. */
void orderd_http_request_id_filter_register(h2o_pathconf_t *path);

/* Resources: each registers its paths on the host. */
void orderd_http_health_register(h2o_hostconf_t *host, orderd_app_t *app);
void orderd_http_orders_register(h2o_hostconf_t *host, orderd_app_t *app);
void orderd_http_admin_register(h2o_hostconf_t *host, orderd_app_t *app);

#endif
