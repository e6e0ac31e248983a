#include "orderd/config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_THREADS 1024

static const char usage[] =
    "usage: orderd [--listen HOST:PORT] [--threads N] [--data-dir DIR] [--max-body BYTES]\n"
    "              [--fsync always|everysec|no] [--snapshot-bytes BYTES]\n"
    "              [--operator-token-file FILE] [--idempotency-ttl DURATION] [--help] [--version]\n"
    "       orderd journal verify|dump|repair --data-dir DIR\n"
    "\n"
    "  --listen HOST:PORT  address to serve HTTP/1.1 and h2c on (default 127.0.0.1:8080;\n"
    "                      IPv6 as [::1]:8080; port 0 lets the kernel pick and logs it)\n"
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
    "  --help              print this help and exit\n"
    "  --version           print the version and exit\n";

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

static int parse_listen(orderd_config_t *cfg, const char *arg)
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
    if (len == 0 || len >= sizeof(cfg->listen_host))
        return -1;
    memcpy(cfg->listen_host, host, len);
    cfg->listen_host[len] = '\0';
    cfg->listen_port = (uint16_t)port;
    return 0;
}

int orderd_config_parse(orderd_config_t *cfg, int argc, char **argv, FILE *out, FILE *err)
{
    static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"data-dir", required_argument, NULL, 'd'},
                                         {"max-body", required_argument, NULL, 'b'},
                                         {"fsync", required_argument, NULL, 'f'},
                                         {"snapshot-bytes", required_argument, NULL, 's'},
                                         {"operator-token-file", required_argument, NULL, 'o'},
                                         {"idempotency-ttl", required_argument, NULL, 'i'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'v'},
                                         {NULL, 0, NULL, 0}};
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    *cfg = (orderd_config_t){.listen_host = "127.0.0.1",
                             .listen_port = 8080,
                             .threads = cpus > 0 ? (unsigned)(cpus < MAX_THREADS ? cpus : MAX_THREADS) : 1,
                             .data_dir = "./data",
                             .max_body = 1024 * 1024,
                             .fsync = ORDERD_FSYNC_ALWAYS,
                             .snapshot_bytes = 64ull << 20,
                             .idempotency_ttl_ms = 24LL * 3600 * 1000};
    unsigned long long v;
    int c;

    /* getopt keeps state between calls: start from scratch, print our own errors */
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (parse_listen(cfg, optarg) != 0) {
                fprintf(err, "orderd: --listen: expected HOST:PORT, got '%s'\n", optarg);
                return ORDERD_CONFIG_USAGE;
            }
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
        case 'h':
            fputs(usage, out);
            return ORDERD_CONFIG_EXIT;
        case 'v':
            fprintf(out, "orderd %s\n", ORDERD_VERSION);
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
    return ORDERD_CONFIG_RUN;
}
