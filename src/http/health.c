/* GET /healthz: liveness for load balancers; GET /readyz: readiness (503
 * while the journal replays and once shutdown starts). No identity needed. */
#include "health.h"
#include "respond.h"

#include <string.h>

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    if (req->path_normalized.len != sizeof("/healthz") - 1)
        return orderd_http_problem(req, ORDERD_PROBLEM_NOT_FOUND, NULL, 0, "there is no resource at this path");
    if (!orderd_http_method_is(req, "GET"))
        return orderd_http_method_not_allowed(req, "GET, HEAD");
    return orderd_http_send_json(req, 200, ORDERD_STR("{\"status\":\"ok\"}"));
}

static int on_ready(h2o_handler_t *self, h2o_req_t *req)
{
    orderd_app_t *app = ((orderd_handler_t *)self)->app;
    if (req->path_normalized.len != sizeof("/readyz") - 1)
        return orderd_http_problem(req, ORDERD_PROBLEM_NOT_FOUND, NULL, 0, "there is no resource at this path");
    if (!orderd_http_method_is(req, "GET"))
        return orderd_http_method_not_allowed(req, "GET, HEAD");
    switch (atomic_load_explicit(&app->readiness, memory_order_acquire)) {
    case ORDERD_READINESS_SERVING:
        return orderd_http_send_json(req, 200, ORDERD_STR("{\"status\":\"ready\"}"));
    case ORDERD_READINESS_REPLAYING:
        return orderd_http_problem(req, ORDERD_PROBLEM_UNAVAILABLE, NULL, 0,
                                   "the server is replaying its journal and does not serve the API yet");
    default:
        return orderd_http_problem(req, ORDERD_PROBLEM_UNAVAILABLE, NULL, 0,
                                   "the server is shutting down; send new requests elsewhere");
    }
}

/* The API's own paths answer 503 until replay is done: the table is the
 * replay's until then. First handler on those paths; declines afterwards. */
static int on_gate(h2o_handler_t *self, h2o_req_t *req)
{
    orderd_app_t *app = ((orderd_handler_t *)self)->app;
    if (atomic_load_explicit(&app->readiness, memory_order_acquire) != ORDERD_READINESS_REPLAYING)
        return -1;
    return orderd_http_problem(req, ORDERD_PROBLEM_UNAVAILABLE, NULL, 0,
                               "the server is replaying its journal; retry later");
}

void orderd_http_health_register(h2o_hostconf_t *host, orderd_app_t *app)
{
    orderd_http_handler_new(h2o_config_register_path(host, "/healthz", 0), app, on_req);
    orderd_http_handler_new(h2o_config_register_path(host, "/readyz", 0), app, on_ready);
}

void orderd_http_health_gate(h2o_pathconf_t *path, orderd_app_t *app)
{
    h2o_handler_t *gate = &orderd_http_handler_new(path, app, on_gate)->super;
    /* h2o appended it; it must run before the path's own handler */
    memmove(path->handlers.entries + 1, path->handlers.entries,
            (path->handlers.size - 1) * sizeof(path->handlers.entries[0]));
    path->handlers.entries[0] = gate;
}
