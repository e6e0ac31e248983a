#ifndef ORDERD_HTTP_H
#define ORDERD_HTTP_H

/* The HTTP API on libh2o: registers every resource on a host configuration. */

#include <stdatomic.h>

#include <h2o.h>

#include "orderd/cidr.h"
#include "orderd/feed.h"
#include "orderd/jwt.h"
#include "orderd/store.h"
#include "orderd/wal.h"
#include "orderd/webhook.h"

/** Where the server stands, for /readyz (orderd_app_t.readiness). */
typedef enum {
    ORDERD_READINESS_REPLAYING = 0, /* listening, replaying the journal: only /healthz, /readyz, /metrics answer */
    ORDERD_READINESS_SERVING,       /* replay done, every listener accepts */
    ORDERD_READINESS_STOPPING,      /* SIGINT/SIGTERM received: draining */
} orderd_readiness_t;

typedef struct orderd_http_metrics orderd_http_metrics_t;

/**
 * What every handler shares. Read-only once readiness is SERVING, but for
 * the store and readiness itself: the server sets the journal fields and
 * replay_ns during replay, then stores SERVING with release order, and
 * readers load readiness with acquire order before they touch them.
 */
typedef struct orderd_app {
    orderd_store_t *store;
    size_t max_body;
    int durable; /* a journal is attached: changes are answered once durable */
    /* commits what this loop iteration queued (the journal's group commit):
     * called once per loop iteration that queued changes; NULL: none */
    void (*commit)(void *ctx);
    void *commit_ctx;
    /* the operator's bearer token (--operator-token-file); empty: no operator */
    char operator_token[256];
    size_t operator_token_len;
    atomic_int readiness;           /* orderd_readiness_t */
    orderd_wal_t *wal;              /* the journal writer, for /metrics; NULL: none */
    /* the event feed (feed.h): made before the workers start, so each may
     * register its watcher in orderd_http_thread_init; it reads records
     * only once replay has reported them durable */
    orderd_feed_t *feed;
    uint64_t replay_ns;             /* how long start-up replay took */
    orderd_http_metrics_t *metrics; /* every worker's counters (orderd_http_metrics_new) */
    /* --trusted-proxy: peers whose X-Forwarded-* and Forwarded are believed */
    const orderd_cidr_t *trusted_proxies;
    size_t ntrusted_proxies;
    /* --cors-origin: origins answered with CORS headers; none: CORS is off */
    const char *const *cors_origins; /* "*" is any origin */
    size_t ncors_origins;
    /* --compress: gzip answers large enough to gain, when the client accepts it */
    int compress;
    /* --http2-max-resets: streams an HTTP/2 connection may reset before their
     * answer within ORDERD_HTTP2_RESET_WINDOW_MS (src/http/rapid_reset.h); 0: no limit */
    unsigned http2_max_resets;
    /* --return-window: how long after delivery a customer may ask for a return */
    int64_t return_window_ms;
    /* --user-auth jwt: the main thread's reference to the current keys; NULL
     * with --user-auth header (X-User-Id is believed as sent). Workers never
     * read it after orderd_http_thread_init, where each takes a reference of
     * its own; a SIGHUP reload replaces it on the main thread and hands the
     * new keys to each worker with orderd_http_jwt_send. */
    orderd_jwt_verifier_t *jwt;
    /* --webhook: the delivery threads, for GET /api/admin/webhooks (their
     * status is copied under each endpoint's mutex); NULL: none started */
    orderd_webhooks_t *webhooks;
} orderd_app_t;

/**
 * A worker thread's HTTP state. Handlers find it from req->conn->ctx, so the
 * thread's h2o context must be this struct's ctx.
 */
typedef struct orderd_http_thread {
    h2o_context_t ctx;
    h2o_multithread_receiver_t durable; /* journal acknowledgements for this thread's requests */
    h2o_timeout_entry_t commit;         /* runs app->commit after this loop iteration's requests */
    orderd_app_t *commit_app;
    uint64_t request_id_seed; /* random per thread: generated X-Request-Id values */
    uint64_t request_id_next;
    struct orderd_http_metrics_thread *metrics; /* this thread's counters, written only by it */
    /* API requests that came while the journal replayed, held until it is
     * done (src/http/health.c); a zeroed anchor means none came yet */
    h2o_linklist_t held;
    h2o_timeout_entry_t held_check;
    unsigned http2_max_resets; /* app->http2_max_resets, for the pool callbacks that count resets */
    /* --user-auth jwt: this thread's reference to the keys its requests are
     * checked with (NULL: --user-auth header), and where new ones arrive */
    orderd_jwt_verifier_t *jwt;
    orderd_jwt_cache_t *jwt_cache; /* the tokens this thread verified lately; NULL: none */
    h2o_multithread_receiver_t jwt_swap;
    /* GET /api/admin/events: the thread's parked polls and open streams,
     * and the feed watcher that wakes them (src/http/events.c) */
    struct orderd_http_events_thread *events;
} orderd_http_thread_t;

/**
 * Registers the thread's journal-acknowledgement receiver on `queue` (the
 * thread's loop) and its metrics block in app->metrics, and takes its
 * reference to app->jwt (with the receiver of orderd_http_jwt_send). Call on
 * the thread itself, after h2o_context_init. Aborts when out of memory
 * (start-up).
 */
void orderd_http_thread_init(orderd_http_thread_t *t, h2o_multithread_queue_t *queue, orderd_app_t *app);

/**
 * Hands thread t the JWT keys reloaded on SIGHUP (src/http/identity.c): the
 * message takes a reference of its own to `keys` (the caller keeps its
 * own), and t's loop swaps it in between two requests, dropping the
 * reference it held. Call from any thread, only with --user-auth jwt.
 * Returns 0, or -1 when out of memory (nothing sent: t keeps its keys).
 */
int orderd_http_jwt_send(orderd_http_thread_t *t, orderd_jwt_verifier_t *keys) __attribute__((warn_unused_result));

/**
 * Creates the registry of the workers' metrics blocks (app->metrics), before
 * any worker starts. Returns NULL when out of memory. It lives as long as
 * the process.
 */
orderd_http_metrics_t *orderd_http_metrics_new(void);

/** A connection event /metrics counts (orderd_http_metrics_connection). */
typedef enum {
    ORDERD_HTTP_CONN_TLS_OPENED,    /* accepted on a TLS listener: the open-TLS gauge +1 */
    ORDERD_HTTP_CONN_TLS_CLOSED,    /* such a connection closed, whatever closed it: -1 */
    ORDERD_HTTP_CONN_REFUSED,       /* reset at accept: --max-connections were open */
    ORDERD_HTTP_CONN_ACCEPT_PAUSED, /* accepting paused: no file descriptor (or memory) free */
} orderd_http_conn_event_t;

/**
 * Counts `ev` in thread t's block (orderd/accept.h reports them). Call on
 * t's own thread, the block's one writer. Cannot fail.
 */
void orderd_http_metrics_connection(orderd_http_thread_t *t, orderd_http_conn_event_t ev);

/**
 * The journal's notify callback (orderd_wal_config_t.notify): called on the
 * writer thread, it hands the waiting request back to its own thread, which
 * answers it (or drops it if the client has gone).
 */
void orderd_http_on_durable(void *ctx, void *waiter, int durable);

/**
 * Registers the API (/api/orders..., /healthz, /readyz, /metrics, a
 * problem+json 404 for every other path, a 503 for the API while the
 * journal replays, the filter counting every response for /metrics, a
 * filter turning h2o's own plain-text errors into problem+json, and with
 * app->compress h2o's gzip filter, last) on `host`.
 * `app` must outlive the server.
 */
void orderd_http_register(h2o_hostconf_t *host, orderd_app_t *app);

#endif
