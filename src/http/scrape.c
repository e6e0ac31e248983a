/* GET /metrics: every worker's counters, the journal's and the table's, in
 * the Prometheus text exposition format (version 0.0.4). */
#include "scrape.h"
#include "respond.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "orderd/metrics.h"
#include "orderd/order.h"

/* The route label: the route table's templates, so the label set stays small
 * whatever paths clients send. */
static const char *const route_names[] = {
    "/api/orders",        "/api/orders/create",      "/api/orders/{id}",  "/api/orders/{id}/cancel",
    "/api/orders/{id}/status", "/api/orders/{id}/events", "/api/admin/orders", "/healthz",
    "/readyz",            "/metrics",
    /* 10..: the operations after checkout */
    "/api/orders/{id}/edit", "/api/orders/{id}/shipments", "/api/orders/{id}/shipments/{shipment_id}/delivered",
    "/api/orders/{id}/returns", "/api/orders/{id}/returns/{return_id}/approve",
    "/api/orders/{id}/returns/{return_id}/reject", "/api/orders/{id}/returns/{return_id}/received",
    "/api/orders/{id}/refunds",
    /* 18 */
    "/api/admin/events", "/api/admin/webhooks", "other",
};
#define N_ROUTES (sizeof(route_names) / sizeof(route_names[0]))
#define ROUTE_OTHER (N_ROUTES - 1)

/* Every status orderd answers; anything else is counted as "other". */
static const int status_codes[] = {200, 201, 204, 304, 400, 401, 403, 404, 405, 409,
                                   410, 412, 413, 415, 422, 429, 500, 503, 507};
#define N_STATUSES (sizeof(status_codes) / sizeof(status_codes[0]) + 1)

/* Connections are sampled this often by each worker (and at a scrape by the
 * worker answering it). */
#define CONN_SAMPLE_MS 1000

struct orderd_http_metrics_thread {
    _Atomic uint64_t requests[N_ROUTES][N_STATUSES];
    orderd_histogram_t duration[N_ROUTES];
    _Atomic uint64_t conns_h1, conns_h2; /* gauges, sampled */
    _Atomic uint64_t conns_tls; /* gauge, counted: +1 at accept, -1 at close */
    _Atomic uint64_t refused, accept_pauses; /* counters (orderd/accept.h) */
    _Atomic uint64_t h2_resets, h2_reset_goaways; /* src/http/rapid_reset.c */
    h2o_timeout_t sample_timeout;
    h2o_timeout_entry_t sample;
    orderd_http_thread_t *thread;
} __attribute__((aligned(64)));

struct orderd_http_metrics {
    pthread_mutex_t mu; /* guards the list; taken at thread start and by scrapes, never per request */
    struct orderd_http_metrics_thread **blocks;
    size_t n, cap;
};

orderd_http_metrics_t *orderd_http_metrics_new(void)
{
    orderd_http_metrics_t *m = calloc(1, sizeof(*m));
    if (m != NULL)
        pthread_mutex_init(&m->mu, NULL);
    return m;
}

/* --- counting, on the worker's own thread --- */

/* ORDERD_METRICS=0 (cmake -DORDERD_METRICS=OFF) compiles the counting filter
 * out, for bench/metrics.sh to measure what it costs. */
#if ORDERD_METRICS
/* "/edit", "/shipments", "/shipments/{s}/delivered", ... after an order's id */
static size_t route_of_operation(const char *p, size_t n)
{
    static const struct {
        const char *head, *tail; /* a sub-resource id comes between them (tail NULL: none) */
        size_t route;
    } ops[] = {{"/edit", NULL, 10},          {"/shipments", NULL, 11},        {"/shipments/", "/delivered", 12},
               {"/returns", NULL, 13},       {"/returns/", "/approve", 14},   {"/returns/", "/reject", 15},
               {"/returns/", "/received", 16}, {"/refunds", NULL, 17}};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); ++i) {
        size_t h = strlen(ops[i].head);
        if (ops[i].tail == NULL) {
            if (h2o_memis(p, n, ops[i].head, h))
                return ops[i].route;
            continue;
        }
        size_t t = strlen(ops[i].tail);
        if (n > h + t && memcmp(p, ops[i].head, h) == 0 && memcmp(p + n - t, ops[i].tail, t) == 0 &&
            memchr(p + h, '/', n - h - t) == NULL)
            return ops[i].route;
    }
    return ROUTE_OTHER;
}

static size_t route_of(h2o_iovec_t p)
{
    static const char api[] = "/api/orders";
    if (h2o_memis(p.base, p.len, H2O_STRLIT("/api/admin/orders")))
        return 6;
    if (h2o_memis(p.base, p.len, H2O_STRLIT("/api/admin/events")))
        return 18;
    if (h2o_memis(p.base, p.len, H2O_STRLIT("/api/admin/webhooks")))
        return 19;
    if (h2o_memis(p.base, p.len, H2O_STRLIT("/healthz")))
        return 7;
    if (h2o_memis(p.base, p.len, H2O_STRLIT("/readyz")))
        return 8;
    if (h2o_memis(p.base, p.len, H2O_STRLIT("/metrics")))
        return 9;
    if (p.len < sizeof(api) - 1 || memcmp(p.base, api, sizeof(api) - 1) != 0)
        return ROUTE_OTHER;
    const char *rest = p.base + sizeof(api) - 1;
    size_t n = p.len - (sizeof(api) - 1);
    if (n == 0)
        return 0;
    if (rest[0] != '/' || n == 1)
        return ROUTE_OTHER;
    if (h2o_memis(rest, n, H2O_STRLIT("/create")))
        return 1;
    const char *slash = memchr(rest + 1, '/', n - 1);
    if (slash == NULL)
        return 2;
    size_t tail = n - (size_t)(slash - rest);
    if (h2o_memis(slash, tail, H2O_STRLIT("/cancel")))
        return 3;
    if (h2o_memis(slash, tail, H2O_STRLIT("/status")))
        return 4;
    if (h2o_memis(slash, tail, H2O_STRLIT("/events")))
        return 5;
    return route_of_operation(slash, tail);
}

static size_t status_index(int status)
{
    for (size_t i = 0; i < N_STATUSES - 1; ++i)
        if (status_codes[i] == status)
            return i;
    return N_STATUSES - 1;
}

static uint64_t since_ns(struct timeval *begin)
{
    if (h2o_timeval_is_null(begin))
        return 0;
    struct timeval now;
    gettimeofday(&now, NULL);
    int64_t us = (int64_t)(now.tv_sec - begin->tv_sec) * 1000000 + (now.tv_usec - begin->tv_usec);
    return us > 0 ? (uint64_t)us * 1000 : 0;
}

/* Runs as each response starts: after a change is durable, for a create or
 * cancel, so the duration covers the wait for the journal. */
static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    (void)self;
    orderd_http_thread_t *t = H2O_STRUCT_FROM_MEMBER(orderd_http_thread_t, ctx, req->conn->ctx);
    struct orderd_http_metrics_thread *b = t->metrics;
    if (b != NULL) {
        size_t r = route_of(req->path_normalized);
        orderd_counter_add(&b->requests[r][status_index(req->res.status)], 1);
        orderd_histogram_observe(&b->duration[r], since_ns(&req->timestamps.request_begin_at));
    }
    h2o_setup_next_ostream(req, slot);
}

void orderd_http_metrics_filter_register(h2o_pathconf_t *path)
{
    h2o_filter_t *f = h2o_create_filter(path, sizeof(*f));
    f->on_setup_ostream = on_setup_ostream;
}
#else
void orderd_http_metrics_filter_register(h2o_pathconf_t *path)
{
    (void)path;
}
#endif

void orderd_http_metrics_connection(orderd_http_thread_t *t, orderd_http_conn_event_t ev)
{
    struct orderd_http_metrics_thread *b = t->metrics;
    if (b == NULL)
        return;
    switch (ev) {
    case ORDERD_HTTP_CONN_TLS_OPENED:
        orderd_counter_add(&b->conns_tls, 1);
        break;
    case ORDERD_HTTP_CONN_TLS_CLOSED:
        orderd_counter_add(&b->conns_tls, UINT64_MAX); /* -1: one writer, so it never goes below zero */
        break;
    case ORDERD_HTTP_CONN_REFUSED:
        orderd_counter_add(&b->refused, 1);
        break;
    case ORDERD_HTTP_CONN_ACCEPT_PAUSED:
        orderd_counter_add(&b->accept_pauses, 1);
        break;
    }
}

void orderd_http_metrics_h2_reset(orderd_http_thread_t *t, int goaway)
{
    struct orderd_http_metrics_thread *b = t->metrics;
    if (b != NULL)
        orderd_counter_add(goaway ? &b->h2_reset_goaways : &b->h2_resets, 1);
}

static uint64_t list_length(const h2o_linklist_t *l)
{
    uint64_t n = 0;
    for (const h2o_linklist_t *p = l->next; p != l; p = p->next)
        ++n;
    return n;
}

/* h2o keeps each protocol's connections in a list on the thread's context,
 * which only this thread may walk. */
static void sample_connections(struct orderd_http_metrics_thread *b)
{
    h2o_context_t *ctx = &b->thread->ctx;
    atomic_store_explicit(&b->conns_h1, list_length(&ctx->http1._conns), memory_order_relaxed);
    atomic_store_explicit(&b->conns_h2, list_length(&ctx->http2._conns), memory_order_relaxed);
}

static void on_sample(h2o_timeout_entry_t *entry)
{
    struct orderd_http_metrics_thread *b = H2O_STRUCT_FROM_MEMBER(struct orderd_http_metrics_thread, sample, entry);
    sample_connections(b);
    h2o_timeout_link(b->thread->ctx.loop, &b->sample_timeout, &b->sample);
}

void orderd_http_metrics_thread_init(orderd_http_thread_t *t, orderd_app_t *app)
{
    struct orderd_http_metrics_thread *b = aligned_alloc(64, sizeof(*b));
    orderd_http_metrics_t *m = app->metrics;
    if (b == NULL)
        h2o_fatal("out of memory");
    memset(b, 0, sizeof(*b));
    for (size_t r = 0; r < N_ROUTES; ++r)
        orderd_histogram_init(&b->duration[r], &orderd_buckets_seconds);
    b->thread = t;
    t->metrics = b;
    h2o_timeout_init(t->ctx.loop, &b->sample_timeout, CONN_SAMPLE_MS);
    b->sample.cb = on_sample;
    h2o_timeout_link(t->ctx.loop, &b->sample_timeout, &b->sample);
    pthread_mutex_lock(&m->mu);
    if (m->n == m->cap) {
        size_t ncap = m->cap == 0 ? 16 : m->cap * 2;
        void *nb = realloc(m->blocks, ncap * sizeof(*m->blocks));
        if (nb == NULL)
            h2o_fatal("out of memory");
        m->blocks = nb;
        m->cap = ncap;
    }
    m->blocks[m->n++] = b;
    pthread_mutex_unlock(&m->mu);
}

/* --- the scrape --- */

static void render_http(orderd_metrics_text_t *t, orderd_http_metrics_t *m)
{
    uint64_t requests[N_ROUTES][N_STATUSES] = {{0}};
    orderd_histogram_sum_t duration[N_ROUTES];
    uint64_t h1 = 0, h2 = 0, tls = 0, refused = 0, pauses = 0, resets = 0, goaways = 0;
    char labels[160];

    memset(duration, 0, sizeof(duration));
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n; ++i) {
        struct orderd_http_metrics_thread *b = m->blocks[i];
        for (size_t r = 0; r < N_ROUTES; ++r) {
            for (size_t s = 0; s < N_STATUSES; ++s)
                requests[r][s] += orderd_counter_get(&b->requests[r][s]);
            orderd_histogram_add_to(&b->duration[r], &duration[r]);
        }
        h1 += orderd_counter_get(&b->conns_h1);
        h2 += orderd_counter_get(&b->conns_h2);
        tls += orderd_counter_get(&b->conns_tls);
        refused += orderd_counter_get(&b->refused);
        pauses += orderd_counter_get(&b->accept_pauses);
        resets += orderd_counter_get(&b->h2_resets);
        goaways += orderd_counter_get(&b->h2_reset_goaways);
    }
    pthread_mutex_unlock(&m->mu);

    orderd_metrics_family(t, "orderd_http_requests_total", "counter",
                          "HTTP responses by route (the route table's template) and status code.");
    for (size_t r = 0; r < N_ROUTES; ++r) {
        for (size_t s = 0; s < N_STATUSES; ++s) {
            if (requests[r][s] == 0)
                continue;
            char code[8];
            if (s < N_STATUSES - 1)
                snprintf(code, sizeof(code), "%d", status_codes[s]);
            else
                snprintf(code, sizeof(code), "other");
            snprintf(labels, sizeof(labels), "route=\"%s\",code=\"%s\"", route_names[r], code);
            orderd_metrics_sample(t, "orderd_http_requests_total", labels, (double)requests[r][s]);
        }
    }
    orderd_metrics_family(t, "orderd_http_request_duration_seconds", "histogram",
                          "Time from a request's first byte to the start of its response, by route.");
    for (size_t r = 0; r < N_ROUTES; ++r) {
        uint64_t seen = 0;
        for (unsigned i = 0; i <= orderd_buckets_seconds.n; ++i)
            seen += duration[r].counts[i];
        if (seen == 0)
            continue;
        snprintf(labels, sizeof(labels), "route=\"%s\"", route_names[r]);
        orderd_metrics_histogram(t, "orderd_http_request_duration_seconds", labels, &duration[r]);
    }
    orderd_metrics_family(t, "orderd_http_open_connections", "gauge",
                          "Open client connections: h1 and h2 by HTTP version (sampled by each worker once a "
                          "second), tls those on TLS listeners whatever their version, handshakes included "
                          "(counted at accept and close), so a TLS h2 connection is in both h2 and tls.");
    orderd_metrics_sample(t, "orderd_http_open_connections", "protocol=\"h1\"", (double)h1);
    orderd_metrics_sample(t, "orderd_http_open_connections", "protocol=\"h2\"", (double)h2);
    orderd_metrics_sample(t, "orderd_http_open_connections", "protocol=\"tls\"", (double)tls);
    orderd_metrics_family(t, "orderd_http_connections_refused_total", "counter",
                          "Connections reset as soon as accepted because --max-connections were open.");
    orderd_metrics_sample(t, "orderd_http_connections_refused_total", NULL, (double)refused);
    orderd_metrics_family(t, "orderd_http_accept_pauses_total", "counter",
                          "Times a worker stopped accepting for a moment because accept() found no "
                          "file descriptor (or memory) free.");
    orderd_metrics_sample(t, "orderd_http_accept_pauses_total", NULL, (double)pauses);
    orderd_metrics_family(t, "orderd_http2_early_resets_total", "counter",
                          "HTTP/2 requests whose client reset the stream while the answer was pending "
                          "(counted toward --http2-max-resets).");
    orderd_metrics_sample(t, "orderd_http2_early_resets_total", NULL, (double)resets);
    orderd_metrics_family(t, "orderd_http2_reset_goaways_total", "counter",
                          "HTTP/2 connections sent GOAWAY (ENHANCE_YOUR_CALM) and closed for more than "
                          "--http2-max-resets early resets in 10 s.");
    orderd_metrics_sample(t, "orderd_http2_reset_goaways_total", NULL, (double)goaways);
}

static void render_table(orderd_metrics_text_t *t, orderd_app_t *app)
{
    size_t by_status[ORDERD_STATUS_COUNT];
    char labels[64];
    orderd_store_count_by_status(app->store, by_status);
    orderd_metrics_family(t, "orderd_orders", "gauge", "Orders in the table by status.");
    for (int s = 0; s < ORDERD_STATUS_COUNT; ++s) {
        snprintf(labels, sizeof(labels), "status=\"%s\"", orderd_status_name((orderd_status_t)s));
        orderd_metrics_sample(t, "orderd_orders", labels, (double)by_status[s]);
    }
    orderd_metrics_family(t, "orderd_idempotency_keys", "gauge", "Idempotency keys held.");
    orderd_metrics_sample(t, "orderd_idempotency_keys", NULL, (double)orderd_store_idem_count(app->store));
    orderd_store_refusals_t r;
    orderd_store_refusals(app->store, &r);
    orderd_metrics_family(t, "orderd_rate_limited_total", "counter",
                          "Creates and cancels refused with 429 by --rate-limit-per-user.");
    orderd_metrics_sample(t, "orderd_rate_limited_total", NULL, (double)r.rate);
    orderd_metrics_family(t, "orderd_quota_refused_total", "counter",
                          "Writes refused with 507, by the limit reached (--max-orders-per-user, --max-orders, "
                          "--memory-limit).");
    orderd_metrics_sample(t, "orderd_quota_refused_total", "limit=\"orders_per_user\"", (double)r.orders_per_user);
    orderd_metrics_sample(t, "orderd_quota_refused_total", "limit=\"orders\"", (double)r.orders);
    orderd_metrics_sample(t, "orderd_quota_refused_total", "limit=\"memory\"", (double)r.memory);
    orderd_metrics_family(t, "orderd_memory_in_use_bytes", "gauge",
                          "Heap the process holds, as --memory-limit measures it (jemalloc's stats.allocated), "
                          "read at the scrape.");
    orderd_metrics_sample(t, "orderd_memory_in_use_bytes", NULL, (double)orderd_quota_memory_in_use());
    orderd_metrics_family(t, "orderd_memory_limit_bytes", "gauge", "--memory-limit; 0: none.");
    orderd_metrics_sample(t, "orderd_memory_limit_bytes", NULL, (double)orderd_store_limits(app->store)->memory_bytes);
    orderd_metrics_family(t, "orderd_replay_duration_seconds", "gauge", "How long replaying the journal took at start-up.");
    orderd_metrics_sample(t, "orderd_replay_duration_seconds", NULL, (double)app->replay_ns * 1e-9);
}

static void render_journal(orderd_metrics_text_t *t, orderd_wal_t *wal)
{
    orderd_wal_stats_t st;
    orderd_wal_histograms_t h;
    memset(&h, 0, sizeof(h));
    orderd_wal_stats(wal, &st);
    orderd_wal_histograms(wal, &h);
    static const struct {
        const char *name, *help;
        size_t offset;
    } counters[] = {
        {"orderd_journal_records_total", "Records written to the journal.", offsetof(orderd_wal_stats_t, records)},
        {"orderd_journal_commits_total", "Group commits that wrote records.", offsetof(orderd_wal_stats_t, batches)},
        {"orderd_journal_written_bytes_total", "Record bytes written to the journal.", offsetof(orderd_wal_stats_t, bytes)},
        {"orderd_journal_segments_created_total", "Journal segments started by this process.",
         offsetof(orderd_wal_stats_t, segments)},
        {"orderd_journal_fdatasyncs_total", "fdatasync calls on the journal.", offsetof(orderd_wal_stats_t, syncs)},
        {"orderd_journal_write_failures_total", "Journal writes that failed (their changes were undone, answered 503).",
         offsetof(orderd_wal_stats_t, write_failures)},
        {"orderd_snapshots_written_total", "Snapshots written.", offsetof(orderd_wal_stats_t, snapshots)},
    };
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); ++i) {
        uint64_t v;
        memcpy(&v, (const char *)&st + counters[i].offset, sizeof(v));
        orderd_metrics_family(t, counters[i].name, "counter", counters[i].help);
        orderd_metrics_sample(t, counters[i].name, NULL, (double)v);
    }
    orderd_metrics_family(t, "orderd_journal_fdatasync_duration_seconds", "histogram", "Duration of each journal fdatasync.");
    orderd_metrics_histogram(t, "orderd_journal_fdatasync_duration_seconds", NULL, &h.fdatasync_seconds);
    orderd_metrics_family(t, "orderd_journal_commit_records", "histogram", "Records per group commit.");
    orderd_metrics_histogram(t, "orderd_journal_commit_records", NULL, &h.batch_records);
    orderd_metrics_family(t, "orderd_snapshot_duration_seconds", "histogram", "Duration of each snapshot, start to durable.");
    orderd_metrics_histogram(t, "orderd_snapshot_duration_seconds", NULL, &h.snapshot_seconds);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    orderd_app_t *app = ((orderd_handler_t *)self)->app;
    if (req->path_normalized.len != sizeof("/metrics") - 1)
        return orderd_http_problem(req, ORDERD_PROBLEM_NOT_FOUND, NULL, 0, "there is no resource at this path");
    if (!orderd_http_method_is(req, "GET"))
        return orderd_http_method_not_allowed(req, "GET, HEAD");

    orderd_http_thread_t *thread = H2O_STRUCT_FROM_MEMBER(orderd_http_thread_t, ctx, req->conn->ctx);
    if (thread->metrics != NULL)
        sample_connections(thread->metrics);
    int readiness = atomic_load_explicit(&app->readiness, memory_order_acquire);
    orderd_metrics_text_t t = {0};
    orderd_metrics_family(&t, "orderd_build_info", "gauge", "The running build: orderd's version and libh2o's.");
    orderd_metrics_sample(&t, "orderd_build_info", "version=\"" ORDERD_VERSION "\",libh2o=\"" H2O_VERSION "\"", 1);
    orderd_metrics_family(&t, "orderd_ready", "gauge", "1 while /readyz answers 200, else 0.");
    orderd_metrics_sample(&t, "orderd_ready", NULL, readiness == ORDERD_READINESS_SERVING);
    render_http(&t, app->metrics);
    /* the table and the journal are the replay's until it is done */
    if (readiness != ORDERD_READINESS_REPLAYING) {
        render_table(&t, app);
        if (app->wal != NULL)
            render_journal(&t, app->wal);
    }
    if (t.failed) {
        orderd_metrics_text_free(&t);
        return orderd_http_unavailable(req, 0);
    }
    char *body = h2o_mem_alloc_pool(&req->pool, t.len);
    memcpy(body, t.buf, t.len);
    orderd_str_t out = {body, t.len};
    orderd_metrics_text_free(&t);
    return orderd_http_send_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", out);
}

void orderd_http_metrics_register(h2o_hostconf_t *host, orderd_app_t *app)
{
    orderd_http_handler_new(h2o_config_register_path(host, "/metrics", 0), app, on_req);
}
