#ifndef ORDERD_CONFIG_H
#define ORDERD_CONFIG_H

/* The command line. */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "orderd/cidr.h"
#include "orderd/feed.h"
#include "orderd/quota.h"
#include "orderd/jwt.h"
#include "orderd/wal.h"

/* At most this many --trusted-proxy, and this many --cors-origin. */
#define ORDERD_MAX_TRUSTED_PROXIES 32
#define ORDERD_MAX_CORS_ORIGINS 32
/** Most --webhook endpoints. */
#define ORDERD_MAX_WEBHOOKS 8
/** Longest --webhook URL. */
#define ORDERD_WEBHOOK_URL_MAX 2048

/* At most this many --listen. */
#define ORDERD_MAX_LISTENERS 8

/* --max-connections at most (and the most the default derived from the fd limit gives). */
#define ORDERD_CONFIG_MAX_CONNECTIONS 16777216u
/* --http2-max-streams at most (and by default): libh2o 2.2.5's
 * SETTINGS_MAX_CONCURRENT_STREAMS, which it does not let a server change. */
#define ORDERD_HTTP2_STREAMS_MAX 100

/** One --listen with the flags bound to it (--tls-cert, --tls-key, --http2). */
typedef struct orderd_listener_config {
    char host[256];
    uint16_t port;        /* 0: the kernel picks one, logged at start */
    const char *tls_cert; /* PEM certificate chain; NULL (with tls_key NULL): cleartext */
    const char *tls_key;  /* PEM private key; set exactly when tls_cert is */
    int http2;            /* 1: HTTP/2 too (ALPN h2 over TLS, h2c in cleartext); 0: HTTP/1.1 only */
} orderd_listener_config_t;

typedef struct orderd_config {
    orderd_listener_config_t listeners[ORDERD_MAX_LISTENERS]; /* in command-line order */
    unsigned nlisteners;                                      /* at least 1 */
    unsigned threads;
    const char *data_dir;
    size_t max_body;
    unsigned max_connections;  /* --max-connections; by default derived from `nofile` (orderd/accept.h) */
    int max_connections_given; /* 0: max_connections is that default */
    uint64_t nofile;           /* the soft RLIMIT_NOFILE when the command line was read */
    /* --header-timeout, --body-timeout, --idle-timeout: what libh2o makes of
     * them is in src/server.c (HTTP/1.1 has one timer for all three) */
    int64_t header_timeout_ms, body_timeout_ms, idle_timeout_ms;
    unsigned http2_max_streams; /* --http2-max-streams: h2o's max_concurrent_requests_per_connection */
    unsigned http2_max_resets;  /* --http2-max-resets: resets before the answer per 10 s; 0: no limit */
    orderd_fsync_mode_t fsync;
    uint64_t snapshot_bytes;
    const char *operator_token_file; /* NULL: <data-dir>/operator-token, made at first start */
    int64_t idempotency_ttl_ms;      /* how long Idempotency-Key answers are kept */
    unsigned return_window_days;     /* --return-window: days after delivery a return may be asked for */
    unsigned node_id;                /* --node-id: 0 to ORDERD_ID_NODE_MAX (orderd/store.h), in every new id */
    orderd_feed_retention_t feed_retention;    /* --feed-retention: covered journal kept for the feed */
    const char *webhooks[ORDERD_MAX_WEBHOOKS]; /* --webhook URLs, into argv, in order */
    unsigned nwebhooks;
    const char *webhook_secret_file; /* NULL: <data-dir>/webhook-secret, made at first start */
    int64_t webhook_max_age_ms;      /* --webhook-max-age: an event is retried this long */
    int64_t webhook_timeout_ms;      /* --webhook-timeout: one delivery's longest wait */
    const char *access_log;          /* --access-log: a file, "-" for standard output; NULL: off */
    orderd_cidr_t trusted_proxies[ORDERD_MAX_TRUSTED_PROXIES]; /* --trusted-proxy, in order */
    unsigned ntrusted_proxies;
    const char *cors_origins[ORDERD_MAX_CORS_ORIGINS]; /* --cors-origin, into argv; "*": any */
    unsigned ncors_origins;                            /* 0: CORS off */
    int compress;                                      /* --compress on (default): gzip large answers */
    int log_json;                                      /* --log-format json; 0: text */
    orderd_rate_limit_t rate_limit; /* --rate-limit-per-user (per 0: off) with --rate-limit-burst in burst */
    uint64_t max_orders_per_user;   /* --max-orders-per-user; 0: off */
    uint64_t max_orders;            /* --max-orders; 0: off */
    uint64_t memory_limit;          /* --memory-limit in bytes; 0: off */
    int user_auth_jwt;       /* --user-auth jwt: users are verified JWTs; 0 (header): X-User-Id as sent */
    orderd_jwt_config_t jwt; /* --jwt-*, into argv; NULL files, issuer, audience unless given */
    char env_values[4096]; /* the pieces of comma-separated variables (ORDERD_LISTEN=a,b) */
} orderd_config_t;

typedef enum {
    ORDERD_CONFIG_RUN = 0,  /* start the server */
    ORDERD_CONFIG_EXIT = 1, /* --help or --version was printed: exit 0 */
    ORDERD_CONFIG_USAGE = 2 /* a bad flag or value; one line went to err: exit 2 */
} orderd_config_result_t;

/**
 * Fills *cfg from argv (defaults first: one cleartext listener on
 * 127.0.0.1:8080 with HTTP/2, one thread per online CPU, ./data, 1 MiB,
 * connections up to what the soft RLIMIT_NOFILE leaves (read here), 10 s
 * timeouts, 100 HTTP/2 streams in process and 200 early resets per 10 s a
 * connection, --fsync always, snapshots every 64 MiB of journal). --tls-cert, --tls-key
 * and --http2 bind to the last --listen before them; before any --listen
 * they are allowed only when there is at most one --listen. --help and
 * --version print to `out`; a bad flag or value prints one line to `err`.
 * --user-auth jwt needs --jwt-issuer, --jwt-audience and one of
 * --jwt-key-file and --jwt-secret-file; those four are refused without it.
 * cfg->data_dir and the certificate paths point into argv or a literal.
 * Files are not opened here: the server reports a missing certificate.
 */
int orderd_config_parse(orderd_config_t *cfg, int argc, char **argv, FILE *out, FILE *err);

/* Room for orderd_config_describe's text. */
#define ORDERD_CONFIG_DESCRIBE_MAX 4096

/**
 * The effective configuration as one line of flag=value pairs, in --help's
 * order, for the start-up log: "listen=http://127.0.0.1:8080 threads=2 ...".
 * Paths are shown; what files hold (the operator token, keys) never is.
 * Returns out (cut at len).
 */
const char *orderd_config_describe(const orderd_config_t *cfg, char *out, size_t len);

#endif
