#ifndef ORDERD_HTTP_EVENTS_H
#define ORDERD_HTTP_EVENTS_H

/*
 * GET /api/admin/events: the journal's event feed (orderd/feed.h) for the
 * operator, as pages (with a long poll) or as Server-Sent Events. Requests
 * that wait park on their own thread; the thread's feed watcher wakes it
 * through an h2o message (docs/feed.md).
 */

#include <h2o.h>

#include "orderd/http.h"

/** Longest `wait` of a long poll, in seconds. */
#define ORDERD_EVENTS_WAIT_MAX 60
/** A stream's comment heartbeat after this much silence. */
#define ORDERD_EVENTS_HEARTBEAT_MS 15000

/** What a query string asks for (orderd_http_events_query_parse). */
typedef struct orderd_events_query {
    uint64_t after; /* 0: from the oldest kept event */
    unsigned limit; /* 1 to ORDERD_FEED_LIMIT_MAX; 100 when not given */
    unsigned wait;  /* seconds, 0 to ORDERD_EVENTS_WAIT_MAX */
} orderd_events_query_t;

/**
 * Parses the query string [query, query+len) (after the '?') into *q:
 * after, limit, wait, each at most once, as plain decimal digits. Returns
 * NULL, or the 400's detail naming the parameter (a static string).
 * Sends nothing; cannot fail otherwise.
 */
const char *orderd_http_events_query_parse(const char *query, size_t len, orderd_events_query_t *q);

/**
 * Parses a Last-Event-ID header's value: a record's sequence number (what a
 * stream's `id:` lines carry), 1 to 20 digits, spaces around it ignored.
 * Returns 0 and *seq, or -1.
 */
int orderd_http_events_last_id_parse(const char *s, size_t len, uint64_t *seq);

/**
 * Writes one event as a Server-Sent Event, "id: SEQ\nevent: TYPE\ndata:
 * JSON\n\n", into `out` when it fits in `cap` bytes; TYPE is the event's
 * top-level "type" member ("message", SSE's default, when it has none).
 * Returns the length the event needs, like snprintf (nothing is written
 * when that is more than `cap`). Any thread; cannot fail.
 */
size_t orderd_http_events_sse_format(uint64_t seq, const char *json, size_t len, char *out, size_t cap);

/**
 * The thread's end of the feed: its parked-request list, its tick, its
 * receiver on `queue` and its watcher on app->feed (none when app->feed is
 * NULL). Called by orderd_http_thread_init on the thread. Aborts when out
 * of memory or out of watchers (start-up).
 */
void orderd_http_events_thread_init(orderd_http_thread_t *t, h2o_multithread_queue_t *queue, orderd_app_t *app);

/** Registers GET /api/admin/events on `host`. */
void orderd_http_events_register(h2o_hostconf_t *host, orderd_app_t *app);

#endif
