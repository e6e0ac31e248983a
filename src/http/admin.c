/*
 * The operator: its bearer token, and GET /api/admin/orders, every user's
 * orders oldest first (a fulfilment worker's queue, e.g. ?status=pending).
 */
#include <string.h>

#include "admin.h"
#include "query.h"
#include "respond.h"

static const char admin_path[] = "/api/admin/orders";

/* Time depends on the lengths only, never on where the bytes differ. */
static int equal_constant_time(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char diff = alen != blen;
    size_t n = alen < blen ? alen : blen;
    for (size_t i = 0; i < n; ++i)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

int orderd_http_operator_check(h2o_req_t *req, orderd_app_t *app)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    h2o_iovec_t v = i != -1 ? req->headers.entries[i].value : h2o_iovec_init(NULL, 0);
    size_t skip = sizeof("Bearer ") - 1;
    if (i == -1 || h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, i) != -1 || v.len <= skip ||
        !h2o_lcstris(v.base, skip - 1, H2O_STRLIT("bearer")) || v.base[skip - 1] != ' ') {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
                       H2O_STRLIT("Bearer realm=\"orderd-operator\""));
        orderd_http_problem(req, ORDERD_PROBLEM_UNAUTHORIZED, NULL, 0,
                            "this endpoint needs the operator's Authorization: Bearer <token>");
        return -1;
    }
    while (skip < v.len && v.base[skip] == ' ')
        ++skip;
    if (app->operator_token_len == 0 ||
        !equal_constant_time(v.base + skip, v.len - skip, app->operator_token, app->operator_token_len)) {
        orderd_http_problem(req, ORDERD_PROBLEM_FORBIDDEN, NULL, 0, "the bearer token is not the operator's");
        return -1;
    }
    return 0;
}

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    orderd_app_t *app = ((orderd_handler_t *)_self)->app;
    if (req->path_normalized.len != sizeof(admin_path) - 1)
        return orderd_http_problem(req, ORDERD_PROBLEM_NOT_FOUND, NULL, 0, "there is no resource at this path");
    if (!orderd_http_method_is(req, "GET"))
        return orderd_http_method_not_allowed(req, "GET, HEAD");
    if (orderd_http_operator_check(req, app) != 0)
        return 0;
    orderd_list_query_t q;
    if (orderd_http_list_query(req, &q) != 0)
        return 0;
    orderd_alloc_t a = orderd_http_alloc(req);
    orderd_store_page_t page;
    if (orderd_store_admin_page(app->store, &q.page, &a, &page) != ORDERD_STORE_OK)
        return orderd_http_problem(req, ORDERD_PROBLEM_UNAVAILABLE, NULL, 0,
                                   "the server is out of memory; nothing was changed");
    return orderd_http_send_page(req, admin_path, &q, &page);
}

void orderd_http_admin_register(h2o_hostconf_t *host, orderd_app_t *app)
{
    orderd_http_handler_new(h2o_config_register_path(host, admin_path, 0), app, on_req);
}
