/*
 * HTTP/2 rapid reset: per connection, the requests whose client left while
 * their answer was pending, and GOAWAY past --http2-max-resets.
 *
 * Why "answer pending": a reset only bypasses the stream limit for work
 * that outlives the frames that asked for it. A GET is answered while its
 * HEADERS frame is parsed, before the RST_STREAM behind it is read; a change
 * waits for the journal (src/http/durable.c), and that is the wait a reset
 * cuts short. The count is taken where durable.c learns that the client has
 * gone: the ticket's guard, freed with the request's pool.
 *
 * What libh2o 2.2.5 does not expose: a way to close one HTTP/2 connection
 * from outside. h2o's own GOAWAY (enqueue_goaway in lib/http2/connection.c)
 * is static; its steps are all public in <h2o/http2_internal.h>, the header
 * Debian installs with the library: encode the frame into the connection's
 * write buffer, ask for a write, and mark the connection half-closed, after
 * which h2o ignores new streams and closes the connection once the streams
 * it is answering are done (do_emit_writereq). Those are the three steps
 * below, on the struct layout of that header, which is why the file refuses
 * any libh2o but 2.2. A client that keeps a stream open by never taking its
 * answer would keep the connection; a second later the socket is shut down
 * (shutdown(2)), so h2o sees the end of the connection at its next read or
 * write and closes it by itself: nothing is freed behind its back.
 */
#include "rapid_reset.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <h2o/http2.h>
#include <h2o/http2_internal.h>

#include "orderd/http.h"
#include "orderd/log.h"

#include "scrape.h"

#if H2O_VERSION_MAJOR != 2 || H2O_VERSION_MINOR != 2
#error "rapid_reset.c uses libh2o 2.2's HTTP/2 connection struct; check it against this version's"
#endif

/* the shutdown runs on the context's one-second timeout */
_Static_assert(ORDERD_HTTP2_RESET_CLOSE_MS == 1000, "ORDERD_HTTP2_RESET_CLOSE_MS is ctx->one_sec_timeout");

/* One HTTP/2 connection's count, from its first pending answer reset until
 * its socket closes. */
typedef struct conn_resets {
    void (*prev_close)(void *data); /* the socket's on_close before ours (the TLS gauge's), chained */
    void *prev_data;
    h2o_socket_t *sock;
    orderd_http_reset_window_t resets; /* on h2o's loop clock */
    int goaway;                        /* sent: nothing more to count */
    h2o_timeout_entry_t shut_down;     /* ORDERD_HTTP2_RESET_CLOSE_MS after the GOAWAY */
} conn_resets_t;

static void on_socket_close(void *data)
{
    conn_resets_t *c = data;
    if (h2o_timeout_is_linked(&c->shut_down))
        h2o_timeout_unlink(&c->shut_down);
    if (c->prev_close != NULL)
        c->prev_close(c->prev_data);
    free(c);
}

static conn_resets_t *resets_of(h2o_socket_t *sock)
{
    if (sock->on_close.cb == on_socket_close)
        return sock->on_close.data;
    conn_resets_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->prev_close = sock->on_close.cb;
    c->prev_data = sock->on_close.data;
    c->sock = sock;
    sock->on_close.cb = on_socket_close;
    sock->on_close.data = c;
    return c;
}

/* O(1) memory, and an average across the boundary of two windows. */
uint64_t orderd_http_reset_window_add(orderd_http_reset_window_t *w, uint64_t now_ms)
{
    const uint64_t len = ORDERD_HTTP2_RESET_WINDOW_MS;
    if (w->at == 0 || now_ms < w->at || now_ms - w->at >= 2 * len) {
        w->previous = 0;
        w->current = 0;
        w->at = now_ms;
    } else if (now_ms - w->at >= len) {
        w->previous = w->current;
        w->current = 0;
        w->at += len;
    }
    if (w->current < UINT32_MAX)
        ++w->current;
    return w->current + (uint64_t)w->previous * (len - (now_ms - w->at)) / len;
}

static void on_shut_down(h2o_timeout_entry_t *entry)
{
    conn_resets_t *c = H2O_STRUCT_FROM_MEMBER(conn_resets_t, shut_down, entry);
    /* still open a second after the GOAWAY: h2o finds the socket ended and
     * closes the connection through its own path */
    shutdown(h2o_socket_get_fd(c->sock), SHUT_RDWR);
}

/* h2o's enqueue_goaway, from outside (see the top of the file). */
static void send_goaway(h2o_http2_conn_t *conn)
{
    h2o_http2_encode_goaway_frame(&conn->_write.buf, conn->pull_stream_ids.max_open, H2O_HTTP2_ERROR_ENHANCE_YOUR_CALM,
                                  h2o_iovec_init(H2O_STRLIT("too many streams reset before their answer")));
    h2o_http2_conn_request_write(conn);
    conn->state = H2O_HTTP2_CONN_STATE_HALF_CLOSED;
}

static void log_goaway(h2o_socket_t *sock, uint64_t count, unsigned limit)
{
    struct sockaddr_storage ss;
    char host[NI_MAXHOST];
    socklen_t len = h2o_socket_getpeername(sock, (struct sockaddr *)&ss);
    if (len == 0 || h2o_socket_getnumerichost((struct sockaddr *)&ss, len, host) == SIZE_MAX)
        snprintf(host, sizeof(host), "?");
    orderd_log(ORDERD_LOG_WARN,
               "HTTP/2 client %s reset %llu streams before their answer within %d s (--http2-max-resets %u): "
               "GOAWAY (ENHANCE_YOUR_CALM), closing the connection",
               host, (unsigned long long)count, ORDERD_HTTP2_RESET_WINDOW_MS / 1000, limit);
}

void orderd_http_rapid_reset_note(h2o_req_t *req)
{
    /* libh2o 2.2 speaks HTTP/2 only through h2o_http2_conn_t */
    if (req->version < 0x200)
        return;
    orderd_http_thread_t *t = H2O_STRUCT_FROM_MEMBER(orderd_http_thread_t, ctx, req->conn->ctx);
    h2o_http2_conn_t *conn = (h2o_http2_conn_t *)req->conn;
    /* closing (the stream goes with its connection), already sent GOAWAY,
     * or an h2c upgrade that never got its socket */
    if (t->http2_max_resets == 0 || conn->state != H2O_HTTP2_CONN_STATE_OPEN || conn->sock == NULL)
        return;
    conn_resets_t *c = resets_of(conn->sock);
    if (c == NULL || c->goaway)
        return;
    uint64_t count = orderd_http_reset_window_add(&c->resets, h2o_now(t->ctx.loop));
    orderd_http_metrics_h2_reset(t, 0);
    if (count <= t->http2_max_resets)
        return;
    c->goaway = 1;
    send_goaway(conn);
    c->shut_down.cb = on_shut_down;
    h2o_timeout_link(t->ctx.loop, &t->ctx.one_sec_timeout, &c->shut_down);
    orderd_http_metrics_h2_reset(t, 1);
    log_goaway(conn->sock, count, t->http2_max_resets);
}
