#ifndef ORDERD_HTTP_FRAMING_H
#define ORDERD_HTTP_FRAMING_H

/*
 * HTTP/1.x message framing (RFC 9112 6): a request whose body two readers
 * could delimit differently is refused before any handler acts, and its
 * connection is closed, so that the bytes after it are never read as a
 * request of their own (request smuggling, RFC 9112 11.2).
 *
 * libh2o 2.2.5 reads such a request one way without a word: with both
 * Content-Length and Transfer-Encoding it uses the last Transfer-Encoding,
 * of several Content-Lengths the first, and it drops both headers from
 * req->headers. The guard therefore reads the request's head again where h2o
 * parsed it, at the start of the connection's input buffer, which h2o keeps
 * unchanged until the response is done.
 */

#include <stddef.h>

#include <h2o.h>

#include "orderd/http.h"

/** What the head of an HTTP/1.x request says about its framing; anything but OK is refused. */
typedef enum {
    ORDERD_FRAMING_OK = 0,
    ORDERD_FRAMING_BOTH,          /* Content-Length and Transfer-Encoding together */
    ORDERD_FRAMING_LENGTHS,       /* Content-Length more than once, even with the same value */
    ORDERD_FRAMING_CODINGS,       /* Transfer-Encoding more than once */
    ORDERD_FRAMING_HTTP10_CODING, /* Transfer-Encoding in an HTTP/1.0 request */
    ORDERD_FRAMING_FOLDED,        /* a header line continued on the next one (obs-fold) */
    ORDERD_FRAMING_UNREADABLE,    /* the bytes do not start with a complete head of this method */
} orderd_framing_t;

/**
 * Reads the head of an HTTP/1.x request from `len` bytes at `buf` (more bytes
 * may follow it: the body, another request): optional empty lines, then a
 * request line that starts with `method` and a space, then header lines up to
 * the empty line, each ending in LF or CRLF, as h2o's parser accepts them.
 * `minor_version` is the request's HTTP/1.x minor version. Returns the first
 * fault in the order of the enum (BOTH before LENGTHS ...), else
 * ORDERD_FRAMING_OK. Reads no byte past the head's empty line; cannot fail.
 */
orderd_framing_t orderd_http_framing_scan(const char *buf, size_t len, h2o_iovec_t method, int minor_version);

/**
 * Puts a handler first on `path` that refuses an HTTP/1.x request whose
 * framing is not OK: 400 problem+json (malformed-request) saying which fault,
 * and `Connection: close`. It passes every other request on, and every
 * HTTP/2 one (DATA frames delimit those bodies). h2o's configuration owns it.
 */
void orderd_http_framing_guard(h2o_pathconf_t *path, orderd_app_t *app);

#endif
