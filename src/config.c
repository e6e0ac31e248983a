#include "orderd/config.h"
#include "orderd/accept.h"
#include "orderd/store.h"

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

#include "internal/config_values.h"

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


static int set_listen(parse_state_t *p, const char *name, const char *v)
{
    orderd_config_t *cfg = p->cfg;
    if (cfg->nlisteners == ORDERD_MAX_LISTENERS)
        return FAIL(p, "%s: at most %d listeners\n", name, ORDERD_MAX_LISTENERS);
    cfg->listeners[cfg->nlisteners] = (orderd_listener_config_t){.host = "127.0.0.1", .port = 8080, .http2 = 1};
    if (orderd_config_parse_listen(&cfg->listeners[cfg->nlisteners], v) != 0)
        return FAIL(p, "%s: expected HOST:PORT, got '%s'\n", name, v);
    p->listen.spec[cfg->nlisteners++] = v;
    return 0;
}

static int set_tls_cert(parse_state_t *p, const char *name, const char *v)
{
    return orderd_config_bind_flag(p->cfg, &p->listen, BOUND_CERT, name, v, p->err);
}

static int set_tls_key(parse_state_t *p, const char *name, const char *v)
{
    return orderd_config_bind_flag(p->cfg, &p->listen, BOUND_KEY, name, v, p->err);
}

static int set_http2(parse_state_t *p, const char *name, const char *v)
{
    return orderd_config_bind_flag(p->cfg, &p->listen, BOUND_HTTP2, name, v, p->err);
}

static int set_threads(parse_state_t *p, const char *name, const char *v)
{
    unsigned long long n;
    if (orderd_config_parse_ull(v, 1, MAX_THREADS, &n) != 0)
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
    if (orderd_config_parse_ull(v, 1, 1ull << 30, &n) != 0)
        return FAIL(p, "%s: expected a number of bytes from 1 to 1073741824, got '%s'\n", name, v);
    p->cfg->max_body = (size_t)n;
    return 0;
}

/* A whole number from min to max into *out. */
static int set_count(parse_state_t *p, const char *name, const char *v, unsigned min, unsigned max, unsigned *out)
{
    unsigned long long n;
    if (orderd_config_parse_ull(v, min, max, &n) != 0)
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
    if (orderd_config_parse_ull(v, 1, ORDERD_CONFIG_MAX_CONNECTIONS, &n) != 0)
        return FAIL(p, "%s: expected a number from 1 to %u, got '%s'\n", name, ORDERD_CONFIG_MAX_CONNECTIONS, v);
    p->cfg->max_connections = (unsigned)n;
    p->cfg->max_connections_given = 1;
    return 0;
}

/* A timeout of libh2o's, 100 ms to 1 h, into *out. */
static int set_timeout(parse_state_t *p, const char *name, const char *v, int64_t *out)
{
    if (orderd_config_parse_duration_ms(v, 100, 3600 * 1000, out) != 0)
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

static int set_return_window(parse_state_t *p, const char *name, const char *v)
{
    unsigned long long days;
    if (orderd_config_parse_ull(v, 0, 3650, &days) != 0)
        return FAIL(p, "%s: expected a number of days from 0 to 3650, got '%s'\n", name, v);
    p->cfg->return_window_days = (unsigned)days;
    return 0;
}

static int set_node_id(parse_state_t *p, const char *name, const char *v)
{
    return set_count(p, name, v, 0, ORDERD_ID_NODE_MAX, &p->cfg->node_id);
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
    if (!orderd_config_valid_origin(v))
        return FAIL(p, "%s: expected * or scheme://host[:port] in lower case, got '%s'\n", name, v);
    cfg->cors_origins[cfg->ncors_origins++] = v;
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
     0, orderd_config_set_fsync},
    {"snapshot-bytes", "BYTES", "67108864",
     "snapshot the table and start a new journal segment past this much journal", 0, orderd_config_set_snapshot_bytes},
    {"operator-token-file", "FILE", "DATA-DIR/operator-token, made (mode 0600) at first start",
     "the operator's bearer token: the first line of FILE", 0, set_operator_token_file},
    {"idempotency-ttl", "DURATION", "24h",
     "how long Idempotency-Key answers are kept: seconds, or a number with s, m, h or d\n(1s to 365d)", 0,
     orderd_config_set_idempotency_ttl},
    {"return-window", "DAYS", "30",
     "how many days after delivery a customer may ask to return an order (0 to 3650)", 0, set_return_window},
    {"node-id", "N", "0",
     "this node's number (0 to 15), part of every new order id: give each node behind\n"
     "one load balancer its own, so that ids stay unique across them",
     0, set_node_id},
    {"feed-retention", "DURATION|BYTES|0", "1GiB",
     "journal kept for GET /api/admin/events after a snapshot covers it: for a time\n"
     "(24h, 7d) or up to a size (512MiB, 1GiB); older events are 410 Gone",
     0, orderd_config_set_feed_retention},
    {"webhook", "URL", "none",
     "POST every event to this http(s) URL, signed (orderd-signature), in order,\n"
     "retried until it answers 2xx; repeatable (up to 8)",
     1, orderd_config_set_webhook},
    {"webhook-secret-file", "FILE", "DATA-DIR/webhook-secret, made (mode 0600) at first start",
     "the webhooks' HMAC-SHA256 signing secret: the first line of FILE", 0, orderd_config_set_webhook_secret_file},
    {"webhook-max-age", "DURATION", "24h",
     "how long an event is retried before it is given up (1s to 30d)", 0, orderd_config_set_webhook_max_age},
    {"webhook-timeout", "DURATION", "10s",
     "longest wait for a webhook's answer (100ms to 5m); past it the delivery is retried", 0,
     orderd_config_set_webhook_timeout},
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
     0, orderd_config_set_compress},
    {"rate-limit-per-user", "N/s|N/m|N/h|off", "off",
     "creates and cancels one user may make: N a second, minute or hour, as a token\n"
     "bucket per user; past it 429 with Retry-After",
     0, orderd_config_set_rate_limit},
    {"rate-limit-burst", "N", "the N of --rate-limit-per-user",
     "tokens a user's bucket holds: writes allowed at once after a quiet spell", 0, orderd_config_set_rate_burst},
    {"max-orders-per-user", "N|off", "off",
     "orders one user may hold, of any status (orderd keeps every order); past it a\ncreate is 507", 0,
     orderd_config_set_max_orders_per_user},
    {"max-orders", "N|off", "off", "orders the server holds in all; past it a create is 507", 0, orderd_config_set_max_orders},
    {"memory-limit", "BYTES|off", "off",
     "heap the server may hold (K, M, G suffixes: KiB, MiB, GiB); past it creates and\n"
     "cancels are 507, reads keep working",
     0, orderd_config_set_memory_limit},
    {"log-format", "text|json", "text",
     "standard error lines: \"TIME LEVEL message\", or one JSON object per line", 0, orderd_config_set_log_format},
    {"user-auth", "header|jwt", "header",
     "who the customer is: header believes X-User-Id as sent (a gateway in front must\n"
     "set it); jwt takes Authorization: Bearer <JWT> verified with --jwt-key-file or\n"
     "--jwt-secret-file, and ignores X-User-Id",
     0, orderd_config_set_user_auth},
    {"jwt-key-file", "FILE", "none",
     "--user-auth jwt: a PEM public key (RSA: RS256, EC P-256: ES256) or a JWKS file;\n"
     "the token's kid picks the JWKS key; read again on SIGHUP",
     0, orderd_config_set_jwt_key_file},
    {"jwt-secret-file", "FILE", "none",
     "--user-auth jwt: an HS256 secret of 32 bytes or more (one trailing newline is not\n"
     "part of it), instead of --jwt-key-file; read again on SIGHUP",
     0, orderd_config_set_jwt_secret_file},
    {"jwt-issuer", "ISS", "none (needed with --user-auth jwt)", "the iss a token must carry", 0, orderd_config_set_jwt_issuer},
    {"jwt-audience", "AUD", "none (needed with --user-auth jwt)", "a value the token's aud must hold", 0,
     orderd_config_set_jwt_audience},
    {"jwt-user-claim", "NAME", "sub", "the claim that names the user, held to X-User-Id's rules", 0,
     orderd_config_set_jwt_user_claim},
    {"jwt-leeway", "SECONDS", "30", "clock skew allowed on exp and nbf, 0 to 300", 0, orderd_config_set_jwt_leeway},
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
                             .return_window_days = 30,
                             .feed_retention = {.bytes = ORDERD_FEED_RETENTION_DEFAULT_BYTES},
                             .webhook_max_age_ms = 24LL * 3600 * 1000,
                             .webhook_timeout_ms = 10000,
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
    if (orderd_config_finish_listeners(cfg, &p.listen, err) != 0 || finish_user_auth(cfg, err) != 0)
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
