#ifndef ORDERD_INTERNAL_CONFIG_VALUES_H
#define ORDERD_INTERNAL_CONFIG_VALUES_H

/* The command line's values (numbers, durations, origins, HOST:PORT) and
 * how --tls-cert, --tls-key and --http2 bind to the --listen before them:
 * the pieces src/config.c's flag table is made of. */

#include <stdint.h>
#include <stdio.h>

#include "orderd/config.h"

/* The flags that bind to a listener, as bits of what one listener was given. */
enum { BOUND_CERT = 1, BOUND_KEY = 2, BOUND_HTTP2 = 4 };

/* What the command line said so far: the listeners, and the per-listener
 * flags given before the first --listen (slot ORDERD_MAX_LISTENERS). */
typedef struct listen_state {
    orderd_listener_config_t early;
    unsigned given[ORDERD_MAX_LISTENERS + 1]; /* BOUND_* bits per listener; the last: early */
    const char *spec[ORDERD_MAX_LISTENERS];   /* the --listen value, for messages */
    const char *bound_name[3];                /* per BOUND_* bit: the flag or variable that gave it */
} listen_state_t;

/** What the command line said so far, for the flags' setters. */
typedef struct parse_state {
    orderd_config_t *cfg;
    listen_state_t listen;
    FILE *out, *err;
    uint32_t rate_burst;         /* --rate-limit-burst; 0: not given */
    const char *rate_burst_name; /* the flag or variable that gave it */
} parse_state_t;

/* One line on p->err, "orderd: " first; the value -1. */
#define FAIL(p, ...) (fprintf((p)->err, "orderd: " __VA_ARGS__), -1)

/* Setters of the limit, log and --user-auth / --jwt-* flags (rows of the
 * table in src/config.c): `name` is the flag or variable as written, for
 * messages; 0, or -1 with one line on p->err. */
int orderd_config_set_compress(parse_state_t *p, const char *name, const char *v);
int orderd_config_set_rate_limit(parse_state_t *p, const char *name, const char *v);
int orderd_config_set_rate_burst(parse_state_t *p, const char *name, const char *v);
int orderd_config_set_max_orders_per_user(parse_state_t *p, const char *name, const char *v);
int orderd_config_set_max_orders(parse_state_t *p, const char *name, const char *v);
int orderd_config_set_memory_limit(parse_state_t *p, const char *name, const char *v);
int orderd_config_set_log_format(parse_state_t *p, const char *name, const char *v);
int orderd_config_set_user_auth(parse_state_t *p, const char *name, const char *v);
int orderd_config_set_jwt_key_file(parse_state_t *p, const char *name, const char *v);
int orderd_config_set_jwt_secret_file(parse_state_t *p, const char *name, const char *v);
int orderd_config_set_jwt_issuer(parse_state_t *p, const char *name, const char *v);
int orderd_config_set_jwt_audience(parse_state_t *p, const char *name, const char *v);
int orderd_config_set_jwt_user_claim(parse_state_t *p, const char *name, const char *v);
int orderd_config_set_jwt_leeway(parse_state_t *p, const char *name, const char *v);
/* src/config_data.c: --fsync, --snapshot-bytes, --idempotency-ttl, --feed-retention and the --webhook flags */
int orderd_config_set_fsync(parse_state_t *p, const char *name, const char *v);
int orderd_config_set_snapshot_bytes(parse_state_t *p, const char *name, const char *v);
int orderd_config_set_idempotency_ttl(parse_state_t *p, const char *name, const char *v);
int orderd_config_set_feed_retention(parse_state_t *p, const char *name, const char *v);
int orderd_config_set_webhook(parse_state_t *p, const char *name, const char *v);
int orderd_config_set_webhook_secret_file(parse_state_t *p, const char *name, const char *v);
int orderd_config_set_webhook_max_age(parse_state_t *p, const char *name, const char *v);
int orderd_config_set_webhook_timeout(parse_state_t *p, const char *name, const char *v);

/** A whole decimal number in [min, max] into *out; -1 when `s` is not one. */
int orderd_config_parse_ull(const char *s, unsigned long long min, unsigned long long max, unsigned long long *out);

/** "90", "90s", "250ms", "15m", "24h", "7d" in [min_ms, max_ms] into *out; -1 when not one. */
int orderd_config_parse_duration_ms(const char *s, uint64_t min_ms, uint64_t max_ms, int64_t *out);

/** Whether `s` is "*" or scheme://host[:port] as --cors-origin takes it. */
int orderd_config_valid_origin(const char *s);

/** HOST:PORT ([v6]:PORT) into l->host and l->port; -1 when it is not one. */
int orderd_config_parse_listen(orderd_listener_config_t *l, const char *arg);

/**
 * Sets one BOUND_* flag (`name` is the flag or variable, for messages) on
 * the last --listen, or on st->early before any. -1 with one line on err.
 */
int orderd_config_bind_flag(orderd_config_t *cfg, listen_state_t *st, unsigned bit, const char *name, const char *arg,
                            FILE *err);

/**
 * After the last flag: the default listener, the early flags bound, each
 * certificate with its key, no address twice. -1 with one line on err.
 */
int orderd_config_finish_listeners(orderd_config_t *cfg, listen_state_t *st, FILE *err);

#endif
