/* Unit tests for orderd/tls.h: building a listener's SSL_CTX from PEM files
 * (what fails, and the one-line reason), the ALPN choice with and without
 * HTTP/2 through an in-memory handshake, and a worker's context swap. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "orderd/tls.h"
#include "test_util.h"

typedef struct files {
    char dir[4096];
    char cert[4200], key[4200], other_key[4200], garbage[4200], missing[4200];
} files_t;

static EVP_PKEY *write_key(const char *path)
{
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    assert_non_null(pkey);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    return pkey;
}

/* A self-signed certificate for `pkey`, valid for a day. */
static void write_cert(const char *path, EVP_PKEY *pkey)
{
    X509 *x = X509_new();
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, pkey);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"orderd-test", -1, -1, 0);
    X509_set_issuer_name(x, name);
    assert_true(X509_sign(x, pkey, EVP_sha256()) > 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, x), 1);
    fclose(f);
    X509_free(x);
}

static int setup(void **state)
{
    files_t *fs = calloc(1, sizeof(*fs));
    test_tmpdir(fs->dir, sizeof(fs->dir), "tls");
    snprintf(fs->cert, sizeof(fs->cert), "%s/cert.pem", fs->dir);
    snprintf(fs->key, sizeof(fs->key), "%s/key.pem", fs->dir);
    snprintf(fs->other_key, sizeof(fs->other_key), "%s/other.pem", fs->dir);
    snprintf(fs->garbage, sizeof(fs->garbage), "%s/garbage.pem", fs->dir);
    snprintf(fs->missing, sizeof(fs->missing), "%s/missing.pem", fs->dir);
    EVP_PKEY *pkey = write_key(fs->key);
    write_cert(fs->cert, pkey);
    EVP_PKEY_free(pkey);
    EVP_PKEY_free(write_key(fs->other_key));
    FILE *f = fopen(fs->garbage, "w");
    assert_non_null(f);
    fputs("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n", f);
    fclose(f);
    *state = fs;
    return 0;
}

static int teardown(void **state)
{
    files_t *fs = *state;
    test_rmtree(fs->dir);
    free(fs);
    return 0;
}

static orderd_listener_config_t listener(const char *cert, const char *key, int http2)
{
    return (orderd_listener_config_t){.host = "127.0.0.1", .tls_cert = cert, .tls_key = key, .http2 = http2};
}

/* NULL and a one-line reason that names `file` (and says `why` when given). */
static void expect_failure(const orderd_listener_config_t *l, const char *file, const char *why)
{
    char err[1024] = "";
    SSL_CTX *ctx = orderd_tls_context_new(l, err, sizeof(err));
    if (ctx != NULL)
        fail_msg("a context for %s / %s", l->tls_cert, l->tls_key);
    if (strstr(err, file) == NULL || strchr(err, '\n') != NULL || (why != NULL && strstr(err, why) == NULL))
        fail_msg("reason \"%s\" should be one line naming %s (%s)", err, file, why ? why : "any reason");
}

static void test_bad_files(void **state)
{
    files_t *fs = *state;
    orderd_listener_config_t l = listener(fs->missing, fs->key, 1);
    expect_failure(&l, fs->missing, "No such file or directory");
    l = listener(fs->cert, fs->missing, 1);
    expect_failure(&l, fs->missing, "No such file or directory");
    l = listener(fs->garbage, fs->key, 1);
    expect_failure(&l, fs->garbage, NULL);
    l = listener(fs->key, fs->key, 1); /* a key where the certificate belongs */
    expect_failure(&l, fs->key, NULL);
    l = listener(fs->cert, fs->cert, 1); /* a certificate where the key belongs */
    expect_failure(&l, fs->cert, NULL);
    l = listener(fs->cert, fs->other_key, 1);
    expect_failure(&l, fs->other_key, "mismatch");
    l = listener(fs->dir, fs->key, 1); /* a directory opens, but holds no PEM */
    expect_failure(&l, fs->dir, NULL);
}

/* A full in-memory handshake with a client offering `offer` (ALPN wire
 * format); returns the protocol chosen ("" for none) in out. */
static void handshake(SSL_CTX *server, const char *offer, size_t offer_len, char *out, size_t cap)
{
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(cctx);
    assert_int_equal(SSL_CTX_set_alpn_protos(cctx, (const unsigned char *)offer, (unsigned)offer_len), 0);
    SSL *c = SSL_new(cctx), *s = SSL_new(server);
    BIO *bc, *bs;
    assert_int_equal(BIO_new_bio_pair(&bc, 0, &bs, 0), 1);
    SSL_set_bio(c, bc, bc);
    SSL_set_bio(s, bs, bs);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    int done = 0;
    for (int i = 0; i < 20 && !done; ++i) {
        int rc = SSL_do_handshake(c), rs = SSL_do_handshake(s);
        done = rc == 1 && rs == 1;
    }
    assert_true(done);
    assert_true(SSL_version(c) >= TLS1_2_VERSION);
    const unsigned char *p;
    unsigned len;
    SSL_get0_alpn_selected(c, &p, &len);
    assert_true(len < cap);
    if (len > 0)
        memcpy(out, p, len);
    out[len] = '\0';
    SSL_free(c);
    SSL_free(s);
    SSL_CTX_free(cctx);
}

static void test_alpn(void **state)
{
    files_t *fs = *state;
    char err[1024], got[32];
    static const char both[] = "\x08http/1.1\x02h2", h2[] = "\x02h2", h1[] = "\x08http/1.1";

    orderd_listener_config_t l = listener(fs->cert, fs->key, 1);
    SSL_CTX *ctx = orderd_tls_context_new(&l, err, sizeof(err));
    if (ctx == NULL)
        fail_msg("context: %s", err);
    handshake(ctx, both, sizeof(both) - 1, got, sizeof(got));
    assert_string_equal(got, "h2"); /* the server's preference, whatever the client's order */
    handshake(ctx, h1, sizeof(h1) - 1, got, sizeof(got));
    assert_string_equal(got, "http/1.1");
    SSL_CTX_free(ctx);

    l.http2 = 0;
    ctx = orderd_tls_context_new(&l, err, sizeof(err));
    if (ctx == NULL)
        fail_msg("context: %s", err);
    handshake(ctx, both, sizeof(both) - 1, got, sizeof(got));
    assert_string_equal(got, "http/1.1");
    handshake(ctx, h2, sizeof(h2) - 1, got, sizeof(got));
    assert_string_equal(got, ""); /* no h2 for a client that offers nothing else */
    SSL_CTX_free(ctx);
}

static void on_stop(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    (void)receiver;
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        free(m);
    }
}

static void test_swap(void **state)
{
    files_t *fs = *state;
    char err[1024];
    orderd_listener_config_t l = listener(fs->cert, fs->key, 1);
    SSL_CTX *first = orderd_tls_context_new(&l, err, sizeof(err)), *second = orderd_tls_context_new(&l, err, sizeof(err));
    assert_non_null(first);
    assert_non_null(second);

    h2o_evloop_t *loop = h2o_evloop_create();
    h2o_multithread_queue_t *queue = h2o_multithread_create_queue(loop);
    h2o_multithread_receiver_t stop; /* only to end the loop run below */
    h2o_multithread_register_receiver(queue, &stop, on_stop);
    /* slot 0: a TLS listener holding its own reference to first; slot 1: cleartext */
    SSL_CTX *slot0 = first, *slot1 = NULL;
    assert_int_equal(SSL_CTX_up_ref(first), 1);
    SSL_CTX **slots[] = {&slot0, &slot1};
    orderd_tls_receiver_t r;
    orderd_tls_receiver_init(&r, queue, slots, 2);

    SSL_CTX *fresh[] = {second, NULL};
    assert_int_equal(orderd_tls_send(&r, fresh, 2), 0);
    assert_ptr_equal(slot0, first); /* nothing changes until the worker's loop reads it */
    h2o_multithread_send_message(&stop, calloc(1, sizeof(h2o_multithread_message_t)));
    for (int i = 0; i < 100 && slot0 == first; ++i)
        h2o_evloop_run(loop, 10);
    assert_ptr_equal(slot0, second);
    assert_null(slot1);

    /* the worker dropped its reference to first and took one to second:
     * ours are the last of first and one of two of second */
    SSL_CTX_free(first);
    SSL_CTX_free(second);
    SSL_CTX_free(slot0);

    h2o_multithread_unregister_receiver(queue, &r._super);
    h2o_multithread_unregister_receiver(queue, &stop);
    h2o_multithread_destroy_queue(queue);
    free(queue); /* h2o 2.2.5's evloop build leaves that to the caller */
    h2o_evloop_run(loop, 0); /* the queue's pipe socket is closed on the loop */
    h2o_evloop_destroy(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_alpn),
        cmocka_unit_test(test_swap),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
