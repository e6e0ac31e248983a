#include "orderd/server.h"
#include "orderd/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <h2o.h>

#include <sys/file.h>

#include "internal/crc32c.h"
#include "internal/files.h"
#include "internal/listen.h"
#include "internal/server_data.h"
#include "orderd/accept.h"
#include "orderd/access_log.h"
#include "orderd/http.h"
#include "orderd/journal.h"
#include "orderd/notify.h"
#include "orderd/operator.h"
#include "orderd/store.h"
#include "orderd/tls.h"
#include "orderd/feed.h"
#include "orderd/wal.h"
#include "orderd/webhook.h"

/* Whole drain budget after SIGINT/SIGTERM; the process exits 0 within it. */
#define SHUTDOWN_BUDGET_MS 4500
/* HTTP/2 connections still open this long after the second GOAWAY are closed. */
#define H2_GRACEFUL_TIMEOUT_MS 2000

/* h2o turns h2c on or off per globalconf, so listeners with and without
 * HTTP/2 need one each (and one h2o context each per worker). */
#define MAX_CONFS 2

/* "https://[" + a 255-byte host + "]:65535" */
#define LISTENER_URL_MAX 300

typedef struct server server_t;

typedef struct worker {
    server_t *server;
    pthread_t tid;
    h2o_evloop_t *loop;
    orderd_http_thread_t http[MAX_CONFS]; /* one h2o context per globalconf in use */
    orderd_accept_worker_t accept;        /* its listeners, one per --listen */
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t control;
    orderd_tls_receiver_t tls; /* new certificates on SIGHUP */
    int stopping;
    atomic_int finished;
} worker_t;

struct server {
    const orderd_config_t *cfg;
    h2o_globalconf_t globalconf[MAX_CONFS];
    unsigned nconfs;
    unsigned conf_of[ORDERD_MAX_LISTENERS];  /* listener -> its globalconf */
    SSL_CTX *ssl_ctx[ORDERD_MAX_LISTENERS];  /* the current context of each TLS listener (NULL: cleartext) */
    uint16_t bound_port[ORDERD_MAX_LISTENERS];
    orderd_app_t app;
    orderd_access_log_t *access_log; /* --access-log; NULL: off */
    orderd_accept_budget_t budget;   /* --max-connections, all workers together */
    pthread_barrier_t ready; /* every worker has its loop and receivers */
    worker_t *workers;
    unsigned nworkers;
};

/* --- start-up steps --- */

static unsigned shard_count(unsigned threads)
{
    unsigned want = threads * 16, n = 64;
    while (n < want && n < ORDERD_STORE_MAX_SHARDS)
        n <<= 1;
    return n;
}

/* The operator's bearer token; where it is goes to `said`, for the log, so a
 * generated one can be found. */
static int load_operator_token(server_t *s, char *said, size_t said_len)
{
    char path[4300], err[4500];
    int created;
    if (orderd_operator_token_load(s->cfg->operator_token_file, s->cfg->data_dir, s->app.operator_token,
                                   sizeof(s->app.operator_token), &s->app.operator_token_len, path, sizeof(path),
                                   &created, err, sizeof(err)) != 0) {
        orderd_log(ORDERD_LOG_ERROR, "%s", err);
        return -1;
    }
    snprintf(said, said_len, "operator token %s %s", created ? "created in" : "read from", path);
    return 0;
}

/* Each --listen's sockets, one per worker (src/internal/listen.c). */
static int open_listeners(server_t *s)
{
    int fds[1024]; /* --threads is at most 1024 */
    for (unsigned li = 0; li < s->cfg->nlisteners; ++li)
        if (orderd_listen_probe(s->cfg->listeners[li].host, s->cfg->listeners[li].port) != 0)
            return -1; /* another process serves it: joining its SO_REUSEPORT group would split the traffic */
    for (unsigned li = 0; li < s->cfg->nlisteners; ++li) {
        const orderd_listener_config_t *l = &s->cfg->listeners[li];
        if (orderd_listen_open(l->host, l->port, fds, s->nworkers, &s->bound_port[li]) != 0)
            return -1; /* start-up fails: the process exits */
        for (unsigned i = 0; i < s->nworkers; ++i)
            s->workers[i].accept.listeners[li].fd = fds[i];
    }
    return 0;
}

/* Each TLS listener's first context; a file that cannot be used stops the start. */
static int load_certificates(server_t *s)
{
    char err[1024];
    for (unsigned i = 0; i < s->cfg->nlisteners; ++i) {
        if (s->cfg->listeners[i].tls_cert == NULL)
            continue;
        if ((s->ssl_ctx[i] = orderd_tls_context_new(&s->cfg->listeners[i], err, sizeof(err))) == NULL) {
            orderd_log(ORDERD_LOG_ERROR, "%s", err);
            return -1;
        }
    }
    return 0;
}

/* --user-auth jwt: the keys, before any thread starts (a worker takes its
 * reference at its start); what was loaded goes to `said`, for the log. */
static int load_jwt_keys(server_t *s, char *said, size_t said_len)
{
    char msg[1024];
    said[0] = '\0';
    if (!s->cfg->user_auth_jwt)
        return 0;
    if ((s->app.jwt = orderd_jwt_verifier_new(&s->cfg->jwt, msg, sizeof(msg))) == NULL) {
        orderd_log(ORDERD_LOG_ERROR, "%s", msg);
        return -1;
    }
    snprintf(said, said_len, "--user-auth jwt: %s", msg);
    return 0;
}

/* --access-log, before any thread starts (orderd_access_log_open says why). */
static int open_access_log(server_t *s)
{
    char err[4300];
    if (s->cfg->access_log == NULL)
        return 0;
    if ((s->access_log = orderd_access_log_open(s->cfg->access_log, s->cfg->ntrusted_proxies > 0, err, sizeof(err))) == NULL) {
        orderd_log(ORDERD_LOG_ERROR, "%s", err);
        return -1;
    }
    return 0;
}

/* The h2o configuration of one globalconf: all alike but for h2c. */
static void init_globalconf(server_t *s, h2o_globalconf_t *gc, int http2)
{
    h2o_config_init(gc);
    gc->server_name = h2o_iovec_init(H2O_STRLIT("orderd"));
    /* h2o reads bodies up to this size; handlers answer 413 past --max-body.
     * The slack lets HTTP/2 clients get a 413 rather than a stream reset for
     * bodies up to twice the limit. */
    gc->max_request_entity_size = s->cfg->max_body * 2 + 65536;
    gc->http2.graceful_shutdown_timeout = H2_GRACEFUL_TIMEOUT_MS;
    orderd_accept_set_timeouts(s->cfg, gc);
    /* streams of one connection past this wait in h2o's queue, unread; a
     * stream reset before its answer frees its place at once, which
     * --http2-max-resets bounds (src/http/rapid_reset.c) */
    gc->http2.max_concurrent_requests_per_connection = s->cfg->http2_max_streams;
    /* h2c both ways, prior knowledge and Upgrade: h2c (h2o's lib/http1.c);
     * over TLS, HTTP/2 comes through ALPN, set on the listener's SSL_CTX */
    gc->http1.upgrade_to_http2 = http2;
    h2o_hostconf_t *host = h2o_config_register_host(gc, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    orderd_http_register(host, &s->app);
    if (s->access_log != NULL)
        orderd_access_log_register(s->access_log, host, &s->app);
}

/* One globalconf per --http2 setting in use, in the order listeners name them. */
static void configure_h2o(server_t *s)
{
    int http2_of[MAX_CONFS];
    for (unsigned i = 0; i < s->cfg->nlisteners; ++i) {
        int http2 = s->cfg->listeners[i].http2;
        unsigned c = 0;
        while (c < s->nconfs && http2_of[c] != http2)
            ++c;
        if (c == s->nconfs) {
            http2_of[c] = http2;
            init_globalconf(s, &s->globalconf[c], http2);
            s->nconfs++;
        }
        s->conf_of[i] = c;
    }
}

/* --- the workers --- */

/* Runs on the worker's own loop when the main thread asks it to stop. */
static void on_control(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    worker_t *w = H2O_STRUCT_FROM_MEMBER(worker_t, control, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        free(m);
    }
    if (w->stopping)
        return;
    w->stopping = 1;
    orderd_accept_stop(&w->accept);
    for (unsigned c = 0; c < w->server->nconfs; ++c) {
        h2o_context_request_shutdown(&w->http[c].ctx);
        /* h2o leaves idle HTTP/1 keep-alive connections waiting for their next
         * request; expiring the wait closes them now. Busy ones finish their
         * response, then close since keep-alive is off during shutdown. */
        w->http[c].ctx.http1.req_timeout.timeout = 0;
    }
}

static int drained(worker_t *w)
{
    for (unsigned c = 0; c < w->server->nconfs; ++c)
        if (!h2o_linklist_is_empty(&w->http[c].ctx.http1._conns) || !h2o_linklist_is_empty(&w->http[c].ctx.http2._conns))
            return 0;
    return 1;
}

/* Runs on the worker's own thread: h2o's buffer prototypes and memory
 * recycling are per thread, so a socket (the message queue's pipe above all)
 * must be created on the thread that reads it. Created on the main thread,
 * every worker's pipe shared the main thread's free lists, and two workers
 * corrupted them under load. */
static void worker_init(worker_t *w)
{
    server_t *s = w->server;
    SSL_CTX **slots[ORDERD_MAX_LISTENERS];
    w->loop = h2o_evloop_create();
    w->queue = h2o_multithread_create_queue(w->loop);
    h2o_multithread_register_receiver(w->queue, &w->control, on_control);
    for (unsigned c = 0; c < s->nconfs; ++c) {
        h2o_context_init(&w->http[c].ctx, w->loop, &s->globalconf[c]);
        orderd_http_thread_init(&w->http[c], w->queue, &s->app);
    }
    w->accept.nlisteners = s->cfg->nlisteners;
    for (unsigned i = 0; i < s->cfg->nlisteners; ++i) {
        orderd_accept_listener_t *l = &w->accept.listeners[i];
        l->accept_ctx.ctx = &w->http[s->conf_of[i]].ctx;
        l->accept_ctx.hosts = s->globalconf[s->conf_of[i]].hosts;
        /* the main thread keeps its own reference; it waits on the barrier
         * until this one is taken. A TLS listener never falls back to cleartext. */
        if (s->ssl_ctx[i] != NULL && SSL_CTX_up_ref(s->ssl_ctx[i]) != 1)
            abort();
        l->accept_ctx.ssl_ctx = s->ssl_ctx[i];
        slots[i] = &l->accept_ctx.ssl_ctx;
    }
    orderd_accept_start(&w->accept, w->loop, &s->budget);
    orderd_tls_receiver_init(&w->tls, w->queue, slots, s->cfg->nlisteners);
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    worker_init(w);
    pthread_barrier_wait(&w->server->ready);
    while (!w->stopping || !drained(w))
        h2o_evloop_run(w->loop, INT32_MAX);
    /* h2o_context_dispose would assert on the still-linked HTTP/2 shutdown
     * timer; the process exits right after, so the loop is left as it is. */
    atomic_store(&w->finished, 1);
    return NULL;
}

/* --- SIGHUP --- */

/* "https://[::1]:8443": listener i as a client would name it. */
static const char *listener_url(const server_t *s, unsigned i, char out[LISTENER_URL_MAX])
{
    const orderd_listener_config_t *l = &s->cfg->listeners[i];
    int v6 = strchr(l->host, ':') != NULL;
    snprintf(out, LISTENER_URL_MAX, "%s://%s%s%s:%u", l->tls_cert ? "https" : "http", v6 ? "[" : "", l->host,
             v6 ? "]" : "", s->bound_port[i]);
    return out;
}

/* Reads every TLS listener's certificate and key again and hands the new
 * contexts to the workers. A listener whose new files cannot be used keeps
 * the context it has (and says why); open connections keep theirs. */
static void reload_certificates(server_t *s)
{
    SSL_CTX *fresh[ORDERD_MAX_LISTENERS] = {NULL};
    unsigned tls = 0, reloaded = 0;
    char err[1024];
    for (unsigned i = 0; i < s->cfg->nlisteners; ++i) {
        if (s->ssl_ctx[i] == NULL)
            continue;
        ++tls;
        if ((fresh[i] = orderd_tls_context_new(&s->cfg->listeners[i], err, sizeof(err))) == NULL) {
            char url[LISTENER_URL_MAX];
            orderd_log(ORDERD_LOG_WARN, "SIGHUP: %s keeps its old certificate: %s", listener_url(s, i, url), err);
            continue;
        }
        ++reloaded;
    }
    for (unsigned w = 0; reloaded > 0 && w < s->nworkers; ++w)
        if (orderd_tls_send(&s->workers[w].tls, fresh, s->cfg->nlisteners) != 0)
            orderd_log(ORDERD_LOG_WARN, "SIGHUP: out of memory: worker %u keeps its old certificates", w);
    for (unsigned i = 0; i < s->cfg->nlisteners; ++i) {
        if (fresh[i] != NULL) {
            SSL_CTX_free(s->ssl_ctx[i]);
            s->ssl_ctx[i] = fresh[i];
        }
    }
    if (tls == 0)
        orderd_log(ORDERD_LOG_INFO, "SIGHUP: no TLS listener, nothing to reload");
    else
        orderd_log(ORDERD_LOG_INFO, "SIGHUP: reloaded the certificates of %u of %u TLS listener(s)", reloaded, tls);
}

/* The --access-log file again by its name: logrotate has renamed it. */
static void reopen_access_log(server_t *s)
{
    char err[4300];
    if (s->access_log == NULL || strcmp(s->cfg->access_log, "-") == 0)
        return;
    if (orderd_access_log_reopen(s->access_log, err, sizeof(err)) != 0)
        orderd_log(ORDERD_LOG_WARN, "SIGHUP: the access log keeps its old file: %s", err);
    else
        orderd_log(ORDERD_LOG_INFO, "SIGHUP: reopened the access log %s", s->cfg->access_log);
}

/* --user-auth jwt: the key file read again. Each worker's contexts swap the
 * new keys in between requests; the old set is freed with its last
 * reference. Keys that cannot be used leave every worker with the old. */
static void reload_jwt_keys(server_t *s)
{
    char msg[1024];
    if (s->app.jwt == NULL)
        return;
    orderd_jwt_verifier_t *keys = orderd_jwt_verifier_new(&s->cfg->jwt, msg, sizeof(msg));
    if (keys == NULL) {
        orderd_log(ORDERD_LOG_WARN, "SIGHUP: the JWT keys stay as they were: %s", msg);
        return;
    }
    for (unsigned w = 0; w < s->nworkers; ++w)
        for (unsigned c = 0; c < s->nconfs; ++c)
            if (orderd_http_jwt_send(&s->workers[w].http[c], keys) != 0)
                orderd_log(ORDERD_LOG_WARN, "SIGHUP: out of memory: worker %u keeps its old JWT keys", w);
    orderd_jwt_verifier_release(s->app.jwt);
    s->app.jwt = keys;
    orderd_log(ORDERD_LOG_INFO, "SIGHUP: reloaded the JWT keys: %s", msg);
}

/* --- shutdown --- */

static void request_stop(server_t *s)
{
    for (unsigned i = 0; i < s->nworkers; ++i) {
        h2o_multithread_message_t *m = calloc(1, sizeof(*m));
        h2o_multithread_send_message(&s->workers[i].control, m);
    }
}

/* Returns 1 when every worker has finished within the budget. */
static int wait_workers(server_t *s)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += SHUTDOWN_BUDGET_MS / 1000;
    deadline.tv_nsec += (SHUTDOWN_BUDGET_MS % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec += 1;
        deadline.tv_nsec -= 1000000000L;
    }
    for (unsigned i = 0; i < s->nworkers; ++i) {
        if (pthread_timedjoin_np(s->workers[i].tid, NULL, &deadline) != 0) {
            orderd_log(ORDERD_LOG_WARN, "connections still open after %d ms; exiting anyway", SHUTDOWN_BUDGET_MS);
            return 0;
        }
    }
    return 1;
}

int orderd_server_run(const orderd_config_t *cfg)
{
    server_t s = {.cfg = cfg, .nworkers = cfg->threads};
    char url[LISTENER_URL_MAX], described[ORDERD_CONFIG_DESCRIBE_MAX], token_said[4400], jwt_said[1100];
    int sig;

    orderd_log_set_json(cfg->log_json);

    /* signals wait for sigwait below, from the very start, and never reach a worker */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (!orderd_crc32c_available()) {
        orderd_log(ORDERD_LOG_ERROR, "this CPU lacks the CRC32C instruction the journal needs");
        return 1;
    }
    if (load_certificates(&s) != 0 || load_jwt_keys(&s, jwt_said, sizeof(jwt_said)) != 0)
        return 1; /* before the journal's replay: a bad file fails at once */
    if (open_access_log(&s) != 0)
        return 1;
    if (orderd_server_data_dir(cfg->data_dir) != 0)
        return 1;
    if ((s.app.store = orderd_store_new(shard_count(cfg->threads))) == NULL) {
        orderd_log(ORDERD_LOG_ERROR, "out of memory");
        return 1;
    }
    s.app.max_body = cfg->max_body;
    s.app.trusted_proxies = cfg->trusted_proxies;
    s.app.ntrusted_proxies = cfg->ntrusted_proxies;
    s.app.cors_origins = cfg->cors_origins;
    s.app.ncors_origins = cfg->ncors_origins;
    s.app.compress = cfg->compress;
    s.app.http2_max_resets = cfg->http2_max_resets;
    s.app.return_window_ms = (int64_t)cfg->return_window_days * 86400 * 1000;
    orderd_store_set_idem_ttl(s.app.store, cfg->idempotency_ttl_ms); /* before replay: it skips expired keys */
    if (orderd_store_set_node_id(s.app.store, cfg->node_id) != 0) { /* config.c holds it to the range */
        orderd_log(ORDERD_LOG_ERROR, "--node-id %u: out of range", cfg->node_id);
        return 1;
    }
    orderd_store_set_limits(s.app.store, &(orderd_store_limits_t){.rate = cfg->rate_limit,
                                                                  .max_orders_per_user = cfg->max_orders_per_user,
                                                                  .max_orders = cfg->max_orders,
                                                                  .memory_bytes = cfg->memory_limit,
                                                                  .memory_sample_ms = ORDERD_STORE_MEMORY_SAMPLE_MS});
    if ((s.app.feed = orderd_feed_new(cfg->data_dir, cfg->node_id, 0)) == NULL ||
        (s.app.metrics = orderd_http_metrics_new()) == NULL) {
        orderd_log(ORDERD_LOG_ERROR, "out of memory");
        return 1;
    }

    /* The workers listen while the journal replays, so /readyz can say 503
     * (and /healthz, /metrics answer); API requests wait until readiness is
     * SERVING (src/http/health.c). */
    configure_h2o(&s);

    s.workers = calloc(s.nworkers, sizeof(*s.workers));
    for (unsigned i = 0; i < s.nworkers; ++i)
        for (unsigned li = 0; li < ORDERD_MAX_LISTENERS; ++li)
            s.workers[i].accept.listeners[li].fd = -1;
    if (open_listeners(&s) != 0)
        return 1;
    if (load_operator_token(&s, token_said, sizeof(token_said)) != 0) /* before the workers: handlers read it */
        return 1;
    /* after every check that can fail start-up: such a failure is one line */
    orderd_log(ORDERD_LOG_INFO, "orderd %s, effective configuration: %s", ORDERD_VERSION,
               orderd_config_describe(cfg, described, sizeof(described)));
    orderd_log(ORDERD_LOG_INFO, "%s", token_said);
    orderd_accept_warn_fd_limit(cfg);
    s.budget.max = cfg->max_connections;
    if (jwt_said[0] != '\0')
        orderd_log(ORDERD_LOG_INFO, "%s", jwt_said);

    pthread_barrier_init(&s.ready, NULL, s.nworkers + 1);
    for (unsigned i = 0; i < s.nworkers; ++i) {
        s.workers[i].server = &s;
        h2o_multithread_create_thread(&s.workers[i].tid, NULL, worker_main, &s.workers[i]);
    }
    pthread_barrier_wait(&s.ready); /* the workers' receivers exist before any stop message */
    for (unsigned i = 0; i < cfg->nlisteners; ++i)
        orderd_log(ORDERD_LOG_INFO, "replaying the journal; meanwhile %s answers /healthz, /readyz and /metrics; API "
                   "requests wait", listener_url(&s, i, url));
    if (orderd_server_open_journal(cfg, &s.app) != 0 || orderd_server_start_webhooks(cfg, &s.app) != 0)
        return 1;
    /* publishes the journal fields set above to the workers (acquire in the handlers) */
    atomic_store_explicit(&s.app.readiness, ORDERD_READINESS_SERVING, memory_order_release);
    orderd_log(ORDERD_LOG_INFO, "%u threads, %u shards, data in %s", s.nworkers, shard_count(cfg->threads),
            cfg->data_dir);
    for (unsigned i = 0; i < cfg->nlisteners; ++i)
        orderd_log(ORDERD_LOG_INFO, "listening on %s", listener_url(&s, i, url));
    orderd_notify(ORDERD_NOTIFY_READY);

    for (;;) {
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig != SIGHUP)
            break;
        reopen_access_log(&s);
        reload_certificates(&s);
        reload_jwt_keys(&s);
    }
    /* before the listeners close: a load balancer probing /readyz stops
     * sending new requests (HTTP/2 connections take new streams for one
     * more second, until h2o's second GOAWAY) */
    atomic_store_explicit(&s.app.readiness, ORDERD_READINESS_STOPPING, memory_order_relaxed);
    orderd_log(ORDERD_LOG_INFO, "%s received, draining connections", sig == SIGINT ? "SIGINT" : "SIGTERM");
    orderd_notify(ORDERD_NOTIFY_STOPPING);
    request_stop(&s);
    orderd_webhooks_stop(s.app.webhooks); /* while the workers drain: a POST in flight is abandoned */
    int joined = wait_workers(&s);
    /* Connections are closed: everything answered is durable; sync the rest.
     * A worker still running may still append: then leave the journal open
     * (what was acknowledged is durable already) and just exit. */
    orderd_wal_stats_t st;
    orderd_wal_stats(s.app.wal, &st);
    if (joined)
        orderd_wal_close(s.app.wal);
    orderd_log(ORDERD_LOG_INFO, "journal: %llu records in %llu batches (%.1f a batch), %llu syncs, %llu failed writes, "
                    "%llu snapshots",
            (unsigned long long)st.records, (unsigned long long)st.batches,
            st.batches ? (double)st.records / (double)st.batches : 0.0, (unsigned long long)st.syncs,
            (unsigned long long)st.write_failures, (unsigned long long)st.snapshots);
    if (joined) { /* no worker can touch the table or the feed any more */
        orderd_store_free(s.app.store);
        orderd_webhooks_free(s.app.webhooks);
        orderd_feed_free(s.app.feed);
    }
    orderd_log(ORDERD_LOG_INFO, "stopped");
    return 0;
}
