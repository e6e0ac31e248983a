/* Unit tests for orderd/webhook.h's pure pieces (src/webhook_sign.c): the
 * signature against vectors computed elsewhere, the backoff schedule and its
 * jitter bounds, the state file's round trip and its damaged forms, and the
 * secret file. The delivery threads are tested from outside
 * (tests/integration/webhook_test.py). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "orderd/webhook.h"
#include "test_util.h"

static const char secret[] = "whsec_test_secret_0123456789";
static const char body[] = "{\"id\":\"0-42\",\"seq\":42}";

/* Python: hmac.new(b"whsec_test_secret_0123456789",
 *   b'1700000000.{"id":"0-42","seq":42}', hashlib.sha256).hexdigest() */
static void test_signature_vector(void **state)
{
    char sig[ORDERD_WEBHOOK_SIGNATURE_MAX];
    size_t n = orderd_webhook_sign(secret, strlen(secret), 1700000000, body, strlen(body), sig);
    assert_string_equal(sig, "t=1700000000,v1=2fc6f9b16179e8b8109920a15feff37f50280800ea394349c026a3f10da794b3");
    assert_int_equal(n, strlen(sig));
}

/* RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
 * With t = "what do ya want for nothing" the signed text "<t>.<body>" is
 * not a number, so the vector goes through OpenSSL's one-shot HMAC() on
 * "<t>.<body>" instead, and the RFC's own value checks that HMAC(). */
static void test_signature_one_shot(void **state)
{
    unsigned char mac[32];
    unsigned maclen = 0;
    const char *rfc = "what do ya want for nothing?";
    HMAC(EVP_sha256(), "Jefe", 4, (const unsigned char *)rfc, strlen(rfc), mac, &maclen);
    static const unsigned char want[32] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24,
                                           0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27,
                                           0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
    assert_int_equal(maclen, 32);
    assert_memory_equal(mac, want, 32);

    /* now the scheme's own text through the same one-shot HMAC */
    for (int64_t t = 0; t < 2000000000; t += 333333333) {
        char text[256], hexmac[65], sig[ORDERD_WEBHOOK_SIGNATURE_MAX], expect[ORDERD_WEBHOOK_SIGNATURE_MAX];
        int tn = snprintf(text, sizeof(text), "%lld.%s", (long long)t, body);
        HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)text, (size_t)tn, mac, &maclen);
        for (int i = 0; i < 32; ++i)
            snprintf(hexmac + 2 * i, 3, "%02x", mac[i]);
        snprintf(expect, sizeof(expect), "t=%lld,v1=%s", (long long)t, hexmac);
        assert_int_not_equal(orderd_webhook_sign(secret, strlen(secret), t, body, strlen(body), sig), 0);
        assert_string_equal(sig, expect);
    }
    /* another secret or body is another signature */
    char a[ORDERD_WEBHOOK_SIGNATURE_MAX], b[ORDERD_WEBHOOK_SIGNATURE_MAX];
    orderd_webhook_sign(secret, strlen(secret), 1, body, strlen(body), a);
    orderd_webhook_sign(secret, strlen(secret) - 1, 1, body, strlen(body), b);
    assert_string_not_equal(a, b);
    orderd_webhook_sign(secret, strlen(secret), 1, body, strlen(body) - 1, b);
    assert_string_not_equal(a, b);
}

static void test_backoff_schedule(void **state)
{
    /* the base: 1 s doubling, capped at 5 min; rnd = base gives exactly base/2 + base */
    static const int64_t base[] = {1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 300000, 300000};
    for (unsigned f = 1; f <= sizeof(base) / sizeof(base[0]); ++f) {
        int64_t b = base[f - 1];
        assert_int_equal(orderd_webhook_backoff_ms(f, 0), b / 2);
        assert_int_equal(orderd_webhook_backoff_ms(f, (uint64_t)b), b / 2 + b);
        assert_int_equal(orderd_webhook_backoff_ms(f, (uint64_t)b / 2), b);
    }
    assert_int_equal(orderd_webhook_backoff_ms(1000, 0), ORDERD_WEBHOOK_BACKOFF_MAX_MS / 2);
    assert_int_equal(orderd_webhook_backoff_ms(UINT32_MAX, 0), ORDERD_WEBHOOK_BACKOFF_MAX_MS / 2);
    assert_int_equal(orderd_webhook_backoff_ms(0, 0), ORDERD_WEBHOOK_BACKOFF_MIN_MS / 2);
}

static void test_backoff_jitter_bounds(void **state)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (unsigned f = 1; f <= 12; ++f) {
        int64_t b = f >= 10 ? 300000 : 1000LL << (f - 1), lo = INT64_MAX, hi = 0;
        for (int i = 0; i < 20000; ++i) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            int64_t d = orderd_webhook_backoff_ms(f, x);
            assert_true(d >= b / 2);
            assert_true(d <= b + b / 2);
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
        }
        /* the jitter is spread over the range, not stuck at one end */
        assert_true(lo < b / 2 + b / 10);
        assert_true(hi > b + b / 2 - b / 10);
    }
}

static void test_state_name(void **state)
{
    char name[ORDERD_WEBHOOK_STATE_NAME_MAX], other[ORDERD_WEBHOOK_STATE_NAME_MAX];
    /* Python: hashlib.sha256(b"http://127.0.0.1:8080/hook").hexdigest()[:16] */
    orderd_webhook_state_name("http://127.0.0.1:8080/hook", name);
    assert_string_equal(name, "webhook-77038f203606c8c2.state");
    orderd_webhook_state_name("http://127.0.0.1:8080/hook2", other);
    assert_string_not_equal(name, other);
}

static void test_state_round_trip(void **state)
{
    char dir[4096], err[4600];
    const char *url = "http://127.0.0.1:8080/hook";
    uint64_t seq = 7;
    test_tmpdir(dir, sizeof(dir), "webhook");
    assert_int_equal(orderd_webhook_state_load(dir, url, &seq, err, sizeof(err)), 0); /* new endpoint */
    assert_int_equal(seq, 7);
    const uint64_t values[] = {0, 1, 41, 1ull << 40, UINT64_MAX - 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); ++i) {
        assert_int_equal(orderd_webhook_state_save(dir, url, values[i]), 0);
        assert_int_equal(orderd_webhook_state_load(dir, url, &seq, err, sizeof(err)), 1);
        assert_int_equal(seq, values[i]);
    }
    char name[ORDERD_WEBHOOK_STATE_NAME_MAX], path[4300];
    orderd_webhook_state_name(url, name);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(path + strlen(path), sizeof(path) - strlen(path), ".tmp");
    assert_int_not_equal(access(path, F_OK), 0); /* no temp file left behind */
    /* another URL's file is not this one's */
    assert_int_equal(orderd_webhook_state_load(dir, "http://127.0.0.1:8080/other", &seq, err, sizeof(err)), 0);
    test_rmtree(dir);
}

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void test_state_damaged(void **state)
{
    char dir[4096], err[4600], name[ORDERD_WEBHOOK_STATE_NAME_MAX], path[4300], good[512];
    const char *url = "http://127.0.0.1:8080/hook";
    uint64_t seq = 99;
    test_tmpdir(dir, sizeof(dir), "webhook");
    orderd_webhook_state_name(url, name);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_int_equal(orderd_webhook_state_save(dir, url, 123456), 0);
    FILE *f = fopen(path, "r");
    size_t glen = fread(good, 1, sizeof(good), f);
    fclose(f);
    assert_true(glen > 40);

    /* every torn prefix is refused, never read as a smaller number */
    for (size_t n = 0; n < glen; ++n) {
        write_file(path, good, n);
        err[0] = '\0';
        assert_int_equal(orderd_webhook_state_load(dir, url, &seq, err, sizeof(err)), -1);
        assert_non_null(strstr(err, name));
        assert_int_equal(seq, 99);
    }
    /* a flipped digit fails the checksum */
    char bad[512];
    memcpy(bad, good, glen);
    char *d = strstr(bad, "123456");
    assert_non_null(d);
    d[0] = '2';
    write_file(path, bad, glen);
    assert_int_equal(orderd_webhook_state_load(dir, url, &seq, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "damaged"));
    /* garbage, and trailing bytes after a good file */
    write_file(path, "\x00\xff garbage\n", 11);
    assert_int_equal(orderd_webhook_state_load(dir, url, &seq, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not an orderd webhook state file"));
    memcpy(bad, good, glen);
    bad[glen] = 'x';
    write_file(path, bad, glen + 1);
    assert_int_equal(orderd_webhook_state_load(dir, url, &seq, err, sizeof(err)), -1);
    /* a good file written for another URL (a hash collision, a copied file) */
    assert_int_equal(orderd_webhook_state_save(dir, "http://127.0.0.1:9/x", 5), 0);
    char other[ORDERD_WEBHOOK_STATE_NAME_MAX], opath[4300];
    orderd_webhook_state_name("http://127.0.0.1:9/x", other);
    snprintf(opath, sizeof(opath), "%s/%s", dir, other);
    assert_int_equal(rename(opath, path), 0);
    assert_int_equal(orderd_webhook_state_load(dir, url, &seq, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "another URL"));
    assert_int_equal(seq, 99);
    test_rmtree(dir);
}

static void test_secret_file(void **state)
{
    char dir[4096], path[4300], err[4600], s1[ORDERD_WEBHOOK_SECRET_MAX + 1], s2[ORDERD_WEBHOOK_SECRET_MAX + 1];
    size_t len, len2;
    int created;
    test_tmpdir(dir, sizeof(dir), "webhook");
    assert_int_equal(orderd_webhook_secret_load(NULL, dir, s1, sizeof(s1), &len, path, sizeof(path), &created, err,
                                                sizeof(err)),
                     0);
    assert_int_equal(created, 1);
    assert_int_equal(len, 64);
    assert_non_null(strstr(path, "/" ORDERD_WEBHOOK_SECRET_NAME));
    for (size_t i = 0; i < len; ++i)
        assert_non_null(strchr("0123456789abcdef", s1[i]));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(orderd_webhook_secret_load(NULL, dir, s2, sizeof(s2), &len2, path, sizeof(path), &created, err,
                                                sizeof(err)),
                     0);
    assert_int_equal(created, 0);
    assert_string_equal(s1, s2);
    /* a given file: its first line; too short is refused with the rule */
    char given[4300];
    snprintf(given, sizeof(given), "%s/given", dir);
    write_file(given, "a-secret-of-20-chars\nsecond line\n", 33);
    assert_int_equal(orderd_webhook_secret_load(given, dir, s2, sizeof(s2), &len2, path, sizeof(path), &created, err,
                                                sizeof(err)),
                     0);
    assert_string_equal(s2, "a-secret-of-20-chars");
    write_file(given, "short\n", 6);
    assert_int_equal(orderd_webhook_secret_load(given, dir, s2, sizeof(s2), &len2, path, sizeof(path), &created, err,
                                                sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "webhook secret"));
    assert_non_null(strstr(err, "16 to 1024"));
    test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature_vector),  cmocka_unit_test(test_signature_one_shot),
        cmocka_unit_test(test_backoff_schedule),  cmocka_unit_test(test_backoff_jitter_bounds),
        cmocka_unit_test(test_state_name),        cmocka_unit_test(test_state_round_trip),
        cmocka_unit_test(test_state_damaged),     cmocka_unit_test(test_secret_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
