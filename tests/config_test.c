/* Unit tests for orderd/config.h: the command line. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <h2o/version.h>
#include <openssl/opensslv.h>
#include <yajl/yajl_version.h>

#include "orderd/accept.h"
#include "orderd/config.h"

#include <sys/resource.h>

#define MAX_ARGS 24

typedef struct run {
    int rc;
    orderd_config_t cfg;
    char *out, *err; /* what went to out and err */
    char *argv_store[MAX_ARGS + 1];
    char *argv[MAX_ARGS + 1]; /* the argv given (getopt may permute it) */
} run_t;

/* Parses "orderd" followed by the NULL-terminated arguments, in a fresh
 * mutable argv, with getopt's state reset, capturing out and err. */
static run_t *parse(const char *first, ...)
{
    run_t *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    int argc = 0;
    r->argv_store[argc++] = strdup("orderd");
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s != NULL; s = va_arg(ap, const char *)) {
        assert_true(argc < MAX_ARGS);
        r->argv_store[argc++] = strdup(s);
    }
    va_end(ap);
    memcpy(r->argv, r->argv_store, sizeof(r->argv));
    r->argv[argc] = NULL;

    size_t out_len = 0, err_len = 0;
    FILE *out = open_memstream(&r->out, &out_len);
    FILE *err = open_memstream(&r->err, &err_len);
    assert_non_null(out);
    assert_non_null(err);
    memset(&r->cfg, 0x5a, sizeof(r->cfg)); /* defaults must be written, not inherited */
    optind = 0; /* GNU getopt: full re-initialisation, in case the parser uses it */
    opterr = 1;
    r->rc = orderd_config_parse(&r->cfg, argc, r->argv, out, err);
    fclose(out);
    fclose(err);
    return r;
}

static void run_free(run_t *r)
{
    for (int i = 0; i <= MAX_ARGS; i++)
        free(r->argv_store[i]);
    free(r->out);
    free(r->err);
    free(r);
}

static size_t count_char(const char *s, char c)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

static unsigned online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

static void expect_run(const run_t *r)
{
    if (r->rc != ORDERD_CONFIG_RUN)
        fail_msg("rc %d, want RUN; err: %s", r->rc, r->err);
    assert_string_equal(r->err, "");
    assert_string_equal(r->out, "");
}

/* Usage error: exactly one non-empty line on err. */
static void expect_usage(run_t *r, const char *what)
{
    if (r->rc != ORDERD_CONFIG_USAGE)
        fail_msg("%s: rc %d, want USAGE (err: %s)", what, r->rc, r->err);
    size_t len = strlen(r->err);
    if (len < 2 || r->err[len - 1] != '\n' || count_char(r->err, '\n') != 1)
        fail_msg("%s: want one line on err, got \"%s\"", what, r->err);
    run_free(r);
}

static void test_defaults(void **state)
{
    run_t *r = parse(NULL);
    expect_run(r);
    assert_string_equal(r->cfg.listeners[0].host, "127.0.0.1");
    assert_int_equal(r->cfg.listeners[0].port, 8080);
    assert_int_equal(r->cfg.threads, online_cpus());
    assert_non_null(r->cfg.data_dir);
    assert_string_equal(r->cfg.data_dir, "./data");
    assert_int_equal(r->cfg.max_body, 1024 * 1024);
    run_free(r);
}

static void test_each_flag(void **state)
{
    run_t *r = parse("--listen", "0.0.0.0:9000", NULL);
    expect_run(r);
    assert_string_equal(r->cfg.listeners[0].host, "0.0.0.0");
    assert_int_equal(r->cfg.listeners[0].port, 9000);
    assert_int_equal(r->cfg.threads, online_cpus());
    run_free(r);

    r = parse("--threads", "4", NULL);
    expect_run(r);
    assert_int_equal(r->cfg.threads, 4);
    assert_string_equal(r->cfg.listeners[0].host, "127.0.0.1");
    assert_int_equal(r->cfg.listeners[0].port, 8080);
    run_free(r);

    r = parse("--threads", "1", NULL);
    expect_run(r);
    assert_int_equal(r->cfg.threads, 1);
    run_free(r);

    r = parse("--data-dir", "/tmp/orderd-test-dir", NULL);
    expect_run(r);
    assert_string_equal(r->cfg.data_dir, "/tmp/orderd-test-dir");
    assert_string_equal(r->cfg.listeners[0].host, "127.0.0.1");
    run_free(r);

    r = parse("--max-body", "4096", NULL);
    expect_run(r);
    assert_int_equal(r->cfg.max_body, 4096);
    assert_string_equal(r->cfg.data_dir, "./data");
    run_free(r);

    r = parse("--max-body", "1", NULL);
    expect_run(r);
    assert_int_equal(r->cfg.max_body, 1);
    run_free(r);
}

static void test_all_flags_together(void **state)
{
    run_t *r = parse("--data-dir", "d1", "--threads", "3", "--max-body", "65536", "--listen", "10.1.2.3:1234", NULL);
    expect_run(r);
    assert_string_equal(r->cfg.listeners[0].host, "10.1.2.3");
    assert_int_equal(r->cfg.listeners[0].port, 1234);
    assert_int_equal(r->cfg.threads, 3);
    assert_string_equal(r->cfg.data_dir, "d1");
    assert_int_equal(r->cfg.max_body, 65536);
    run_free(r);

    /* the form the integration tests use */
    r = parse("--listen", "127.0.0.1:0", "--threads", "2", "--data-dir", "/tmp/x", NULL);
    expect_run(r);
    assert_string_equal(r->cfg.listeners[0].host, "127.0.0.1");
    assert_int_equal(r->cfg.listeners[0].port, 0);
    assert_int_equal(r->cfg.threads, 2);
    assert_string_equal(r->cfg.data_dir, "/tmp/x");
    run_free(r);
}

static void test_listen_forms(void **state)
{
    run_t *r = parse("--listen", "127.0.0.1:9000", NULL);
    expect_run(r);
    assert_string_equal(r->cfg.listeners[0].host, "127.0.0.1");
    assert_int_equal(r->cfg.listeners[0].port, 9000);
    run_free(r);

    r = parse("--listen", "[::1]:9000", NULL);
    expect_run(r);
    assert_string_equal(r->cfg.listeners[0].host, "::1");
    assert_int_equal(r->cfg.listeners[0].port, 9000);
    run_free(r);

    r = parse("--listen", "[::]:80", NULL);
    expect_run(r);
    assert_string_equal(r->cfg.listeners[0].host, "::");
    assert_int_equal(r->cfg.listeners[0].port, 80);
    run_free(r);

    r = parse("--listen", "localhost:0", NULL);
    expect_run(r);
    assert_string_equal(r->cfg.listeners[0].host, "localhost");
    assert_int_equal(r->cfg.listeners[0].port, 0);
    run_free(r);

    r = parse("--listen", "example.org:65535", NULL);
    expect_run(r);
    assert_string_equal(r->cfg.listeners[0].host, "example.org");
    assert_int_equal(r->cfg.listeners[0].port, 65535);
    run_free(r);

    /* a 255-byte host name fits listen_host[256] */
    char host[300];
    memset(host, 'h', 255);
    strcpy(host + 255, ":1");
    r = parse("--listen", host, NULL);
    expect_run(r);
    assert_int_equal(strlen(r->cfg.listeners[0].host), 255);
    assert_int_equal(r->cfg.listeners[0].port, 1);
    run_free(r);
}

static void test_bad_listen(void **state)
{
    static const char *const bad[] = {
        "127.0.0.1:70000", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:", "127.0.0.1:abc", "127.0.0.1:80x",
        "127.0.0.1",       "",                "[::1:9000",    "::1]:9000",  "[::1]",         "127.0.0.1:99999999999999999999",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char what[96];
        snprintf(what, sizeof(what), "--listen \"%s\"", bad[i]);
        expect_usage(parse("--listen", bad[i], NULL), what);
    }
    /* a host name longer than listen_host holds */
    char host[400];
    memset(host, 'h', 300);
    strcpy(host + 300, ":80");
    expect_usage(parse("--listen", host, NULL), "300-byte host");
}

static void test_bad_values(void **state)
{
    static const char *const threads[] = {"0", "abc", "100000", "-1", "4x", "", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(threads) / sizeof(threads[0]); i++) {
        char what[64];
        snprintf(what, sizeof(what), "--threads \"%s\"", threads[i]);
        expect_usage(parse("--threads", threads[i], NULL), what);
    }
    static const char *const body[] = {"0", "abc", "-1", "", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof(body) / sizeof(body[0]); i++) {
        char what[64];
        snprintf(what, sizeof(what), "--max-body \"%s\"", body[i]);
        expect_usage(parse("--max-body", body[i], NULL), what);
    }
    expect_usage(parse("--data-dir", "", NULL), "--data-dir \"\"");
}

static void test_bad_flags(void **state)
{
    expect_usage(parse("--bogus", NULL), "unknown flag");
    expect_usage(parse("--bogus", "1", NULL), "unknown flag with a value");
    expect_usage(parse("-x", NULL), "unknown short flag");
    expect_usage(parse("--threads", NULL), "missing value for --threads");
    expect_usage(parse("--listen", NULL), "missing value for --listen");
    expect_usage(parse("--max-body", NULL), "missing value for --max-body");
    expect_usage(parse("--data-dir", NULL), "missing value for --data-dir");
    expect_usage(parse("--threads", "2", "--listen", NULL), "missing value at the end");
    expect_usage(parse("extra", NULL), "a positional argument");
    expect_usage(parse("--threads", "2", "extra", NULL), "a positional argument after a flag");
    /* a good flag after a bad one still fails */
    expect_usage(parse("--bogus", "--threads", "2", NULL), "bad then good");
}

static void test_help_and_version(void **state)
{
    run_t *r = parse("--help", NULL);
    assert_int_equal(r->rc, ORDERD_CONFIG_EXIT);
    assert_true(strlen(r->out) > 20);
    assert_non_null(strstr(r->out, "--listen"));
    assert_non_null(strstr(r->out, "--threads"));
    assert_non_null(strstr(r->out, "--data-dir"));
    assert_non_null(strstr(r->out, "--max-body"));
    assert_non_null(strstr(r->out, "--tls-cert"));
    assert_non_null(strstr(r->out, "--tls-key"));
    assert_non_null(strstr(r->out, "--http2 on|off"));
    assert_string_equal(r->err, "");
    run_free(r);

    r = parse("--version", NULL);
    assert_int_equal(r->rc, ORDERD_CONFIG_EXIT);
    assert_string_equal(r->err, "");
    /* exactly four lines: orderd's own first (scripts read it), then each
     * library with the version of the one built against; yajl and OpenSSL
     * report theirs at run time, so only major.minor is pinned */
    char lines[4][128];
    const char *p = r->out;
    for (int i = 0; i < 4; i++) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        assert_true((size_t)(nl - p) < sizeof(lines[i]));
        memcpy(lines[i], p, (size_t)(nl - p));
        lines[i][nl - p] = '\0';
        p = nl + 1;
    }
    assert_string_equal(p, "");
    assert_string_equal(lines[0], "orderd " ORDERD_VERSION);
    assert_string_equal(lines[1], "libh2o " H2O_VERSION);
    char want[64];
    snprintf(want, sizeof(want), "yajl %d.%d.", YAJL_MAJOR, YAJL_MINOR);
    assert_memory_equal(lines[2], want, strlen(want));
    snprintf(want, sizeof(want), "OpenSSL %d.%d.", OPENSSL_VERSION_MAJOR, OPENSSL_VERSION_MINOR);
    assert_memory_equal(lines[3], want, strlen(want));
    assert_true(strlen(lines[3]) > strlen(want));
    run_free(r);

    /* --help wins over other, good flags */
    r = parse("--threads", "2", "--help", NULL);
    assert_int_equal(r->rc, ORDERD_CONFIG_EXIT);
    assert_non_null(strstr(r->out, "--listen"));
    run_free(r);
}

static void test_repeatable(void **state)
{
    /* parsing twice in one process gives the same answer (getopt state is reset) */
    for (int i = 0; i < 3; i++) {
        run_t *r = parse("--threads", "5", "--max-body", "77", NULL);
        expect_run(r);
        assert_int_equal(r->cfg.threads, 5);
        assert_int_equal(r->cfg.max_body, 77);
        run_free(r);
        expect_usage(parse("--threads", "0", NULL), "threads 0");
    }
}

static void test_operator_and_idempotency_flags(void **state)
{
    run_t *r = parse("--data-dir", "d", NULL);
    expect_run(r);
    assert_null(r->cfg.operator_token_file);
    assert_int_equal(r->cfg.idempotency_ttl_ms, 24LL * 3600 * 1000);
    run_free(r);
    r = parse("--operator-token-file", "/etc/orderd/token", "--idempotency-ttl", "90", NULL);
    expect_run(r);
    assert_string_equal(r->cfg.operator_token_file, "/etc/orderd/token");
    assert_int_equal(r->cfg.idempotency_ttl_ms, 90000);
    run_free(r);
    static const struct {
        const char *arg;
        long long ms;
    } good[] = {{"1s", 1000}, {"15m", 900000}, {"24h", 86400000}, {"7d", 604800000}, {"365d", 31536000000LL}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        r = parse("--idempotency-ttl", good[i].arg, NULL);
        expect_run(r);
        assert_int_equal(r->cfg.idempotency_ttl_ms, good[i].ms);
        run_free(r);
    }
    static const char *const bad[] = {"", "0", "0s", "-1h", "1w", "366d", "h", "1.5h", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = parse("--idempotency-ttl", bad[i], NULL);
        expect_usage(r, "--idempotency-ttl"); /* frees r */
    }
    r = parse("--operator-token-file", "", NULL);
    expect_usage(r, "--operator-token-file");
    /* --return-window: whole days, 30 unless given */
    r = parse("--data-dir", "d", NULL);
    expect_run(r);
    assert_int_equal(r->cfg.return_window_days, 30);
    run_free(r);
    static const struct {
        const char *arg;
        unsigned days;
    } windows[] = {{"0", 0}, {"14", 14}, {"3650", 3650}};
    for (size_t i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
        r = parse("--return-window", windows[i].arg, NULL);
        expect_run(r);
        assert_int_equal(r->cfg.return_window_days, windows[i].days);
        run_free(r);
    }
    static const char *const bad_windows[] = {"", "-1", "3651", "30d", "1.5", "x"};
    for (size_t i = 0; i < sizeof(bad_windows) / sizeof(bad_windows[0]); i++) {
        r = parse("--return-window", bad_windows[i], NULL);
        expect_usage(r, "--return-window"); /* frees r */
    }
}

static void clear_env(void);

/* --feed-retention (a duration, a size or 0; 1 GiB by default) and the --webhook flags */
static void test_feed_and_webhook_flags(void **state)
{
    (void)state;
    clear_env();
    run_t *r = parse(NULL);
    expect_run(r);
    assert_int_equal(r->cfg.feed_retention.bytes, 1ull << 30);
    assert_int_equal(r->cfg.feed_retention.ms, 0);
    assert_int_equal(r->cfg.nwebhooks, 0);
    assert_null(r->cfg.webhook_secret_file);
    assert_int_equal(r->cfg.webhook_max_age_ms, 24LL * 3600 * 1000);
    assert_int_equal(r->cfg.webhook_timeout_ms, 10000);
    char out[ORDERD_CONFIG_DESCRIBE_MAX];
    assert_non_null(strstr(orderd_config_describe(&r->cfg, out, sizeof(out)), " feed-retention=1GiB "));
    assert_null(strstr(out, "webhook"));
    run_free(r);
    static const struct {
        const char *arg;
        int64_t ms;
        uint64_t bytes;
        const char *shown;
    } good[] = {{"24h", 86400000, 0, "1d"},      {"7d", 7 * 86400000LL, 0, "7d"}, {"90m", 5400000, 0, "90m"},
                {"3600s", 3600000, 0, "1h"},      {"0", 0, 0, "0"},                {"512MiB", 0, 512ull << 20, "512MiB"},
                {"1GiB", 0, 1ull << 30, "1GiB"}, {"2G", 0, 2ull << 30, "2GiB"},   {"100MB", 0, 100000000, "100000000B"},
                {"4096B", 0, 4096, "4KiB"},       {"10K", 0, 10240, "10KiB"}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        r = parse("--feed-retention", good[i].arg, NULL);
        expect_run(r);
        assert_int_equal(r->cfg.feed_retention.ms, good[i].ms);
        assert_int_equal(r->cfg.feed_retention.bytes, good[i].bytes);
        char want[64];
        snprintf(want, sizeof(want), " feed-retention=%s ", good[i].shown);
        assert_non_null(strstr(orderd_config_describe(&r->cfg, out, sizeof(out)), want));
        run_free(r);
    }
    static const char *const bad[] = {"", "-1", "1x", "h", "1.5h", "24 h", "MiB", "0s", "0B", "99999999999999999999d"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_usage(parse("--feed-retention", bad[i], NULL), "--feed-retention");

    r = parse("--webhook", "http://127.0.0.1:9000/hooks", "--webhook", "https://hooks.example/orderd",
              "--webhook-secret-file", "/etc/orderd/hook-secret", "--webhook-max-age", "2h", "--webhook-timeout",
              "500ms", NULL);
    expect_run(r);
    assert_int_equal(r->cfg.nwebhooks, 2);
    assert_string_equal(r->cfg.webhooks[0], "http://127.0.0.1:9000/hooks");
    assert_string_equal(r->cfg.webhooks[1], "https://hooks.example/orderd");
    assert_string_equal(r->cfg.webhook_secret_file, "/etc/orderd/hook-secret");
    assert_int_equal(r->cfg.webhook_max_age_ms, 7200000);
    assert_int_equal(r->cfg.webhook_timeout_ms, 500);
    orderd_config_describe(&r->cfg, out, sizeof(out));
    assert_non_null(strstr(out, " webhook=http://127.0.0.1:9000/hooks webhook=https://hooks.example/orderd "));
    assert_non_null(strstr(out, " webhook-secret-file=/etc/orderd/hook-secret webhook-max-age=7200s webhook-timeout=500ms"));
    run_free(r);
    static const char *const bad_urls[] = {"", "ftp://x/y", "http://", "http:///path", "http://a b/", "hooks.example",
                                           "http://a/\x01"};
    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++)
        expect_usage(parse("--webhook", bad_urls[i], NULL), "--webhook");
    expect_usage(parse("--webhook", "http://a/", "--webhook", "http://a/", NULL), "--webhook");
    static const char *const bad_ages[] = {"0", "500ms", "31d", "x"};
    for (size_t i = 0; i < sizeof(bad_ages) / sizeof(bad_ages[0]); i++)
        expect_usage(parse("--webhook-max-age", bad_ages[i], NULL), "--webhook-max-age");
    static const char *const bad_timeouts[] = {"0", "50ms", "6m", "x"};
    for (size_t i = 0; i < sizeof(bad_timeouts) / sizeof(bad_timeouts[0]); i++)
        expect_usage(parse("--webhook-timeout", bad_timeouts[i], NULL), "--webhook-timeout");
    expect_usage(parse("--webhook-secret-file", "", NULL), "--webhook-secret-file");
    setenv("ORDERD_WEBHOOK", "http://a.example/h,http://b.example/h", 1);
    setenv("ORDERD_FEED_RETENTION", "7d", 1);
    r = parse(NULL);
    expect_run(r);
    assert_int_equal(r->cfg.nwebhooks, 2);
    assert_string_equal(r->cfg.webhooks[1], "http://b.example/h");
    assert_int_equal(r->cfg.feed_retention.ms, 7 * 86400000LL);
    run_free(r);
    clear_env();
}

/* --node-id: 0 unless given, 0 to ORDERD_ID_NODE_MAX, from the flag or ORDERD_NODE_ID */
static void test_node_id_flag(void **state)
{
    clear_env();
    run_t *r = parse(NULL);
    expect_run(r);
    assert_int_equal(r->cfg.node_id, 0);
    run_free(r);
    static const struct {
        const char *arg;
        unsigned id;
    } good[] = {{"0", 0}, {"3", 3}, {"15", 15}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        r = parse("--node-id", good[i].arg, NULL);
        expect_run(r);
        assert_int_equal(r->cfg.node_id, good[i].id);
        char out[ORDERD_CONFIG_DESCRIBE_MAX], want[32];
        snprintf(want, sizeof(want), " node-id=%u ", good[i].id);
        assert_non_null(strstr(orderd_config_describe(&r->cfg, out, sizeof(out)), want));
        run_free(r);
    }
    static const char *const bad[] = {"", "-1", "16", "255", "1.5", "x", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = parse("--node-id", bad[i], NULL);
        expect_usage(r, "--node-id"); /* frees r */
    }
    setenv("ORDERD_NODE_ID", "7", 1);
    r = parse(NULL);
    expect_run(r);
    assert_int_equal(r->cfg.node_id, 7);
    run_free(r);
    r = parse("--node-id", "2", NULL); /* the flag wins */
    expect_run(r);
    assert_int_equal(r->cfg.node_id, 2);
    run_free(r);
    setenv("ORDERD_NODE_ID", "16", 1);
    r = parse(NULL);
    expect_usage(r, "ORDERD_NODE_ID");
    clear_env();
}

static void test_access_log_flag(void **state)
{
    run_t *r = parse(NULL);
    expect_run(r);
    assert_null(r->cfg.access_log); /* off by default */
    run_free(r);
    r = parse("--access-log", "/var/log/orderd/access.log", NULL);
    expect_run(r);
    assert_string_equal(r->cfg.access_log, "/var/log/orderd/access.log");
    run_free(r);
    r = parse("--access-log", "-", NULL);
    expect_run(r);
    assert_string_equal(r->cfg.access_log, "-");
    run_free(r);
    r = parse("--access-log", "", NULL);
    if (strstr(r->err, "--access-log") == NULL)
        fail_msg("the message names the flag: %s", r->err);
    expect_usage(r, "--access-log ''"); /* frees r */
    expect_usage(parse("--access-log", NULL), "--access-log without a value");
}

static void test_listeners_and_bound_flags(void **state)
{
    /* default: one cleartext listener with HTTP/2 */
    run_t *r = parse(NULL);
    expect_run(r);
    assert_int_equal(r->cfg.nlisteners, 1);
    assert_null(r->cfg.listeners[0].tls_cert);
    assert_null(r->cfg.listeners[0].tls_key);
    assert_int_equal(r->cfg.listeners[0].http2, 1);
    run_free(r);

    /* a single --listen: the bound flags may come before it, and bind to it */
    r = parse("--tls-cert", "c.pem", "--http2", "off", "--listen", "0.0.0.0:8443", "--tls-key", "k.pem", NULL);
    expect_run(r);
    assert_int_equal(r->cfg.nlisteners, 1);
    assert_string_equal(r->cfg.listeners[0].host, "0.0.0.0");
    assert_int_equal(r->cfg.listeners[0].port, 8443);
    assert_string_equal(r->cfg.listeners[0].tls_cert, "c.pem");
    assert_string_equal(r->cfg.listeners[0].tls_key, "k.pem");
    assert_int_equal(r->cfg.listeners[0].http2, 0);
    run_free(r);

    /* no --listen at all: they bind to the default one */
    r = parse("--tls-key", "k.pem", "--tls-cert", "c.pem", NULL);
    expect_run(r);
    assert_int_equal(r->cfg.nlisteners, 1);
    assert_string_equal(r->cfg.listeners[0].host, "127.0.0.1");
    assert_int_equal(r->cfg.listeners[0].port, 8080);
    assert_string_equal(r->cfg.listeners[0].tls_cert, "c.pem");
    run_free(r);

    /* several: each flag binds to the last --listen before it */
    r = parse("--listen", "[::]:443", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--listen", "127.0.0.1:8080",
              "--http2", "off", "--listen", "127.0.0.1:0", "--http2", "on", "--threads", "2", NULL);
    expect_run(r);
    assert_int_equal(r->cfg.nlisteners, 3);
    assert_string_equal(r->cfg.listeners[0].host, "::");
    assert_int_equal(r->cfg.listeners[0].port, 443);
    assert_string_equal(r->cfg.listeners[0].tls_cert, "c.pem");
    assert_int_equal(r->cfg.listeners[0].http2, 1);
    assert_null(r->cfg.listeners[1].tls_cert);
    assert_int_equal(r->cfg.listeners[1].http2, 0);
    assert_null(r->cfg.listeners[2].tls_key);
    assert_int_equal(r->cfg.listeners[2].http2, 1);
    assert_int_equal(r->cfg.threads, 2);
    run_free(r);

    /* port 0 twice is two kernel-picked ports, not one address twice */
    r = parse("--listen", "127.0.0.1:0", "--listen", "127.0.0.1:0", NULL);
    expect_run(r);
    assert_int_equal(r->cfg.nlisteners, 2);
    run_free(r);

    /* eight is the most */
    r = parse("--listen", "a:1", "--listen", "a:2", "--listen", "a:3", "--listen", "a:4", "--listen", "a:5", "--listen",
              "a:6", "--listen", "a:7", "--listen", "a:8", NULL);
    expect_run(r);
    assert_int_equal(r->cfg.nlisteners, ORDERD_MAX_LISTENERS);
    assert_int_equal(r->cfg.listeners[7].port, 8);
    run_free(r);
}

static void test_bad_bound_flags(void **state)
{
    expect_usage(parse("--tls-cert", "c.pem", NULL), "a certificate without a key");
    expect_usage(parse("--listen", "a:1", "--tls-key", "k.pem", NULL), "a key without a certificate");
    expect_usage(parse("--listen", "a:1", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--listen", "a:2", "--tls-cert",
                       "c.pem", NULL),
                 "the second listener's certificate without a key");
    expect_usage(parse("--tls-cert", "c.pem", "--tls-key", "k.pem", "--listen", "a:1", "--listen", "a:2", NULL),
                 "bound flags before the first of several --listen");
    expect_usage(parse("--http2", "off", "--listen", "a:1", "--listen", "a:2", NULL), "--http2 before several --listen");
    expect_usage(parse("--listen", "a:1", "--http2", "off", "--http2", "on", NULL), "--http2 twice");
    expect_usage(parse("--http2", "off", "--listen", "a:1", "--http2", "on", NULL), "--http2 before and after");
    expect_usage(parse("--listen", "a:1", "--tls-cert", "x", "--tls-cert", "y", "--tls-key", "k", NULL),
                 "--tls-cert twice");
    static const char *const http2[] = {"", "yes", "ON", "1", "offf"};
    for (size_t i = 0; i < sizeof(http2) / sizeof(http2[0]); i++)
        expect_usage(parse("--http2", http2[i], NULL), "a bad --http2 value");
    expect_usage(parse("--tls-cert", "", "--tls-key", "k", NULL), "--tls-cert ''");
    expect_usage(parse("--tls-cert", "c", "--tls-key", "", NULL), "--tls-key ''");
    expect_usage(parse("--tls-cert", NULL), "missing value for --tls-cert");
    expect_usage(parse("--http2", NULL), "missing value for --http2");
    expect_usage(parse("--listen", "127.0.0.1:80", "--listen", "127.0.0.1:80", NULL), "one address twice");
    expect_usage(parse("--listen", "a:1", "--listen", "a:2", "--listen", "a:3", "--listen", "a:4", "--listen", "a:5",
                       "--listen", "a:6", "--listen", "a:7", "--listen", "a:8", "--listen", "a:9", NULL),
                 "nine listeners");

    /* the message names the listener and the flag */
    run_t *r = parse("--listen", "a:1", "--tls-cert", "c.pem", NULL);
    assert_non_null(strstr(r->err, "--listen a:1 has --tls-cert but no --tls-key"));
    run_free(r);
}

static void test_trusted_proxy_and_cors_origin(void **state)
{
    run_t *r = parse(NULL);
    expect_run(r);
    assert_int_equal(r->cfg.ntrusted_proxies, 0);
    assert_int_equal(r->cfg.ncors_origins, 0); /* off by default */
    run_free(r);

    r = parse("--trusted-proxy", "127.0.0.1/32", "--cors-origin", "https://shop.example", "--trusted-proxy", "::1",
              "--cors-origin", "http://localhost:3000", "--cors-origin", "*", NULL);
    expect_run(r);
    assert_int_equal(r->cfg.ntrusted_proxies, 2);
    assert_int_equal(r->cfg.trusted_proxies[0].bits, 96 + 32);
    assert_int_equal(r->cfg.trusted_proxies[1].bits, 128);
    assert_int_equal(r->cfg.ncors_origins, 3);
    assert_string_equal(r->cfg.cors_origins[0], "https://shop.example");
    assert_string_equal(r->cfg.cors_origins[1], "http://localhost:3000");
    assert_string_equal(r->cfg.cors_origins[2], "*");
    run_free(r);

    static const char *const proxies[] = {"", "10.0.0.0/33", "example.com", "10.0.0.1/", "::1/200"};
    for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++)
        expect_usage(parse("--trusted-proxy", proxies[i], NULL), proxies[i]);
    static const char *const origins[] = {"",
                                          "shop.example",
                                          "https://",
                                          "https://shop.example/",
                                          "https://shop.example/path",
                                          "https://Shop.example",
                                          "ftp://shop.example",
                                          "https://shop example",
                                          "**"};
    for (size_t i = 0; i < sizeof(origins) / sizeof(origins[0]); i++)
        expect_usage(parse("--cors-origin", origins[i], NULL), origins[i]);
    expect_usage(parse("--cors-origin", NULL), "--cors-origin without a value");
}


static void expect_timeouts(const run_t *r, int64_t header_ms, int64_t body_ms, int64_t idle_ms)
{
    assert_int_equal(r->cfg.header_timeout_ms, header_ms);
    assert_int_equal(r->cfg.body_timeout_ms, body_ms);
    assert_int_equal(r->cfg.idle_timeout_ms, idle_ms);
}

static void test_connection_flags(void **state)
{
    struct rlimit nofile;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &nofile), 0);
    run_t *r = parse("--threads", "2", NULL);
    expect_run(r);
    /* the default: what the soft fd limit leaves after orderd's own descriptors */
    assert_int_equal(r->cfg.nofile, (uint64_t)nofile.rlim_cur);
    assert_int_equal(r->cfg.max_connections_given, 0);
    assert_int_equal(r->cfg.max_connections, orderd_accept_default_max(nofile.rlim_cur, 2, 1));
    expect_timeouts(r, 10000, 10000, 10000); /* libh2o 2.2.5's own values, as before the flags */
    run_free(r);
    /* more listeners and threads keep more descriptors back */
    r = parse("--threads", "4", "--listen", "127.0.0.1:1", "--listen", "127.0.0.1:2", NULL);
    expect_run(r);
    assert_int_equal(r->cfg.max_connections, orderd_accept_default_max(nofile.rlim_cur, 4, 2));
    run_free(r);

    r = parse("--max-connections", "50", "--header-timeout", "1500ms", "--body-timeout", "2s", "--idle-timeout", "2m",
              NULL);
    expect_run(r);
    assert_int_equal(r->cfg.max_connections, 50);
    assert_int_equal(r->cfg.max_connections_given, 1);
    expect_timeouts(r, 1500, 2000, 120000);
    run_free(r);
    r = parse("--max-connections", "16777216", "--header-timeout", "100ms", "--idle-timeout", "1h", NULL);
    expect_run(r);
    assert_int_equal(r->cfg.max_connections, ORDERD_CONFIG_MAX_CONNECTIONS);
    expect_timeouts(r, 100, 10000, 3600000);
    run_free(r);

    static const char *const bad_max[] = {"", "0", "-1", "16777217", "1e3", "50 "};
    for (size_t i = 0; i < sizeof(bad_max) / sizeof(bad_max[0]); i++)
        expect_usage(parse("--max-connections", bad_max[i], NULL), "--max-connections");
    static const char *const bad_timeout[] = {
        "", "0", "99ms", "0s", "61m", "2h", "1d", "ms", "s", "1.5s", "-1s", "10 s", "99999999999999999999ms"};
    static const char *const timeouts[] = {"--header-timeout", "--body-timeout", "--idle-timeout"};
    for (size_t t = 0; t < 3; t++)
        for (size_t i = 0; i < sizeof(bad_timeout) / sizeof(bad_timeout[0]); i++)
            expect_usage(parse(timeouts[t], bad_timeout[i], NULL), timeouts[t]);
}

static void test_compress_and_log_format(void **state)
{
    run_t *r = parse(NULL);
    expect_run(r);
    assert_int_equal(r->cfg.compress, 1);
    assert_int_equal(r->cfg.log_json, 0);
    run_free(r);
    r = parse("--compress", "off", "--log-format", "json", NULL);
    expect_run(r);
    assert_int_equal(r->cfg.compress, 0);
    assert_int_equal(r->cfg.log_json, 1);
    run_free(r);
    expect_usage(parse("--compress", "yes", NULL), "--compress yes");
    expect_usage(parse("--log-format", "xml", NULL), "--log-format xml");
}

static void test_limit_flags(void **state)
{
    run_t *r = parse(NULL);
    expect_run(r);
    assert_int_equal(r->cfg.rate_limit.per, 0); /* every limit is off by default */
    assert_int_equal(r->cfg.max_orders_per_user, 0);
    assert_int_equal(r->cfg.max_orders, 0);
    assert_int_equal(r->cfg.memory_limit, 0);
    run_free(r);

    r = parse("--rate-limit-per-user", "10/s", "--max-orders-per-user", "5000", "--max-orders", "2000000",
              "--memory-limit", "512M", NULL);
    expect_run(r);
    assert_int_equal(r->cfg.rate_limit.per, 10);
    assert_int_equal(r->cfg.rate_limit.period_ms, 1000);
    assert_int_equal(r->cfg.rate_limit.burst, 10); /* the burst defaults to the rate's N */
    assert_int_equal(r->cfg.max_orders_per_user, 5000);
    assert_int_equal(r->cfg.max_orders, 2000000);
    assert_int_equal(r->cfg.memory_limit, 512ull << 20);
    run_free(r);

    /* the burst applies whichever comes first */
    r = parse("--rate-limit-burst", "40", "--rate-limit-per-user", "90/m", NULL);
    expect_run(r);
    assert_int_equal(r->cfg.rate_limit.per, 90);
    assert_int_equal(r->cfg.rate_limit.period_ms, 60000);
    assert_int_equal(r->cfg.rate_limit.burst, 40);
    run_free(r);

    static const struct {
        const char *v;
        uint64_t bytes;
    } mem[] = {{"4096", 4096}, {"64K", 64 << 10}, {"3G", 3ull << 30}, {"off", 0}, {"1", 1}};
    for (size_t i = 0; i < sizeof(mem) / sizeof(mem[0]); i++) {
        r = parse("--memory-limit", mem[i].v, NULL);
        expect_run(r);
        assert_int_equal(r->cfg.memory_limit, mem[i].bytes);
        run_free(r);
    }
    r = parse("--max-orders", "off", "--max-orders-per-user", "off", "--rate-limit-per-user", "off", NULL);
    expect_run(r);
    assert_int_equal(r->cfg.max_orders + r->cfg.max_orders_per_user + r->cfg.rate_limit.per, 0);
    run_free(r);

    expect_usage(parse("--rate-limit-per-user", "10", NULL), "--rate-limit-per-user 10");
    expect_usage(parse("--rate-limit-per-user", "0/s", NULL), "--rate-limit-per-user 0/s");
    expect_usage(parse("--rate-limit-per-user", "10/d", NULL), "--rate-limit-per-user 10/d");
    expect_usage(parse("--rate-limit-burst", "5", NULL), "--rate-limit-burst without a rate");
    expect_usage(parse("--rate-limit-per-user", "5/s", "--rate-limit-burst", "0", NULL), "--rate-limit-burst 0");
    expect_usage(parse("--rate-limit-per-user", "5/s", "--rate-limit-burst", "1000001", NULL),
                 "--rate-limit-burst 1000001");
    expect_usage(parse("--max-orders-per-user", "0", NULL), "--max-orders-per-user 0");
    expect_usage(parse("--max-orders", "-3", NULL), "--max-orders -3");
    expect_usage(parse("--max-orders", "1e6", NULL), "--max-orders 1e6");
    expect_usage(parse("--memory-limit", "0", NULL), "--memory-limit 0");
    expect_usage(parse("--memory-limit", "12T", NULL), "--memory-limit 12T");
    expect_usage(parse("--memory-limit", "M", NULL), "--memory-limit M");
    expect_usage(parse("--memory-limit", "2000000G", NULL), "--memory-limit over 1 PiB");

    char out[ORDERD_CONFIG_DESCRIBE_MAX];
    r = parse("--rate-limit-per-user", "7/h", "--rate-limit-burst", "3", "--memory-limit", "1G", NULL);
    expect_run(r);
    const char *d = orderd_config_describe(&r->cfg, out, sizeof(out));
    assert_non_null(strstr(d, " rate-limit-per-user=7/h rate-limit-burst=3 max-orders-per-user=off max-orders=off "
                              "memory-limit=1073741824 "));
    run_free(r);
    r = parse(NULL);
    d = orderd_config_describe(&r->cfg, out, sizeof(out));
    assert_non_null(strstr(d, " rate-limit-per-user=off max-orders-per-user=off"));
    run_free(r);
}

static void test_http2_limits(void **state)
{
    static const struct {
        const char *streams, *resets; /* NULL: the default */
        unsigned want_streams, want_resets;
    } ok[] = {
        {NULL, NULL, 100, 200},
        {"1", "0", 1, 0},
        {"100", "1000000", 100, 1000000},
        {"8", NULL, 8, 200},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); ++i) {
        /* --threads 1 stands where a flag is not given */
        run_t *r = parse(ok[i].streams ? "--http2-max-streams" : "--threads", ok[i].streams ? ok[i].streams : "1",
                         ok[i].resets ? "--http2-max-resets" : "--threads", ok[i].resets ? ok[i].resets : "1", NULL);
        expect_run(r);
        if (r->cfg.http2_max_streams != ok[i].want_streams || r->cfg.http2_max_resets != ok[i].want_resets)
            fail_msg("case %zu: streams %u resets %u", i, r->cfg.http2_max_streams, r->cfg.http2_max_resets);
        run_free(r);
    }
    /* libh2o 2.2.5 refuses the 101st open stream: 101 could never be in process */
    static const char *const bad[][2] = {
        {"--http2-max-streams", "101"},    {"--http2-max-streams", "0"},  {"--http2-max-streams", "-1"},
        {"--http2-max-resets", "1000001"}, {"--http2-max-resets", "ten"}, {"--http2-max-resets", ""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i)
        expect_usage(parse(bad[i][0], bad[i][1], NULL), bad[i][0]);
}

/* Every variable orderd reads, unset: the tests' environment must not leak in. */
static void clear_env(void)
{
    static const char *const vars[] = {"ORDERD_LISTEN",         "ORDERD_TLS_CERT",   "ORDERD_TLS_KEY",
                                       "ORDERD_HTTP2",          "ORDERD_THREADS",    "ORDERD_DATA_DIR",
                                       "ORDERD_MAX_BODY",       "ORDERD_FSYNC",      "ORDERD_SNAPSHOT_BYTES",
                                       "ORDERD_OPERATOR_TOKEN_FILE", "ORDERD_IDEMPOTENCY_TTL", "ORDERD_RETURN_WINDOW", "ORDERD_NODE_ID", "ORDERD_FEED_RETENTION", "ORDERD_WEBHOOK",
                                       "ORDERD_WEBHOOK_SECRET_FILE", "ORDERD_WEBHOOK_MAX_AGE", "ORDERD_WEBHOOK_TIMEOUT", "ORDERD_ACCESS_LOG",
                                       "ORDERD_TRUSTED_PROXY",  "ORDERD_CORS_ORIGIN", "ORDERD_COMPRESS",
                                       "ORDERD_LOG_FORMAT", "ORDERD_MAX_CONNECTIONS", "ORDERD_HEADER_TIMEOUT",
                                       "ORDERD_BODY_TIMEOUT", "ORDERD_IDLE_TIMEOUT", "ORDERD_RATE_LIMIT_PER_USER",
                                       "ORDERD_RATE_LIMIT_BURST", "ORDERD_MAX_ORDERS_PER_USER",
                                       "ORDERD_MAX_ORDERS",     "ORDERD_MEMORY_LIMIT", "ORDERD_HTTP2_MAX_STREAMS",
                                       "ORDERD_HTTP2_MAX_RESETS", "ORDERD_USER_AUTH", "ORDERD_JWT_KEY_FILE",
                                       "ORDERD_JWT_SECRET_FILE", "ORDERD_JWT_ISSUER", "ORDERD_JWT_AUDIENCE",
                                       "ORDERD_JWT_USER_CLAIM", "ORDERD_JWT_LEEWAY"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
}

static void test_env_sets_each_flag(void **state)
{
    clear_env();
    setenv("ORDERD_LISTEN", "10.0.0.1:9000", 1);
    setenv("ORDERD_THREADS", "3", 1);
    setenv("ORDERD_DATA_DIR", "/srv/orders", 1);
    setenv("ORDERD_MAX_BODY", "4096", 1);
    setenv("ORDERD_FSYNC", "everysec", 1);
    setenv("ORDERD_SNAPSHOT_BYTES", "8192", 1);
    setenv("ORDERD_OPERATOR_TOKEN_FILE", "/etc/orderd/token", 1);
    setenv("ORDERD_IDEMPOTENCY_TTL", "2h", 1);
    setenv("ORDERD_ACCESS_LOG", "-", 1);
    setenv("ORDERD_TRUSTED_PROXY", "10.0.0.0/8", 1);
    setenv("ORDERD_CORS_ORIGIN", "https://shop.example", 1);
    setenv("ORDERD_COMPRESS", "off", 1);
    setenv("ORDERD_LOG_FORMAT", "json", 1);
    setenv("ORDERD_HTTP2", "off", 1);
    setenv("ORDERD_MAX_CONNECTIONS", "77", 1);
    setenv("ORDERD_HEADER_TIMEOUT", "3s", 1);
    setenv("ORDERD_BODY_TIMEOUT", "4s", 1);
    setenv("ORDERD_IDLE_TIMEOUT", "500ms", 1);
    setenv("ORDERD_RATE_LIMIT_PER_USER", "20/s", 1);
    setenv("ORDERD_RATE_LIMIT_BURST", "50", 1);
    setenv("ORDERD_MAX_ORDERS_PER_USER", "100", 1);
    setenv("ORDERD_MAX_ORDERS", "1000", 1);
    setenv("ORDERD_MEMORY_LIMIT", "2G", 1);
    setenv("ORDERD_HTTP2_MAX_STREAMS", "8", 1);
    setenv("ORDERD_HTTP2_MAX_RESETS", "50", 1);
    run_t *r = parse(NULL);
    expect_run(r);
    assert_int_equal(r->cfg.nlisteners, 1);
    assert_string_equal(r->cfg.listeners[0].host, "10.0.0.1");
    assert_int_equal(r->cfg.listeners[0].port, 9000);
    assert_int_equal(r->cfg.listeners[0].http2, 0);
    assert_int_equal(r->cfg.threads, 3);
    assert_string_equal(r->cfg.data_dir, "/srv/orders");
    assert_int_equal(r->cfg.max_body, 4096);
    assert_int_equal(r->cfg.fsync, ORDERD_FSYNC_EVERYSEC);
    assert_int_equal(r->cfg.snapshot_bytes, 8192);
    assert_string_equal(r->cfg.operator_token_file, "/etc/orderd/token");
    assert_int_equal(r->cfg.idempotency_ttl_ms, 2LL * 3600 * 1000);
    assert_string_equal(r->cfg.access_log, "-");
    assert_int_equal(r->cfg.ntrusted_proxies, 1);
    assert_int_equal(r->cfg.ncors_origins, 1);
    assert_string_equal(r->cfg.cors_origins[0], "https://shop.example");
    assert_int_equal(r->cfg.compress, 0);
    assert_int_equal(r->cfg.log_json, 1);
    assert_int_equal(r->cfg.max_connections, 77);
    expect_timeouts(r, 3000, 4000, 500);
    assert_int_equal(r->cfg.rate_limit.per, 20);
    assert_int_equal(r->cfg.rate_limit.burst, 50);
    assert_int_equal(r->cfg.max_orders_per_user, 100);
    assert_int_equal(r->cfg.max_orders, 1000);
    assert_int_equal(r->cfg.memory_limit, 2ull << 30);
    assert_int_equal(r->cfg.http2_max_streams, 8);
    assert_int_equal(r->cfg.http2_max_resets, 50);
    run_free(r);
    clear_env();
}

static void test_env_flag_wins(void **state)
{
    clear_env();
    setenv("ORDERD_THREADS", "3", 1);
    setenv("ORDERD_LISTEN", "10.0.0.1:9000,10.0.0.2:9000", 1);
    setenv("ORDERD_TRUSTED_PROXY", "10.0.0.0/8", 1);
    run_t *r = parse("--threads", "5", "--listen", "127.0.0.1:7000", "--trusted-proxy", "::1", NULL);
    expect_run(r);
    assert_int_equal(r->cfg.threads, 5);
    assert_int_equal(r->cfg.nlisteners, 1); /* the flag replaces the whole list, it does not add to it */
    assert_int_equal(r->cfg.listeners[0].port, 7000);
    assert_int_equal(r->cfg.ntrusted_proxies, 1);
    assert_int_equal(r->cfg.trusted_proxies[0].bits, 128);
    run_free(r);

    /* a bad variable the flag overrides is not read at all */
    setenv("ORDERD_THREADS", "many", 1);
    r = parse("--threads", "2", NULL);
    expect_run(r);
    assert_int_equal(r->cfg.threads, 2);
    run_free(r);
    clear_env();
}

static void test_env_lists_and_empty(void **state)
{
    clear_env();
    setenv("ORDERD_LISTEN", " 127.0.0.1:7000 , [::1]:7001,127.0.0.1:7002 ", 1);
    setenv("ORDERD_CORS_ORIGIN", "https://a.example,https://b.example", 1);
    setenv("ORDERD_DATA_DIR", "", 1); /* empty: unset */
    run_t *r = parse(NULL);
    expect_run(r);
    assert_int_equal(r->cfg.nlisteners, 3);
    assert_string_equal(r->cfg.listeners[0].host, "127.0.0.1");
    assert_int_equal(r->cfg.listeners[0].port, 7000);
    assert_string_equal(r->cfg.listeners[1].host, "::1");
    assert_int_equal(r->cfg.listeners[1].port, 7001);
    assert_int_equal(r->cfg.listeners[2].port, 7002);
    assert_int_equal(r->cfg.ncors_origins, 2);
    assert_string_equal(r->cfg.cors_origins[1], "https://b.example");
    assert_string_equal(r->cfg.data_dir, "./data");
    run_free(r);

    /* per-listener variables act before the first --listen */
    clear_env();
    setenv("ORDERD_TLS_CERT", "/etc/orderd/cert.pem", 1);
    setenv("ORDERD_TLS_KEY", "/etc/orderd/key.pem", 1);
    r = parse("--listen", "0.0.0.0:8443", NULL);
    expect_run(r);
    assert_string_equal(r->cfg.listeners[0].tls_cert, "/etc/orderd/cert.pem");
    assert_string_equal(r->cfg.listeners[0].tls_key, "/etc/orderd/key.pem");
    run_free(r);
    r = parse("--listen", "0.0.0.0:8443", "--listen", "127.0.0.1:8080", NULL);
    expect_usage(r, "ORDERD_TLS_CERT with two listeners");
    r = parse("--listen", "0.0.0.0:8443", "--listen", "127.0.0.1:8080", NULL);
    assert_non_null(strstr(r->err, "ORDERD_TLS_CERT"));
    run_free(r);
    clear_env();
}

static void test_env_errors_name_the_variable(void **state)
{
    static const struct {
        const char *var, *value;
    } bad[] = {{"ORDERD_THREADS", "0"},         {"ORDERD_LISTEN", "nohost"},     {"ORDERD_FSYNC", "sometimes"},
               {"ORDERD_MAX_BODY", "-1"},       {"ORDERD_HTTP2", "maybe"},        {"ORDERD_TRUSTED_PROXY", "10.0.0.0/8,x"},
               {"ORDERD_COMPRESS", "1"},        {"ORDERD_LOG_FORMAT", "yaml"},   {"ORDERD_IDEMPOTENCY_TTL", "0s"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        clear_env();
        setenv(bad[i].var, bad[i].value, 1);
        run_t *r = parse(NULL);
        if (strstr(r->err, bad[i].var) == NULL)
            fail_msg("%s=%s: the message does not name the variable: %s", bad[i].var, bad[i].value, r->err);
        expect_usage(r, bad[i].var);
    }
    clear_env();
}

/* --help: every flag with a value shows its default and its variable. */
/* --user-auth and the --jwt-* flags: what jwt needs, and those refused without it. */
static void test_user_auth_flags(void **state)
{
    clear_env();
    run_t *r = parse(NULL);
    expect_run(r);
    assert_int_equal(r->cfg.user_auth_jwt, 0);
    assert_null(r->cfg.jwt.key_file);
    assert_null(r->cfg.jwt.secret_file);
    assert_string_equal(r->cfg.jwt.user_claim, "sub");
    assert_int_equal(r->cfg.jwt.leeway_s, 30);
    char out[ORDERD_CONFIG_DESCRIBE_MAX];
    assert_non_null(strstr(orderd_config_describe(&r->cfg, out, sizeof(out)), " user-auth=header"));
    assert_null(strstr(out, "jwt-"));
    run_free(r);

    r = parse("--user-auth", "jwt", "--jwt-key-file", "/etc/orderd/idp.jwks", "--jwt-issuer", "https://id.example",
              "--jwt-audience", "orderd", "--jwt-user-claim", "uid", "--jwt-leeway", "0", NULL);
    expect_run(r);
    assert_int_equal(r->cfg.user_auth_jwt, 1);
    assert_string_equal(r->cfg.jwt.key_file, "/etc/orderd/idp.jwks");
    assert_null(r->cfg.jwt.secret_file);
    assert_string_equal(r->cfg.jwt.issuer, "https://id.example");
    assert_string_equal(r->cfg.jwt.audience, "orderd");
    assert_string_equal(r->cfg.jwt.user_claim, "uid");
    assert_int_equal(r->cfg.jwt.leeway_s, 0);
    assert_non_null(strstr(orderd_config_describe(&r->cfg, out, sizeof(out)),
                           " user-auth=jwt jwt-key-file=/etc/orderd/idp.jwks jwt-issuer=https://id.example "
                           "jwt-audience=orderd jwt-user-claim=uid jwt-leeway=0s"));
    run_free(r);

    /* from the variables, a secret instead of a key */
    setenv("ORDERD_USER_AUTH", "jwt", 1);
    setenv("ORDERD_JWT_SECRET_FILE", "/etc/orderd/hs256", 1);
    setenv("ORDERD_JWT_ISSUER", "iss", 1);
    setenv("ORDERD_JWT_AUDIENCE", "aud", 1);
    setenv("ORDERD_JWT_LEEWAY", "300", 1);
    r = parse(NULL);
    expect_run(r);
    assert_int_equal(r->cfg.user_auth_jwt, 1);
    assert_string_equal(r->cfg.jwt.secret_file, "/etc/orderd/hs256");
    assert_int_equal(r->cfg.jwt.leeway_s, 300);
    assert_non_null(strstr(orderd_config_describe(&r->cfg, out, sizeof(out)), " jwt-secret-file=/etc/orderd/hs256"));
    run_free(r);
    clear_env();

    const char *iss = "--jwt-issuer", *aud = "--jwt-audience";
    expect_usage(parse("--user-auth", "oauth", NULL), "--user-auth oauth");
    expect_usage(parse("--user-auth", "jwt", iss, "i", aud, "a", NULL), "jwt without a key");
    expect_usage(parse("--user-auth", "jwt", iss, "i", aud, "a", "--jwt-key-file", "k", "--jwt-secret-file", "s", NULL),
                 "jwt with a key and a secret");
    expect_usage(parse("--user-auth", "jwt", "--jwt-key-file", "k", aud, "a", NULL), "jwt without an issuer");
    expect_usage(parse("--user-auth", "jwt", "--jwt-key-file", "k", iss, "i", NULL), "jwt without an audience");
    expect_usage(parse("--jwt-key-file", "k", NULL), "--jwt-key-file without jwt");
    expect_usage(parse("--user-auth", "header", "--jwt-secret-file", "s", NULL), "--jwt-secret-file with header");
    expect_usage(parse(aud, "a", NULL), "--jwt-audience without jwt");
    expect_usage(parse("--user-auth", "jwt", "--jwt-key-file", "", iss, "i", aud, "a", NULL), "an empty key file");
    expect_usage(parse("--user-auth", "jwt", "--jwt-key-file", "k", iss, "", aud, "a", NULL), "an empty issuer");
    expect_usage(parse("--user-auth", "jwt", "--jwt-key-file", "k", iss, "i", aud, "a", "--jwt-leeway", "301", NULL),
                 "--jwt-leeway 301");
    expect_usage(parse("--jwt-leeway", "-1", NULL), "--jwt-leeway -1");
    char longer[300];
    memset(longer, 'x', 256);
    longer[256] = '\0';
    expect_usage(parse("--user-auth", "jwt", "--jwt-key-file", "k", iss, "i", aud, longer, NULL),
                 "a 256-byte audience");
    /* the user claim and the leeway change nothing without jwt: allowed */
    r = parse("--jwt-user-claim", "uid", "--jwt-leeway", "5", NULL);
    expect_run(r);
    run_free(r);
}

static void test_help_lists_defaults_and_variables(void **state)
{
    static const char *const flags[] = {"listen",      "tls-cert",       "tls-key",         "http2",
                                        "threads",     "data-dir",       "max-body",        "fsync",
                                        "snapshot-bytes", "operator-token-file", "idempotency-ttl", "return-window", "node-id", "feed-retention",
                                        "webhook", "webhook-secret-file", "webhook-max-age", "webhook-timeout", "access-log",
                                        "trusted-proxy", "cors-origin",  "compress",        "log-format",
                                        "max-connections", "header-timeout", "body-timeout", "idle-timeout",
                                        "rate-limit-per-user", "rate-limit-burst", "max-orders-per-user",
                                        "max-orders",  "memory-limit", "http2-max-streams",
                                        "http2-max-resets", "user-auth", "jwt-key-file", "jwt-secret-file",
                                        "jwt-issuer", "jwt-audience", "jwt-user-claim", "jwt-leeway"};
    clear_env();
    run_t *r = parse("--help", NULL);
    assert_int_equal(r->rc, ORDERD_CONFIG_EXIT);
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        char flag[64], var[64];
        snprintf(flag, sizeof(flag), "\n  --%s ", flags[i]);
        snprintf(var, sizeof(var), "variable: ORDERD_");
        const char *at = strstr(r->out, flag);
        if (at == NULL)
            fail_msg("--help does not list --%s", flags[i]);
        const char *next = strstr(at + 1, "\n  --");
        const char *def = strstr(at, "default: ");
        const char *v = strstr(at, var);
        if (def == NULL || v == NULL || (next != NULL && (def > next || v > next)))
            fail_msg("--help: --%s lacks its default or variable", flags[i]);
        char want[64];
        snprintf(want, sizeof(want), "ORDERD_%s", flags[i]);
        for (char *c = want + 7; *c; c++)
            *c = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
        if (strncmp(v + strlen("variable: "), want, strlen(want)) != 0)
            fail_msg("--help: --%s names the wrong variable", flags[i]);
    }
    run_free(r);
}

static void test_describe(void **state)
{
    clear_env();
    run_t *r = parse("--listen", "[::1]:8443", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--threads", "2",
                     "--trusted-proxy", "10.1.0.0/16", "--trusted-proxy", "2001:db8::/32", "--operator-token-file",
                     "tok", NULL);
    expect_run(r);
    char out[ORDERD_CONFIG_DESCRIBE_MAX];
    const char *d = orderd_config_describe(&r->cfg, out, sizeof(out));
    assert_non_null(strstr(d, "listen=https://[::1]:8443 tls-cert=c.pem tls-key=k.pem http2=on"));
    assert_non_null(strstr(d, " threads=2 "));
    assert_non_null(strstr(d, " fsync=always "));
    assert_non_null(strstr(d, " http2-max-streams=100 http2-max-resets=200 "));
    assert_non_null(strstr(d, " trusted-proxy=10.1.0.0/16 trusted-proxy=2001:db8::/32"));
    assert_non_null(strstr(d, " operator-token-file=tok "));
    assert_non_null(strstr(d, " idempotency-ttl=86400s "));
    char want[96];
    snprintf(want, sizeof(want), " max-connections=%u (file descriptor limit %llu) ", r->cfg.max_connections,
             (unsigned long long)r->cfg.nofile);
    assert_non_null(strstr(d, want));
    assert_non_null(strstr(d, " header-timeout=10s body-timeout=10s idle-timeout=10s "));
    assert_null(strchr(d, '\n'));
    /* cut, never overrun */
    char small[16];
    memset(small, 'x', sizeof(small));
    orderd_config_describe(&r->cfg, small, 10);
    assert_int_equal(strlen(small), 9);
    assert_int_equal(small[10], 'x');
    run_free(r);
    r = parse("--max-connections", "50", "--header-timeout", "1500ms", "--idle-timeout", "1m", NULL);
    expect_run(r);
    d = orderd_config_describe(&r->cfg, out, sizeof(out));
    assert_non_null(strstr(d, " max-connections=50 header-timeout=1500ms body-timeout=10s idle-timeout=60s "));
    run_free(r);
}

int main(void)
{
    clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_each_flag),
        cmocka_unit_test(test_all_flags_together),
        cmocka_unit_test(test_listen_forms),
        cmocka_unit_test(test_bad_listen),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_bad_flags),
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_repeatable),
        cmocka_unit_test(test_operator_and_idempotency_flags),
        cmocka_unit_test(test_node_id_flag),
        cmocka_unit_test(test_feed_and_webhook_flags),
        cmocka_unit_test(test_access_log_flag),
        cmocka_unit_test(test_listeners_and_bound_flags),
        cmocka_unit_test(test_bad_bound_flags),
        cmocka_unit_test(test_trusted_proxy_and_cors_origin),
        cmocka_unit_test(test_connection_flags),
        cmocka_unit_test(test_compress_and_log_format),
        cmocka_unit_test(test_limit_flags),
        cmocka_unit_test(test_http2_limits),
        cmocka_unit_test(test_env_sets_each_flag),
        cmocka_unit_test(test_env_flag_wins),
        cmocka_unit_test(test_env_lists_and_empty),
        cmocka_unit_test(test_env_errors_name_the_variable),
        cmocka_unit_test(test_user_auth_flags),
        cmocka_unit_test(test_help_lists_defaults_and_variables),
        cmocka_unit_test(test_describe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
