/* Puts the API together on one host: resources, the catch-all 404, the
 * HTTP/1.x framing guard and the replay gate in front of them, and the
 * filters every response passes (problem+json, X-Request-Id, counting for
 * /metrics, gzip with --compress on). */
#include "orderd/http.h"

#include <string.h>

#include "admin.h"
#include "compress.h"
#include "cors.h"
#include "events.h"
#include "framing.h"
#include "health.h"
#include "scrape.h"
#include "orders.h"
#include "request_id.h"
#include "respond.h"
#include "webhooks.h"

static int on_unknown_path(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    return orderd_http_problem(req, ORDERD_PROBLEM_NOT_FOUND, NULL, 0, "there is no resource at this path");
}

/* Paths that answer while the journal replays. */
static int answers_during_replay(const h2o_pathconf_t *p)
{
    static const char *const always[] = {"/healthz", "/readyz", "/metrics"};
    for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); ++i)
        if (h2o_memis(p->path.base, p->path.len, always[i], strlen(always[i])))
            return 1;
    return 0;
}

void orderd_http_register(h2o_hostconf_t *host, orderd_app_t *app)
{
    /* h2o takes the first registered path that matches, on a '/' boundary */
    orderd_http_health_register(host, app);
    orderd_http_metrics_register(host, app);
    orderd_http_orders_register(host, app);
    orderd_http_admin_register(host, app);
    orderd_http_events_register(host, app);
    orderd_http_webhooks_register(host, app);
    orderd_http_handler_new(&host->fallback_path, app, on_unknown_path);
    orderd_http_framing_guard(&host->fallback_path, app);

    /* h2o answers some requests itself (an HTTP/1 body over the size limit)
     * before any path is chosen, under the fallback path.
     * h2o_create_filter puts each new filter in front of the path's list, so
     * the one registered first is the last to see a response before h2o's
     * chunked encoder and the protocol: gzip goes first, so that it codes
     * the final body (after the problem filter may have replaced it) and
     * adds accept-encoding to CORS's Vary: Origin; counting next, so /metrics
     * counts the status the client gets (a preflight's 204, not the 405 CORS
     * turned into it); CORS sees the problem filter's 405 and drops its body. */
    orderd_http_compress_filter_register(&host->fallback_path, app);
    orderd_http_metrics_filter_register(&host->fallback_path);
    orderd_http_cors_filter_register(&host->fallback_path, app);
    orderd_http_problem_filter_register(&host->fallback_path, app);
    orderd_http_request_id_filter_register(&host->fallback_path);
    for (size_t i = 0; i < host->paths.size; ++i) {
        if (!answers_during_replay(&host->paths.entries[i]))
            orderd_http_health_gate(&host->paths.entries[i], app);
        /* after the gate, so before it: a request held during replay has passed it */
        orderd_http_framing_guard(&host->paths.entries[i], app);
        orderd_http_compress_filter_register(&host->paths.entries[i], app);
        orderd_http_metrics_filter_register(&host->paths.entries[i]);
        orderd_http_cors_filter_register(&host->paths.entries[i], app);
        orderd_http_problem_filter_register(&host->paths.entries[i], app);
        orderd_http_request_id_filter_register(&host->paths.entries[i]);
    }
}
