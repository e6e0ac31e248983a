/* GET /healthz: liveness for load balancers; no identity needed. */
#include "health.h"
#include "respond.h"

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    if (req->path_normalized.len != sizeof("/healthz") - 1)
        return orderd_http_problem(req, ORDERD_PROBLEM_NOT_FOUND, NULL, 0, "there is no resource at this path");
    if (!orderd_http_method_is(req, "GET"))
        return orderd_http_method_not_allowed(req, "GET, HEAD");
    return orderd_http_send_json(req, 200, ORDERD_STR("{\"status\":\"ok\"}"));
}

void orderd_http_health_register(h2o_hostconf_t *host, orderd_app_t *app)
{
    orderd_http_handler_new(h2o_config_register_path(host, "/healthz", 0), app, on_req);
}
