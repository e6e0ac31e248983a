/* Accepting connections: the budget, the refusals, the pause when out of
 * file descriptors (orderd/accept.h). */
#include "orderd/accept.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "orderd/http.h"
#include "orderd/log.h"

/* Connections drained per wakeup of a listener: one wakeup may stand for many. */
#define ACCEPTS_PER_WAKEUP 64

/* A worker logs its refusals and its pauses at most once this often each. */
#define LOG_EVERY_MS 10000

uint64_t orderd_accept_fd_reserve(unsigned threads, unsigned nlisteners)
{
    return ORDERD_ACCEPT_FD_RESERVE + (uint64_t)threads * (7 + nlisteners);
}

unsigned orderd_accept_default_max(uint64_t nofile, unsigned threads, unsigned nlisteners)
{
    uint64_t reserve = orderd_accept_fd_reserve(threads, nlisteners);
    if (nofile <= reserve)
        return 1;
    uint64_t left = nofile - reserve;
    return left < ORDERD_CONFIG_MAX_CONNECTIONS ? (unsigned)left : ORDERD_CONFIG_MAX_CONNECTIONS;
}

static void on_accept(h2o_socket_t *listener, const char *err);

static orderd_http_thread_t *thread_of(orderd_accept_listener_t *l)
{
    return H2O_STRUCT_FROM_MEMBER(orderd_http_thread_t, ctx, l->accept_ctx.ctx);
}

/* 1 when a line about this kind of event is due: at most one per LOG_EVERY_MS. */
static int log_due(orderd_accept_worker_t *w, uint64_t *logged_at)
{
    uint64_t now = h2o_now(w->_loop);
    if (*logged_at != 0 && now - *logged_at < LOG_EVERY_MS)
        return 0;
    *logged_at = now;
    return 1;
}

/* Runs ORDERD_ACCEPT_PAUSE_MS after a pause began. */
static void on_resume(h2o_timeout_entry_t *entry)
{
    orderd_accept_worker_t *w = H2O_STRUCT_FROM_MEMBER(orderd_accept_worker_t, _pause, entry);
    if (w->_stopped)
        return;
    for (unsigned i = 0; i < w->nlisteners; ++i)
        h2o_socket_read_start(w->listeners[i]._sock, on_accept);
}

/* accept() found no descriptor (or memory) free. The connection it could not
 * take stays queued, so its listener stays readable: polling on would wake
 * the loop again at once, for ever. Stop polling every listener of this
 * worker for a while instead (nginx and h2o's standalone server do alike);
 * connections that close meanwhile free descriptors for the next try. */
static void pause_accepting(orderd_accept_listener_t *l, int err)
{
    orderd_accept_worker_t *w = l->_worker;
    if (h2o_timeout_is_linked(&w->_pause))
        return;
    for (unsigned i = 0; i < w->nlisteners; ++i)
        h2o_socket_read_stop(w->listeners[i]._sock);
    h2o_timeout_link(w->_loop, &w->_pause_timeout, &w->_pause);
    orderd_http_metrics_connection(thread_of(l), ORDERD_HTTP_CONN_ACCEPT_PAUSED);
    ++w->_pauses;
    if (log_due(w, &w->_paused_logged_at)) {
        orderd_log(ORDERD_LOG_WARN,
                   "accept: %s with %u connections open: accepting paused %d ms at a time (%llu pauses since the "
                   "last such line); lower --max-connections or raise the file descriptor limit",
                   strerror(err), atomic_load_explicit(&w->_budget->open, memory_order_relaxed), ORDERD_ACCEPT_PAUSE_MS,
                   (unsigned long long)w->_pauses);
        w->_pauses = 0;
    }
}

/* Past the budget: take the connection off the queue and reset it. A reset
 * (SO_LINGER 0) rather than a FIN tells the client at once, whether it is
 * sending or waiting, and leaves no TIME_WAIT behind for each refusal.
 * Returns 0 when one was refused, -1 when the queue held none or accept()
 * failed (errno says why). */
static int refuse_one(orderd_accept_listener_t *l)
{
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return -1;
    struct linger reset = {.l_onoff = 1, .l_linger = 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset)); /* on failure a FIN: refused all the same */
    close(fd);
    orderd_accept_worker_t *w = l->_worker;
    orderd_http_metrics_connection(thread_of(l), ORDERD_HTTP_CONN_REFUSED);
    ++w->_refused;
    if (log_due(w, &w->_refused_logged_at)) {
        orderd_log(ORDERD_LOG_WARN,
                   "accept: --max-connections (%u) open: new connections are reset (%llu since the last such line)",
                   w->_budget->max, (unsigned long long)w->_refused);
        w->_refused = 0;
    }
    return 0;
}

/* The socket's on_close, on the worker's thread whatever closed it (the
 * client, a timeout, a failed handshake, the shutdown): gives its place back. */
static void on_close(void *data)
{
    orderd_accept_listener_t *l = data;
    atomic_fetch_sub_explicit(&l->_worker->_budget->open, 1, memory_order_relaxed);
    if (l->accept_ctx.ssl_ctx != NULL)
        orderd_http_metrics_connection(thread_of(l), ORDERD_HTTP_CONN_TLS_CLOSED);
}

/* Takes a place in the budget; 0 when every place is taken. The count is one
 * atomic shared by the workers, touched once at accept and once at close,
 * never per request: the limit is the process's (file descriptors are), and
 * the kernel spreads connections over the workers by a hash of the
 * addresses, not by load, so a per-worker share would refuse on one worker
 * while another has room. */
static int take_place(orderd_accept_budget_t *b)
{
    if (atomic_fetch_add_explicit(&b->open, 1, memory_order_relaxed) < b->max)
        return 1;
    atomic_fetch_sub_explicit(&b->open, 1, memory_order_relaxed);
    return 0;
}

/* accept() failed with errno: 1 to try the next connection, 0 to stop. */
static int after_failed_accept(orderd_accept_listener_t *l)
{
    switch (errno) {
    case ECONNABORTED: /* the client left before we took it: the next may be there */
    case EPROTO:
    case EINTR:
        return 1;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
        pause_accepting(l, errno);
        return 0;
    default: /* EAGAIN: the queue is empty */
        return 0;
    }
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    orderd_accept_listener_t *l = listener->data;
    orderd_accept_worker_t *w = l->_worker;
    if (err != NULL)
        return;
    for (int i = 0; i < ACCEPTS_PER_WAKEUP && !h2o_timeout_is_linked(&w->_pause); ++i) {
        if (!take_place(w->_budget)) {
            if (refuse_one(l) != 0 && !after_failed_accept(l))
                return;
            continue;
        }
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL) {
            int e = errno;
            atomic_fetch_sub_explicit(&w->_budget->open, 1, memory_order_relaxed);
            errno = e;
            if (!after_failed_accept(l))
                return;
            continue;
        }
        sock->on_close.cb = on_close;
        sock->on_close.data = l;
        if (l->accept_ctx.ssl_ctx != NULL)
            orderd_http_metrics_connection(thread_of(l), ORDERD_HTTP_CONN_TLS_OPENED);
        h2o_accept(&l->accept_ctx, sock);
    }
}

void orderd_accept_start(orderd_accept_worker_t *w, h2o_loop_t *loop, orderd_accept_budget_t *budget)
{
    w->_budget = budget;
    w->_loop = loop;
    h2o_timeout_init(loop, &w->_pause_timeout, ORDERD_ACCEPT_PAUSE_MS);
    w->_pause.cb = on_resume;
    for (unsigned i = 0; i < w->nlisteners; ++i) {
        orderd_accept_listener_t *l = &w->listeners[i];
        l->_worker = w;
        l->_sock = h2o_evloop_socket_create(loop, l->fd, H2O_SOCKET_FLAG_DONT_READ);
        l->_sock->data = l;
        h2o_socket_read_start(l->_sock, on_accept);
    }
}

void orderd_accept_stop(orderd_accept_worker_t *w)
{
    if (w->_stopped)
        return;
    w->_stopped = 1;
    if (h2o_timeout_is_linked(&w->_pause))
        h2o_timeout_unlink(&w->_pause);
    h2o_timeout_dispose(w->_loop, &w->_pause_timeout);
    for (unsigned i = 0; i < w->nlisteners; ++i) {
        h2o_socket_read_stop(w->listeners[i]._sock);
        h2o_socket_close(w->listeners[i]._sock);
        w->listeners[i]._sock = NULL;
    }
}

/* --- the timeout flags and the fd limit, at start-up --- */

static uint64_t min_ms(int64_t a, int64_t b)
{
    return (uint64_t)(a < b ? a : b);
}

/* The three timeout flags on libh2o 2.2.5's timers, which are not the
 * same three:
 * - HTTP/1.1 has one timer per request (http1.req_timeout), started when
 *   h2o begins waiting for it (after the accept, or once the previous
 *   answer is sent) and stopped only when its head and body are all in, so
 *   it bounds the keep-alive wait, the head and the body together. It gets
 *   the smallest of the three, so none of the phases can last longer than
 *   its own flag says; past it h2o closes the connection without an answer.
 * - HTTP/2 has an idle timer (http2.idle_timeout): restarted by every read,
 *   it runs while no request of the connection is being handled (streams
 *   still sending their head or body included), then GOAWAY and close.
 * - TLS has a handshake timer, given --header-timeout: no request head can
 *   come before the handshake ends. */
void orderd_accept_set_timeouts(const orderd_config_t *cfg, h2o_globalconf_t *gc)
{
    gc->http1.req_timeout = min_ms(cfg->header_timeout_ms, min_ms(cfg->body_timeout_ms, cfg->idle_timeout_ms));
    gc->http2.idle_timeout = (uint64_t)cfg->idle_timeout_ms;
    gc->handshake_timeout = (uint64_t)cfg->header_timeout_ms;
}

/* --max-connections past what the fd limit leaves: accepting will pause
 * (orderd/accept.h) before the budget refuses, and the journal may find no
 * descriptor for its next segment. Said once, at start-up. */
void orderd_accept_warn_fd_limit(const orderd_config_t *cfg)
{
    uint64_t reserve = orderd_accept_fd_reserve(cfg->threads, cfg->nlisteners);
    if ((uint64_t)cfg->max_connections + reserve <= cfg->nofile)
        return;
    orderd_log(ORDERD_LOG_WARN,
               "--max-connections %u needs a file descriptor limit of %llu, the limit is %llu: past about %llu "
               "connections accepting pauses and the journal may fail to open a file; raise the limit (ulimit -n, "
               "LimitNOFILE=) or lower --max-connections",
               cfg->max_connections, (unsigned long long)(cfg->max_connections + reserve),
               (unsigned long long)cfg->nofile,
               (unsigned long long)(cfg->nofile > reserve ? cfg->nofile - reserve : 0));
}
