/*
 * The webhook delivery threads (see webhook.h, docs/webhooks.md). One
 * thread per endpoint, each with one libcurl easy handle (one connection,
 * kept alive) and one event in flight: read from the feed after the
 * cursor, POSTed until a 2xx or until it is older than --webhook-max-age,
 * then the cursor moves past it. The API never waits for a webhook: the
 * threads only read what the journal already made durable.
 */
#include "orderd/webhook.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "orderd/log.h"
#include "orderd/order.h"

/* A wait with nothing to do still wakes this often: a missed wake-up costs at most this. */
#define IDLE_RECHECK_MS 5000

typedef struct endpoint {
    orderd_webhooks_t *set;
    const char *url;
    pthread_t tid;
    int started;
    int watcher; /* the feed's watcher and pin number */
    CURL *curl;
    struct curl_slist *headers; /* this attempt's: rebuilt per attempt (the signature's time) */
    uint64_t rng;
    /* the one event in flight, copied out of the read's callback */
    char *body;
    size_t body_len, body_cap;
    uint64_t ev_seq;
    int64_t ev_at_ms;
    int have_event;
    int oom; /* the last read could not copy its event */
    /* the thread's own progress */
    uint64_t cursor;    /* the last event delivered or given up; the next read is after it */
    uint64_t saved_seq; /* what the state file holds */
    int64_t saved_at_ms;
    int save_failing; /* the last save failed (logged once until one succeeds) */
    /* shared with the status reader, the feed's wake and stop: under mu */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int woken;
    atomic_int stop; /* also read without mu by libcurl's progress callback */
    orderd_webhook_status_t st;
} endpoint_t;

struct orderd_webhooks {
    orderd_feed_t *feed;
    const char *dir;
    int64_t max_age_ms, timeout_ms;
    char secret[ORDERD_WEBHOOK_SECRET_MAX + 1];
    size_t secret_len;
    char user_agent[64];
    int curl_inited;
    int stopped;
    size_t n;
    endpoint_t eps[];
};

static int64_t now_ms(void)
{
    return orderd_now_ms();
}

/* xorshift64*: only for the jitter */
static uint64_t next_rand(endpoint_t *ep)
{
    ep->rng ^= ep->rng >> 12;
    ep->rng ^= ep->rng << 25;
    ep->rng ^= ep->rng >> 27;
    return ep->rng * 2685821657736338717ull;
}

static void set_state(endpoint_t *ep, orderd_webhook_state_t s, int64_t next_at)
{
    pthread_mutex_lock(&ep->mu);
    ep->st.state = s;
    ep->st.next_attempt_at_ms = next_at;
    pthread_mutex_unlock(&ep->mu);
}

static void record_error(endpoint_t *ep, int failed_attempt, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void record_error(endpoint_t *ep, int failed_attempt, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&ep->mu);
    va_start(ap, fmt);
    vsnprintf(ep->st.last_error, sizeof(ep->st.last_error), fmt, ap);
    va_end(ap);
    ep->st.last_error_at_ms = now_ms();
    if (failed_attempt)
        ep->st.failed_attempts++;
    pthread_mutex_unlock(&ep->mu);
}

/* The feed's wake, on the writer thread: never blocks but on mu, which is
 * only ever held for a copy. */
static void on_wake(void *ctx, uint64_t durable_seq)
{
    (void)durable_seq;
    endpoint_t *ep = ctx;
    pthread_mutex_lock(&ep->mu);
    ep->woken = 1;
    pthread_cond_signal(&ep->cond);
    pthread_mutex_unlock(&ep->mu);
}

/* Waits until woken, stopped, or `ms` have passed (ms <= 0: returns at once).
 * Returns 1 when stopped. */
static int wait_for(endpoint_t *ep, int64_t ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl); /* the condition's clock (orderd_webhooks_start) */
    int64_t ns = dl.tv_nsec + (ms > 0 ? ms : 0) % 1000 * 1000000;
    dl.tv_sec += (ms > 0 ? ms : 0) / 1000 + ns / 1000000000;
    dl.tv_nsec = ns % 1000000000;
    pthread_mutex_lock(&ep->mu);
    while (!ep->woken && !atomic_load(&ep->stop) && ms > 0)
        if (pthread_cond_timedwait(&ep->cond, &ep->mu, &dl) == ETIMEDOUT)
            break;
    ep->woken = 0;
    int stopped = atomic_load(&ep->stop);
    pthread_mutex_unlock(&ep->mu);
    return stopped;
}

/* A wait that only stop cuts short (a backoff: new events must not hurry it). */
static int sleep_for(endpoint_t *ep, int64_t ms)
{
    int64_t until = now_ms() + ms;
    for (int64_t left = ms; left > 0; left = until - now_ms())
        if (wait_for(ep, left))
            return 1;
    return atomic_load(&ep->stop);
}

static void save_progress(endpoint_t *ep)
{
    if (ep->saved_seq == ep->cursor)
        return;
    if (orderd_webhook_state_save(ep->set->dir, ep->url, ep->cursor) != 0) {
        /* the next save tries again; until then a restart redelivers, never skips */
        if (!ep->save_failing)
            orderd_log(ORDERD_LOG_WARN, "webhook %s: cannot write its state file: %s", ep->url, strerror(errno));
        record_error(ep, 0, "cannot write the state file: %s", strerror(errno));
        ep->save_failing = 1;
        ep->saved_at_ms = now_ms(); /* and not again before the next 100 ms */
        return;
    }
    if (ep->save_failing)
        orderd_log(ORDERD_LOG_INFO, "webhook %s: its state file is written again", ep->url);
    ep->save_failing = 0;
    ep->saved_seq = ep->cursor;
    ep->saved_at_ms = now_ms();
}

/* The event is done with (delivered or given up): the cursor and the pin move past it. */
static void advance(endpoint_t *ep, uint64_t seq, int delivered)
{
    ep->cursor = seq;
    orderd_feed_pin(ep->set->feed, ep->watcher, seq + 1);
    pthread_mutex_lock(&ep->mu);
    ep->st.last_delivered_seq = seq;
    if (delivered)
        ep->st.delivered++;
    else
        ep->st.given_up++;
    pthread_mutex_unlock(&ep->mu);
    if (now_ms() - ep->saved_at_ms >= ORDERD_WEBHOOK_SAVE_EVERY_MS)
        save_progress(ep);
}

/* The read's callback: the first event is copied out and the read stops there. */
static int take_event(void *ctx, const orderd_feed_event_t *ev)
{
    endpoint_t *ep = ctx;
    if (ev->len + 1 > ep->body_cap) {
        size_t cap = ev->len + 1 > 2 * ep->body_cap ? ev->len + 1 : 2 * ep->body_cap;
        char *nb = realloc(ep->body, cap);
        if (nb == NULL) {
            ep->oom = 1; /* have_event stays 0: read again after a wait */
            return 1;
        }
        ep->body = nb;
        ep->body_cap = cap;
    }
    memcpy(ep->body, ev->json, ev->len);
    ep->body[ev->len] = '\0';
    ep->body_len = ev->len;
    ep->ev_seq = ev->seq;
    ep->ev_at_ms = ev->at_ms;
    ep->have_event = 1;
    return 1;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

/* libcurl asks this during a transfer: a non-zero answer aborts it (stop). */
static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    return atomic_load(&((endpoint_t *)ctx)->stop);
}

/* One POST of the event in flight. 0: a 2xx; -1: anything else (recorded). */
static int post_once(endpoint_t *ep)
{
    orderd_webhooks_t *s = ep->set;
    char sig[ORDERD_WEBHOOK_SIGNATURE_MAX], h_sig[ORDERD_WEBHOOK_SIGNATURE_MAX + 32], h_id[64];
    int64_t t = (int64_t)time(NULL);
    if (orderd_webhook_sign(s->secret, s->secret_len, t, ep->body, ep->body_len, sig) == 0) {
        record_error(ep, 1, "cannot compute the signature (OpenSSL)");
        return -1;
    }
    snprintf(h_sig, sizeof(h_sig), "orderd-signature: %s", sig);
    snprintf(h_id, sizeof(h_id), "orderd-event-id: %u-%" PRIu64, orderd_feed_node_id(s->feed), ep->ev_seq);
    /* "Expect:" drops libcurl's 100-continue round trip for bodies over 1 KiB */
    const char *lines[] = {"Content-Type: application/json", "Expect:", h_sig, h_id};
    struct curl_slist *h = NULL, *next;
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); ++i) {
        if ((next = curl_slist_append(h, lines[i])) == NULL) {
            curl_slist_free_all(h);
            record_error(ep, 1, "out of memory");
            return -1;
        }
        h = next;
    }
    curl_easy_setopt(ep->curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(ep->curl, CURLOPT_POSTFIELDS, ep->body);
    curl_easy_setopt(ep->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)ep->body_len);
    CURLcode rc = curl_easy_perform(ep->curl);
    long code = 0;
    curl_easy_getinfo(ep->curl, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_setopt(ep->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    if (rc == CURLE_OK && code >= 200 && code < 300)
        return 0;
    if (atomic_load(&ep->stop))
        return -1; /* aborted for the shutdown: no failure of the receiver's */
    if (rc != CURLE_OK)
        record_error(ep, 1, "event %u-%" PRIu64 ": %s", orderd_feed_node_id(s->feed), ep->ev_seq,
                     curl_easy_strerror(rc));
    else
        record_error(ep, 1, "event %u-%" PRIu64 ": HTTP %ld", orderd_feed_node_id(s->feed), ep->ev_seq, code);
    return -1;
}

/* Delivers the event in flight: retries until a 2xx, its max age, or stop.
 * Returns 1 when stopped (the event stays undelivered). */
static int deliver(endpoint_t *ep)
{
    orderd_webhooks_t *s = ep->set;
    for (unsigned failures = 0;;) {
        set_state(ep, ORDERD_WEBHOOK_DELIVERING, 0);
        if (post_once(ep) == 0) {
            advance(ep, ep->ev_seq, 1);
            return 0;
        }
        if (atomic_load(&ep->stop))
            return 1;
        int64_t now = now_ms(), give_up_at = ep->ev_at_ms + s->max_age_ms;
        if (now >= give_up_at) {
            orderd_log(ORDERD_LOG_WARN, "webhook %s: gave up event %u-%" PRIu64 " after %u attempts: older than "
                       "--webhook-max-age", ep->url, orderd_feed_node_id(s->feed), ep->ev_seq, failures + 1);
            advance(ep, ep->ev_seq, 0);
            return 0;
        }
        int64_t delay = orderd_webhook_backoff_ms(++failures, next_rand(ep));
        if (delay > give_up_at - now)
            delay = give_up_at - now; /* one last attempt at the deadline, not long after it */
        set_state(ep, ORDERD_WEBHOOK_RETRYING, now + delay);
        if (sleep_for(ep, delay))
            return 1;
    }
}

/* Reads the next event after the cursor into the endpoint; 1: one is in
 * flight, 0: none yet (the cursor may have moved past non-events), -1: the
 * feed failed (retry later). */
static int next_event(endpoint_t *ep)
{
    orderd_webhooks_t *s = ep->set;
    orderd_feed_read_result_t res;
    ep->have_event = ep->oom = 0;
    int rc = orderd_feed_read(s->feed, ep->cursor, 1, take_event, ep, &res);
    if (rc == ORDERD_FEED_GONE) {
        /* retention outran us (the pin came too late, or the state file is
         * older than the journal): say so loudly, go on from what is kept */
        orderd_log(ORDERD_LOG_ERROR, "webhook %s: events %" PRIu64 " to %" PRIu64 " are no longer kept; "
                   "continuing from %" PRIu64, ep->url, ep->cursor + 1, res.oldest_seq - 1, res.oldest_seq);
        record_error(ep, 0, "events %" PRIu64 " to %" PRIu64 " were no longer kept: skipped", ep->cursor + 1,
                     res.oldest_seq - 1);
        ep->cursor = res.oldest_seq - 1;
        orderd_feed_pin(s->feed, ep->watcher, res.oldest_seq);
        return 0;
    }
    if (rc != ORDERD_FEED_OK || ep->oom) {
        record_error(ep, 0, ep->oom ? "out of memory for an event" : "the feed could not be read (see the log)");
        return -1;
    }
    if (ep->have_event)
        return 1;
    if (res.events == 0 && res.last_seq > ep->cursor) {
        /* records that are no event (keys): nothing to send for them */
        ep->cursor = res.last_seq;
        orderd_feed_pin(s->feed, ep->watcher, ep->cursor + 1);
        pthread_mutex_lock(&ep->mu);
        ep->st.last_delivered_seq = ep->cursor;
        pthread_mutex_unlock(&ep->mu);
    }
    return 0;
}

/* How much lower than the workers a delivery thread runs (nice, per thread
 * on Linux): where the CPUs are all busy, the API keeps them and the
 * webhooks' backlog grows instead (it is on disk, in the journal). */
#define DELIVERY_NICE 10

static void *endpoint_main(void *arg)
{
    endpoint_t *ep = arg;
    orderd_webhooks_t *s = ep->set;
    unsigned feed_failures = 0;
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), DELIVERY_NICE) != 0)
        orderd_log(ORDERD_LOG_WARN, "webhook %s: cannot lower the delivery thread's priority: %s", ep->url,
                   strerror(errno));
    while (!atomic_load(&ep->stop)) {
        int got = next_event(ep);
        if (got == 1) {
            feed_failures = 0;
            if (deliver(ep))
                break;
            continue;
        }
        if (got < 0) {
            if (sleep_for(ep, orderd_webhook_backoff_ms(++feed_failures, next_rand(ep))))
                break;
            continue;
        }
        feed_failures = 0;
        set_state(ep, ORDERD_WEBHOOK_IDLE, 0);
        /* progress made since the last save is written once the 100 ms are up */
        int64_t wait = IDLE_RECHECK_MS;
        if (ep->saved_seq != ep->cursor) {
            wait = ep->saved_at_ms + ORDERD_WEBHOOK_SAVE_EVERY_MS - now_ms();
            if (wait <= 0) {
                save_progress(ep);
                wait = IDLE_RECHECK_MS;
            }
        }
        /* woken=0 before arming: a wake from inside arm, or right after it, is not lost */
        pthread_mutex_lock(&ep->mu);
        ep->woken = 0;
        pthread_mutex_unlock(&ep->mu);
        orderd_feed_arm(s->feed, ep->watcher, ep->cursor); /* wakes at once if more is durable already */
        if (wait_for(ep, wait))
            break;
    }
    save_progress(ep);
    return NULL;
}

/* The endpoint's libcurl handle: one connection, reused (keep-alive). */
static int endpoint_curl(endpoint_t *ep)
{
    orderd_webhooks_t *s = ep->set;
    if ((ep->curl = curl_easy_init()) == NULL)
        return -1;
    curl_easy_setopt(ep->curl, CURLOPT_URL, ep->url);
    curl_easy_setopt(ep->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(ep->curl, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
    curl_easy_setopt(ep->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)s->timeout_ms);
    curl_easy_setopt(ep->curl, CURLOPT_USERAGENT, s->user_agent);
    curl_easy_setopt(ep->curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(ep->curl, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect is no delivery */
    curl_easy_setopt(ep->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(ep->curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(ep->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(ep->curl, CURLOPT_XFERINFODATA, ep);
    curl_easy_setopt(ep->curl, CURLOPT_POST, 1L);
    return 0;
}

/* Where endpoint ep starts: after its state file's seq, or (new) at the durable sequence. */
static int endpoint_open(endpoint_t *ep, char *err, size_t errlen)
{
    orderd_webhooks_t *s = ep->set;
    char why[4600];
    uint64_t seq = 0;
    int rc = orderd_webhook_state_load(s->dir, ep->url, &seq, why, sizeof(why));
    uint64_t durable = orderd_feed_durable_seq(s->feed);
    if (rc == 1 && seq > durable) {
        /* the journal holds less than was delivered (a data directory restored
         * from a backup older than the state): the next changes take those
         * numbers again, and must not be skipped */
        orderd_log(ORDERD_LOG_WARN, "webhook %s: delivered up to %" PRIu64 " but the journal ends at %" PRIu64
                   "; delivering the events after %" PRIu64, ep->url, seq, durable, durable);
        ep->cursor = durable;
        ep->saved_seq = UINT64_MAX; /* written at the first save */
    } else if (rc == 1) {
        ep->cursor = ep->saved_seq = seq;
    } else if (rc == 0) {
        /* a new endpoint gets the events from now on, and keeps that start across restarts */
        ep->cursor = durable;
        if (orderd_webhook_state_save(s->dir, ep->url, ep->cursor) != 0) {
            snprintf(err, errlen, "webhook %s: cannot write its state file in %s: %s", ep->url, s->dir,
                     strerror(errno));
            return -1;
        }
        ep->saved_seq = ep->cursor;
        orderd_log(ORDERD_LOG_INFO, "webhook %s: new endpoint, delivering the events after %" PRIu64, ep->url,
                   ep->cursor);
    } else {
        /* at least once: a cursor we cannot trust starts from the oldest kept event */
        orderd_log(ORDERD_LOG_ERROR, "webhook %s: %s; delivering again from the oldest kept event", ep->url, why);
        snprintf(ep->st.last_error, sizeof(ep->st.last_error), "%.200s: redelivering from the oldest kept event",
                 why);
        ep->st.last_error_at_ms = now_ms();
        ep->cursor = 0;
        ep->saved_seq = UINT64_MAX; /* written at the first save */
    }
    ep->saved_at_ms = 0;
    ep->st.url = ep->url;
    ep->st.last_delivered_seq = ep->cursor;
    orderd_feed_watcher_t w = {.wake = on_wake, .ctx = ep};
    if ((ep->watcher = orderd_feed_watch(s->feed, &w)) < 0) {
        snprintf(err, errlen, "webhook %s: too many feed watchers", ep->url);
        return -1;
    }
    orderd_feed_pin(s->feed, ep->watcher, ep->cursor + 1);
    if (getrandom(&ep->rng, sizeof(ep->rng), 0) != (ssize_t)sizeof(ep->rng) || ep->rng == 0)
        ep->rng = (uint64_t)now_ms() | 1;
    if (endpoint_curl(ep) != 0) {
        snprintf(err, errlen, "webhook %s: cannot create a libcurl handle", ep->url);
        return -1;
    }
    return 0;
}

orderd_webhooks_t *orderd_webhooks_start(const orderd_webhooks_config_t *c, orderd_feed_t *feed, char *err,
                                         size_t errlen)
{
    orderd_webhooks_t *s = calloc(1, sizeof(*s) + c->nurls * sizeof(endpoint_t));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->feed = feed;
    s->dir = c->dir;
    s->max_age_ms = c->max_age_ms;
    s->timeout_ms = c->timeout_ms;
    snprintf(s->user_agent, sizeof(s->user_agent), "orderd/%s", ORDERD_VERSION);
    if (c->nurls == 0)
        return s;
    char path[4300];
    int created;
    if (orderd_webhook_secret_load(c->secret_file, c->dir, s->secret, sizeof(s->secret), &s->secret_len, path,
                                   sizeof(path), &created, err, errlen) != 0)
        goto fail;
    orderd_log(ORDERD_LOG_INFO, "webhook secret %s %s", created ? "created in" : "read from", path);
    /* not thread-safe: here, on the main thread, before any delivery thread */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "libcurl cannot start");
        goto fail;
    }
    s->curl_inited = 1;
    for (size_t i = 0; i < c->nurls; ++i, ++s->n) {
        endpoint_t *ep = &s->eps[i];
        ep->set = s;
        ep->url = c->urls[i];
        ep->watcher = -1;
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* a wall-clock step neither hurries nor stalls a backoff */
        pthread_mutex_init(&ep->mu, NULL);
        pthread_cond_init(&ep->cond, &ca);
        pthread_condattr_destroy(&ca);
        if (endpoint_open(ep, err, errlen) != 0) {
            ++s->n; /* its mutex and handle are freed with the rest */
            goto fail;
        }
    }
    for (size_t i = 0; i < s->n; ++i) {
        if (pthread_create(&s->eps[i].tid, NULL, endpoint_main, &s->eps[i]) != 0) {
            snprintf(err, errlen, "cannot start the delivery thread of webhook %s", s->eps[i].url);
            goto fail;
        }
        s->eps[i].started = 1;
    }
    return s;
fail:
    orderd_webhooks_free(s);
    return NULL;
}

void orderd_webhooks_stop(orderd_webhooks_t *s)
{
    if (s == NULL || s->stopped)
        return;
    s->stopped = 1;
    for (size_t i = 0; i < s->n; ++i) {
        endpoint_t *ep = &s->eps[i];
        pthread_mutex_lock(&ep->mu);
        atomic_store(&ep->stop, 1);
        pthread_cond_signal(&ep->cond);
        pthread_mutex_unlock(&ep->mu);
    }
    /* The pins stay: the writer may still clean up after a last snapshot
     * while the workers drain, and what was not delivered must survive it. */
    for (size_t i = 0; i < s->n; ++i) {
        endpoint_t *ep = &s->eps[i];
        if (ep->started)
            pthread_join(ep->tid, NULL); /* it saved its progress on the way out */
        ep->started = 0;
        if (ep->curl != NULL)
            curl_easy_cleanup(ep->curl);
        ep->curl = NULL;
    }
    if (s->curl_inited)
        curl_global_cleanup();
    s->curl_inited = 0;
}

void orderd_webhooks_free(orderd_webhooks_t *s)
{
    if (s == NULL)
        return;
    orderd_webhooks_stop(s);
    for (size_t i = 0; i < s->n; ++i) {
        free(s->eps[i].body);
        pthread_cond_destroy(&s->eps[i].cond);
        pthread_mutex_destroy(&s->eps[i].mu);
    }
    OPENSSL_cleanse(s->secret, sizeof(s->secret));
    free(s);
}

size_t orderd_webhooks_count(const orderd_webhooks_t *s)
{
    return s != NULL ? s->n : 0;
}

void orderd_webhooks_status(orderd_webhooks_t *s, size_t i, orderd_webhook_status_t *out, uint64_t *durable_seq)
{
    endpoint_t *ep = &s->eps[i];
    pthread_mutex_lock(&ep->mu);
    *out = ep->st;
    pthread_mutex_unlock(&ep->mu);
    *durable_seq = orderd_feed_durable_seq(s->feed);
}
