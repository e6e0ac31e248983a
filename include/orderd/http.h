#ifndef ORDERD_HTTP_H
#define ORDERD_HTTP_H

/* The HTTP API on libh2o: registers every resource on a host configuration. */

#include <h2o.h>

#include "orderd/store.h"

/** What every handler shares: read-only after start-up, but for the store. */
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
} orderd_http_thread_t;

/** Registers the thread's journal-acknowledgement receiver on `queue` (the thread's loop). */
void orderd_http_thread_init(orderd_http_thread_t *t, h2o_multithread_queue_t *queue);

/**
 * The journal's notify callback (orderd_wal_config_t.notify): called on the
 * writer thread, it hands the waiting request back to its own thread, which
 * answers it (or drops it if the client has gone).
 */
void orderd_http_on_durable(void *ctx, void *waiter, int durable);

/**
 * Registers the API (/api/orders..., /healthz, a problem+json 404 for every
 * other path, and a filter turning h2o's own plain-text errors into
 * problem+json) on `host`. `app` must outlive the server.
 */
void orderd_http_register(h2o_hostconf_t *host, orderd_app_t *app);

#endif
