#ifndef ORDERD_HTTP_RAPID_RESET_H
#define ORDERD_HTTP_RAPID_RESET_H

/*
 * HTTP/2 rapid reset (CVE-2023-44487) on libh2o 2.2.5, which does not
 * mitigate it: a client that resets a stream frees its slot at once, so
 * --http2-max-streams no longer bounds the work its connection has orderd
 * do. Counted here: the requests of one HTTP/2 connection whose client reset
 * the stream (or otherwise left) while orderd's answer was still pending,
 * in a sliding window of ORDERD_HTTP2_RESET_WINDOW_MS. Past --http2-max-resets
 * in a window the connection gets GOAWAY (ENHANCE_YOUR_CALM), takes no new
 * stream, and is closed once its streams in flight are done, or shut down
 * ORDERD_HTTP2_RESET_CLOSE_MS later if they are not.
 */

#include <stdint.h>

#include <h2o.h>

/* The sliding window of --http2-max-resets. */
#define ORDERD_HTTP2_RESET_WINDOW_MS 10000
/* How long a connection sent GOAWAY for its resets may take to finish its
 * streams in flight before its socket is shut down. */
#define ORDERD_HTTP2_RESET_CLOSE_MS 1000

/**
 * A sliding window count: two fixed windows of ORDERD_HTTP2_RESET_WINDOW_MS,
 * the previous one weighted by how much of it the last
 * ORDERD_HTTP2_RESET_WINDOW_MS still covers (the sliding-window estimate of
 * nginx's limit_req and Cloudflare's rate limiting). Zeroed: empty.
 */
typedef struct orderd_http_reset_window {
    uint64_t at;       /* when the current window began (ms; 0: never) */
    uint32_t current;  /* events in the current window */
    uint32_t previous; /* events in the window before it */
} orderd_http_reset_window_t;

/**
 * Counts one event at `now_ms` (milliseconds, above 0) and returns the
 * estimate of events within the last ORDERD_HTTP2_RESET_WINDOW_MS, this one
 * included: exact while all of them fall in one fixed window. A clock that
 * went back (h2o's loop clock is gettimeofday's) starts the count over.
 * Cannot fail.
 */
uint64_t orderd_http_reset_window_add(orderd_http_reset_window_t *w, uint64_t now_ms);

/**
 * Notes that `req`'s client left before its pending answer: call from a
 * dispose callback of `req`'s pool that knows the answer was not given. Does
 * nothing for HTTP/1, for a connection already closing or sent GOAWAY, or
 * with --http2-max-resets 0. Past the limit: GOAWAY, the log line and the
 * metrics count. The per-connection count lives with the connection's
 * socket (its on_close callback, chained) and goes with it. Out of memory,
 * the request is not counted. Call on the request's thread.
 */
void orderd_http_rapid_reset_note(h2o_req_t *req);

#endif
