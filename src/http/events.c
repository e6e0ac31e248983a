/*
 * GET /api/admin/events: the event feed (orderd/feed.h) for the operator.
 * A page answers at once, or, with wait=SECONDS and nothing to give, parks
 * on its thread until an event is durable or the wait is over. With Accept:
 * text/event-stream the same feed goes out as Server-Sent Events on a
 * response that stays open. No thread ever blocks: each worker thread keeps
 * the requests that wait in one list, and one feed watcher, armed with the
 * lowest `after` among them, wakes the thread through an h2o message when
 * the journal's writer reports a newer durable record. A tick every 100 ms
 * (only while the list is not empty) answers polls whose wait is over,
 * sends heartbeats, and ends everything once the context shuts down.
 *
 * Each waiting request is an entry in its own pool: when the client leaves,
 * h2o frees the pool and the entry's dispose callback takes it off the
 * list. A stream's bytes live in a buffer of its own (not the pool, which
 * would grow for as long as the stream lasts), reused once h2o has called
 * proceed; until then nothing more is read from the feed (backpressure).
 */
#include "events.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yajl/yajl_parse.h>

#include "orderd/feed.h"

#include "identity.h"
#include "respond.h"

static const char events_path[] = "/api/admin/events";

#define LIMIT_DEFAULT 100

struct orderd_http_events_thread {
    orderd_http_thread_t *thread;
    orderd_feed_t *feed;
    int watcher;
    h2o_multithread_receiver_t receiver;
    h2o_multithread_message_t msg; /* sent by the writer's wake, at most once until handled */
    atomic_int wake_pending;
    h2o_linklist_t waiting; /* events_wait_t: parked polls and open streams */
    h2o_timeout_entry_t tick;
};

/* A growable malloc'd buffer. */
typedef struct events_buf {
    char *p;
    size_t len, cap;
} events_buf_t;

static int buf_reserve(events_buf_t *b, size_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap != 0 ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int buf_append(events_buf_t *b, const char *s, size_t n)
{
    if (buf_reserve(b, n) != 0)
        return -1;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

/* --- the query, Last-Event-ID, one event as SSE --- */

/* 1 to 20 decimal digits without overflow: 0 and *out, or -1. */
static int parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

const char *orderd_http_events_query_parse(const char *query, size_t len, orderd_events_query_t *q)
{
    static const struct {
        const char *name, *repeated, *bad;
        uint64_t min, max;
    } params[] = {
        {"after", "after is given more than once", "after must be a record number: decimal digits, at most 18446744073709551615",
         0, UINT64_MAX},
        {"limit", "limit is given more than once", "limit must be an integer from 1 to 1000", 1,
         ORDERD_FEED_LIMIT_MAX},
        {"wait", "wait is given more than once", "wait must be a whole number of seconds from 0 to 60", 0,
         ORDERD_EVENTS_WAIT_MAX},
    };
    uint64_t values[3] = {0, LIMIT_DEFAULT, 0};
    int seen[3] = {0, 0, 0};
    size_t i = 0;
    while (i < len) {
        const char *seg = query + i, *amp = memchr(seg, '&', len - i);
        size_t n = amp != NULL ? (size_t)(amp - seg) : len - i;
        i += n + 1;
        if (n == 0)
            continue;
        const char *eq = memchr(seg, '=', n);
        size_t name_len = eq != NULL ? (size_t)(eq - seg) : n;
        size_t p = 0;
        while (p < 3 && !h2o_memis(seg, name_len, params[p].name, strlen(params[p].name)))
            ++p;
        if (p == 3)
            return "unknown query parameter: the event feed takes after, limit and wait";
        if (seen[p]++)
            return params[p].repeated;
        uint64_t v;
        if (eq == NULL || parse_u64(eq + 1, n - name_len - 1, &v) != 0 || v < params[p].min || v > params[p].max)
            return params[p].bad;
        values[p] = v;
    }
    *q = (orderd_events_query_t){.after = values[0], .limit = (unsigned)values[1], .wait = (unsigned)values[2]};
    return NULL;
}

int orderd_http_events_last_id_parse(const char *s, size_t len, uint64_t *seq)
{
    while (len > 0 && (*s == ' ' || *s == '\t'))
        ++s, --len;
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        --len;
    return parse_u64(s, len, seq);
}

/* The event's top-level "type": yajl stops at it. */
typedef struct type_scan {
    int depth, at_type;
    char type[48];
} type_scan_t;

static int ts_open(void *ctx)
{
    type_scan_t *s = ctx;
    s->depth++;
    s->at_type = 0;
    return 1;
}

static int ts_close(void *ctx)
{
    ((type_scan_t *)ctx)->depth--;
    return 1;
}

static int ts_key(void *ctx, const unsigned char *k, size_t n)
{
    type_scan_t *s = ctx;
    s->at_type = s->depth == 1 && n == 4 && memcmp(k, "type", 4) == 0;
    return 1;
}

static int ts_string(void *ctx, const unsigned char *v, size_t n)
{
    type_scan_t *s = ctx;
    if (!s->at_type)
        return 1;
    /* only what an event type is made of: nothing can break the SSE framing */
    for (size_t i = 0; i < n; ++i)
        if (!((v[i] >= 'a' && v[i] <= 'z') || v[i] == '.' || v[i] == '_'))
            return 0;
    if (n > 0 && n < sizeof(s->type)) {
        memcpy(s->type, v, n);
        s->type[n] = '\0';
    }
    return 0;
}

size_t orderd_http_events_sse_format(uint64_t seq, const char *json, size_t len, char *out, size_t cap)
{
    static const yajl_callbacks callbacks = {.yajl_string = ts_string, .yajl_start_map = ts_open,
                                             .yajl_map_key = ts_key, .yajl_end_map = ts_close,
                                             .yajl_start_array = ts_open, .yajl_end_array = ts_close};
    type_scan_t scan = {.depth = 0};
    strcpy(scan.type, "message");
    yajl_handle h = yajl_alloc(&callbacks, NULL, &scan);
    if (h != NULL) {
        yajl_parse(h, (const unsigned char *)json, len);
        yajl_free(h);
    }
    char head[128];
    int n = snprintf(head, sizeof(head), "id: %llu\nevent: %s\ndata: ", (unsigned long long)seq, scan.type);
    size_t need = (size_t)n + len + 2;
    if (need <= cap) {
        memcpy(out, head, (size_t)n);
        memcpy(out + n, json, len);
        memcpy(out + n + len, "\n\n", 2);
    }
    return need;
}

/* --- reading the feed --- */

typedef struct emit_ctx {
    events_buf_t *buf;
    unsigned n;
    int stream;
    int failed; /* out of memory: the read stopped */
} emit_ctx_t;

static int on_event(void *ctx, const orderd_feed_event_t *ev)
{
    emit_ctx_t *e = ctx;
    if (e->stream) {
        size_t need = orderd_http_events_sse_format(ev->seq, ev->json, ev->len, NULL, 0);
        if (buf_reserve(e->buf, need) != 0)
            return e->failed = 1;
        e->buf->len += orderd_http_events_sse_format(ev->seq, ev->json, ev->len, e->buf->p + e->buf->len, need);
    } else if ((e->n != 0 && buf_append(e->buf, ",", 1) != 0) || buf_append(e->buf, ev->json, ev->len) != 0) {
        return e->failed = 1;
    }
    e->n++;
    return 0;
}

/* The feed's result, or ORDERD_FEED_ERROR when memory ran out (e.buf holds what was read). */
static int read_events(orderd_feed_t *feed, uint64_t after, unsigned limit, int stream, events_buf_t *buf,
                       orderd_feed_read_result_t *res)
{
    emit_ctx_t e = {.buf = buf, .stream = stream};
    int ret = orderd_feed_read(feed, after, limit, on_event, &e, res);
    return e.failed ? ORDERD_FEED_ERROR : ret;
}

static int send_gone(h2o_req_t *req, uint64_t after, const orderd_feed_read_result_t *res)
{
    char members[128];
    snprintf(members, sizeof(members), "\"oldest_seq\":%llu,\"after\":%llu,\"durable_seq\":%llu",
             (unsigned long long)res->oldest_seq, (unsigned long long)after, (unsigned long long)res->durable_seq);
    return orderd_http_problem_members(
        req, ORDERD_PROBLEM_GONE, members,
        "the events after record %llu are no longer kept (the oldest kept is %llu): read the orders again from "
        "GET /api/admin/orders, then follow the feed from its durable_seq",
        (unsigned long long)after, (unsigned long long)res->oldest_seq);
}

static int send_unreadable(h2o_req_t *req)
{
    return orderd_http_problem(req, ORDERD_PROBLEM_UNAVAILABLE, NULL, 0,
                               "the journal could not be read just now; retry later");
}

/* 200 {"events":[...],"next_after","durable_seq","oldest_seq"}; frees `events`. */
static int send_page(h2o_req_t *req, events_buf_t *events, const orderd_feed_read_result_t *res)
{
    static const char head[] = "{\"events\":[";
    char tail[128];
    int n = snprintf(tail, sizeof(tail), "],\"next_after\":%llu,\"durable_seq\":%llu,\"oldest_seq\":%llu}",
                     (unsigned long long)res->last_seq, (unsigned long long)res->durable_seq,
                     (unsigned long long)res->oldest_seq);
    size_t total = sizeof(head) - 1 + events->len + (size_t)n;
    char *body = h2o_mem_alloc_pool(&req->pool, total);
    memcpy(body, head, sizeof(head) - 1);
    if (events->len != 0)
        memcpy(body + sizeof(head) - 1, events->p, events->len);
    memcpy(body + sizeof(head) - 1 + events->len, tail, (size_t)n);
    free(events->p);
    *events = (events_buf_t){0};
    return orderd_http_send_json(req, 200, (orderd_str_t){body, total});
}

/* --- requests that wait --- */

typedef struct events_wait {
    h2o_linklist_t link; /* in the thread's waiting list while parked or streaming */
    h2o_generator_t gen; /* a stream's */
    h2o_req_t *req;
    struct orderd_http_events_thread *et;
    uint64_t after; /* what was read up to: the next read starts after it */
    unsigned limit;
    uint64_t deadline; /* a poll: answered empty then; a stream: a heartbeat then (ms, the loop's clock) */
    int stream;
    int sending; /* a stream: h2o holds buf until it calls proceed */
    int closing; /* a stream: ends at the next proceed */
    events_buf_t buf; /* a stream's bytes in flight */
} events_wait_t;

static void unlink_wait(events_wait_t *w)
{
    if (h2o_linklist_is_linked(&w->link))
        h2o_linklist_unlink(&w->link);
}

/* The pool goes: the request is done, or the client left first. */
static void on_wait_dispose(void *p)
{
    events_wait_t *w = p;
    unlink_wait(w);
    free(w->buf.p);
    w->buf = (events_buf_t){0};
}

/* Arms the watcher with the lowest `after` among the entries that wait for the feed. */
static void rearm(struct orderd_http_events_thread *et)
{
    uint64_t lowest = UINT64_MAX;
    for (h2o_linklist_t *l = et->waiting.next; l != &et->waiting; l = l->next) {
        events_wait_t *w = H2O_STRUCT_FROM_MEMBER(events_wait_t, link, l);
        if (!w->sending && !w->closing && w->after < lowest)
            lowest = w->after;
    }
    if (lowest != UINT64_MAX)
        orderd_feed_arm(et->feed, et->watcher, lowest);
}

static void add_waiting(struct orderd_http_events_thread *et, events_wait_t *w)
{
    h2o_linklist_insert(&et->waiting, &w->link);
    if (!h2o_timeout_is_linked(&et->tick))
        h2o_timeout_link(et->thread->ctx.loop, &et->thread->ctx.hundred_ms_timeout, &et->tick);
}

/* A parked poll: answers it when it has events (or with the empty page when
 * `last`). Returns 1 when answered (the entry is off the list). */
static int poll_try(events_wait_t *w, int last)
{
    events_buf_t buf = {0};
    orderd_feed_read_result_t res;
    int ret = read_events(w->et->feed, w->after, w->limit, 0, &buf, &res);
    if (ret == ORDERD_FEED_OK && res.events == 0 && !last) {
        w->after = res.last_seq; /* records that are no events (keys) need not wake it again */
        free(buf.p);
        return 0;
    }
    unlink_wait(w);
    h2o_req_t *req = w->req;
    if (ret == ORDERD_FEED_OK)
        return send_page(req, &buf, &res), 1;
    free(buf.p);
    if (ret == ORDERD_FEED_GONE)
        send_gone(req, w->after, &res);
    else
        send_unreadable(req);
    return 1;
}

static void stream_send(events_wait_t *w, h2o_iovec_t *bufs, size_t n, h2o_send_state_t state)
{
    w->sending = state == H2O_SEND_STATE_IN_PROGRESS;
    w->deadline = h2o_now(w->et->thread->ctx.loop) + ORDERD_EVENTS_HEARTBEAT_MS;
    if (!w->sending)
        unlink_wait(w); /* done: h2o frees the pool when the last bytes are out */
    h2o_send(w->req, bufs, n, state);
}

static void stream_end(events_wait_t *w)
{
    if (w->sending) {
        w->closing = 1;
        return;
    }
    stream_send(w, NULL, 0, H2O_SEND_STATE_FINAL);
}

/* A stream that h2o does not hold bytes of: sends what the feed has.
 * Returns 0 when it waits for the feed, 1 when it sent events, -1 when it
 * ended (w may be gone). */
static int stream_pump(events_wait_t *w)
{
    if (w->closing) {
        stream_send(w, NULL, 0, H2O_SEND_STATE_FINAL);
        return -1;
    }
    w->buf.len = 0;
    orderd_feed_read_result_t res;
    int ret = read_events(w->et->feed, w->after, w->limit, 1, &w->buf, &res);
    if (ret != ORDERD_FEED_OK) {
        /* past retention or unreadable now: the client reconnects with its
         * Last-Event-ID and is told which (410 or 503) */
        stream_send(w, NULL, 0, H2O_SEND_STATE_FINAL);
        return -1;
    }
    w->after = res.last_seq;
    if (res.events == 0)
        return 0;
    h2o_iovec_t b = h2o_iovec_init(w->buf.p, w->buf.len);
    stream_send(w, &b, 1, H2O_SEND_STATE_IN_PROGRESS);
    return 1;
}

static void on_stream_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    events_wait_t *w = H2O_STRUCT_FROM_MEMBER(events_wait_t, gen, gen);
    struct orderd_http_events_thread *et = w->et;
    w->sending = 0;
    if (stream_pump(w) == 0)
        rearm(et);
}

static void on_stream_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    unlink_wait(H2O_STRUCT_FROM_MEMBER(events_wait_t, gen, gen));
}

static void stream_heartbeat(events_wait_t *w)
{
    static const char beat[] = ": heartbeat\n\n";
    h2o_iovec_t b = h2o_iovec_init(beat, sizeof(beat) - 1);
    stream_send(w, &b, 1, H2O_SEND_STATE_IN_PROGRESS);
}

/* Every entry that waits on the feed reads it again (the writer reported more). */
static void on_wake(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    struct orderd_http_events_thread *et = H2O_STRUCT_FROM_MEMBER(struct orderd_http_events_thread, receiver, receiver);
    while (!h2o_linklist_is_empty(messages))
        h2o_linklist_unlink(messages->next);
    /* before reading: a report that comes from now on sends the message again */
    atomic_store(&et->wake_pending, 0);
    h2o_linklist_t *next;
    for (h2o_linklist_t *l = et->waiting.next; l != &et->waiting; l = next) {
        next = l->next;
        events_wait_t *w = H2O_STRUCT_FROM_MEMBER(events_wait_t, link, l);
        if (!w->stream)
            poll_try(w, 0);
        else if (!w->sending)
            stream_pump(w);
    }
    rearm(et);
}

/* The writer thread: the durable sequence passed what was armed. */
static void on_feed_durable(void *ctx, uint64_t durable_seq)
{
    (void)durable_seq;
    struct orderd_http_events_thread *et = ctx;
    if (!atomic_exchange(&et->wake_pending, 1))
        h2o_multithread_send_message(&et->receiver, &et->msg);
}

/* Deadlines, heartbeats, and the context's shutdown (nothing waits on past it). */
static void on_tick(h2o_timeout_entry_t *entry)
{
    struct orderd_http_events_thread *et = H2O_STRUCT_FROM_MEMBER(struct orderd_http_events_thread, tick, entry);
    uint64_t now = h2o_now(et->thread->ctx.loop);
    int shutdown = et->thread->ctx.shutdown_requested;
    h2o_linklist_t *next;
    for (h2o_linklist_t *l = et->waiting.next; l != &et->waiting; l = next) {
        next = l->next;
        events_wait_t *w = H2O_STRUCT_FROM_MEMBER(events_wait_t, link, l);
        if (!w->stream) {
            if (shutdown || now >= w->deadline)
                poll_try(w, 1);
        } else if (shutdown) {
            stream_end(w);
        } else if (!w->sending && now >= w->deadline) {
            stream_heartbeat(w);
        }
    }
    if (!h2o_linklist_is_empty(&et->waiting))
        h2o_timeout_link(et->thread->ctx.loop, &et->thread->ctx.hundred_ms_timeout, &et->tick);
}

/* --- the handler --- */

static int accepts_event_stream(const h2o_req_t *req)
{
    static const char type[] = "text/event-stream";
    for (ssize_t i = -1; (i = h2o_find_header(&req->headers, H2O_TOKEN_ACCEPT, i)) != -1;) {
        h2o_iovec_t v = req->headers.entries[i].value;
        for (size_t p = 0; p + sizeof(type) - 1 <= v.len; ++p)
            if (strncasecmp(v.base + p, type, sizeof(type) - 1) == 0)
                return 1;
    }
    return 0;
}

static int start_stream(h2o_req_t *req, struct orderd_http_events_thread *et, const orderd_events_query_t *q)
{
    static const char opened[] = ": orderd event feed\n\n";
    uint64_t after = q->after;
    ssize_t h = h2o_find_header_by_str(&req->headers, H2O_STRLIT("last-event-id"), -1);
    if (h != -1) {
        h2o_iovec_t v = req->headers.entries[h].value;
        if (h2o_find_header_by_str(&req->headers, H2O_STRLIT("last-event-id"), h) != -1 ||
            orderd_http_events_last_id_parse(v.base, v.len, &after) != 0)
            return orderd_http_problem(req, ORDERD_PROBLEM_MALFORMED, NULL, 0,
                                       "Last-Event-ID must be sent once, as an event's id (its record number)");
    }
    if (et->thread->ctx.shutdown_requested)
        return orderd_http_problem(req, ORDERD_PROBLEM_UNAVAILABLE, NULL, 0,
                                   "the server is shutting down; open the stream elsewhere");
    events_wait_t *w = h2o_mem_alloc_shared(&req->pool, sizeof(*w), on_wait_dispose);
    *w = (events_wait_t){.gen = {on_stream_proceed, on_stream_stop}, .req = req, .et = et, .limit = q->limit,
                         .stream = 1};
    orderd_feed_read_result_t res;
    int ret = read_events(et->feed, after, q->limit, 1, &w->buf, &res);
    if (ret == ORDERD_FEED_GONE)
        return send_gone(req, after, &res);
    if (ret != ORDERD_FEED_OK)
        return send_unreadable(req);
    w->after = res.last_seq;
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/event-stream"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    req->compress_hint = H2O_COMPRESS_HINT_DISABLE; /* gzip would hold events back until its block fills */
    h2o_start_response(req, &w->gen);
    add_waiting(et, w);
    /* the headers go now, with the events there are or a comment */
    h2o_iovec_t b = res.events != 0 ? h2o_iovec_init(w->buf.p, w->buf.len) : h2o_iovec_init(opened, sizeof(opened) - 1);
    stream_send(w, &b, 1, H2O_SEND_STATE_IN_PROGRESS);
    return 0;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    orderd_app_t *app = ((orderd_handler_t *)self)->app;
    orderd_http_thread_t *t = H2O_STRUCT_FROM_MEMBER(orderd_http_thread_t, ctx, req->conn->ctx);
    struct orderd_http_events_thread *et = t->events;
    if (req->path_normalized.len != sizeof(events_path) - 1)
        return orderd_http_problem(req, ORDERD_PROBLEM_NOT_FOUND, NULL, 0, "there is no resource at this path");
    if (!orderd_http_method_is(req, "GET"))
        return orderd_http_method_not_allowed(req, "GET, HEAD");
    if (orderd_http_operator_check(req, app) != 0)
        return 0;
    if (et == NULL || et->feed == NULL)
        return orderd_http_problem(req, ORDERD_PROBLEM_NOT_FOUND, NULL, 0,
                                   "this server keeps no journal (no --data-dir), so it has no event feed");
    orderd_events_query_t q;
    const char *bad = req->query_at == SIZE_MAX
                          ? orderd_http_events_query_parse("", 0, &q)
                          : orderd_http_events_query_parse(req->path.base + req->query_at + 1,
                                                           req->path.len - req->query_at - 1, &q);
    if (bad != NULL)
        return orderd_http_problem(req, ORDERD_PROBLEM_MALFORMED, NULL, 0, "%s", bad);
    if (accepts_event_stream(req) && !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")))
        return start_stream(req, et, &q);

    events_buf_t buf = {0};
    orderd_feed_read_result_t res;
    int ret = read_events(et->feed, q.after, q.limit, 0, &buf, &res);
    if (ret == ORDERD_FEED_OK && (res.events != 0 || q.wait == 0 || t->ctx.shutdown_requested))
        return send_page(req, &buf, &res);
    free(buf.p);
    if (ret == ORDERD_FEED_GONE)
        return send_gone(req, q.after, &res);
    if (ret != ORDERD_FEED_OK)
        return send_unreadable(req);
    events_wait_t *w = h2o_mem_alloc_shared(&req->pool, sizeof(*w), on_wait_dispose);
    *w = (events_wait_t){.req = req, .et = et, .after = res.last_seq, .limit = q.limit,
                         .deadline = h2o_now(t->ctx.loop) + (uint64_t)q.wait * 1000};
    add_waiting(et, w);
    rearm(et);
    return 0;
}

void orderd_http_events_thread_init(orderd_http_thread_t *t, h2o_multithread_queue_t *queue, orderd_app_t *app)
{
    struct orderd_http_events_thread *et = calloc(1, sizeof(*et));
    if (et == NULL)
        abort();
    et->thread = t;
    et->feed = app->feed;
    et->watcher = -1;
    h2o_linklist_init_anchor(&et->waiting);
    et->tick.cb = on_tick;
    h2o_multithread_register_receiver(queue, &et->receiver, on_wake);
    if (et->feed != NULL) {
        orderd_feed_watcher_t watcher = {on_feed_durable, et};
        if ((et->watcher = orderd_feed_watch(et->feed, &watcher)) < 0)
            abort();
    }
    t->events = et;
}

void orderd_http_events_register(h2o_hostconf_t *host, orderd_app_t *app)
{
    orderd_http_handler_new(h2o_config_register_path(host, events_path, 0), app, on_req);
}
