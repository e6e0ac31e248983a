/* GET /healthz: liveness for load balancers; GET /readyz: readiness (503
 * while the journal replays and once shutdown starts). No identity needed. */
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

/*
 * The API's own paths wait while the journal replays: the table is the
 * replay's until then. A request that comes meanwhile is held, not refused,
 * as it was when nothing listened before replay (the connection then waited
 * in the kernel's backlog): a client that knocks early gets its answer late,
 * never a 503 it did not cause. The gate is the first handler on those paths
 * and declines once serving; the held requests go on to the path's handler
 * from a check every 100 ms on their own thread.
 */
typedef struct held {
    h2o_linklist_t link; /* in the thread's held list; unlinked when dispatched */
    h2o_req_t *req;
    h2o_handler_t *gate;
} held_t;

static int replaying(const orderd_app_t *app)
{
    return atomic_load_explicit(&app->readiness, memory_order_acquire) == ORDERD_READINESS_REPLAYING;
}

/* The client left while its request was held: its pool (and the entry) go. */
static void on_held_dispose(void *p)
{
    held_t *h = p;
    if (h2o_linklist_is_linked(&h->link))
        h2o_linklist_unlink(&h->link);
}

static void on_held_check(h2o_timeout_entry_t *entry)
{
    orderd_http_thread_t *t = H2O_STRUCT_FROM_MEMBER(orderd_http_thread_t, held_check, entry);
    if (h2o_linklist_is_empty(&t->held))
        return;
    held_t *first = H2O_STRUCT_FROM_MEMBER(held_t, link, t->held.next);
    if (replaying(((orderd_handler_t *)first->gate)->app)) {
        h2o_timeout_link(t->ctx.loop, &t->ctx.hundred_ms_timeout, &t->held_check);
        return;
    }
    while (!h2o_linklist_is_empty(&t->held)) {
        held_t *h = H2O_STRUCT_FROM_MEMBER(held_t, link, t->held.next);
        h2o_linklist_unlink(&h->link); /* before the handler: it may answer and free the pool */
        h2o_delegate_request(h->req, h->gate);
    }
}

static int on_gate(h2o_handler_t *self, h2o_req_t *req)
{
    if (!replaying(((orderd_handler_t *)self)->app))
        return -1;
    orderd_http_thread_t *t = (orderd_http_thread_t *)req->conn->ctx;
    if (t->held.next == NULL) {
        h2o_linklist_init_anchor(&t->held);
        t->held_check = (h2o_timeout_entry_t){0};
        t->held_check.cb = on_held_check;
    }
    held_t *h = h2o_mem_alloc_shared(&req->pool, sizeof(*h), on_held_dispose);
    *h = (held_t){.req = req, .gate = self};
    h2o_linklist_insert(&t->held, &h->link);
    if (!h2o_timeout_is_linked(&t->held_check))
        h2o_timeout_link(t->ctx.loop, &t->ctx.hundred_ms_timeout, &t->held_check);
    return 0;
}

void orderd_http_health_register(h2o_hostconf_t *host, orderd_app_t *app)
{
    orderd_http_handler_new(h2o_config_register_path(host, "/healthz", 0), app, on_req);
    orderd_http_handler_new(h2o_config_register_path(host, "/readyz", 0), app, on_ready);
}

void orderd_http_health_gate(h2o_pathconf_t *path, orderd_app_t *app)
{
    orderd_http_handler_first(path, app, on_gate);
}
