#include "cors.h"

#include <string.h>

typedef struct cors_filter {
    h2o_filter_t super;
    orderd_app_t *app;
} cors_filter_t;

#define MAX_AGE "600"

static const h2o_iovec_t expose = {H2O_STRLIT("ETag, Link, Location, X-Request-Id, Idempotent-Replayed")};
/* the request headers the API reads */
static const h2o_iovec_t allow_headers = {
    H2O_STRLIT("Content-Type, X-User-Id, Authorization, Idempotency-Key, If-Match, If-None-Match, X-Request-Id")};

/* The Access-Control-Allow-Origin value for the request's Origin; len 0:
 * not listed (or no Origin). */
static h2o_iovec_t allowed_origin(const orderd_app_t *app, h2o_req_t *req)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1);
    if (i == -1)
        return h2o_iovec_init(NULL, 0);
    h2o_iovec_t origin = req->headers.entries[i].value;
    for (size_t k = 0; k < app->ncors_origins; ++k) {
        if (strcmp(app->cors_origins[k], "*") == 0)
            return h2o_iovec_init(H2O_STRLIT("*"));
        if (h2o_memis(origin.base, origin.len, app->cors_origins[k], strlen(app->cors_origins[k])))
            return origin;
    }
    return h2o_iovec_init(NULL, 0);
}

/* Drops the 405's problem body: a 204 has none. */
static void drop_do_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt,
                         h2o_send_state_t state)
{
    (void)bufs, (void)bufcnt;
    h2o_ostream_send_next(self, req, NULL, 0, state);
}

static void add(h2o_req_t *req, const char *name, size_t len, h2o_iovec_t value)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, len, 0, NULL, value.base, value.len);
}

static void delete_all(h2o_headers_t *headers, const h2o_token_t *token)
{
    ssize_t i;
    while ((i = h2o_find_header(headers, token, -1)) != -1)
        h2o_delete_header(headers, i);
}

static void on_setup_ostream(h2o_filter_t *_self, h2o_req_t *req, h2o_ostream_t **slot)
{
    cors_filter_t *self = (cors_filter_t *)_self;
    h2o_iovec_t origin = allowed_origin(self->app, req);
    if (origin.len == 0)
        goto next;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN, NULL, origin.base, origin.len);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Origin"));
    ssize_t allow = h2o_find_header(&req->res.headers, H2O_TOKEN_ALLOW, -1);
    int preflight = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS")) &&
                    h2o_find_header_by_str(&req->headers, H2O_STRLIT("access-control-request-method"), -1) != -1;
    if (!preflight || req->res.status != 405 || allow == -1) {
        add(req, H2O_STRLIT("access-control-expose-headers"), expose);
        goto next;
    }
    h2o_iovec_t methods = req->res.headers.entries[allow].value;
    h2o_delete_header(&req->res.headers, allow);
    delete_all(&req->res.headers, H2O_TOKEN_CONTENT_TYPE);
    add(req, H2O_STRLIT("access-control-allow-methods"), methods);
    add(req, H2O_STRLIT("access-control-allow-headers"), allow_headers);
    add(req, H2O_STRLIT("access-control-max-age"), h2o_iovec_init(H2O_STRLIT(MAX_AGE)));
    req->res.status = 204;
    req->res.reason = "No Content";
    req->res.content_length = SIZE_MAX;
    h2o_ostream_t *os = h2o_add_ostream(req, sizeof(*os), slot);
    os->do_send = drop_do_send;
    slot = &os->next;
next:
    h2o_setup_next_ostream(req, slot);
}

void orderd_http_cors_filter_register(h2o_pathconf_t *path, orderd_app_t *app)
{
    if (app->ncors_origins == 0)
        return;
    cors_filter_t *f = (cors_filter_t *)h2o_create_filter(path, sizeof(*f));
    f->super.on_setup_ostream = on_setup_ostream;
    f->app = app;
}
