/*
 * The operator's endpoints: GET /api/admin/orders, every user's orders
 * oldest first (a fulfilment worker's queue, e.g. ?status=pending).
 */
#include "admin.h"
#include "identity.h"
#include "query.h"
#include "respond.h"

static const char admin_path[] = "/api/admin/orders";

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
