/*
 * The webhooks' pure pieces (see webhook.h): the signature, the backoff
 * schedule, the state file and the secret.
 */
#include "orderd/webhook.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "internal/crc32c.h"
#include "internal/files.h"

/* The state file: four lines, the last a CRC32C of the three before it, so
 * a torn or edited file is told from a good one. */
#define STATE_MAGIC "orderd webhook state 1\n"
#define STATE_MAX 16384

static const char hex[] = "0123456789abcdef";

size_t orderd_webhook_sign(const char *secret, size_t secret_len, int64_t t, const char *body, size_t len,
                           char out[ORDERD_WEBHOOK_SIGNATURE_MAX])
{
    char ts[24];
    int tn = snprintf(ts, sizeof(ts), "%" PRId64 ".", t);
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    int ok = 0;
    /* EVP_MAC, not one-shot HMAC(): "<t>." and the body go in without a copy */
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = m != NULL ? EVP_MAC_CTX_new(m) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
                           OSSL_PARAM_construct_end()};
    if (ctx != NULL && EVP_MAC_init(ctx, (const unsigned char *)secret, secret_len, params) == 1 &&
        EVP_MAC_update(ctx, (const unsigned char *)ts, (size_t)tn) == 1 &&
        EVP_MAC_update(ctx, (const unsigned char *)body, len) == 1 &&
        EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) == 1 && maclen == 32)
        ok = 1;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(m);
    if (!ok)
        return 0;
    int n = snprintf(out, ORDERD_WEBHOOK_SIGNATURE_MAX, "t=%" PRId64 ",v1=", t);
    for (size_t i = 0; i < maclen; ++i) {
        out[n++] = hex[mac[i] >> 4];
        out[n++] = hex[mac[i] & 15];
    }
    out[n] = '\0';
    return (size_t)n;
}

int64_t orderd_webhook_backoff_ms(unsigned failures, uint64_t rnd)
{
    int64_t base = ORDERD_WEBHOOK_BACKOFF_MIN_MS;
    for (unsigned i = 1; i < failures && base < ORDERD_WEBHOOK_BACKOFF_MAX_MS; ++i)
        base *= 2;
    if (base > ORDERD_WEBHOOK_BACKOFF_MAX_MS)
        base = ORDERD_WEBHOOK_BACKOFF_MAX_MS;
    /* +-50 %: many endpoints failing at once do not retry in step */
    return base / 2 + (int64_t)(rnd % (uint64_t)(base + 1));
}

void orderd_webhook_state_name(const char *url, char out[ORDERD_WEBHOOK_STATE_NAME_MAX])
{
    unsigned char md[32];
    unsigned mdlen = 0;
    char h[17];
    if (EVP_Digest(url, strlen(url), md, &mdlen, EVP_sha256(), NULL) != 1)
        memset(md, 0, sizeof(md)); /* cannot happen with the default provider */
    for (size_t i = 0; i < 8; ++i) {
        h[2 * i] = hex[md[i] >> 4];
        h[2 * i + 1] = hex[md[i] & 15];
    }
    h[16] = '\0';
    snprintf(out, ORDERD_WEBHOOK_STATE_NAME_MAX, "webhook-%s.state", h);
}

static void state_path(const char *dir, const char *url, char *buf, size_t size)
{
    char name[ORDERD_WEBHOOK_STATE_NAME_MAX];
    orderd_webhook_state_name(url, name);
    orderd_path_join(buf, size, dir, name);
}

int orderd_webhook_state_save(const char *dir, const char *url, uint64_t seq)
{
    char path[4300];
    size_t cap = strlen(url) + 128;
    char *text = malloc(cap);
    if (text == NULL)
        return -1;
    int n = snprintf(text, cap, STATE_MAGIC "url %s\nlast_delivered_seq %" PRIu64 "\n", url, seq);
    n += snprintf(text + n, cap - (size_t)n, "crc32c %08" PRIx32 "\n", orderd_crc32c(0, text, (size_t)n));
    state_path(dir, url, path, sizeof(path));
    int ret = orderd_file_replace(dir, path, text, (size_t)n, 0600);
    int e = errno;
    free(text);
    errno = e;
    return ret;
}

/* Parses a whole state file's text; 0 and *seq, or -1 with the reason. */
static int state_parse(const char *text, size_t len, const char *url, uint64_t *seq, const char **why)
{
    const char *p = text, *end = text + len;
    size_t ulen = strlen(url);
    *why = "not an orderd webhook state file";
    if ((size_t)(end - p) < sizeof(STATE_MAGIC) - 1 || memcmp(p, STATE_MAGIC, sizeof(STATE_MAGIC) - 1) != 0)
        return -1;
    p += sizeof(STATE_MAGIC) - 1;
    *why = "damaged (torn or edited)";
    if ((size_t)(end - p) < 4 || memcmp(p, "url ", 4) != 0)
        return -1;
    const char *u = p + 4, *nl = memchr(u, '\n', (size_t)(end - u));
    if (nl == NULL)
        return -1;
    size_t got_ulen = (size_t)(nl - u);
    p = nl + 1;
    static const char key[] = "last_delivered_seq ";
    if ((size_t)(end - p) < sizeof(key) - 1 || memcmp(p, key, sizeof(key) - 1) != 0)
        return -1;
    p += sizeof(key) - 1;
    uint64_t v = 0;
    const char *digits = p;
    while (p < end && *p >= '0' && *p <= '9' && p - digits < 20)
        v = v * 10 + (uint64_t)(*p++ - '0');
    if (p == digits || p >= end || *p != '\n')
        return -1;
    size_t covered = (size_t)(++p - text);
    char want[32];
    int wn = snprintf(want, sizeof(want), "crc32c %08" PRIx32 "\n", orderd_crc32c(0, text, covered));
    if ((size_t)(end - p) != (size_t)wn || memcmp(p, want, (size_t)wn) != 0)
        return -1;
    if (got_ulen != ulen || memcmp(u, url, ulen) != 0) {
        *why = "written for another URL";
        return -1;
    }
    *seq = v;
    return 0;
}

int orderd_webhook_state_load(const char *dir, const char *url, uint64_t *seq, char *err, size_t errlen)
{
    char path[4300];
    state_path(dir, url, path, sizeof(path));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    if (fd < 0) {
        snprintf(err, errlen, "cannot read the webhook state file %s: %s", path, strerror(errno));
        return -1;
    }
    char *text = malloc(STATE_MAX);
    size_t len = 0;
    ssize_t n = 0;
    while (text != NULL && len < STATE_MAX && (n = read(fd, text + len, STATE_MAX - len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        len += (size_t)n;
    }
    int e = errno;
    close(fd);
    int ret = -1;
    const char *why;
    if (text == NULL || n < 0)
        snprintf(err, errlen, "cannot read the webhook state file %s: %s", path, strerror(text == NULL ? ENOMEM : e));
    else if (state_parse(text, len, url, seq, &why) != 0)
        snprintf(err, errlen, "the webhook state file %s is %s", path, why);
    else
        ret = 1;
    free(text);
    return ret;
}

int orderd_webhook_secret_load(const char *file, const char *dir, char *buf, size_t size, size_t *len, char *path,
                               size_t path_size, int *created, char *err, size_t errlen)
{
    const orderd_secret_file_t s = {.file = file,
                                    .dir = dir,
                                    .default_name = ORDERD_WEBHOOK_SECRET_NAME,
                                    .what = "webhook secret",
                                    .min_len = ORDERD_WEBHOOK_SECRET_MIN,
                                    .max_len = ORDERD_WEBHOOK_SECRET_MAX};
    return orderd_secret_file_load(&s, buf, size, len, path, path_size, created, err, errlen);
}
