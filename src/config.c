#include "orderd/config.h"
#include "orderd/accept.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/resource.h>

#include <h2o/version.h>
#include <openssl/crypto.h>
#include <yajl/yajl_version.h>

#include "internal/text.h"

#define MAX_THREADS 1024

/* --version: orderd's own version first (scripts read that line), then the
 * libraries'. yajl and OpenSSL say theirs at run time (the shared objects
 * actually loaded); libh2o has no such call, so its version is the header's
 * the build used. yajl_version() is MAJOR*10000 + MINOR*100 + MICRO. */
static void print_version(FILE *out)
{
    int y = yajl_version();
    fprintf(out, "orderd %s\n", ORDERD_VERSION);
    fprintf(out, "libh2o %s\n", H2O_VERSION);
    fprintf(out, "yajl %d.%d.%d\n", y / 10000, y / 100 % 100, y % 100);
    fprintf(out, "%s\n", OpenSSL_version(OPENSSL_VERSION));
}

/* Parses a whole decimal number in [min, max]; -1 when it is not one. */
static int parse_ull(const char *s, unsigned long long min, unsigned long long max, unsigned long long *out)
{
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* "90", "90s", "500ms", "15m", "24h", "7d" (a bare number is seconds), in
 * [min_ms, max_ms]; -1 when it is not one. */
static int parse_duration_ms(const char *s, uint64_t min_ms, uint64_t max_ms, int64_t *out)
{
    static const struct {
        const char *suffix;
        unsigned long long ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}, {"d", 86400 * 1000}};
    char num[32];
    size_t len = strlen(s);
    unsigned long long v, unit = 1000;
    if (len == 0 || len >= sizeof(num))
        return -1;
    memcpy(num, s, len + 1);
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); ++i) {
        size_t n = strlen(units[i].suffix);
        if (len > n && strcmp(num + len - n, units[i].suffix) == 0) {
            num[len - n] = '\0';
            unit = units[i].ms;
            break;
        }
    }
    if (parse_ull(num, 0, max_ms, &v) != 0 || v > max_ms / unit || v * unit < min_ms)
        return -1;
    *out = (int64_t)(v * unit);
    return 0;
}

/* "https://shop.example", "http://localhost:3000": scheme://host[:port], no
 * path; or "*". An Origin header is compared with it byte for byte. */
static int valid_origin(const char *s)
{
    if (strcmp(s, "*") == 0)
        return 1;
    const char *rest = strncmp(s, "https://", 8) == 0 ? s + 8 : strncmp(s, "http://", 7) == 0 ? s + 7 : NULL;
    if (rest == NULL || *rest == '\0' || strlen(rest) > 255)
        return 0;
    for (; *rest != '\0'; ++rest) {
        char c = *rest;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':' || c == '[' ||
              c == ']'))
            return 0;
    }
    return 1;
}

static int parse_listen(orderd_listener_config_t *l, const char *arg)
{
    const char *colon = strrchr(arg, ':');
    unsigned long long port;
    if (colon == NULL || parse_ull(colon + 1, 0, 65535, &port) != 0)
        return -1;
    const char *host = arg;
    size_t len = (size_t)(colon - arg);
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        ++host;
        len -= 2;
    } else if (memchr(host, ':', len) != NULL) {
        return -1; /* a bare IPv6 address needs brackets */
    }
    if (len == 0 || len >= sizeof(l->host))
        return -1;
    memcpy(l->host, host, len);
    l->host[len] = '\0';
    l->port = (uint16_t)port;
    return 0;
}

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

static const char *bound_flag_name(const listen_state_t *st, unsigned bit)
{
    return st->bound_name[bit == BOUND_CERT ? 0 : bit == BOUND_KEY ? 1 : 2];
}

/* Sets one bound flag on the last --listen (or on the early slot before any). */
static int bind_flag(orderd_config_t *cfg, listen_state_t *st, unsigned bit, const char *name, const char *arg,
                     FILE *err)
{
    st->bound_name[bit == BOUND_CERT ? 0 : bit == BOUND_KEY ? 1 : 2] = name;
    unsigned i = cfg->nlisteners > 0 ? cfg->nlisteners - 1 : ORDERD_MAX_LISTENERS;
    orderd_listener_config_t *l = i < ORDERD_MAX_LISTENERS ? &cfg->listeners[i] : &st->early;
    if (st->given[i] & bit) {
        fprintf(err, "orderd: %s given twice for --listen %s\n", bound_flag_name(st, bit),
                i < ORDERD_MAX_LISTENERS ? st->spec[i] : "(the first one)");
        return -1;
    }
    if (bit == BOUND_HTTP2) {
        if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0) {
            fprintf(err, "orderd: %s: expected on or off, got '%s'\n", name, arg);
            return -1;
        }
        l->http2 = strcmp(arg, "on") == 0;
    } else if (*arg == '\0') {
        fprintf(err, "orderd: %s: expected a file, got ''\n", bound_flag_name(st, bit));
        return -1;
    } else if (bit == BOUND_CERT) {
        l->tls_cert = arg;
    } else {
        l->tls_key = arg;
    }
    st->given[i] |= bit;
    return 0;
}

/* After the last flag: the default listener, the early flags bound, each
 * listener's certificate with its key, no address twice. */
static int finish_listeners(orderd_config_t *cfg, listen_state_t *st, FILE *err)
{
    unsigned early = st->given[ORDERD_MAX_LISTENERS];
    if (cfg->nlisteners == 0) {
        cfg->listeners[0] = st->early; /* 127.0.0.1:8080 with what was given */
        cfg->nlisteners = 1;
        st->given[0] = early;
        st->spec[0] = "127.0.0.1:8080";
    } else if (early != 0 && cfg->nlisteners > 1) {
        unsigned bit = early & BOUND_CERT ? BOUND_CERT : early & BOUND_KEY ? BOUND_KEY : BOUND_HTTP2;
        fprintf(err, "orderd: %s before the first --listen: with several --listen, give it after the one it is for\n",
                bound_flag_name(st, bit));
        return -1;
    } else if (early != 0) {
        orderd_listener_config_t *l = &cfg->listeners[0];
        unsigned both = early & st->given[0];
        if (both != 0) {
            fprintf(err, "orderd: %s given twice for --listen %s\n", bound_flag_name(st, both & -both), st->spec[0]);
            return -1;
        }
        if (early & BOUND_CERT)
            l->tls_cert = st->early.tls_cert;
        if (early & BOUND_KEY)
            l->tls_key = st->early.tls_key;
        if (early & BOUND_HTTP2)
            l->http2 = st->early.http2;
        st->given[0] |= early;
    }
    for (unsigned i = 0; i < cfg->nlisteners; ++i) {
        const orderd_listener_config_t *l = &cfg->listeners[i];
        if ((l->tls_cert == NULL) != (l->tls_key == NULL)) {
            fprintf(err, "orderd: --listen %s has %s but no %s\n", st->spec[i], l->tls_cert ? "--tls-cert" : "--tls-key",
                    l->tls_cert ? "--tls-key" : "--tls-cert");
            return -1;
        }
        for (unsigned j = 0; j < i; ++j) {
            if (l->port != 0 && l->port == cfg->listeners[j].port && strcmp(l->host, cfg->listeners[j].host) == 0) {
                fprintf(err, "orderd: --listen %s given twice\n", st->spec[i]);
                return -1;
            }
        }
    }
    return 0;
}

/* --user-auth jwt has what it needs, and the --jwt-* flags that choose keys
 * or claims are not given without it (they would be silently unused). */
static int finish_user_auth(const orderd_config_t *cfg, FILE *err)
{
    const orderd_jwt_config_t *j = &cfg->jwt;
    const char *missing = j->issuer == NULL ? "--jwt-issuer" : j->audience == NULL ? "--jwt-audience" : NULL;
    if (!cfg->user_auth_jwt) {
        const char *given = j->key_file != NULL      ? "--jwt-key-file"
                            : j->secret_file != NULL ? "--jwt-secret-file"
                            : j->issuer != NULL      ? "--jwt-issuer"
                            : j->audience != NULL    ? "--jwt-audience"
                                                     : NULL;
        if (given == NULL)
            return 0;
        fprintf(err, "orderd: %s needs --user-auth jwt\n", given);
        return -1;
    }
    if ((j->key_file == NULL) == (j->secret_file == NULL)) {
        fprintf(err, "orderd: --user-auth jwt needs %s of --jwt-key-file and --jwt-secret-file\n",
                j->key_file == NULL ? "one" : "only one");
        return -1;
    }
    if (missing != NULL) {
        fprintf(err, "orderd: --user-auth jwt needs %s\n", missing);
        return -1;
    }
    return 0;
}

/* ---- the flags: one row each, with its variable, default and help ---- */

typedef struct parse_state {
    orderd_config_t *cfg;
    listen_state_t listen;
    FILE *out, *err;
    uint32_t rate_burst;         /* --rate-limit-burst; 0: not given */
    const char *rate_burst_name; /* the flag or variable that gave it */
} parse_state_t;

/* Sets one flag from `v`; `name` is what the user wrote ("--threads" or
 * "ORDERD_THREADS"), for messages. Returns 0, or -1 with one line on err. */
typedef int (*flag_set_fn)(parse_state_t *p, const char *name, const char *v);

typedef struct flag {
    const char *name;  /* without "--"; the variable is ORDERD_ + NAME with '-' as '_' */
    const char *value; /* what the help calls the value; NULL: the flag takes none and has no variable */
    const char *deflt; /* the default, as the help shows it */
    const char *help;  /* one or more lines of help */
    int repeat;        /* may be given more than once; its variable holds a comma-separated list */
    flag_set_fn set;
} flag_t;

#define FAIL(p, ...) (fprintf((p)->err, "orderd: " __VA_ARGS__), -1)

static int set_listen(parse_state_t *p, const char *name, const char *v)
{
    orderd_config_t *cfg = p->cfg;
    if (cfg->nlisteners == ORDERD_MAX_LISTENERS)
        return FAIL(p, "%s: at most %d listeners\n", name, ORDERD_MAX_LISTENERS);
    cfg->listeners[cfg->nlisteners] = (orderd_listener_config_t){.host = "127.0.0.1", .port = 8080, .http2 = 1};
    if (parse_listen(&cfg->listeners[cfg->nlisteners], v) != 0)
        return FAIL(p, "%s: expected HOST:PORT, got '%s'\n", name, v);
    p->listen.spec[cfg->nlisteners++] = v;
    return 0;
}

static int set_tls_cert(parse_state_t *p, const char *name, const char *v)
{
    return bind_flag(p->cfg, &p->listen, BOUND_CERT, name, v, p->err);
}

static int set_tls_key(parse_state_t *p, const char *name, const char *v)
{
    return bind_flag(p->cfg, &p->listen, BOUND_KEY, name, v, p->err);
}

static int set_http2(parse_state_t *p, const char *name, const char *v)
{
    return bind_flag(p->cfg, &p->listen, BOUND_HTTP2, name, v, p->err);
}

static int set_threads(parse_state_t *p, const char *name, const char *v)
{
    unsigned long long n;
    if (parse_ull(v, 1, MAX_THREADS, &n) != 0)
        return FAIL(p, "%s: expected a number from 1 to %d, got '%s'\n", name, MAX_THREADS, v);
    p->cfg->threads = (unsigned)n;
    return 0;
}

static int set_data_dir(parse_state_t *p, const char *name, const char *v)
{
    if (*v == '\0')
        return FAIL(p, "%s: expected a directory, got ''\n", name);
    p->cfg->data_dir = v;
    return 0;
}

static int set_max_body(parse_state_t *p, const char *name, const char *v)
{
    unsigned long long n;
    /* at most 1 GiB: h2o holds a whole body in memory */
    if (parse_ull(v, 1, 1ull << 30, &n) != 0)
        return FAIL(p, "%s: expected a number of bytes from 1 to 1073741824, got '%s'\n", name, v);
    p->cfg->max_body = (size_t)n;
    return 0;
}

/* A whole number from min to max into *out. */
static int set_count(parse_state_t *p, const char *name, const char *v, unsigned min, unsigned max, unsigned *out)
{
    unsigned long long n;
    if (parse_ull(v, min, max, &n) != 0)
        return FAIL(p, "%s: expected a number from %u to %u, got '%s'\n", name, min, max, v);
    *out = (unsigned)n;
    return 0;
}

static int set_http2_max_streams(parse_state_t *p, const char *name, const char *v)
{
    /* libh2o 2.2.5 announces SETTINGS_MAX_CONCURRENT_STREAMS 100 (compiled
     * in) and refuses streams past it: more could never be in process */
    return set_count(p, name, v, 1, ORDERD_HTTP2_STREAMS_MAX, &p->cfg->http2_max_streams);
}

static int set_http2_max_resets(parse_state_t *p, const char *name, const char *v)
{
    return set_count(p, name, v, 0, 1000000, &p->cfg->http2_max_resets);
}

static int set_fsync(parse_state_t *p, const char *name, const char *v)
{
    if (orderd_fsync_mode_parse(v, &p->cfg->fsync) != 0)
        return FAIL(p, "%s: expected always, everysec or no, got '%s'\n", name, v);
    return 0;
}

static int set_snapshot_bytes(parse_state_t *p, const char *name, const char *v)
{
    unsigned long long n;
    if (parse_ull(v, 4096, 1ull << 40, &n) != 0)
        return FAIL(p, "%s: expected a number of bytes from 4096 to 1099511627776, got '%s'\n", name, v);
    p->cfg->snapshot_bytes = n;
    return 0;
}

static int set_operator_token_file(parse_state_t *p, const char *name, const char *v)
{
    if (*v == '\0')
        return FAIL(p, "%s: expected a file, got ''\n", name);
    p->cfg->operator_token_file = v;
    return 0;
}

static int set_max_connections(parse_state_t *p, const char *name, const char *v)
{
    unsigned long long n;
    if (parse_ull(v, 1, ORDERD_CONFIG_MAX_CONNECTIONS, &n) != 0)
        return FAIL(p, "%s: expected a number from 1 to %u, got '%s'\n", name, ORDERD_CONFIG_MAX_CONNECTIONS, v);
    p->cfg->max_connections = (unsigned)n;
    p->cfg->max_connections_given = 1;
    return 0;
}

/* A timeout of libh2o's, 100 ms to 1 h, into *out. */
static int set_timeout(parse_state_t *p, const char *name, const char *v, int64_t *out)
{
    if (parse_duration_ms(v, 100, 3600 * 1000, out) != 0)
        return FAIL(p, "%s: expected a duration from 100ms to 1h (e.g. 10s, 500ms), got '%s'\n", name, v);
    return 0;
}

static int set_header_timeout(parse_state_t *p, const char *name, const char *v)
{
    return set_timeout(p, name, v, &p->cfg->header_timeout_ms);
}

static int set_body_timeout(parse_state_t *p, const char *name, const char *v)
{
    return set_timeout(p, name, v, &p->cfg->body_timeout_ms);
}

static int set_idle_timeout(parse_state_t *p, const char *name, const char *v)
{
    return set_timeout(p, name, v, &p->cfg->idle_timeout_ms);
}

static int set_idempotency_ttl(parse_state_t *p, const char *name, const char *v)
{
    if (parse_duration_ms(v, 1000, 365ull * 86400 * 1000, &p->cfg->idempotency_ttl_ms) != 0)
        return FAIL(p, "%s: expected a duration from 1s to 365d (e.g. 24h), got '%s'\n", name, v);
    return 0;
}

static int set_access_log(parse_state_t *p, const char *name, const char *v)
{
    if (*v == '\0')
        return FAIL(p, "%s: expected a file or -, got ''\n", name);
    p->cfg->access_log = v;
    return 0;
}

static int set_trusted_proxy(parse_state_t *p, const char *name, const char *v)
{
    orderd_config_t *cfg = p->cfg;
    if (cfg->ntrusted_proxies == ORDERD_MAX_TRUSTED_PROXIES)
        return FAIL(p, "%s: at most %d\n", name, ORDERD_MAX_TRUSTED_PROXIES);
    if (orderd_cidr_parse(v, &cfg->trusted_proxies[cfg->ntrusted_proxies]) != 0)
        return FAIL(p, "%s: expected an address or CIDR (10.0.0.0/8, ::1/128), got '%s'\n", name, v);
    cfg->ntrusted_proxies++;
    return 0;
}

static int set_cors_origin(parse_state_t *p, const char *name, const char *v)
{
    orderd_config_t *cfg = p->cfg;
    if (cfg->ncors_origins == ORDERD_MAX_CORS_ORIGINS)
        return FAIL(p, "%s: at most %d\n", name, ORDERD_MAX_CORS_ORIGINS);
    if (!valid_origin(v))
        return FAIL(p, "%s: expected * or scheme://host[:port] in lower case, got '%s'\n", name, v);
    cfg->cors_origins[cfg->ncors_origins++] = v;
    return 0;
}

/* "on" -> 1, "off" -> 0; -1 (with the message) for anything else */
static int on_off(parse_state_t *p, const char *name, const char *v)
{
    if (strcmp(v, "on") == 0)
        return 1;
    if (strcmp(v, "off") == 0)
        return 0;
    return FAIL(p, "%s: expected on or off, got '%s'\n", name, v);
}

static int set_compress(parse_state_t *p, const char *name, const char *v)
{
    int on = on_off(p, name, v);
    if (on < 0)
        return -1;
    p->cfg->compress = on;
    return 0;
}

/* "off" or a whole number from 1 to max; -1 (with the message) for anything else */
static int set_limit(parse_state_t *p, const char *name, const char *v, unsigned long long max, uint64_t *out)
{
    unsigned long long n;
    if (strcmp(v, "off") == 0) {
        *out = 0;
        return 0;
    }
    if (parse_ull(v, 1, max, &n) != 0)
        return FAIL(p, "%s: expected off or a number from 1 to %llu, got '%s'\n", name, max, v);
    *out = n;
    return 0;
}

static int set_rate_limit(parse_state_t *p, const char *name, const char *v)
{
    /* the burst is N unless --rate-limit-burst says otherwise (applied after every flag) */
    if (orderd_rate_parse(v, &p->cfg->rate_limit) != 0)
        return FAIL(p, "%s: expected off or N/s, N/m or N/h with N from 1 to %u, got '%s'\n", name, ORDERD_RATE_MAX, v);
    return 0;
}

static int set_rate_burst(parse_state_t *p, const char *name, const char *v)
{
    unsigned long long n;
    if (parse_ull(v, 1, ORDERD_RATE_MAX, &n) != 0)
        return FAIL(p, "%s: expected a number from 1 to %u, got '%s'\n", name, ORDERD_RATE_MAX, v);
    p->rate_burst = (uint32_t)n;
    p->rate_burst_name = name;
    return 0;
}

static int set_max_orders_per_user(parse_state_t *p, const char *name, const char *v)
{
    return set_limit(p, name, v, 1ull << 40, &p->cfg->max_orders_per_user);
}

static int set_max_orders(parse_state_t *p, const char *name, const char *v)
{
    return set_limit(p, name, v, 1ull << 40, &p->cfg->max_orders);
}

/* "off", or bytes with an optional K, M or G (powers of 1024), 1 to 1 PiB */
static int set_memory_limit(parse_state_t *p, const char *name, const char *v)
{
    char num[32];
    size_t len = strlen(v);
    unsigned long long n, unit = 1;
    if (strcmp(v, "off") == 0) {
        p->cfg->memory_limit = 0;
        return 0;
    }
    if (len > 0 && len < sizeof(num)) {
        memcpy(num, v, len + 1);
        const char *units = "KMG";
        const char *u = strchr(units, num[len - 1]);
        if (u != NULL) {
            unit = 1ull << (10 * (u - units + 1));
            num[--len] = '\0';
        }
        if (parse_ull(num, 1, (1ull << 50) / unit, &n) == 0) {
            p->cfg->memory_limit = n * unit;
            return 0;
        }
    }
    return FAIL(p, "%s: expected off or a number of bytes (K, M, G: KiB, MiB, GiB) up to 1 PiB, got '%s'\n", name, v);
}

static int set_log_format(parse_state_t *p, const char *name, const char *v)
{
    if (strcmp(v, "text") != 0 && strcmp(v, "json") != 0)
        return FAIL(p, "%s: expected text or json, got '%s'\n", name, v);
    p->cfg->log_json = strcmp(v, "json") == 0;
    return 0;
}

static int set_user_auth(parse_state_t *p, const char *name, const char *v)
{
    if (strcmp(v, "header") != 0 && strcmp(v, "jwt") != 0)
        return FAIL(p, "%s: expected header or jwt, got '%s'\n", name, v);
    p->cfg->user_auth_jwt = strcmp(v, "jwt") == 0;
    return 0;
}

/* A file named by a --jwt-* flag. */
static int jwt_file(parse_state_t *p, const char *name, const char *v, const char **out)
{
    if (*v == '\0')
        return FAIL(p, "%s: expected a file, got ''\n", name);
    *out = v;
    return 0;
}

static int set_jwt_key_file(parse_state_t *p, const char *name, const char *v)
{
    return jwt_file(p, name, v, &p->cfg->jwt.key_file);
}

static int set_jwt_secret_file(parse_state_t *p, const char *name, const char *v)
{
    return jwt_file(p, name, v, &p->cfg->jwt.secret_file);
}

/* An issuer, audience or claim name: compared byte for byte with the token's. */
static int jwt_name(parse_state_t *p, const char *name, const char *v, const char **out)
{
    size_t len = strlen(v);
    if (len < 1 || len > ORDERD_JWT_NAME_MAX)
        return FAIL(p, "%s: expected 1 to %d bytes, got %zu\n", name, ORDERD_JWT_NAME_MAX, len);
    *out = v;
    return 0;
}

static int set_jwt_issuer(parse_state_t *p, const char *name, const char *v)
{
    return jwt_name(p, name, v, &p->cfg->jwt.issuer);
}

static int set_jwt_audience(parse_state_t *p, const char *name, const char *v)
{
    return jwt_name(p, name, v, &p->cfg->jwt.audience);
}

static int set_jwt_user_claim(parse_state_t *p, const char *name, const char *v)
{
    return jwt_name(p, name, v, &p->cfg->jwt.user_claim);
}

static int set_jwt_leeway(parse_state_t *p, const char *name, const char *v)
{
    unsigned long long n;
    if (parse_ull(v, 0, 300, &n) != 0)
        return FAIL(p, "%s: expected seconds from 0 to 300, got '%s'\n", name, v);
    p->cfg->jwt.leeway_s = (int64_t)n;
    return 0;
}

static int show_help(parse_state_t *p, const char *name, const char *v);

static int show_version(parse_state_t *p, const char *name, const char *v)
{
    (void)name, (void)v;
    print_version(p->out);
    return 1;
}

/* In the order --help lists them. */
static const flag_t flags[] = {
    {"listen", "HOST:PORT", "127.0.0.1:8080",
     "address to serve on (IPv6 as [::1]:8080; port 0 lets the kernel pick and logs it);\n"
     "up to 8; --tls-cert, --tls-key and --http2 apply to the last --listen before them\n"
     "(with a single --listen they may come anywhere)",
     1, set_listen},
    {"tls-cert", "FILE", "none (cleartext HTTP/1.1 and h2c)",
     "PEM certificate chain: the listener speaks TLS 1.2 and 1.3 with ALPN h2 and http/1.1", 0, set_tls_cert},
    {"tls-key", "FILE", "none", "PEM private key of --tls-cert; both are read again on SIGHUP", 0, set_tls_key},
    {"http2", "on|off", "on", "off: HTTP/1.1 only on the listener (no h2c, no ALPN h2)", 0, set_http2},
    {"threads", "N", "the number of online CPUs", "worker threads, one event loop each", 0, set_threads},
    {"data-dir", "DIR", "./data", "data directory: the journal, snapshots, the LOCK file", 0, set_data_dir},
    {"max-body", "BYTES", "1048576", "largest request body accepted", 0, set_max_body},
    {"max-connections", "N", "ulimit -n less 64 and (7 + listeners) a thread",
     "client connections open at once, all threads together; past it a new one\n"
     "is reset as soon as it is accepted",
     0, set_max_connections},
    {"header-timeout", "DURATION", "10s",
     "longest wait for a TLS handshake, and for an HTTP/1.1 request's line and\n"
     "headers (100ms to 1h; a number of seconds, or with ms, s, m or h). HTTP/1.1\n"
     "has one timer for a request, from when orderd starts waiting for it to its\n"
     "last body byte: the smallest of the three timeouts (see docs/security.md)",
     0, set_header_timeout},
    {"body-timeout", "DURATION", "10s", "longest wait for an HTTP/1.1 request's body, on that one timer", 0,
     set_body_timeout},
    {"idle-timeout", "DURATION", "10s",
     "close a connection with no request in progress that sends nothing this\n"
     "long: HTTP/2 with a GOAWAY first, HTTP/1.1 through its one timer",
     0, set_idle_timeout},
    {"http2-max-streams", "N", "100",
     "requests of one HTTP/2 connection in process at once (1 to 100); its further\n"
     "streams wait, unread, until one is answered",
     0, set_http2_max_streams},
    {"http2-max-resets", "N", "200",
     "streams one HTTP/2 connection may reset while their answer is pending, within\n"
     "any 10 s; past it: GOAWAY (ENHANCE_YOUR_CALM) and the connection closes\n"
     "(rapid reset, CVE-2023-44487); 0: no limit",
     0, set_http2_max_resets},
    {"fsync", "always|everysec|no", "always",
     "always: answer a change after fdatasync (nothing acknowledged is lost); everysec:\n"
     "after write(), fdatasync every second (a power loss may lose about a second);\n"
     "no: after write(), the OS flushes",
     0, set_fsync},
    {"snapshot-bytes", "BYTES", "67108864",
     "snapshot the table and start a new journal segment past this much journal", 0, set_snapshot_bytes},
    {"operator-token-file", "FILE", "DATA-DIR/operator-token, made (mode 0600) at first start",
     "the operator's bearer token: the first line of FILE", 0, set_operator_token_file},
    {"idempotency-ttl", "DURATION", "24h",
     "how long Idempotency-Key answers are kept: seconds, or a number with s, m, h or d\n(1s to 365d)", 0,
     set_idempotency_ttl},
    {"access-log", "FILE|-", "off",
     "one line per request (combined log format, then request id, protocol, seconds\n"
     "taken) appended to FILE, or to standard output with -; reopened on SIGHUP",
     0, set_access_log},
    {"trusted-proxy", "CIDR", "none",
     "peers (e.g. 10.0.0.0/8, ::1) whose X-Forwarded-Proto, -Host, -For and Forwarded\n"
     "headers are believed; from others they are ignored; repeatable",
     1, set_trusted_proxy},
    {"cors-origin", "ORIGIN", "off",
     "answer CORS (and preflight OPTIONS) for this browser origin, e.g.\nhttps://shop.example; * for any; repeatable",
     1, set_cors_origin},
    {"compress", "on|off", "on",
     "gzip answers of 1 KiB and more that carry no ETag (pages, the queue, /metrics)\n"
     "when the client sends Accept-Encoding: gzip",
     0, set_compress},
    {"rate-limit-per-user", "N/s|N/m|N/h|off", "off",
     "creates and cancels one user may make: N a second, minute or hour, as a token\n"
     "bucket per user; past it 429 with Retry-After",
     0, set_rate_limit},
    {"rate-limit-burst", "N", "the N of --rate-limit-per-user",
     "tokens a user's bucket holds: writes allowed at once after a quiet spell", 0, set_rate_burst},
    {"max-orders-per-user", "N|off", "off",
     "orders one user may hold, of any status (orderd keeps every order); past it a\ncreate is 507", 0,
     set_max_orders_per_user},
    {"max-orders", "N|off", "off", "orders the server holds in all; past it a create is 507", 0, set_max_orders},
    {"memory-limit", "BYTES|off", "off",
     "heap the server may hold (K, M, G suffixes: KiB, MiB, GiB); past it creates and\n"
     "cancels are 507, reads keep working",
     0, set_memory_limit},
    {"log-format", "text|json", "text",
     "standard error lines: \"TIME LEVEL message\", or one JSON object per line", 0, set_log_format},
    {"user-auth", "header|jwt", "header",
     "who the customer is: header believes X-User-Id as sent (a gateway in front must\n"
     "set it); jwt takes Authorization: Bearer <JWT> verified with --jwt-key-file or\n"
     "--jwt-secret-file, and ignores X-User-Id",
     0, set_user_auth},
    {"jwt-key-file", "FILE", "none",
     "--user-auth jwt: a PEM public key (RSA: RS256, EC P-256: ES256) or a JWKS file;\n"
     "the token's kid picks the JWKS key; read again on SIGHUP",
     0, set_jwt_key_file},
    {"jwt-secret-file", "FILE", "none",
     "--user-auth jwt: an HS256 secret of 32 bytes or more (one trailing newline is not\n"
     "part of it), instead of --jwt-key-file; read again on SIGHUP",
     0, set_jwt_secret_file},
    {"jwt-issuer", "ISS", "none (needed with --user-auth jwt)", "the iss a token must carry", 0, set_jwt_issuer},
    {"jwt-audience", "AUD", "none (needed with --user-auth jwt)", "a value the token's aud must hold", 0,
     set_jwt_audience},
    {"jwt-user-claim", "NAME", "sub", "the claim that names the user, held to X-User-Id's rules", 0,
     set_jwt_user_claim},
    {"jwt-leeway", "SECONDS", "30", "clock skew allowed on exp and nbf, 0 to 300", 0, set_jwt_leeway},
    {"help", NULL, NULL, "print this help and exit", 0, show_help},
    {"version", NULL, NULL, "print the versions of orderd, libh2o, yajl and OpenSSL and exit", 0, show_version},
};
#define NFLAGS (sizeof(flags) / sizeof(flags[0]))

/* ORDERD_ + the flag's name in capitals with '-' as '_'. */
static void env_name(const flag_t *f, char *out, size_t len)
{
    size_t n = (size_t)snprintf(out, len, "ORDERD_%s", f->name);
    for (size_t i = 7; i < n && i < len; ++i)
        out[i] = out[i] == '-' ? '_' : (char)(out[i] >= 'a' && out[i] <= 'z' ? out[i] - 'a' + 'A' : out[i]);
}

/* Writes `text`'s lines, each indented by `indent` spaces. */
static void put_indented(FILE *out, const char *text, int indent)
{
    while (*text != '\0') {
        const char *nl = strchr(text, '\n');
        int len = nl != NULL ? (int)(nl - text) : (int)strlen(text);
        fprintf(out, "%*s%.*s\n", indent, "", len, text);
        text += len + (nl != NULL);
    }
}

static int show_help(parse_state_t *p, const char *name, const char *v)
{
    (void)name, (void)v;
    FILE *out = p->out;
    fputs("usage: orderd [FLAG VALUE]...\n"
          "       orderd journal verify|dump|repair --data-dir DIR\n"
          "\n"
          "Every flag with a value can also be set in the environment variable named under it.\n"
          "A flag on the command line wins over its variable; an empty variable counts as unset.\n"
          "The variable of a repeatable flag holds a comma-separated list. Variables act as if\n"
          "given before the command line's flags; ORDERD_TLS_CERT, ORDERD_TLS_KEY and\n"
          "ORDERD_HTTP2 therefore need a single listener.\n"
          "\n",
          out);
    for (size_t i = 0; i < NFLAGS; ++i) {
        const flag_t *f = &flags[i];
        char var[64];
        env_name(f, var, sizeof(var));
        fprintf(out, "  --%s%s%s\n", f->name, f->value != NULL ? " " : "", f->value != NULL ? f->value : "");
        put_indented(out, f->help, 6);
        if (f->value != NULL)
            fprintf(out, "      default: %s; variable: %s%s\n", f->deflt, var, f->repeat ? " (comma-separated)" : "");
    }
    return 1;
}

/* A flag on the command line, or a piece of a variable, in the order it is applied. */
typedef struct setting {
    const flag_t *flag;
    const char *name; /* "--threads" or "ORDERD_THREADS" */
    const char *value;
} setting_t;

#define MAX_SETTINGS 512

/* Splits a repeatable variable's value at commas (spaces around a piece are
 * dropped) into the config's own copy, appending one setting per piece. */
static int split_env(parse_state_t *p, const flag_t *f, const char *var, const char *value, setting_t *set, size_t *n,
                     size_t *used)
{
    orderd_config_t *cfg = p->cfg;
    const char *s = value;
    for (;;) {
        while (*s == ' ' || *s == '\t')
            ++s;
        const char *end = strchr(s, ',');
        size_t len = end != NULL ? (size_t)(end - s) : strlen(s);
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            --len;
        if (*used + len + 1 > sizeof(cfg->env_values) || *n == MAX_SETTINGS)
            return FAIL(p, "%s: too long\n", var);
        char *copy = cfg->env_values + *used;
        memcpy(copy, s, len);
        copy[len] = '\0';
        *used += len + 1;
        set[(*n)++] = (setting_t){f, var, copy};
        if (end == NULL)
            return 0;
        s = end + 1;
    }
}

/* The variables of the flags the command line did not give, per-listener ones first. */
static int collect_env(parse_state_t *p, const unsigned char *given, char (*names)[64], setting_t *set, size_t *n)
{
    size_t used = 0;
    for (int pass = 0; pass < 2; ++pass) {
        for (size_t i = 0; i < NFLAGS; ++i) {
            const flag_t *f = &flags[i];
            int per_listener = f->set == set_tls_cert || f->set == set_tls_key || f->set == set_http2;
            if (f->value == NULL || given[i] || per_listener != (pass == 0))
                continue;
            char *vname = names[i];
            env_name(f, vname, sizeof(names[i]));
            const char *value = getenv(vname);
            if (value == NULL || *value == '\0')
                continue;
            if (f->repeat) {
                if (split_env(p, f, vname, value, set, n, &used) != 0)
                    return -1;
            } else if (*n == MAX_SETTINGS) {
                return FAIL(p, "%s: too many settings\n", vname);
            } else {
                set[(*n)++] = (setting_t){f, vname, value};
            }
        }
    }
    return 0;
}

/* One line on err; returns ORDERD_CONFIG_USAGE. */
__attribute__((format(printf, 2, 3))) static int usage_error(FILE *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("orderd: ", err);
    vfprintf(err, fmt, ap);
    va_end(ap);
    return ORDERD_CONFIG_USAGE;
}

int orderd_config_parse(orderd_config_t *cfg, int argc, char **argv, FILE *out, FILE *err)
{
    struct option opts[NFLAGS + 1];
    char flag_names[NFLAGS][40];
    for (size_t i = 0; i < NFLAGS; ++i) {
        opts[i] = (struct option){flags[i].name, flags[i].value != NULL ? required_argument : no_argument, NULL,
                                  (int)(i + 1)};
        snprintf(flag_names[i], sizeof(flag_names[i]), "--%s", flags[i].name);
    }
    opts[NFLAGS] = (struct option){NULL, 0, NULL, 0};

    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    *cfg = (orderd_config_t){.threads = cpus > 0 ? (unsigned)(cpus < MAX_THREADS ? cpus : MAX_THREADS) : 1,
                             .data_dir = "./data",
                             .max_body = 1024 * 1024,
                             .header_timeout_ms = 10000,
                             .body_timeout_ms = 10000,
                             .idle_timeout_ms = 10000,
                             .http2_max_streams = ORDERD_HTTP2_STREAMS_MAX,
                             .http2_max_resets = 200,
                             .fsync = ORDERD_FSYNC_ALWAYS,
                             .snapshot_bytes = 64ull << 20,
                             .idempotency_ttl_ms = 24LL * 3600 * 1000,
                             .compress = 1,
                             .jwt = {.user_claim = "sub", .leeway_s = 30}};
    parse_state_t p = {.cfg = cfg,
                       .listen = {.early = {.host = "127.0.0.1", .port = 8080, .http2 = 1}},
                       .out = out,
                       .err = err};
    setting_t set[MAX_SETTINGS];
    char env_names[NFLAGS][64]; /* the variables' names, for messages */
    size_t nenv = 0, n = 0;
    unsigned char given[NFLAGS] = {0};
    setting_t argv_set[MAX_SETTINGS];
    int c;

    /* the command line first, to know which variables it overrides; getopt
     * keeps state between calls: start from scratch, print our own errors */
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c == ':')
            return usage_error(err, "%s needs a value (see --help)\n", argv[optind - 1]);
        if (c < 1 || c > (int)NFLAGS)
            return usage_error(err, "unknown option '%s' (see --help)\n", argv[optind - 1]);
        if (n == MAX_SETTINGS)
            return usage_error(err, "too many flags\n");
        given[c - 1] = 1;
        argv_set[n++] = (setting_t){&flags[c - 1], flag_names[c - 1], optarg};
        if (flags[c - 1].value == NULL)
            break; /* --help, --version: what follows does not matter */
    }
    if (c == -1 && optind < argc)
        return usage_error(err, "unexpected argument '%s' (see --help)\n", argv[optind]);
    if (collect_env(&p, given, env_names, set, &nenv) != 0)
        return ORDERD_CONFIG_USAGE;
    if (nenv + n > MAX_SETTINGS)
        return usage_error(err, "too many settings\n");
    memcpy(set + nenv, argv_set, n * sizeof(*set));
    n += nenv;

    /* --help and --version do their work however the rest reads */
    for (size_t i = 0; i < n; ++i) {
        if (set[i].flag->value == NULL) {
            set[i].flag->set(&p, set[i].name, NULL);
            return ORDERD_CONFIG_EXIT;
        }
    }
    for (size_t i = 0; i < n; ++i)
        if (set[i].flag->set(&p, set[i].name, set[i].value) != 0)
            return ORDERD_CONFIG_USAGE;
    if (finish_listeners(cfg, &p.listen, err) != 0 || finish_user_auth(cfg, err) != 0)
        return ORDERD_CONFIG_USAGE;
    struct rlimit nofile;
    cfg->nofile = getrlimit(RLIMIT_NOFILE, &nofile) == 0 ? (uint64_t)nofile.rlim_cur : 1024;
    if (!cfg->max_connections_given)
        cfg->max_connections = orderd_accept_default_max(cfg->nofile, cfg->threads, cfg->nlisteners);
    if (p.rate_burst != 0 && cfg->rate_limit.per == 0)
        return usage_error(err, "%s needs --rate-limit-per-user\n", p.rate_burst_name);
    if (p.rate_burst != 0)
        cfg->rate_limit.burst = p.rate_burst;
    return ORDERD_CONFIG_RUN;
}

/* ---- the effective configuration, for the start-up log ---- */

/* A limit: "off" for 0, else the number. */
static void put_count(orderd_text_t *t, uint64_t n)
{
    if (n == 0)
        orderd_text_put(t, "off");
    else
        orderd_text_put(t, "%llu", (unsigned long long)n);
}

const char *orderd_config_describe(const orderd_config_t *cfg, char *out, size_t len)
{
    orderd_text_t t = {out, len, 0};
    if (len == 0)
        return out;
    out[0] = '\0';
    for (unsigned i = 0; i < cfg->nlisteners; ++i) {
        const orderd_listener_config_t *l = &cfg->listeners[i];
        int v6 = strchr(l->host, ':') != NULL;
        orderd_text_put(&t, "%slisten=%s://%s%s%s:%u", i > 0 ? " " : "", l->tls_cert != NULL ? "https" : "http",
                        v6 ? "[" : "", l->host, v6 ? "]" : "", l->port);
        if (l->tls_cert != NULL)
            orderd_text_put(&t, " tls-cert=%s tls-key=%s", l->tls_cert, l->tls_key);
        orderd_text_put(&t, " http2=%s", l->http2 ? "on" : "off");
    }
    orderd_text_put(&t, " threads=%u data-dir=%s max-body=%zu max-connections=%u", cfg->threads, cfg->data_dir, cfg->max_body,
        cfg->max_connections);
    if (!cfg->max_connections_given)
        orderd_text_put(&t, " (file descriptor limit %llu)", (unsigned long long)cfg->nofile);
    const struct {
        const char *name;
        int64_t ms;
    } timeouts[] = {{"header-timeout", cfg->header_timeout_ms},
                    {"body-timeout", cfg->body_timeout_ms},
                    {"idle-timeout", cfg->idle_timeout_ms}};
    for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); ++i)
        orderd_text_put(&t, timeouts[i].ms % 1000 == 0 ? " %s=%llds" : " %s=%lldms", timeouts[i].name,
            (long long)(timeouts[i].ms % 1000 == 0 ? timeouts[i].ms / 1000 : timeouts[i].ms));
    orderd_text_put(&t, " http2-max-streams=%u http2-max-resets=%u", cfg->http2_max_streams, cfg->http2_max_resets);
    orderd_text_put(&t, " fsync=%s snapshot-bytes=%llu", orderd_fsync_mode_name(cfg->fsync),
        (unsigned long long)cfg->snapshot_bytes);
    if (cfg->operator_token_file != NULL)
        orderd_text_put(&t, " operator-token-file=%s", cfg->operator_token_file);
    else
        orderd_text_put(&t, " operator-token-file=%s/operator-token", cfg->data_dir);
    orderd_text_put(&t, " idempotency-ttl=%llds access-log=%s", (long long)(cfg->idempotency_ttl_ms / 1000),
                    cfg->access_log != NULL ? cfg->access_log : "off");
    for (unsigned i = 0; i < cfg->ntrusted_proxies; ++i) {
        char cidr[ORDERD_CIDR_TEXT_MAX];
        orderd_text_put(&t, " trusted-proxy=%s", orderd_cidr_format(&cfg->trusted_proxies[i], cidr, sizeof(cidr)));
    }
    for (unsigned i = 0; i < cfg->ncors_origins; ++i)
        orderd_text_put(&t, " cors-origin=%s", cfg->cors_origins[i]);
    orderd_text_put(&t, " compress=%s", cfg->compress ? "on" : "off");
    char rate[32];
    orderd_text_put(&t, " rate-limit-per-user=%s", orderd_rate_format(&cfg->rate_limit, rate, sizeof(rate)));
    if (cfg->rate_limit.per != 0)
        orderd_text_put(&t, " rate-limit-burst=%u", cfg->rate_limit.burst);
    orderd_text_put(&t, " max-orders-per-user=");
    put_count(&t, cfg->max_orders_per_user);
    orderd_text_put(&t, " max-orders=");
    put_count(&t, cfg->max_orders);
    orderd_text_put(&t, " memory-limit=");
    put_count(&t, cfg->memory_limit);
    orderd_text_put(&t, " log-format=%s user-auth=%s", cfg->log_json ? "json" : "text",
                    cfg->user_auth_jwt ? "jwt" : "header");
    if (cfg->user_auth_jwt) {
        const orderd_jwt_config_t *j = &cfg->jwt;
        orderd_text_put(&t, " %s=%s jwt-issuer=%s jwt-audience=%s jwt-user-claim=%s jwt-leeway=%llds",
                        j->key_file != NULL ? "jwt-key-file" : "jwt-secret-file",
                        j->key_file != NULL ? j->key_file : j->secret_file, j->issuer, j->audience, j->user_claim,
                        (long long)j->leeway_s);
    }
    return out;
}
