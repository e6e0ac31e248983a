/* HTTP/1.x framing: Content-Length and Transfer-Encoding exactly as RFC
 * 9112 6 lets a server read them without guessing, or 400 and close. */
#include "framing.h"
#include "respond.h"

#include <string.h>

static const char *const details[] = {
    [ORDERD_FRAMING_BOTH] = "the request has both Content-Length and Transfer-Encoding; send one of them",
    [ORDERD_FRAMING_LENGTHS] = "the request has Content-Length more than once; send it once",
    [ORDERD_FRAMING_CODINGS] = "the request has Transfer-Encoding more than once; send it once",
    [ORDERD_FRAMING_HTTP10_CODING] = "an HTTP/1.0 request cannot have Transfer-Encoding; send Content-Length",
    [ORDERD_FRAMING_FOLDED] = "a header line is continued on the next line (obs-fold); send each header on one line",
    [ORDERD_FRAMING_UNREADABLE] = "the request head could not be read again to check its framing",
};

/* The line at `p` without its CRLF or LF; NULL when no LF ends it before `end`. */
static const char *line_end(const char *p, const char *end, size_t *len)
{
    const char *lf = memchr(p, '\n', (size_t)(end - p));
    if (lf == NULL)
        return NULL;
    *len = (size_t)(lf - p) - (lf > p && lf[-1] == '\r');
    return lf + 1;
}

static int name_is(const char *line, size_t name_len, const char *name, size_t len)
{
    return name_len == len && h2o_lcstris(line, name_len, name, len);
}

orderd_framing_t orderd_http_framing_scan(const char *buf, size_t len, h2o_iovec_t method, int minor_version)
{
    const char *p = buf, *end = buf + len;
    size_t n;
    /* h2o's parser skips empty lines before the request line */
    while (p < end && (*p == '\r' || *p == '\n'))
        ++p;
    if ((size_t)(end - p) <= method.len || memcmp(p, method.base, method.len) != 0 || p[method.len] != ' ' ||
        (p = line_end(p, end, &n)) == NULL)
        return ORDERD_FRAMING_UNREADABLE;
    unsigned lengths = 0, codings = 0, folded = 0;
    for (;;) {
        const char *line = p;
        if ((p = line_end(p, end, &n)) == NULL)
            return ORDERD_FRAMING_UNREADABLE;
        if (n == 0)
            break;
        if (line[0] == ' ' || line[0] == '\t') {
            folded = 1;
            continue;
        }
        const char *colon = memchr(line, ':', n);
        if (colon == NULL)
            return ORDERD_FRAMING_UNREADABLE;
        size_t name_len = (size_t)(colon - line);
        lengths += name_is(line, name_len, H2O_STRLIT("content-length"));
        codings += name_is(line, name_len, H2O_STRLIT("transfer-encoding"));
    }
    if (lengths != 0 && codings != 0)
        return ORDERD_FRAMING_BOTH;
    if (lengths > 1)
        return ORDERD_FRAMING_LENGTHS;
    if (codings > 1)
        return ORDERD_FRAMING_CODINGS;
    if (codings != 0 && minor_version == 0)
        return ORDERD_FRAMING_HTTP10_CODING;
    if (folded)
        return ORDERD_FRAMING_FOLDED;
    return ORDERD_FRAMING_OK;
}

/*
 * The HTTP/1.x connection's socket, NULL over HTTP/2. Not req->version: the
 * request an h2c upgrade carries is stream 1 of an HTTP/2 connection with the
 * HTTP/1.1 version it was sent with. Only h2o's HTTP/1 connections log a
 * request index.
 */
static h2o_socket_t *http1_socket(h2o_req_t *req)
{
    const h2o_conn_callbacks_t *cb = req->conn->callbacks;
    if (cb->log_.http1.request_index == NULL || cb->get_socket == NULL)
        return NULL;
    return cb->get_socket(req->conn);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    /* HTTP/2 has no such headers to trust: DATA frames delimit the body, and
     * h2o refuses Transfer-Encoding and a Content-Length they contradict */
    h2o_socket_t *sock = http1_socket(req);
    if (sock == NULL)
        return -1;
    /* h2o read the whole body before any handler runs, and consumes the
     * request's bytes from the input buffer only once its response is sent */
    orderd_framing_t f =
        orderd_http_framing_scan(sock->input->bytes, sock->input->size, req->input.method, req->version & 0xff);
    if (f == ORDERD_FRAMING_OK)
        return -1;
    /* what follows the body as h2o read it may be a request hidden in it */
    req->http1_is_persistent = 0;
    return orderd_http_problem(req, ORDERD_PROBLEM_MALFORMED, NULL, 0, "%s", details[f]);
}

void orderd_http_framing_guard(h2o_pathconf_t *path, orderd_app_t *app)
{
    orderd_http_handler_first(path, app, on_req);
}
