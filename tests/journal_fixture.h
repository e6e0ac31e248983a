#ifndef ORDERD_TESTS_JOURNAL_FIXTURE_H
#define ORDERD_TESTS_JOURNAL_FIXTURE_H

/*
 * The journal suites' harness (journal_replay_test.c, snapshot_test.c,
 * wal_test.c): whole tables compared, replays, the records of a segment,
 * the real writer driven through the store, and `orderd journal` run
 * in-process. Include after cmocka.h: these assert.
 */

#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "orderd/journal.h"
#include "orderd/store.h"
#include "orderd/wal.h"
#include "fixture.h"

#define NSHARDS 16

/* ---- whole tables ---- */

/* Every order of a store, copied out and sorted by id. */
typedef struct order_list {
    orderd_order_t **v;
    size_t n, cap;
} order_list_t;

static inline void collect_fn(void *ctx, const orderd_order_t *o)
{
    order_list_t *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        if (l->v == NULL)
            abort();
    }
    orderd_order_t *c = malloc(o->size);
    if (c == NULL)
        abort();
    memcpy(c, o, o->size);
    l->v[l->n++] = c;
}

static inline int cmp_order_id(const void *a, const void *b)
{
    uint64_t x = (*(orderd_order_t *const *)a)->id, y = (*(orderd_order_t *const *)b)->id;
    return x < y ? -1 : x > y;
}

static inline void collect(orderd_store_t *st, order_list_t *l)
{
    memset(l, 0, sizeof(*l));
    for (unsigned i = 0; i < orderd_store_shards(st); ++i)
        orderd_store_each(st, i, collect_fn, l);
    if (l->n > 0)
        qsort(l->v, l->n, sizeof(*l->v), cmp_order_id);
}

static inline void list_free(order_list_t *l)
{
    for (size_t i = 0; i < l->n; ++i)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* Both tables hold exactly the same orders, byte for byte. */
static inline void assert_same_orders(orderd_store_t *a, orderd_store_t *b)
{
    order_list_t la, lb;
    collect(a, &la);
    collect(b, &lb);
    assert_int_equal(la.n, lb.n);
    assert_int_equal(orderd_store_count(a), la.n);
    assert_int_equal(orderd_store_count(b), lb.n);
    for (size_t i = 0; i < la.n; ++i) {
        const orderd_order_t *x = la.v[i], *y = lb.v[i];
        if (x->id != y->id)
            fail_msg("order #%zu: id %" PRIx64 " in one table, %" PRIx64 " in the other", i, x->id, y->id);
        if (x->size != y->size || memcmp(x, y, x->size) != 0) {
            size_t at = 0;
            while (at < x->size && at < y->size && ((const unsigned char *)x)[at] == ((const unsigned char *)y)[at])
                ++at;
            fail_msg("order %" PRIx64 " differs at byte %zu (versions %u / %u, status %u / %u)", x->id, at, x->version,
                     y->version, x->status, y->status);
        }
    }
    list_free(&la);
    list_free(&lb);
}

/* How many orders of a store are in `status`. */
static inline size_t count_status(orderd_store_t *st, orderd_status_t status)
{
    order_list_t l;
    collect(st, &l);
    size_t n = 0;
    for (size_t i = 0; i < l.n; ++i)
        n += l.v[i]->status == status;
    list_free(&l);
    return n;
}

/* ---- replays and the records of a segment ---- */

/* Replay with the library's log lines (torn tails, fallbacks) kept off the
 * test output; nothing in here asserts, so stderr is always restored.
 * Sanitizer builds keep stderr: their reports must not vanish. */
static inline int quiet_replay(const char *dir, orderd_store_t *st, orderd_replay_report_t *rep)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return orderd_journal_replay(dir, st, rep);
#endif
    fflush(stderr);
    int saved = dup(2), null = open("/dev/null", O_WRONLY);
    if (saved < 0 || null < 0)
        abort();
    dup2(null, 2);
    close(null);
    int rc = orderd_journal_replay(dir, st, rep);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    return rc;
}

/* Replays `dir` into a new store and expects success. */
static inline orderd_store_t *replay_ok(const char *dir, orderd_replay_report_t *rep)
{
    orderd_store_t *st = orderd_store_new(NSHARDS);
    assert_non_null(st);
    if (quiet_replay(dir, st, rep) != 0)
        fail_msg("replay of %s failed: %s", dir, rep->error);
    return st;
}

static inline void segment_path(char *buf, size_t cap, const char *dir, uint64_t first)
{
    char name[64];
    orderd_journal_segment_name(name, sizeof(name), first);
    if ((size_t)snprintf(buf, cap, "%s/%s", dir, name) >= cap)
        fail_msg("path too long: %s/%s", dir, name);
}

/* The records of a segment: their offsets, and offs[n] = the end of the last. */
typedef struct seg {
    unsigned char *data;
    size_t len;
    size_t n;
    size_t *offs; /* n + 1 entries */
} seg_t;

static inline void seg_load(seg_t *s, const char *path)
{
    s->data = test_read_file(path, &s->len);
    assert_non_null(s->data);
    uint64_t first;
    assert_int_equal(orderd_file_header_decode(s->data, s->len, ORDERD_JOURNAL_MAGIC, &first), 0);
    size_t cap = 16;
    s->offs = calloc(cap, sizeof(*s->offs));
    assert_non_null(s->offs);
    s->n = 0;
    size_t off = ORDERD_FILE_HEADER_SIZE;
    s->offs[0] = off;
    while (off < s->len) {
        orderd_record_t rec;
        size_t used;
        assert_int_equal(orderd_record_parse(s->data + off, s->len - off, &rec, &used), ORDERD_FRAME_OK);
        assert_int_equal(rec.seq, first + s->n);
        off += used;
        if (s->n + 2 > cap)
            s->offs = realloc(s->offs, (cap *= 2) * sizeof(*s->offs));
        s->offs[++s->n] = off;
    }
}

static inline void seg_free(seg_t *s)
{
    free(s->data);
    free(s->offs);
}

/* Record i of a segment as an event; the payload is copied to *copy (8-byte
 * aligned, the caller frees it). */
static inline void seg_event(const seg_t *s, size_t i, orderd_change_t *ev, void **copy)
{
    orderd_record_t rec;
    size_t used;
    assert_int_equal(orderd_record_parse(s->data + s->offs[i], s->len - s->offs[i], &rec, &used), ORDERD_FRAME_OK);
    *copy = aligned_alloc(8, (rec.len + 8) & ~(size_t)7);
    memcpy(*copy, rec.payload, rec.len);
    rec.payload = *copy;
    assert_int_equal(orderd_change_from_record(&rec, ev), 0);
}

/* A table holding the events of the first k records, applied directly. */
static inline orderd_store_t *seg_reference(const seg_t *s, size_t k)
{
    orderd_store_t *st = orderd_store_new(NSHARDS);
    for (size_t i = 0; i < k; ++i) {
        orderd_change_t ev;
        void *copy;
        seg_event(s, i, &ev, &copy);
        assert_int_equal(orderd_store_apply(st, &ev), ORDERD_STORE_OK);
        free(copy);
    }
    return st;
}

/* Orders created and status changes to cancelled among the first k records. */
static inline void seg_counts(const seg_t *s, size_t k, size_t *orders, size_t *cancelled)
{
    *orders = *cancelled = 0;
    for (size_t i = 0; i < k; ++i) {
        orderd_change_t ev;
        void *copy;
        seg_event(s, i, &ev, &copy);
        if (ev.type == ORDERD_CHANGE_CREATED)
            ++*orders;
        else if (ev.u.status_changed.status == ORDERD_STATUS_CANCELLED)
            ++*cancelled;
        free(copy);
    }
}

/* ---- the real writer, driven through the store ---- */

typedef struct writer {
    orderd_store_t *store;
    orderd_wal_t *wal;
    atomic_long notified, durable, foreign;
    long submitted;
    int64_t now;
} writer_t;

__attribute__((unused)) static int waiter_token; /* every change waits with &waiter_token */

static inline void count_notify(void *ctx, void *waiter, int durable)
{
    writer_t *w = ctx;
    if (waiter != &waiter_token)
        atomic_fetch_add(&w->foreign, 1);
    /* durable before notified: w_wait reads notified, then checks durable */
    if (durable)
        atomic_fetch_add(&w->durable, 1);
    atomic_fetch_add(&w->notified, 1);
}

/* Starts a writer on `store` after a replay that produced `rep`. */
static inline void writer_attach(writer_t *w, const char *dir, orderd_store_t *store, const orderd_replay_report_t *rep,
                                 orderd_fsync_mode_t mode, uint64_t snapshot_bytes)
{
    memset(w, 0, sizeof(*w));
    w->store = store;
    w->now = T0_MS;
    orderd_wal_config_t cfg = {
        .dir = dir, .fsync = mode, .snapshot_bytes = snapshot_bytes, .notify = count_notify, .notify_ctx = w};
    char err[256] = "";
    w->wal = orderd_wal_open(&cfg, store, rep, err, sizeof(err));
    if (w->wal == NULL)
        fail_msg("orderd_wal_open(%s): %s", dir, err);
}

/* A new store, replayed from `dir` (empty or not), with a writer on it. */
static inline void writer_start(writer_t *w, const char *dir, uint64_t snapshot_bytes)
{
    orderd_replay_report_t rep;
    orderd_store_t *st = replay_ok(dir, &rep);
    writer_attach(w, dir, st, &rep, ORDERD_FSYNC_ALWAYS, snapshot_bytes);
}

static inline uint64_t w_create(writer_t *w, const char *user, unsigned salt)
{
    orderd_order_t *o = make_order(user, w->now++, salt);
    assert_int_equal(orderd_store_create(w->store, o, NULL, NULL, NULL, NULL, &waiter_token), ORDERD_STORE_OK);
    ++w->submitted;
    uint64_t id = o->id;
    assert_int_not_equal(id, 0);
    free(o);
    return id;
}

/* set_status through the store; a waiter rides along on OK (applied or repeat). */
static inline int w_status(writer_t *w, orderd_str_t user, uint64_t id, orderd_status_t to)
{
    test_arena_t ar = {0};
    orderd_alloc_t a = test_arena_allocator(&ar);
    orderd_order_t *out = NULL;
    int rc = orderd_store_set_status(w->store, user, id, to, w->now++, NULL, NULL, &a, &out, &waiter_token);
    if (rc == ORDERD_STORE_OK) {
        ++w->submitted;
        assert_non_null(out);
        assert_int_equal(out->status, to);
    }
    test_arena_reset(&ar);
    return rc;
}

/* The writer counts a batch just after telling its waiters, so the counters
 * may lag what the waiters heard by a moment: wait for them to catch up. */
static inline void stats_when(orderd_wal_t *wal, uint64_t records, orderd_wal_stats_t *out)
{
    int64_t until = test_mono_ms() + 5000;
    for (;;) {
        orderd_wal_stats(wal, out);
        if (out->records >= records || test_mono_ms() > until)
            break;
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(out->records, records);
}

/* Waits until every change so far was acknowledged. */
static inline void w_wait(writer_t *w)
{
    int64_t until = test_mono_ms() + 10000;
    while (atomic_load(&w->notified) < w->submitted) {
        if (test_mono_ms() > until)
            fail_msg("only %ld of %ld changes acknowledged after 10 s", atomic_load(&w->notified), w->submitted);
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(atomic_load(&w->notified), w->submitted);
    assert_int_equal(atomic_load(&w->durable), w->submitted);
}

/* Closes the writer: every change was then acknowledged durable exactly once. */
static inline void w_close(writer_t *w)
{
    orderd_wal_close(w->wal);
    w->wal = NULL;
    assert_int_equal(atomic_load(&w->notified), w->submitted);
    assert_int_equal(atomic_load(&w->durable), w->submitted);
    assert_int_equal(atomic_load(&w->foreign), 0);
}

/* A journal of `nrecords` changes, one record per batch (each acknowledged
 * before the next), in the pattern create, create, cancel (the first of the
 * two), advance (the second), create, create, cancel, advance, ...
 * Returns the live store (the caller frees it). */
static inline orderd_store_t *write_script(const char *dir, int nrecords)
{
    writer_t w;
    writer_start(&w, dir, UINT64_MAX);
    uint64_t ids[16];
    static const char *const users[] = {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"};
    int made = 0, recs = 0;
    for (int step = 0; recs < nrecords; ++step) {
        switch (step % 4) {
        case 0:
        case 1:
            ids[made] = w_create(&w, users[made % 8], 10 + (unsigned)made);
            ++made;
            break;
        case 2:
            assert_int_equal(w_status(&w, S(users[(made - 2) % 8]), ids[made - 2], ORDERD_STATUS_CANCELLED),
                             ORDERD_STORE_OK);
            break;
        case 3:
            assert_int_equal(w_status(&w, OPERATOR, ids[made - 1], ORDERD_STATUS_PROCESSING), ORDERD_STORE_OK);
            break;
        }
        ++recs;
        w_wait(&w);
    }
    w_close(&w);
    return w.store;
}

/* ---- `orderd journal` run in-process, its output captured ---- */

typedef struct captured {
    char *out, *err;
    size_t out_len, err_len;
    int rc;
} captured_t;

static inline void run_tool(captured_t *c, const char *cmd, const char *dir)
{
    char *argv[] = {"journal", (char *)cmd, "--data-dir", (char *)dir, NULL};
    FILE *out = open_memstream(&c->out, &c->out_len), *err = open_memstream(&c->err, &c->err_len);
    assert_non_null(out);
    assert_non_null(err);
    c->rc = orderd_journal_tool(4, argv, out, err);
    fclose(out);
    fclose(err);
}

static inline void captured_free(captured_t *c)
{
    free(c->out);
    free(c->err);
}

static inline size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; ++s)
        n += *s == '\n';
    return n;
}

#endif
