#ifndef ORDERD_ACCEPT_H
#define ORDERD_ACCEPT_H

/*
 * Accepting connections (src/accept.c): each worker's listening sockets,
 * the process's connection budget (--max-connections) and what happens when
 * the process runs out of file descriptors.
 *
 * Past the budget a new connection is accepted and reset at once, so the
 * client learns right away and the kernel's queue never fills with
 * connections nobody will serve. When accept() fails for want of file
 * descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) the worker stops
 * polling its listeners for ORDERD_ACCEPT_PAUSE_MS: a listener with a
 * connection waiting stays readable, so polling on would spin.
 */

#include <stdatomic.h>
#include <stdint.h>

#include <h2o.h>

#include "orderd/config.h"

/** How long a worker stops accepting after accept() found no file descriptor (or memory) free. */
#define ORDERD_ACCEPT_PAUSE_MS 100

/** File descriptors the default --max-connections leaves to the rest of the process, besides the workers'. */
#define ORDERD_ACCEPT_FD_RESERVE 64

/**
 * The file descriptors orderd needs besides its connections, for `threads`
 * workers and `nlisteners` --listen: ORDERD_ACCEPT_FD_RESERVE (standard
 * streams, LOCK, the journal segment and the next one, a snapshot and its
 * directory, the access log and its reopening, certificates read on
 * SIGHUP, the notify socket) and, per worker, 7 and one per --listen: its
 * epoll instance, its message queue's pipe, the pipe of each of its (one
 * or two) h2o contexts, and its listening sockets.
 */
uint64_t orderd_accept_fd_reserve(unsigned threads, unsigned nlisteners);

/**
 * The default --max-connections for a soft RLIMIT_NOFILE of `nofile`: what
 * is left of it after orderd_accept_fd_reserve, at least 1 and at most
 * ORDERD_CONFIG_MAX_CONNECTIONS. Pure; cannot fail.
 */
unsigned orderd_accept_default_max(uint64_t nofile, unsigned threads, unsigned nlisteners);

/** The process's budget, shared by every worker; zero it, then set max. */
typedef struct orderd_accept_budget {
    atomic_uint open; /* connections accepted and not yet closed, all workers together */
    unsigned max;     /* --max-connections */
} orderd_accept_budget_t;

typedef struct orderd_accept_worker orderd_accept_worker_t;

/** One worker's socket for one --listen. */
typedef struct orderd_accept_listener {
    int fd;                      /* the listening socket, opened by the server */
    h2o_accept_ctx_t accept_ctx; /* its ssl_ctx: the worker's reference, swapped on SIGHUP */
    h2o_socket_t *_sock;
    orderd_accept_worker_t *_worker;
} orderd_accept_listener_t;

/** A worker's accepting: its listeners and its pause. Fields but `listeners` are private. */
struct orderd_accept_worker {
    orderd_accept_listener_t listeners[ORDERD_MAX_LISTENERS];
    unsigned nlisteners;
    orderd_accept_budget_t *_budget;
    h2o_loop_t *_loop;
    h2o_timeout_t _pause_timeout;
    h2o_timeout_entry_t _pause;
    uint64_t _refused, _pauses; /* since the last log line about them */
    uint64_t _refused_logged_at, _paused_logged_at;
    int _stopped;
};

/**
 * Starts accepting on the worker's loop: on each of w->listeners[0,
 * nlisteners), whose fd and accept_ctx the caller has set (accept_ctx.ctx
 * must be an orderd_http_thread_t's ctx). Each connection accepted takes a
 * place in `budget` until its socket closes, and is handed to h2o with
 * h2o_accept; the worker owns the socket's on_close. Call on the worker's
 * thread. Cannot fail (h2o aborts when out of memory).
 */
void orderd_accept_start(orderd_accept_worker_t *w, h2o_loop_t *loop, orderd_accept_budget_t *budget);

/**
 * Closes the worker's listening sockets for good (shutdown): no connection
 * is accepted after it, a pause never resumes, and the pause's timer is
 * disposed of (the loop can be destroyed once its sockets are closed).
 * Open connections keep their places until they close. Call on the
 * worker's thread; a second call does nothing.
 */
void orderd_accept_stop(orderd_accept_worker_t *w);

/**
 * --header-timeout, --body-timeout and --idle-timeout onto libh2o 2.2.5's
 * timers of `gc` (HTTP/1.1's one timer per request, HTTP/2's idle timer,
 * the TLS handshake's); docs/security.md, Connections, says how.
 */
void orderd_accept_set_timeouts(const orderd_config_t *cfg, h2o_globalconf_t *gc);

/** One WARN line at start-up when --max-connections is past what the fd limit leaves. */
void orderd_accept_warn_fd_limit(const orderd_config_t *cfg);

#endif
