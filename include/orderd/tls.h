#ifndef ORDERD_TLS_H
#define ORDERD_TLS_H

/* TLS for a listener: its SSL_CTX (certificate, versions, ALPN), and new
 * ones handed to the worker threads when the certificates are reloaded. */

#include <stddef.h>

#include <h2o.h>
#include <openssl/ssl.h>

#include "orderd/config.h"

/**
 * A new server SSL_CTX for listener `l` (which has tls_cert and tls_key):
 * TLS 1.2 and 1.3 only, the PEM certificate chain and the private key read
 * from their files now, and ALPN offering h2 then http/1.1 (l->http2) or
 * http/1.1 alone. The caller owns the reference (SSL_CTX_free). Returns
 * NULL with one line (no newline) in err when a file cannot be read, holds
 * no PEM certificate or key, or the key does not match the certificate.
 */
SSL_CTX *orderd_tls_context_new(const orderd_listener_config_t *l, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/**
 * A worker thread's end of certificate reloads: `slots[i]` is where the
 * worker's listener i keeps its SSL_CTX (an h2o_accept_ctx_t's ssl_ctx; NULL
 * for a cleartext listener). Messages are applied on the worker's own loop,
 * so accepting never races a swap. Fields are private.
 */
typedef struct orderd_tls_receiver {
    h2o_multithread_receiver_t _super;
    SSL_CTX **_slots[ORDERD_MAX_LISTENERS];
    size_t _n;
} orderd_tls_receiver_t;

/** Registers `r` on the worker's queue (call on the worker's thread) with its n <= ORDERD_MAX_LISTENERS slots. */
void orderd_tls_receiver_init(orderd_tls_receiver_t *r, h2o_multithread_queue_t *queue, SSL_CTX **const *slots,
                              size_t n);

/**
 * Hands the worker behind `r` new contexts: ctxs[i] (NULL: keep listener i's)
 * replaces slot i once the worker reads the message. Takes a reference of
 * its own on each (the caller keeps its own); the worker drops the old one,
 * which the connections already made with it keep alive until they close.
 * Returns 0, or -1 when out of memory (nothing is sent).
 */
int orderd_tls_send(orderd_tls_receiver_t *r, SSL_CTX *const *ctxs, size_t n) __attribute__((warn_unused_result));

#endif
