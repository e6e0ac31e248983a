#include "orderd/config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <h2o/version.h>
#include <openssl/crypto.h>
#include <yajl/yajl_version.h>

#define MAX_THREADS 1024

static const char usage[] =
    "usage: orderd [--listen HOST:PORT [--tls-cert FILE --tls-key FILE] [--http2 on|off]]...\n"
    "              [--threads N] [--data-dir DIR] [--max-body BYTES]\n"
    "              [--fsync always|everysec|no] [--snapshot-bytes BYTES]\n"
    "              [--operator-token-file FILE] [--idempotency-ttl DURATION]\n"
    "              [--access-log FILE|-] [--trusted-proxy CIDR]... [--cors-origin ORIGIN|*]...\n"
    "              [--help] [--version]\n"
    "       orderd journal verify|dump|repair --data-dir DIR\n"
    "\n"
    "  --listen HOST:PORT  address to serve on (default 127.0.0.1:8080; IPv6 as [::1]:8080;\n"
    "                      port 0 lets the kernel pick and logs it); give it up to 8 times\n"
    "  --tls-cert FILE     PEM certificate chain: this listener speaks TLS 1.2 and 1.3 with\n"
    "                      ALPN h2 and http/1.1 (without it: cleartext HTTP/1.1 and h2c)\n"
    "  --tls-key FILE      PEM private key of --tls-cert; both are read again on SIGHUP\n"
    "  --http2 on|off      off: HTTP/1.1 only on this listener (no h2c, no ALPN h2); default on\n"
    "                      --tls-cert, --tls-key and --http2 apply to the last --listen before\n"
    "                      them; with a single --listen they may come anywhere\n"
    "  --threads N         worker threads, one event loop each (default: online CPUs)\n"
    "  --data-dir DIR      data directory (default ./data)\n"
    "  --max-body BYTES    largest request body accepted (default 1048576)\n"
    "  --fsync MODE        always: answer a change after fdatasync (default; nothing acknowledged\n"
    "                      is lost); everysec: after write(), fdatasync every second (a power\n"
    "                      loss may lose about a second); no: after write(), the OS flushes\n"
    "  --snapshot-bytes N  snapshot the table and start a new journal segment past N bytes\n"
    "                      of journal (default 67108864)\n"
    "  --operator-token-file FILE\n"
    "                      the operator's bearer token (first line of FILE); default: a random\n"
    "                      token in DATA-DIR/operator-token, created (mode 0600) at first start\n"
    "  --idempotency-ttl D how long Idempotency-Key answers are kept: seconds, or a number with\n"
    "                      s, m, h or d (default 24h; 1s to 365d)\n"
    "  --access-log FILE   one line per request (combined log format, then request id,\n"
    "                      protocol, seconds taken) appended to FILE, or to standard output\n"
    "                      with -; FILE is reopened on SIGHUP (logrotate); default: off\n"
    "  --trusted-proxy CIDR\n"
    "                      peers (e.g. 10.0.0.0/8, ::1) whose X-Forwarded-Proto, -Host, -For\n"
    "                      and Forwarded headers are believed; from others they are ignored\n"
    "  --cors-origin ORIGIN\n"
    "                      answer CORS (and preflight OPTIONS) for this browser origin,\n"
    "                      e.g. https://shop.example; * for any; repeatable; default off\n"
    "  --help              print this help and exit\n"
    "  --version           print the version and exit\n";

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

/* "90", "90s", "15m", "24h", "7d": seconds, 1 s to 365 d. */
static int parse_duration_ms(const char *s, int64_t *out)
{
    char num[32];
    size_t len = strlen(s);
    unsigned long long v, unit = 1000;
    if (len == 0 || len >= sizeof(num))
        return -1;
    memcpy(num, s, len + 1);
    switch (num[len - 1]) {
    case 's':
        num[--len] = '\0';
        break;
    case 'm':
        unit = 60 * 1000;
        num[--len] = '\0';
        break;
    case 'h':
        unit = 3600 * 1000;
        num[--len] = '\0';
        break;
    case 'd':
        unit = 86400 * 1000;
        num[--len] = '\0';
        break;
    }
    if (parse_ull(num, 1, 365ull * 86400, &v) != 0 || v * unit > 365ull * 86400 * 1000)
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

static const char *bound_flag_name(unsigned bit)
{
    return bit == BOUND_CERT ? "--tls-cert" : bit == BOUND_KEY ? "--tls-key" : "--http2";
}

/* What the command line said so far: the listeners, and the per-listener
 * flags given before the first --listen (slot ORDERD_MAX_LISTENERS). */
typedef struct listen_state {
    orderd_listener_config_t early;
    unsigned given[ORDERD_MAX_LISTENERS + 1]; /* BOUND_* bits per listener; the last: early */
    const char *spec[ORDERD_MAX_LISTENERS];   /* the --listen value, for messages */
} listen_state_t;

/* Sets one bound flag on the last --listen (or on the early slot before any). */
static int bind_flag(orderd_config_t *cfg, listen_state_t *st, unsigned bit, const char *arg, FILE *err)
{
    unsigned i = cfg->nlisteners > 0 ? cfg->nlisteners - 1 : ORDERD_MAX_LISTENERS;
    orderd_listener_config_t *l = i < ORDERD_MAX_LISTENERS ? &cfg->listeners[i] : &st->early;
    if (st->given[i] & bit) {
        fprintf(err, "orderd: %s given twice for --listen %s\n", bound_flag_name(bit),
                i < ORDERD_MAX_LISTENERS ? st->spec[i] : "(the first one)");
        return -1;
    }
    if (bit == BOUND_HTTP2) {
        if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0) {
            fprintf(err, "orderd: --http2: expected on or off, got '%s'\n", arg);
            return -1;
        }
        l->http2 = strcmp(arg, "on") == 0;
    } else if (*arg == '\0') {
        fprintf(err, "orderd: %s: expected a file, got ''\n", bound_flag_name(bit));
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
                bound_flag_name(bit));
        return -1;
    } else if (early != 0) {
        orderd_listener_config_t *l = &cfg->listeners[0];
        unsigned both = early & st->given[0];
        if (both != 0) {
            fprintf(err, "orderd: %s given twice for --listen %s\n", bound_flag_name(both & -both), st->spec[0]);
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

int orderd_config_parse(orderd_config_t *cfg, int argc, char **argv, FILE *out, FILE *err)
{
    static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                         {"tls-cert", required_argument, NULL, 'C'},
                                         {"tls-key", required_argument, NULL, 'K'},
                                         {"http2", required_argument, NULL, '2'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"data-dir", required_argument, NULL, 'd'},
                                         {"max-body", required_argument, NULL, 'b'},
                                         {"fsync", required_argument, NULL, 'f'},
                                         {"snapshot-bytes", required_argument, NULL, 's'},
                                         {"operator-token-file", required_argument, NULL, 'o'},
                                         {"idempotency-ttl", required_argument, NULL, 'i'},
                                         {"access-log", required_argument, NULL, 'a'},
                                         {"trusted-proxy", required_argument, NULL, 'P'},
                                         {"cors-origin", required_argument, NULL, 'O'},
                                         {"compress", required_argument, NULL, 'z'},
                                         {"log-format", required_argument, NULL, 'L'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'v'},
                                         {NULL, 0, NULL, 0}};
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    static const orderd_listener_config_t default_listener = {.host = "127.0.0.1", .port = 8080, .http2 = 1};
    listen_state_t st = {.early = default_listener};
    *cfg = (orderd_config_t){.threads = cpus > 0 ? (unsigned)(cpus < MAX_THREADS ? cpus : MAX_THREADS) : 1,
                             .data_dir = "./data",
                             .max_body = 1024 * 1024,
                             .fsync = ORDERD_FSYNC_ALWAYS,
                             .snapshot_bytes = 64ull << 20,
                             .idempotency_ttl_ms = 24LL * 3600 * 1000,
                             .compress = 1};
    unsigned long long v;
    int c;

    /* getopt keeps state between calls: start from scratch, print our own errors */
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (cfg->nlisteners == ORDERD_MAX_LISTENERS) {
                fprintf(err, "orderd: --listen: at most %d listeners\n", ORDERD_MAX_LISTENERS);
                return ORDERD_CONFIG_USAGE;
            }
            cfg->listeners[cfg->nlisteners] = default_listener;
            if (parse_listen(&cfg->listeners[cfg->nlisteners], optarg) != 0) {
                fprintf(err, "orderd: --listen: expected HOST:PORT, got '%s'\n", optarg);
                return ORDERD_CONFIG_USAGE;
            }
            st.spec[cfg->nlisteners++] = optarg;
            break;
        case 'C':
        case 'K':
        case '2':
            if (bind_flag(cfg, &st, c == 'C' ? BOUND_CERT : c == 'K' ? BOUND_KEY : BOUND_HTTP2, optarg, err) != 0)
                return ORDERD_CONFIG_USAGE;
            break;
        case 't':
            if (parse_ull(optarg, 1, MAX_THREADS, &v) != 0) {
                fprintf(err, "orderd: --threads: expected a number from 1 to %d, got '%s'\n", MAX_THREADS, optarg);
                return ORDERD_CONFIG_USAGE;
            }
            cfg->threads = (unsigned)v;
            break;
        case 'd':
            if (*optarg == '\0') {
                fprintf(err, "orderd: --data-dir: expected a directory, got ''\n");
                return ORDERD_CONFIG_USAGE;
            }
            cfg->data_dir = optarg;
            break;
        case 'b':
            /* at most 1 GiB: h2o holds a whole body in memory */
            if (parse_ull(optarg, 1, 1ull << 30, &v) != 0) {
                fprintf(err, "orderd: --max-body: expected a number of bytes from 1 to 1073741824, got '%s'\n", optarg);
                return ORDERD_CONFIG_USAGE;
            }
            cfg->max_body = (size_t)v;
            break;
        case 'f':
            if (orderd_fsync_mode_parse(optarg, &cfg->fsync) != 0) {
                fprintf(err, "orderd: --fsync: expected always, everysec or no, got '%s'\n", optarg);
                return ORDERD_CONFIG_USAGE;
            }
            break;
        case 's':
            if (parse_ull(optarg, 4096, 1ull << 40, &v) != 0) {
                fprintf(err, "orderd: --snapshot-bytes: expected a number of bytes from 4096 to 1099511627776, got '%s'\n",
                        optarg);
                return ORDERD_CONFIG_USAGE;
            }
            cfg->snapshot_bytes = v;
            break;
        case 'o':
            if (*optarg == '\0') {
                fprintf(err, "orderd: --operator-token-file: expected a file, got ''\n");
                return ORDERD_CONFIG_USAGE;
            }
            cfg->operator_token_file = optarg;
            break;
        case 'i':
            if (parse_duration_ms(optarg, &cfg->idempotency_ttl_ms) != 0) {
                fprintf(err, "orderd: --idempotency-ttl: expected a duration from 1s to 365d (e.g. 24h), got '%s'\n",
                        optarg);
                return ORDERD_CONFIG_USAGE;
            }
            break;
        case 'a':
            if (*optarg == '\0') {
                fprintf(err, "orderd: --access-log: expected a file or -, got ''\n");
                return ORDERD_CONFIG_USAGE;
            }
            cfg->access_log = optarg;
            break;
        case 'P':
            if (cfg->ntrusted_proxies == ORDERD_MAX_TRUSTED_PROXIES) {
                fprintf(err, "orderd: --trusted-proxy: at most %d\n", ORDERD_MAX_TRUSTED_PROXIES);
                return ORDERD_CONFIG_USAGE;
            }
            if (orderd_cidr_parse(optarg, &cfg->trusted_proxies[cfg->ntrusted_proxies]) != 0) {
                fprintf(err, "orderd: --trusted-proxy: expected an address or CIDR (10.0.0.0/8, ::1/128), got '%s'\n",
                        optarg);
                return ORDERD_CONFIG_USAGE;
            }
            cfg->ntrusted_proxies++;
            break;
        case 'O':
            if (cfg->ncors_origins == ORDERD_MAX_CORS_ORIGINS) {
                fprintf(err, "orderd: --cors-origin: at most %d\n", ORDERD_MAX_CORS_ORIGINS);
                return ORDERD_CONFIG_USAGE;
            }
            if (!valid_origin(optarg)) {
                fprintf(err, "orderd: --cors-origin: expected * or scheme://host[:port] in lower case, got '%s'\n",
                        optarg);
                return ORDERD_CONFIG_USAGE;
            }
            cfg->cors_origins[cfg->ncors_origins++] = optarg;
            break;
        case 'z':
            if (strcmp(optarg, "on") != 0 && strcmp(optarg, "off") != 0) {
                fprintf(err, "orderd: --compress: expected on or off, got '%s'\n", optarg);
                return ORDERD_CONFIG_USAGE;
            }
            cfg->compress = strcmp(optarg, "on") == 0;
            break;
        case 'L':
            if (strcmp(optarg, "text") != 0 && strcmp(optarg, "json") != 0) {
                fprintf(err, "orderd: --log-format: expected text or json, got '%s'\n", optarg);
                return ORDERD_CONFIG_USAGE;
            }
            cfg->log_json = strcmp(optarg, "json") == 0;
            break;
        case 'h':
            fputs(usage, out);
            return ORDERD_CONFIG_EXIT;
        case 'v':
            print_version(out);
            return ORDERD_CONFIG_EXIT;
        case ':':
            fprintf(err, "orderd: %s needs a value (see --help)\n", argv[optind - 1]);
            return ORDERD_CONFIG_USAGE;
        default:
            fprintf(err, "orderd: unknown option '%s' (see --help)\n", argv[optind - 1]);
            return ORDERD_CONFIG_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(err, "orderd: unexpected argument '%s' (see --help)\n", argv[optind]);
        return ORDERD_CONFIG_USAGE;
    }
    if (finish_listeners(cfg, &st, err) != 0)
        return ORDERD_CONFIG_USAGE;
    return ORDERD_CONFIG_RUN;
}
