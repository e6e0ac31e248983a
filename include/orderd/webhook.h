#ifndef ORDERD_WEBHOOK_H
#define ORDERD_WEBHOOK_H

/*
 * Webhooks (docs/webhooks.md): one delivery thread per --webhook URL, each
 * POSTing the feed's events (orderd/feed.h) one at a time, in the feed's
 * order, signed with the webhook secret, retried with exponential backoff
 * until delivered or older than --webhook-max-age. Each thread keeps its
 * progress in <data-dir>/webhook-<16 hex>.state and pins the feed at its
 * next undelivered event, so retention never deletes what it has not sent.
 * Nothing but the one event in flight is held in memory: the rest is read
 * again from the feed.
 *
 * Code: src/webhook.c (the threads, libcurl, the feed), src/webhook_sign.c
 * (the signature, the backoff schedule, the state file and the secret).
 */

#include <stddef.h>
#include <stdint.h>

#include "orderd/feed.h"

typedef struct orderd_webhooks orderd_webhooks_t;

/** The secret's file in the data directory when --webhook-secret-file is not given. */
#define ORDERD_WEBHOOK_SECRET_NAME "webhook-secret"
/** Longest secret accepted, in bytes (a line of visible ASCII). */
#define ORDERD_WEBHOOK_SECRET_MAX 1024
/** Shortest secret accepted. */
#define ORDERD_WEBHOOK_SECRET_MIN 16
/** The first retry's delay; each failure doubles it up to ORDERD_WEBHOOK_BACKOFF_MAX_MS. */
#define ORDERD_WEBHOOK_BACKOFF_MIN_MS 1000
#define ORDERD_WEBHOOK_BACKOFF_MAX_MS (5 * 60 * 1000)
/** Progress is written at most this often while delivering (and at stop). */
#define ORDERD_WEBHOOK_SAVE_EVERY_MS 100
/** The longest last_error text kept, NUL included. */
#define ORDERD_WEBHOOK_ERROR_MAX 256
/** "t=<10 or more digits>,v1=<64 hex>", NUL included. */
#define ORDERD_WEBHOOK_SIGNATURE_MAX 96
/** "webhook-<16 hex>.state", NUL included. */
#define ORDERD_WEBHOOK_STATE_NAME_MAX 32

/** What a delivery thread is doing (GET /api/admin/webhooks "state"). */
typedef enum {
    ORDERD_WEBHOOK_IDLE = 0,   /* every durable event is delivered: waiting for the next */
    ORDERD_WEBHOOK_DELIVERING, /* a POST is in flight */
    ORDERD_WEBHOOK_RETRYING,   /* the last attempt failed: waiting for next_attempt_at_ms */
} orderd_webhook_state_t;

/** One endpoint as GET /api/admin/webhooks shows it: a copy, taken under the endpoint's mutex. */
typedef struct orderd_webhook_status {
    const char *url; /* the --webhook value: lives as long as the configuration */
    uint64_t last_delivered_seq; /* delivered or given up, and every event before it */
    uint64_t delivered;          /* events delivered since start */
    uint64_t failed_attempts;    /* attempts that failed since start */
    uint64_t given_up;           /* events given up since start (older than --webhook-max-age) */
    char last_error[ORDERD_WEBHOOK_ERROR_MAX]; /* "" : none */
    int64_t last_error_at_ms;    /* 0: none */
    int64_t next_attempt_at_ms;  /* 0: none (not retrying) */
    orderd_webhook_state_t state;
} orderd_webhook_status_t;

/** What orderd_webhooks_start needs (from the configuration). */
typedef struct orderd_webhooks_config {
    const char *dir;                /* the data directory: the state files, and the secret by default */
    const char *const *urls;        /* --webhook, nurls of them; the strings must outlive the threads */
    size_t nurls;
    const char *secret_file;        /* --webhook-secret-file; NULL: <dir>/webhook-secret, created at first start */
    int64_t max_age_ms;             /* --webhook-max-age: an event older than this is given up */
    int64_t timeout_ms;             /* --webhook-timeout: one attempt's whole time */
} orderd_webhooks_config_t;

/**
 * Loads the secret, reads each endpoint's state file (none: it starts at
 * the feed's durable sequence, and the file is written at once), registers
 * a watcher and a pin on `feed` per endpoint, and starts one delivery
 * thread each. Call on the main thread once, after the journal's replay and
 * before the writer's first orderd_feed_durable (watchers are registered
 * here). With no URL it starts nothing and returns an empty set. The feed
 * must outlive orderd_webhooks_stop. Returns NULL with a message in err
 * (the secret cannot be read or created, a state file cannot be written,
 * out of memory, too many watchers).
 */
orderd_webhooks_t *orderd_webhooks_start(const orderd_webhooks_config_t *c, orderd_feed_t *feed, char *err,
                                         size_t errlen) __attribute__((warn_unused_result));

/**
 * Stops every delivery thread promptly (a backoff wait is cut short, a POST
 * in flight aborted: it is delivered again at the next start) and writes
 * each endpoint's progress. The pins stay (a clean-up during the drain keeps
 * what is undelivered), and so does the memory: orderd_webhooks_status may
 * still be called, from workers that are draining. NULL or a second call is
 * a no-op. Main thread.
 */
void orderd_webhooks_stop(orderd_webhooks_t *w);

/**
 * Frees the set (stopping it first if need be). No other thread may use it
 * any more: call once the workers are joined. NULL is a no-op. Main thread.
 */
void orderd_webhooks_free(orderd_webhooks_t *w);

/** How many endpoints the set has (0 for NULL). Any thread. */
size_t orderd_webhooks_count(const orderd_webhooks_t *w);

/**
 * Copies endpoint i's status into *out, under its mutex; *durable_seq gets
 * the feed's durable sequence (for the backlog). Any thread; i < count.
 */
void orderd_webhooks_status(orderd_webhooks_t *w, size_t i, orderd_webhook_status_t *out, uint64_t *durable_seq);

/* --- src/webhook_sign.c: pure pieces, for the threads and the unit tests --- */

/**
 * The orderd-signature header's value for `body` sent at Unix time `t`:
 * "t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>" (Stripe's scheme),
 * into out. Returns its length, or 0 when OpenSSL fails. Any thread.
 */
size_t orderd_webhook_sign(const char *secret, size_t secret_len, int64_t t, const char *body, size_t len,
                           char out[ORDERD_WEBHOOK_SIGNATURE_MAX]);

/**
 * The wait before retry number `failures` (1: after the first failure):
 * ORDERD_WEBHOOK_BACKOFF_MIN_MS doubled per further failure, at most
 * ORDERD_WEBHOOK_BACKOFF_MAX_MS, then jittered by +-50 % with `rnd` (any
 * 64 random bits): a wait from half to one and a half times the base.
 * Pure.
 */
int64_t orderd_webhook_backoff_ms(unsigned failures, uint64_t rnd);

/** The state file's name for `url`: "webhook-<16 hex of SHA-256(url)>.state", into out. */
void orderd_webhook_state_name(const char *url, char out[ORDERD_WEBHOOK_STATE_NAME_MAX]);

/**
 * Writes endpoint `url`'s progress (`seq`: the last event delivered or
 * given up) to <dir>/<its state name>, durably (temp, fsync, rename).
 * Returns 0, or -1 with errno. Any thread.
 */
int orderd_webhook_state_save(const char *dir, const char *url, uint64_t seq) __attribute__((warn_unused_result));

/**
 * Reads endpoint `url`'s progress: 1 and *seq; 0 when there is no state
 * file (a new endpoint); -1 with a message in err when it cannot be read,
 * is damaged (torn, garbage, a bad checksum) or names another URL. Any
 * thread.
 */
int orderd_webhook_state_load(const char *dir, const char *url, uint64_t *seq, char *err, size_t errlen);

/**
 * Loads the webhook secret (orderd_secret_file_load): `file`, or
 * <dir>/webhook-secret, created with 32 random bytes as hex (mode 0600) if
 * absent (*created = 1). `path` gets the file's path. Returns 0, or -1 with
 * a message in err. Start-up.
 */
int orderd_webhook_secret_load(const char *file, const char *dir, char *buf, size_t size, size_t *len, char *path,
                               size_t path_size, int *created, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
