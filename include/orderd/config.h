#ifndef ORDERD_CONFIG_H
#define ORDERD_CONFIG_H

/* The command line. */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "orderd/cidr.h"
#include "orderd/jwt.h"
#include "orderd/wal.h"

/* At most this many --trusted-proxy, and this many --cors-origin. */
#define ORDERD_MAX_TRUSTED_PROXIES 32
#define ORDERD_MAX_CORS_ORIGINS 32

/* At most this many --listen. */
#define ORDERD_MAX_LISTENERS 8

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
    orderd_fsync_mode_t fsync;
    uint64_t snapshot_bytes;
    const char *operator_token_file; /* NULL: <data-dir>/operator-token, made at first start */
    int64_t idempotency_ttl_ms;      /* how long Idempotency-Key answers are kept */
    const char *access_log;          /* --access-log: a file, "-" for standard output; NULL: off */
    orderd_cidr_t trusted_proxies[ORDERD_MAX_TRUSTED_PROXIES]; /* --trusted-proxy, in order */
    unsigned ntrusted_proxies;
    const char *cors_origins[ORDERD_MAX_CORS_ORIGINS]; /* --cors-origin, into argv; "*": any */
    unsigned ncors_origins;                            /* 0: CORS off */
    int compress;                                      /* --compress on (default): gzip large answers */
    int log_json;                                      /* --log-format json; 0: text */
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
 * --fsync always, snapshots every 64 MiB of journal). --tls-cert, --tls-key
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
