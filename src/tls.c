/* A listener's TLS: building its SSL_CTX and swapping in new ones. */
#include "orderd/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

/* ALPN lists in the server's order of preference. h2o's h2o_alpn_protocols
 * has h2 (and its drafts) before http/1.1; without HTTP/2 only http/1.1 may
 * be chosen, and a client that offers only h2 gets no ALPN answer. */
static const h2o_iovec_t alpn_http1_only[] = {{H2O_STRLIT("http/1.1")}, {NULL, 0}};

typedef struct swap_message {
    h2o_multithread_message_t super;
    SSL_CTX *ctxs[ORDERD_MAX_LISTENERS];
} swap_message_t;

/* One line for the failure OpenSSL queued, prefixed with what was being done. */
static void ssl_error(char *err, size_t errlen, const char *what, const char *file)
{
    char reason[256] = "unknown error";
    unsigned long e = ERR_peek_error(); /* the first: "no start line" rather than "PEM lib" */
    if (e != 0)
        ERR_error_string_n(e, reason, sizeof(reason));
    ERR_clear_error();
    snprintf(err, errlen, "%s %s: %s", what, file, reason);
}

/* A clearer reason than OpenSSL's "system library" for a file that is not there. */
static int readable(const char *flag, const char *file, char *err, size_t errlen)
{
    FILE *f = fopen(file, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s %s: %s", flag, file, strerror(errno));
        return -1;
    }
    fclose(f);
    return 0;
}

SSL_CTX *orderd_tls_context_new(const orderd_listener_config_t *l, char *err, size_t errlen)
{
    SSL_CTX *ctx = NULL;

    if (readable("--tls-cert", l->tls_cert, err, errlen) != 0 || readable("--tls-key", l->tls_key, err, errlen) != 0)
        goto fail;
    if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
        ssl_error(err, errlen, "cannot make a TLS context for", l->tls_cert);
        goto fail;
    }
    /* TLS 1.2 and 1.3; no renegotiation (h2o does not drive it) */
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
        ssl_error(err, errlen, "cannot set TLS 1.2 as the lowest version for", l->tls_cert);
        goto fail;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(ctx, l->tls_cert) != 1) {
        ssl_error(err, errlen, "--tls-cert", l->tls_cert);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, l->tls_key, SSL_FILETYPE_PEM) != 1) {
        ssl_error(err, errlen, "--tls-key", l->tls_key);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ssl_error(err, errlen, "--tls-key does not match --tls-cert", l->tls_cert);
        goto fail;
    }
    h2o_ssl_register_alpn_protocols(ctx, l->http2 ? h2o_alpn_protocols : alpn_http1_only);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

/* On the worker's loop: each new context replaces the old one, whose last
 * reference may be held by connections still open. */
static void on_swap(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    orderd_tls_receiver_t *r = H2O_STRUCT_FROM_MEMBER(orderd_tls_receiver_t, _super, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        swap_message_t *m = H2O_STRUCT_FROM_MEMBER(swap_message_t, super.link, messages->next);
        h2o_linklist_unlink(&m->super.link);
        for (size_t i = 0; i < r->_n; ++i) {
            if (m->ctxs[i] == NULL)
                continue;
            SSL_CTX_free(*r->_slots[i]);
            *r->_slots[i] = m->ctxs[i];
        }
        free(m);
    }
}

void orderd_tls_receiver_init(orderd_tls_receiver_t *r, h2o_multithread_queue_t *queue, SSL_CTX **const *slots,
                              size_t n)
{
    r->_n = n < ORDERD_MAX_LISTENERS ? n : ORDERD_MAX_LISTENERS;
    memcpy(r->_slots, slots, r->_n * sizeof(*slots));
    h2o_multithread_register_receiver(queue, &r->_super, on_swap);
}

int orderd_tls_send(orderd_tls_receiver_t *r, SSL_CTX *const *ctxs, size_t n)
{
    swap_message_t *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return -1;
    for (size_t i = 0; i < n && i < ORDERD_MAX_LISTENERS; ++i) {
        if (ctxs[i] != NULL && SSL_CTX_up_ref(ctxs[i]) == 1)
            m->ctxs[i] = ctxs[i];
    }
    h2o_multithread_send_message(&r->_super, &m->super);
    return 0;
}
