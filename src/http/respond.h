#ifndef ORDERD_HTTP_RESPOND_H
#define ORDERD_HTTP_RESPOND_H

/*
 * The one place responses are built: JSON bodies, orders with their ETag,
 * problem+json errors, headers. Every response carries Content-Length
 * unless h2o's compress filter gzips it (--compress, src/http/compress.h:
 * large bodies without an ETag); no handler builds its own error.
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
    ORDERD_PROBLEM_RATE_LIMITED,    /* 429 */
    ORDERD_PROBLEM_STORAGE,         /* 507 */
    ORDERD_PROBLEM_GONE,            /* 410 */
} orderd_problem_kind_t;

/** Longest entity tag, quotes included. */
#define ORDERD_HTTP_ETAG_MAX (2 + ORDERD_ID_LEN + 1 + 10)

/** A request allocator backed by req->pool: what it returns lives as long as the request. */
orderd_alloc_t orderd_http_alloc(h2o_req_t *req);

/**
 * Creates an orderd_handler_t on `path` for `app`, calling `on_req`. h2o's
 * configuration owns it; it aborts (h2o's allocator) when out of memory at
 * start-up.
 */
orderd_handler_t *orderd_http_handler_new(h2o_pathconf_t *path, orderd_app_t *app,
                                          int (*on_req)(h2o_handler_t *, h2o_req_t *));

/**
 * Like orderd_http_handler_new, but puts the handler before the handlers
 * `path` already has, so it sees every request first; one that returns -1
 * passes the request on to them.
 */
orderd_handler_t *orderd_http_handler_first(h2o_pathconf_t *path, orderd_app_t *app,
                                            int (*on_req)(h2o_handler_t *, h2o_req_t *));

/** Whether the request's method is `m` (HEAD counts as GET). */
int orderd_http_method_is(h2o_req_t *req, const char *m);

/**
 * Sends `body` as application/json with `status`; the body is not copied, so
 * it must live as long as the request. Returns 0 (for on_req).
 */
int orderd_http_send_json(h2o_req_t *req, int status, orderd_str_t body);

/**
 * Sends `body` with `status` and the media type `content_type` (a static
 * string); the body is not copied, so it must live as long as the request.
 * Returns 0.
 */
int orderd_http_send_text(h2o_req_t *req, int status, const char *content_type, orderd_str_t body);

/** Encodes an order into the request's pool and sends it with its ETag (201 adds Location). Returns 0. */
int orderd_http_send_order(h2o_req_t *req, int status, const orderd_order_t *order);

/** Sends an already encoded order with its ETag (201 adds Location: /api/orders/{id}). Returns 0. */
int orderd_http_send_order_body(h2o_req_t *req, int status, const orderd_order_t *order, orderd_str_t body);

/**
 * Sends a problem of `kind` whose detail is printf(fmt, ...), cut at 511
 * bytes; `errors` (may be NULL) become the 422 list. A 503 carries
 * Retry-After: 1. Returns 0.
 */
int orderd_http_problem(h2o_req_t *req, orderd_problem_kind_t kind, const orderd_field_error_t *errors,
                        size_t n_errors, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/**
 * Like orderd_http_problem without a 422 list, with `members` (a JSON
 * object's members, `"a":1,"b":2`, written as they are; "" for none) added
 * to the problem object, for what a client must act on (a 410's
 * "oldest_seq"). Returns 0.
 */
int orderd_http_problem_members(h2o_req_t *req, orderd_problem_kind_t kind, const char *members, const char *fmt,
                                ...) __attribute__((format(printf, 4, 5)));

/** 405 with `Allow: allow` (a static string). Returns 0. */
int orderd_http_method_not_allowed(h2o_req_t *req, const char *allow);

/**
 * Writes the order's strong entity tag, "<id>-<version>" with its quotes,
 * into `out` and returns its length. It changes with every change of the
 * order. Cannot fail.
 */
size_t orderd_http_etag_format(const orderd_order_t *o, char out[ORDERD_HTTP_ETAG_MAX]);

/** Adds the order's ETag to the response (the tag lives in the request's pool). */
void orderd_http_add_etag(h2o_req_t *req, const orderd_order_t *o);

/** Sends 304 Not Modified with the order's ETag and no body. Returns 0. */
int orderd_http_send_not_modified(h2o_req_t *req, const orderd_order_t *order);

/** 404 for order `id` as the path gave it (cut at ORDERD_ID_LEN bytes). Returns 0. */
int orderd_http_order_not_found(h2o_req_t *req, orderd_str_t id);

/**
 * 503 for a store error, nothing changed: `store_err` ORDERD_STORE_EUNAVAILABLE
 * says the journal takes no writes now, anything else that memory ran out.
 * Returns 0.
 */
int orderd_http_unavailable(h2o_req_t *req, int store_err);

/**
 * A body the codec refused (`decoded` and `report` as the decoder gave
 * them): 400 when it is not JSON or nests deeper than ORDERD_CODEC_MAX_DEPTH,
 * else 422 listing the rules `what` ("the order") breaks. Returns 0.
 */
int orderd_http_bad_body(h2o_req_t *req, int decoded, const orderd_decode_report_t *report, const char *what);

/**
 * A write refused by one of the store's limits (`store_err`, for which
 * orderd_store_err_is_limit holds), nothing changed: 429 with Retry-After
 * (whole seconds until `user`'s bucket holds a token, at least 1) for
 * ERATELIMIT, else 507 naming the limit reached. Returns 0.
 */
int orderd_http_limit_refused(h2o_req_t *req, orderd_store_t *store, orderd_str_t user, int store_err);

/** 422: the Idempotency-Key was used for a different request. Returns 0. */
int orderd_http_key_mismatch(h2o_req_t *req);

/**
 * Installs the filter that turns h2o's own plain-text error responses (an
 * HTTP/1 body over the size limit, broken chunked encoding) into
 * problem+json. h2o's configuration owns the filter.
 */
void orderd_http_problem_filter_register(h2o_pathconf_t *path, orderd_app_t *app);

#endif
