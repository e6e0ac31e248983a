#include "respond.h"
#include "compress.h"
#include "request_id.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    int status;
    const char *type;
    const char *title;
} problems[] = {
    [ORDERD_PROBLEM_MALFORMED] = {400, "malformed-request", "Bad Request"},
    [ORDERD_PROBLEM_UNAUTHORIZED] = {401, "unauthorized", "Unauthorized"},
    [ORDERD_PROBLEM_NOT_FOUND] = {404, "not-found", "Not Found"},
    [ORDERD_PROBLEM_METHOD] = {405, "method-not-allowed", "Method Not Allowed"},
    [ORDERD_PROBLEM_CONFLICT] = {409, "invalid-transition", "Conflict"},
    [ORDERD_PROBLEM_TOO_LARGE] = {413, "payload-too-large", "Content Too Large"},
    [ORDERD_PROBLEM_MEDIA_TYPE] = {415, "unsupported-media-type", "Unsupported Media Type"},
    [ORDERD_PROBLEM_INVALID] = {422, "validation-failed", "Unprocessable Content"},
    [ORDERD_PROBLEM_UNAVAILABLE] = {503, "unavailable", "Service Unavailable"},
    [ORDERD_PROBLEM_INTERNAL] = {500, "internal-error", "Internal Server Error"},
    [ORDERD_PROBLEM_FORBIDDEN] = {403, "forbidden", "Forbidden"},
    [ORDERD_PROBLEM_PRECONDITION] = {412, "precondition-failed", "Precondition Failed"},
    [ORDERD_PROBLEM_RATE_LIMITED] = {429, "rate-limited", "Too Many Requests"},
    [ORDERD_PROBLEM_STORAGE] = {507, "insufficient-storage", "Insufficient Storage"},
    [ORDERD_PROBLEM_GONE] = {410, "gone", "Gone"},
};

static const h2o_iovec_t ctype_json = {H2O_STRLIT("application/json")};
static const h2o_iovec_t ctype_problem = {H2O_STRLIT("application/problem+json")};

static void *pool_alloc(void *ctx, size_t size)
{
    return h2o_mem_alloc_pool(ctx, size);
}

orderd_alloc_t orderd_http_alloc(h2o_req_t *req)
{
    return (orderd_alloc_t){pool_alloc, &req->pool};
}

orderd_handler_t *orderd_http_handler_new(h2o_pathconf_t *path, orderd_app_t *app,
                                          int (*on_req)(h2o_handler_t *, h2o_req_t *))
{
    orderd_handler_t *h = (orderd_handler_t *)h2o_create_handler(path, sizeof(*h));
    h->super.on_req = on_req;
    h->app = app;
    return h;
}

orderd_handler_t *orderd_http_handler_first(h2o_pathconf_t *path, orderd_app_t *app,
                                            int (*on_req)(h2o_handler_t *, h2o_req_t *))
{
    orderd_handler_t *h = orderd_http_handler_new(path, app, on_req);
    /* h2o appended it; it must run before the handlers registered earlier */
    memmove(path->handlers.entries + 1, path->handlers.entries,
            (path->handlers.size - 1) * sizeof(path->handlers.entries[0]));
    path->handlers.entries[0] = &h->super;
    return h;
}

int orderd_http_method_is(h2o_req_t *req, const char *m)
{
    size_t len = strlen(m);
    if (h2o_memis(req->method.base, req->method.len, m, len))
        return 1;
    return strcmp(m, "GET") == 0 && h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
}

static const char *reason_of(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 304:
        return "Not Modified";
    default:
        for (size_t i = 0; i < sizeof(problems) / sizeof(problems[0]); ++i)
            if (problems[i].status == status)
                return problems[i].title;
        return "Error";
    }
}

static void send_body(h2o_req_t *req, int status, h2o_iovec_t ctype, orderd_str_t body)
{
    static h2o_generator_t generator = {NULL, NULL};
    req->res.status = status;
    req->res.reason = reason_of(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype.base, ctype.len);
    /* before h2o_start_response: otherwise h2o adds chunked encoding too
     * (h2o's compress filter drops it again for an answer it gzips) */
    req->res.content_length = body.len;
    orderd_http_compress_hint(req, body.len);
    h2o_start_response(req, &generator);
    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    } else {
        h2o_iovec_t buf = h2o_iovec_init(body.base, body.len);
        h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
    }
}

int orderd_http_send_json(h2o_req_t *req, int status, orderd_str_t body)
{
    send_body(req, status, ctype_json, body);
    return 0;
}

int orderd_http_send_text(h2o_req_t *req, int status, const char *content_type, orderd_str_t body)
{
    send_body(req, status, h2o_iovec_init(content_type, strlen(content_type)), body);
    return 0;
}

int orderd_http_send_order(h2o_req_t *req, int status, const orderd_order_t *order)
{
    orderd_alloc_t a = orderd_http_alloc(req);
    return orderd_http_send_order_body(req, status, order, orderd_codec_encode_order(order, &a));
}

/* --- the order's entity tag: the strong tag "<id>-<version>", which changes
 * with every change of the order --- */

size_t orderd_http_etag_format(const orderd_order_t *o, char out[ORDERD_HTTP_ETAG_MAX])
{
    char *p = out;
    *p++ = '"';
    orderd_id_format(o->id, p);
    p += ORDERD_ID_LEN;
    *p++ = '-';
    char digits[10];
    size_t n = 0;
    uint32_t v = o->version;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0)
        *p++ = digits[--n];
    *p++ = '"';
    return (size_t)(p - out);
}

void orderd_http_add_etag(h2o_req_t *req, const orderd_order_t *o)
{
    char *tag = h2o_mem_alloc_pool(&req->pool, ORDERD_HTTP_ETAG_MAX);
    size_t len = orderd_http_etag_format(o, tag);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ETAG, NULL, tag, len);
}

int orderd_http_send_order_body(h2o_req_t *req, int status, const orderd_order_t *order, orderd_str_t body)
{
    if (status == 201) {
        static const char prefix[] = "/api/orders/";
        char *loc = h2o_mem_alloc_pool(&req->pool, sizeof(prefix) - 1 + ORDERD_ID_LEN);
        memcpy(loc, prefix, sizeof(prefix) - 1);
        orderd_id_format(order->id, loc + sizeof(prefix) - 1);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL, loc, sizeof(prefix) - 1 + ORDERD_ID_LEN);
    }
    orderd_http_add_etag(req, order);
    send_body(req, status, ctype_json, body);
    return 0;
}

static orderd_str_t problem_body(h2o_req_t *req, orderd_problem_kind_t kind, const orderd_field_error_t *errors,
                                 size_t n_errors, const char *detail)
{
    orderd_alloc_t a = orderd_http_alloc(req);
    h2o_iovec_t instance = orderd_http_request_id(req);
    orderd_problem_t p = {problems[kind].status, problems[kind].type, problems[kind].title, detail, errors, n_errors,
                          {instance.base, instance.len}};
    return orderd_codec_encode_problem(&p, &a);
}

int orderd_http_problem(h2o_req_t *req, orderd_problem_kind_t kind, const orderd_field_error_t *errors,
                        size_t n_errors, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    if (kind == ORDERD_PROBLEM_UNAVAILABLE)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
    send_body(req, problems[kind].status, ctype_problem, problem_body(req, kind, errors, n_errors, detail));
    return 0;
}

int orderd_http_problem_members(h2o_req_t *req, orderd_problem_kind_t kind, const char *members, const char *fmt,
                                ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    orderd_str_t body = problem_body(req, kind, NULL, 0, detail);
    size_t n = strlen(members);
    if (n > 0 && body.len > 0 && body.base[body.len - 1] == '}') {
        /* the problem object, its closing brace replaced by ",members}" */
        char *p = h2o_mem_alloc_pool(&req->pool, body.len + n + 1);
        memcpy(p, body.base, body.len - 1);
        p[body.len - 1] = ',';
        memcpy(p + body.len, members, n);
        p[body.len + n] = '}';
        body = (orderd_str_t){p, body.len + n + 1};
    }
    send_body(req, problems[kind].status, ctype_problem, body);
    return 0;
}

int orderd_http_send_not_modified(h2o_req_t *req, const orderd_order_t *order)
{
    static h2o_generator_t generator = {NULL, NULL};
    orderd_http_add_etag(req, order);
    req->res.status = 304;
    req->res.reason = reason_of(304);
    h2o_start_response(req, &generator);
    h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    return 0;
}

int orderd_http_method_not_allowed(h2o_req_t *req, const char *allow)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, allow, strlen(allow));
    return orderd_http_problem(req, ORDERD_PROBLEM_METHOD, NULL, 0, "%.*s is not allowed here; allowed: %s",
                               (int)(req->method.len > 16 ? 16 : req->method.len), req->method.base, allow);
}

/* --- the problems several endpoints answer --- */

int orderd_http_order_not_found(h2o_req_t *req, orderd_str_t id)
{
    return orderd_http_problem(req, ORDERD_PROBLEM_NOT_FOUND, NULL, 0, "there is no order %.*s",
                               (int)(id.len > ORDERD_ID_LEN ? ORDERD_ID_LEN : id.len), id.base);
}

int orderd_http_unavailable(h2o_req_t *req, int store_err)
{
    return orderd_http_problem(req, ORDERD_PROBLEM_UNAVAILABLE, NULL, 0, "%s",
                               store_err == ORDERD_STORE_EUNAVAILABLE
                                   ? "the journal cannot take writes right now; nothing was changed, retry later"
                                   : "the server is out of memory; nothing was changed");
}

int orderd_http_bad_body(h2o_req_t *req, int decoded, const orderd_decode_report_t *report, const char *what)
{
    if (decoded == ORDERD_DECODE_SYNTAX)
        return orderd_http_problem(req, ORDERD_PROBLEM_MALFORMED, NULL, 0, "the request body is not valid JSON: %s",
                                   report->syntax);
    if (decoded == ORDERD_DECODE_TOO_DEEP)
        return orderd_http_problem(req, ORDERD_PROBLEM_MALFORMED, NULL, 0,
                                   "the request body nests arrays and objects deeper than %d levels; the parse "
                                   "stopped there",
                                   ORDERD_CODEC_MAX_DEPTH);
    return orderd_http_problem(req, ORDERD_PROBLEM_INVALID, report->errors, report->n_errors,
                               "%s breaks %zu rule%s; see errors", what, report->n_errors,
                               report->n_errors == 1 ? "" : "s");
}

int orderd_http_limit_refused(h2o_req_t *req, orderd_store_t *store, orderd_str_t user, int store_err)
{
    const orderd_store_limits_t *l = orderd_store_limits(store);
    switch (store_err) {
    case ORDERD_STORE_ERATELIMIT: {
        char rate[32];
        int64_t secs = orderd_retry_after_seconds(orderd_store_rate_wait_ms(store, user));
        char *value = h2o_mem_alloc_pool(&req->pool, 24);
        int len = snprintf(value, 24, "%lld", (long long)secs);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, value, (size_t)len);
        return orderd_http_problem(req, ORDERD_PROBLEM_RATE_LIMITED, NULL, 0,
                                   "this user may create and cancel %s (bursts of %u); nothing was changed, retry "
                                   "in %lld s",
                                   orderd_rate_format(&l->rate, rate, sizeof(rate)), l->rate.burst, (long long)secs);
    }
    case ORDERD_STORE_EUSERLIMIT:
        return orderd_http_problem(req, ORDERD_PROBLEM_STORAGE, NULL, 0,
                                   "this user already holds the most orders this server keeps for one user (%llu); "
                                   "nothing was changed",
                                   (unsigned long long)l->max_orders_per_user);
    case ORDERD_STORE_EORDERLIMIT:
        return orderd_http_problem(req, ORDERD_PROBLEM_STORAGE, NULL, 0,
                                   "the server already holds the most orders it keeps (%llu); nothing was changed",
                                   (unsigned long long)l->max_orders);
    default:
        return orderd_http_problem(req, ORDERD_PROBLEM_STORAGE, NULL, 0,
                                   "the server's memory is at its limit; nothing was changed, reads still work");
    }
}

int orderd_http_key_mismatch(h2o_req_t *req)
{
    return orderd_http_problem(req, ORDERD_PROBLEM_INVALID, NULL, 0,
                               "this Idempotency-Key was used for a different request; use a new key");
}

/* --- h2o's own errors as problem+json --- */

typedef struct problem_filter {
    h2o_filter_t super;
    orderd_app_t *app;
} problem_filter_t;

/* Swallows the plain-text body h2o wrote and sends the problem instead. */
typedef struct replace_ostream {
    h2o_ostream_t super;
    orderd_str_t body;
} replace_ostream_t;

static void replace_do_send(h2o_ostream_t *_self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt,
                            h2o_send_state_t state)
{
    (void)bufs, (void)bufcnt; /* h2o's own body is dropped: ours replaces it */
    replace_ostream_t *self = (replace_ostream_t *)_self;
    if (h2o_send_state_is_in_progress(state)) {
        h2o_ostream_send_next(&self->super, req, NULL, 0, state);
        return;
    }
    h2o_iovec_t buf = h2o_iovec_init(self->body.base, self->body.len);
    h2o_ostream_send_next(&self->super, req, &buf, 1, state);
}

static int is_problem_response(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
    return i != -1 && h2o_memis(req->res.headers.entries[i].value.base, req->res.headers.entries[i].value.len,
                                ctype_problem.base, ctype_problem.len);
}

static void on_setup_ostream(h2o_filter_t *_self, h2o_req_t *req, h2o_ostream_t **slot)
{
    problem_filter_t *self = (problem_filter_t *)_self;
    if (req->res.status >= 400 && !is_problem_response(req)) {
        orderd_problem_kind_t kind;
        char detail[192];
        switch (req->res.status) {
        case 413:
            kind = ORDERD_PROBLEM_TOO_LARGE;
            snprintf(detail, sizeof(detail), "the request body is larger than %zu bytes", self->app->max_body);
            break;
        case 404:
            kind = ORDERD_PROBLEM_NOT_FOUND;
            snprintf(detail, sizeof(detail), "there is no resource at this path");
            break;
        case 400:
            /* h2o's only 400s that a filter sees: over HTTP/1.x a body it
             * cannot delimit, over HTTP/2 a character it refuses in a header */
            kind = ORDERD_PROBLEM_MALFORMED;
            snprintf(detail, sizeof(detail), "%s",
                     req->version < 0x200 ? "the request body cannot be delimited: a Transfer-Encoding other than "
                                            "chunked, a Content-Length that is not a number, or broken chunked "
                                            "encoding"
                                          : "a header name or value has a character that HTTP/2 does not allow");
            break;
        case 417:
            /* an HTTP/1.1 body announced with an Expect other than 100-continue */
            kind = ORDERD_PROBLEM_MALFORMED;
            snprintf(detail, sizeof(detail), "Expect can only be 100-continue");
            break;
        default:
            kind = req->res.status >= 500 ? ORDERD_PROBLEM_INTERNAL : ORDERD_PROBLEM_MALFORMED;
            snprintf(detail, sizeof(detail), "%s", req->res.reason != NULL ? req->res.reason : "error");
            break;
        }
        orderd_str_t body = problem_body(req, kind, NULL, 0, detail);
        ssize_t i;
        while ((i = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1)) != -1)
            h2o_delete_header(&req->res.headers, i);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype_problem.base,
                       ctype_problem.len);
        req->res.status = problems[kind].status;
        req->res.reason = problems[kind].title;
        req->res.content_length = body.len;
        replace_ostream_t *os = (replace_ostream_t *)h2o_add_ostream(req, sizeof(*os), slot);
        os->super.do_send = replace_do_send;
        os->body = body;
        slot = &os->super.next;
    }
    h2o_setup_next_ostream(req, slot);
}

void orderd_http_problem_filter_register(h2o_pathconf_t *path, orderd_app_t *app)
{
    problem_filter_t *f = (problem_filter_t *)h2o_create_filter(path, sizeof(*f));
    f->super.on_setup_ostream = on_setup_ostream;
    f->app = app;
}
