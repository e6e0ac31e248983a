#ifndef ORDERD_HTTP_SCRAPE_H
#define ORDERD_HTTP_SCRAPE_H

/*
 * GET /metrics (Prometheus text format) and what it counts in the HTTP
 * layer: each worker thread's block of counters (requests by route and
 * status, durations by route, open connections), written only by that
 * thread and summed at scrape time without a lock (see orderd/metrics.h).
 */

#include <h2o.h>

#include "orderd/http.h"

/**
 * Creates this thread's metrics block, registers it in app->metrics and
 * starts sampling the thread's open connections once a second on its loop.
 * Call on the worker thread. Aborts when out of memory (start-up only).
 */
void orderd_http_metrics_thread_init(orderd_http_thread_t *t, orderd_app_t *app);

/** Registers GET /metrics on `host`. */
void orderd_http_metrics_register(h2o_hostconf_t *host, orderd_app_t *app);

/**
 * Installs the filter that counts every response passing `path` (route,
 * status, duration since the request began) in its thread's block. h2o's
 * configuration owns it. A build with ORDERD_METRICS=0 installs nothing.
 */
void orderd_http_metrics_filter_register(h2o_pathconf_t *path);

/**
 * Counts, in t's block, an HTTP/2 request reset before its answer
 * (goaway 0) or a connection sent GOAWAY for too many of them (goaway 1).
 * Call on t's thread. Cannot fail.
 */
void orderd_http_metrics_h2_reset(orderd_http_thread_t *t, int goaway);

#endif
