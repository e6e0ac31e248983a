/* Unit tests for orderd/wal.h: group commit under concurrency, the order of
 * one order's records, the barrier of a repeated cancel, the fsync modes,
 * close flushing what is queued, zeros written ahead, a snapshot asked for
 * just before a write fails, and orderd_store_undo. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <sys/uio.h>
#include <inttypes.h>
#include <pthread.h>
#include <sys/statvfs.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orderd/journal.h"
#include "orderd/order.h"
#include "orderd/store.h"
#include "orderd/wal.h"
#include "journal_fixture.h"

/* ---- the writer and its waiters ---- */

typedef struct waiter {
    atomic_int calls;
    atomic_int durable;
    atomic_long stamp; /* 1, 2, ...: when it was told, among all waiters */
} waiter_t;

typedef struct sink {
    atomic_long calls, durable, stamps;
    pthread_mutex_t mu; /* guards the fields below */
    int have_writer;
    pthread_t writer; /* the thread of the first notification */
    long other_threads;
    orderd_wal_t *wal; /* set once open: the first notification reads the stats */
    int first_seen;
    orderd_wal_stats_t at_first; /* the stats when the first waiter was told */
} sink_t;

static void sink_init(sink_t *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
}

static void on_notify(void *ctx, void *wp, int durable)
{
    sink_t *s = ctx;
    waiter_t *w = wp;
    pthread_mutex_lock(&s->mu);
    if (!s->have_writer) {
        s->writer = pthread_self();
        s->have_writer = 1;
    } else if (!pthread_equal(s->writer, pthread_self())) {
        ++s->other_threads;
    }
    if (!s->first_seen && s->wal != NULL) {
        orderd_wal_stats(s->wal, &s->at_first);
        s->first_seen = 1;
    }
    pthread_mutex_unlock(&s->mu);
    atomic_store(&w->stamp, atomic_fetch_add(&s->stamps, 1) + 1);
    atomic_fetch_add(&w->calls, 1);
    if (durable)
        atomic_fetch_add(&w->durable, 1);
    atomic_fetch_add(&s->durable, durable ? 1 : 0);
    atomic_fetch_add(&s->calls, 1);
}

/* A new store replayed from `dir`, and a writer on it. */
static orderd_wal_t *open_wal(const char *dir, orderd_store_t **store, sink_t *sink, orderd_fsync_mode_t mode)
{
    *store = orderd_store_new(NSHARDS);
    assert_non_null(*store);
    orderd_replay_report_t rep;
    if (orderd_journal_replay(dir, *store, &rep) != 0)
        fail_msg("replay of %s: %s", dir, rep.error);
    orderd_wal_config_t cfg = {.dir = dir, .fsync = mode, .snapshot_bytes = UINT64_MAX, .notify = on_notify,
                               .notify_ctx = sink};
    char err[256] = "";
    orderd_wal_t *w = orderd_wal_open(&cfg, *store, &rep, err, sizeof(err));
    if (w == NULL)
        fail_msg("orderd_wal_open: %s", err);
    pthread_mutex_lock(&sink->mu);
    sink->wal = w;
    pthread_mutex_unlock(&sink->mu);
    return w;
}

static void close_wal(orderd_wal_t *w, sink_t *sink)
{
    pthread_mutex_lock(&sink->mu);
    sink->wal = NULL;
    pthread_mutex_unlock(&sink->mu);
    orderd_wal_close(w);
}

static void wait_calls(sink_t *s, long want)
{
    int64_t until = test_mono_ms() + 15000;
    while (atomic_load(&s->calls) < want) {
        if (test_mono_ms() > until)
            fail_msg("%ld of %ld waiters told after 15 s", atomic_load(&s->calls), want);
        test_sleep_us(100);
    }
    assert_int_equal(atomic_load(&s->calls), want);
}

static void wait_waiter(waiter_t *w)
{
    int64_t until = test_mono_ms() + 10000;
    while (atomic_load(&w->calls) == 0) {
        if (test_mono_ms() > until)
            fail_msg("a waiter was not told in 10 s");
        test_sleep_us(100);
    }
}

/* Replays `dir` into a new store: it must succeed with no torn tail. */
static orderd_store_t *replay_dir(const char *dir, orderd_replay_report_t *rep)
{
    orderd_store_t *st = replay_ok(dir, rep);
    assert_int_equal(rep->torn_bytes, 0);
    return st;
}

/* The records of segment 1 of `dir`, decoded. */
typedef struct rec_info {
    uint64_t seq, id;
    uint32_t version;
    uint8_t type, status, prev_status;
    int64_t at, prev_at;
    char user[ORDERD_USER_ID_MAX + 1];
} rec_info_t;

static rec_info_t *scan_segment(const char *dir, size_t *n)
{
    char name[64], path[PATH_MAX];
    orderd_journal_segment_name(name, sizeof(name), 1);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    size_t len;
    unsigned char *data = test_read_file(path, &len);
    assert_non_null(data);
    uint64_t first;
    assert_int_equal(orderd_file_header_decode(data, len, ORDERD_JOURNAL_MAGIC, &first), 0);
    assert_int_equal(first, 1);
    size_t cap = 1024;
    rec_info_t *v = malloc(cap * sizeof(*v));
    unsigned char *scratch = aligned_alloc(8, ORDERD_RECORD_MAX_PAYLOAD);
    *n = 0;
    for (size_t off = ORDERD_FILE_HEADER_SIZE; off < len;) {
        orderd_record_t rec;
        size_t used;
        if (orderd_record_parse(data + off, len - off, &rec, &used) != ORDERD_FRAME_OK)
            fail_msg("%s: no valid record at offset %zu", path, off);
        assert_int_equal(rec.seq, *n + 1);
        memcpy(scratch, rec.payload, rec.len);
        rec.payload = scratch;
        orderd_change_t ev;
        assert_int_equal(orderd_change_from_record(&rec, &ev), 0);
        if (*n == cap)
            v = realloc(v, (cap *= 2) * sizeof(*v));
        rec_info_t *r = &v[(*n)++];
        memset(r, 0, sizeof(*r));
        r->seq = rec.seq;
        r->type = rec.type;
        if (ev.type == ORDERD_CHANGE_CREATED) {
            const orderd_order_t *o = ev.u.created.order;
            assert_int_equal(rec.type, ORDERD_REC_ORDER_CREATED);
            r->id = o->id;
            r->version = o->version;
            r->status = o->status;
            r->at = o->updated_ms;
            orderd_str_t u = orderd_order_user(o);
            memcpy(r->user, u.base, u.len);
        } else if (ev.type == ORDERD_CHANGE_AMENDED) { /* shipped and delivered go through shipments */
            assert_true(rec.type == ORDERD_REC_SHIPMENT_CREATED || rec.type == ORDERD_REC_SHIPMENT_DELIVERED);
            r->id = ev.u.amended.order_id;
            r->version = ev.u.amended.version;
            r->status = ev.u.amended.status;
            r->prev_status = ev.u.amended.prev_status;
            r->at = ev.u.amended.at_ms;
            r->prev_at = ev.u.amended.before->updated_ms;
        } else {
            assert_int_equal(rec.type, ORDERD_REC_STATUS_CHANGED);
            r->id = ev.u.status_changed.order_id;
            r->version = ev.u.status_changed.version;
            r->status = ev.u.status_changed.status;
            r->prev_status = ev.u.status_changed.prev_status;
            r->at = ev.u.status_changed.at_ms;
            r->prev_at = ev.u.status_changed.prev_updated_ms;
        }
        off += used;
    }
    free(scratch);
    free(data);
    return v;
}

/* ------------------------------------------------------------------ */
/* 1. group commit under concurrency                                    */
/* ------------------------------------------------------------------ */

#define GC_THREADS 8
#define GC_PER_THREAD 500

typedef struct gc_arg {
    orderd_store_t *store;
    int t;
    waiter_t *waiters; /* GC_PER_THREAD of this thread's */
    uint64_t *ids;
    char (*users)[16];
    int failures;
} gc_arg_t;

static void *gc_main(void *p)
{
    gc_arg_t *a = p;
    for (int i = 0; i < GC_PER_THREAD; ++i) {
        snprintf(a->users[i], sizeof(a->users[i]), "t%d-u%d", a->t, i % 13);
        orderd_order_t *o = make_order(a->users[i], T0_MS + i, (unsigned)(a->t * 1000 + i));
        if (orderd_store_create(a->store, o, NULL, NULL, NULL, NULL, &a->waiters[i]) != ORDERD_STORE_OK)
            ++a->failures;
        a->ids[i] = o->id;
        free(o);
    }
    return NULL;
}

static void test_group_commit_concurrent_creates(void **state)
{
    (void)state;
    enum { N = GC_THREADS * GC_PER_THREAD };
    char dir[PATH_MAX];
    tmpdir(dir, sizeof(dir), "wal-gc");
    sink_t sink;
    sink_init(&sink);
    orderd_store_t *st;
    orderd_wal_t *wal = open_wal(dir, &st, &sink, ORDERD_FSYNC_ALWAYS);

    waiter_t *waiters = calloc(N, sizeof(*waiters));
    uint64_t *ids = calloc(N, sizeof(*ids));
    char(*users)[16] = calloc(N, sizeof(*users));
    pthread_t th[GC_THREADS];
    gc_arg_t args[GC_THREADS];
    for (int t = 0; t < GC_THREADS; ++t) {
        args[t] = (gc_arg_t){st, t, waiters + t * GC_PER_THREAD, ids + t * GC_PER_THREAD, users + t * GC_PER_THREAD,
                             0};
        assert_int_equal(pthread_create(&th[t], NULL, gc_main, &args[t]), 0);
    }
    for (int t = 0; t < GC_THREADS; ++t) {
        pthread_join(th[t], NULL);
        assert_int_equal(args[t].failures, 0);
    }

    wait_calls(&sink, N);
    orderd_wal_stats_t stats;
    stats_when(wal, N, &stats);
    assert_int_equal(stats.last_seq, N);
    assert_int_equal(stats.write_failures, 0);
    assert_true(stats.batches >= 1);
    if (stats.batches >= stats.records)
        fail_msg("%" PRIu64 " batches for %" PRIu64 " records: nothing was grouped", stats.batches, stats.records);
    /* fsync always: one fdatasync covers one or a few written batches (the
     * next is written while it runs), and one ran before the first waiter heard */
    assert_true(stats.syncs >= 1 && stats.syncs <= stats.batches);
    pthread_mutex_lock(&sink.mu);
    assert_true(sink.first_seen);
    assert_true(sink.at_first.syncs >= 1);
    pthread_mutex_unlock(&sink.mu);
    close_wal(wal, &sink);

    /* every waiter exactly once, durable, on the one writer thread */
    for (int i = 0; i < N; ++i)
        if (atomic_load(&waiters[i].calls) != 1 || atomic_load(&waiters[i].durable) != 1)
            fail_msg("waiter %d told %d times, %d durable", i, atomic_load(&waiters[i].calls),
                     atomic_load(&waiters[i].durable));
    assert_int_equal(atomic_load(&sink.calls), N);
    assert_int_equal(atomic_load(&sink.durable), N);
    assert_int_equal(sink.other_threads, 0);
    assert_false(pthread_equal(sink.writer, pthread_self()));
    for (int t = 0; t < GC_THREADS; ++t)
        assert_false(pthread_equal(sink.writer, th[t]));

    /* the ids are unique, and replay holds exactly the orders created */
    uint64_t *sorted = malloc(N * sizeof(*sorted));
    memcpy(sorted, ids, N * sizeof(*sorted));
    qsort(sorted, N, sizeof(*sorted), cmp_u64);
    for (int i = 1; i < N; ++i)
        assert_true(sorted[i] > sorted[i - 1]);
    free(sorted);
    orderd_replay_report_t rep;
    orderd_store_t *back = replay_dir(dir, &rep);
    assert_int_equal(rep.records, N);
    assert_int_equal(rep.orders, N);
    assert_int_equal(orderd_store_count(back), N);
    assert_same_orders(back, st);
    test_arena_t ar = {0};
    orderd_alloc_t a = test_arena_allocator(&ar);
    for (int i = 0; i < N; i += 7) {
        orderd_order_t *o;
        assert_int_equal(orderd_store_get(back, S(users[i]), ids[i], &a, &o), ORDERD_STORE_OK);
        assert_int_equal(o->status, ORDERD_STATUS_PENDING);
    }
    test_arena_reset(&ar);

    /* a user's creates reach the journal in id order */
    size_t n;
    rec_info_t *recs = scan_segment(dir, &n);
    assert_int_equal(n, N);
    struct {
        const char *user;
        uint64_t last;
    } seen[GC_THREADS * 13];
    size_t nseen = 0;
    for (size_t i = 0; i < n; ++i) {
        size_t u = 0;
        while (u < nseen && strcmp(seen[u].user, recs[i].user) != 0)
            ++u;
        if (u == nseen) {
            assert_true(nseen < GC_THREADS * 13);
            seen[nseen].user = recs[i].user;
            seen[nseen++].last = 0;
        }
        if (recs[i].id <= seen[u].last)
            fail_msg("user %s: order %" PRIx64 " (seq %" PRIu64 ") after order %" PRIx64, recs[i].user, recs[i].id,
                     recs[i].seq, seen[u].last);
        seen[u].last = recs[i].id;
    }
    assert_int_equal(nseen, GC_THREADS * 13);
    free(recs);

    orderd_store_free(back);
    orderd_store_free(st);
    free(users);
    free(ids);
    free(waiters);
    pthread_mutex_destroy(&sink.mu);
    rmdir_tmp(dir);
}

/* ------------------------------------------------------------------ */
/* 2. one order's records keep their order                              */
/* ------------------------------------------------------------------ */

#define ORD_THREADS 4
#define ORD_OPS 400
#define ORD_SHARED 64

typedef struct ord_arg {
    orderd_store_t *store;
    int t;
    const uint64_t *shared; /* ORD_SHARED orders made up front */
    const char (*shared_users)[16];
    waiter_t waiters[ORD_OPS];
    int used[ORD_OPS]; /* 1: the op took a waiter (OK), 0: it did not */
    uint64_t own[ORD_OPS];
    size_t n_own;
    int errors;
} ord_arg_t;

static void *ord_main(void *p)
{
    ord_arg_t *a = p;
    test_rng_t r = {(unsigned long long)a->t * 7919 + 1};
    test_arena_t ar = {0};
    orderd_alloc_t al = test_arena_allocator(&ar);
    char me[16];
    snprintf(me, sizeof(me), "own-%d", a->t);
    for (int i = 0; i < ORD_OPS; ++i) {
        unsigned op = test_rng_below(&r, 10);
        int rc;
        orderd_order_t *out = NULL;
        if (op < 2 || a->n_own == 0) {
            orderd_order_t *o = make_order(me, T0_MS + i, (unsigned)i);
            rc = orderd_store_create(a->store, o, NULL, NULL, NULL, NULL, &a->waiters[i]);
            a->own[a->n_own++] = o->id;
            free(o);
        } else if (op < 5) {
            /* customers cancel (their own shared orders, or this thread's) */
            size_t j = test_rng_below(&r, ORD_SHARED);
            int own = op == 4;
            uint64_t id = own ? a->own[test_rng_below(&r, (unsigned)a->n_own)] : a->shared[j];
            rc = orderd_store_set_status(a->store, own ? S(me) : S(a->shared_users[j]), id, ORDERD_STATUS_CANCELLED,
                                         T0_MS + i, NULL, NULL, &al, &out, &a->waiters[i]);
        } else {
            /* the operator moves a shared order one step forward, racing the cancels */
            size_t j = test_rng_below(&r, ORD_SHARED);
            orderd_status_t to = (orderd_status_t)(ORDERD_STATUS_PROCESSING + test_rng_below(&r, 3));
            rc = orderd_store_set_status(a->store, OPERATOR, a->shared[j], to, T0_MS + i, NULL, NULL, &al, &out,
                                         &a->waiters[i]);
        }
        if (rc != ORDERD_STORE_OK && rc != ORDERD_STORE_ECONFLICT)
            ++a->errors;
        a->used[i] = rc == ORDERD_STORE_OK;
        if ((i & 63) == 63)
            test_arena_reset(&ar);
    }
    test_arena_reset(&ar);
    return NULL;
}

/* The id and version fields of a dump line. */
static void dump_fields(const char *line, uint64_t *id, unsigned long *version)
{
    const char *p = strstr(line, "\"id\":\"");
    const char *v = strstr(line, "\"version\":");
    if (p == NULL || v == NULL)
        fail_msg("dump line without id or version: %s", line);
    assert_int_equal(orderd_id_parse(p + 6, ORDERD_ID_LEN, id), 0);
    *version = strtoul(v + 10, NULL, 10);
}

static void test_records_of_an_order_in_order(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tmpdir(dir, sizeof(dir), "wal-order");
    sink_t sink;
    sink_init(&sink);
    orderd_store_t *st;
    orderd_wal_t *wal = open_wal(dir, &st, &sink, ORDERD_FSYNC_ALWAYS);

    static uint64_t shared[ORD_SHARED];
    static char shared_users[ORD_SHARED][16];
    static waiter_t first[ORD_SHARED];
    memset(first, 0, sizeof(first));
    for (int i = 0; i < ORD_SHARED; ++i) {
        snprintf(shared_users[i], sizeof(shared_users[i]), "p%d", i % 16);
        orderd_order_t *o = make_order(shared_users[i], T0_MS, (unsigned)i);
        assert_int_equal(orderd_store_create(st, o, NULL, NULL, NULL, NULL, &first[i]), ORDERD_STORE_OK);
        shared[i] = o->id;
        free(o);
    }
    ord_arg_t *args = calloc(ORD_THREADS, sizeof(*args));
    pthread_t th[ORD_THREADS];
    for (int t = 0; t < ORD_THREADS; ++t) {
        args[t].store = st;
        args[t].t = t;
        args[t].shared = shared;
        args[t].shared_users = (const char(*)[16])shared_users;
        assert_int_equal(pthread_create(&th[t], NULL, ord_main, &args[t]), 0);
    }
    long expect = ORD_SHARED;
    for (int t = 0; t < ORD_THREADS; ++t) {
        pthread_join(th[t], NULL);
        assert_int_equal(args[t].errors, 0);
        for (int i = 0; i < ORD_OPS; ++i)
            expect += args[t].used[i];
    }
    wait_calls(&sink, expect);
    close_wal(wal, &sink);
    assert_int_equal(atomic_load(&sink.calls), expect);
    assert_int_equal(atomic_load(&sink.durable), expect);
    for (int t = 0; t < ORD_THREADS; ++t)
        for (int i = 0; i < ORD_OPS; ++i)
            assert_int_equal(atomic_load(&args[t].waiters[i].calls), args[t].used[i]); /* conflicts: no waiter */

    /* per order: created at version 1 first, then each change at the next
     * version, from the status and time the previous record left */
    size_t n;
    rec_info_t *recs = scan_segment(dir, &n);
    assert_true(n > ORD_SHARED + ORD_THREADS * 50);
    size_t changes = 0;
    for (size_t i = 0; i < n; ++i) {
        if (recs[i].type != ORDERD_REC_ORDER_CREATED)
            ++changes;
        if (recs[i].type != ORDERD_REC_ORDER_CREATED)
            continue;
        assert_int_equal(recs[i].version, 1);
        const rec_info_t *prev = &recs[i];
        for (size_t j = i + 1; j < n; ++j) {
            if (recs[j].id != recs[i].id)
                continue;
            if (recs[j].type == ORDERD_REC_ORDER_CREATED)
                fail_msg("order %" PRIx64 " created twice (seq %" PRIu64 ", %" PRIu64 ")", recs[i].id, recs[i].seq,
                         recs[j].seq);
            if (recs[j].version != prev->version + 1)
                fail_msg("order %" PRIx64 ": version %u (seq %" PRIu64 ") follows version %u (seq %" PRIu64 ")",
                         recs[i].id, recs[j].version, recs[j].seq, prev->version, prev->seq);
            assert_int_equal(recs[j].prev_status, prev->status);
            assert_true(recs[j].prev_at == prev->at);
            assert_true(recs[j].at >= prev->at);
            prev = &recs[j];
        }
    }
    /* every status change belongs to an order created earlier in the journal */
    for (size_t j = 0; j < n; ++j) {
        if (recs[j].type != ORDERD_REC_STATUS_CHANGED)
            continue;
        size_t i = 0;
        while (i < j && !(recs[i].type == ORDERD_REC_ORDER_CREATED && recs[i].id == recs[j].id))
            ++i;
        if (i == j)
            fail_msg("status change seq %" PRIu64 " of order %" PRIx64 " precedes its creation", recs[j].seq,
                     recs[j].id);
    }
    assert_true(changes > 50);

    /* `orderd journal dump` shows the same records in the same order */
    char *out = NULL, *err = NULL;
    size_t out_len = 0, err_len = 0;
    FILE *fo = open_memstream(&out, &out_len), *fe = open_memstream(&err, &err_len);
    char *argv[] = {"journal", "dump", "--data-dir", dir, NULL};
    assert_int_equal(orderd_journal_tool(4, argv, fo, fe), 0);
    fclose(fo);
    fclose(fe);
    size_t lines = 0;
    for (char *line = out, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1, ++lines) {
        *nl = '\0';
        assert_true(lines < n);
        uint64_t id;
        unsigned long version;
        dump_fields(line, &id, &version);
        assert_int_equal(id, recs[lines].id);
        assert_int_equal(version, recs[lines].version);
    }
    assert_int_equal(lines, n);
    free(out);
    free(err);
    free(recs);

    orderd_replay_report_t rep;
    orderd_store_t *back = replay_dir(dir, &rep);
    assert_int_equal(rep.records, n);
    assert_same_orders(back, st);
    orderd_store_free(back);
    orderd_store_free(st);
    free(args);
    pthread_mutex_destroy(&sink.mu);
    rmdir_tmp(dir);
}

/* ------------------------------------------------------------------ */
/* 3. a repeated cancel waits on a barrier and writes nothing           */
/* ------------------------------------------------------------------ */

static void test_repeated_cancel_is_a_barrier(void **state)
{
    test_arena_t *ar = *state;
    orderd_alloc_t a = test_alloc(state);
    char dir[PATH_MAX];
    tmpdir(dir, sizeof(dir), "wal-noop");
    sink_t sink;
    sink_init(&sink);
    orderd_store_t *st;
    orderd_wal_t *wal = open_wal(dir, &st, &sink, ORDERD_FSYNC_ALWAYS);

    waiter_t w[6];
    memset(w, 0, sizeof(w));
    orderd_order_t *o = make_order("quinn", T0_MS, 1), *out = NULL;
    assert_int_equal(orderd_store_create(st, o, NULL, NULL, NULL, NULL, &w[0]), ORDERD_STORE_OK);
    uint64_t id = o->id;
    free(o);
    /* cancel, and at once cancel again: the repeat is OK but must not be told before the first */
    assert_int_equal(
        orderd_store_set_status(st, S("quinn"), id, ORDERD_STATUS_CANCELLED, T0_MS + 1, NULL, NULL, &a, &out, &w[1]),
        ORDERD_STORE_OK);
    assert_int_equal(out->status, ORDERD_STATUS_CANCELLED);
    assert_int_equal(
        orderd_store_set_status(st, S("quinn"), id, ORDERD_STATUS_CANCELLED, T0_MS + 2, NULL, NULL, &a, &out, &w[2]),
        ORDERD_STORE_OK);
    assert_int_equal(out->status, ORDERD_STATUS_CANCELLED);
    assert_int_equal(out->version, 2);
    wait_calls(&sink, 3);
    for (int i = 0; i < 3; ++i) {
        assert_int_equal(atomic_load(&w[i].calls), 1);
        assert_int_equal(atomic_load(&w[i].durable), 1);
    }
    assert_true(atomic_load(&w[0].stamp) < atomic_load(&w[1].stamp));
    assert_true(atomic_load(&w[1].stamp) < atomic_load(&w[2].stamp));

    /* later repeats, once everything is durable: told, and nothing written */
    orderd_wal_stats_t before, after;
    stats_when(wal, 2, &before);
    for (int i = 3; i < 5; ++i) {
        assert_int_equal(orderd_store_set_status(st, S("quinn"), id, ORDERD_STATUS_CANCELLED, T0_MS + 10 + i, NULL,
                                                 NULL, &a, &out, &w[i]),
                         ORDERD_STORE_OK);
        wait_waiter(&w[i]);
        assert_int_equal(atomic_load(&w[i].durable), 1);
    }
    /* a conflict takes no waiter */
    assert_int_equal(
        orderd_store_set_status(st, OPERATOR, id, ORDERD_STATUS_PROCESSING, T0_MS + 20, NULL, NULL, &a, &out, &w[5]),
        ORDERD_STORE_ECONFLICT);
    assert_int_equal(out->status, ORDERD_STATUS_CANCELLED);
    orderd_wal_stats(wal, &after);
    assert_int_equal(after.records, 2);
    assert_int_equal(after.last_seq, 2);
    close_wal(wal, &sink);
    assert_int_equal(atomic_load(&w[5].calls), 0);
    assert_int_equal(atomic_load(&sink.calls), 5);

    /* the journal holds the create and one cancel; the order is as the table has it */
    size_t n;
    rec_info_t *recs = scan_segment(dir, &n);
    assert_int_equal(n, 2);
    assert_int_equal(recs[0].type, ORDERD_REC_ORDER_CREATED);
    assert_int_equal(recs[1].type, ORDERD_REC_STATUS_CHANGED);
    assert_int_equal(recs[1].version, 2);
    assert_true(recs[1].at == T0_MS + 1);
    free(recs);
    orderd_replay_report_t rep;
    orderd_store_t *back = replay_dir(dir, &rep);
    assert_same_orders(back, st);
    orderd_store_free(back);
    orderd_store_free(st);
    pthread_mutex_destroy(&sink.mu);
    rmdir_tmp(dir);
    (void)ar;
}

/* ------------------------------------------------------------------ */
/* 4. fsync modes; close flushes                                        */
/* ------------------------------------------------------------------ */

typedef struct mode_arg {
    orderd_store_t *store;
    int t;
    waiter_t waiters[2 * 150];
    int used;
    int errors;
} mode_arg_t;

static void *mode_main(void *p)
{
    mode_arg_t *a = p;
    test_arena_t ar = {0};
    orderd_alloc_t al = test_arena_allocator(&ar);
    char me[16];
    snprintf(me, sizeof(me), "m%d", a->t);
    for (int i = 0; i < 150; ++i) {
        orderd_order_t *o = make_order(me, T0_MS + i, (unsigned)i), *out;
        if (orderd_store_create(a->store, o, NULL, NULL, NULL, NULL, &a->waiters[a->used++]) != ORDERD_STORE_OK)
            ++a->errors;
        if (i % 3 == 0 && orderd_store_set_status(a->store, S(me), o->id, ORDERD_STATUS_CANCELLED, T0_MS + i, NULL,
                                                  NULL, &al, &out, &a->waiters[a->used++]) != ORDERD_STORE_OK)
            ++a->errors;
        free(o);
    }
    test_arena_reset(&ar);
    return NULL;
}

static void run_mode(orderd_fsync_mode_t mode)
{
    char dir[PATH_MAX];
    tmpdir(dir, sizeof(dir), "wal-mode");
    sink_t sink;
    sink_init(&sink);
    orderd_store_t *st;
    orderd_wal_t *wal = open_wal(dir, &st, &sink, mode);
    mode_arg_t *args = calloc(2, sizeof(*args));
    pthread_t th[2];
    for (int t = 0; t < 2; ++t) {
        args[t].store = st;
        args[t].t = t;
        assert_int_equal(pthread_create(&th[t], NULL, mode_main, &args[t]), 0);
    }
    long expect = 0;
    for (int t = 0; t < 2; ++t) {
        pthread_join(th[t], NULL);
        assert_int_equal(args[t].errors, 0);
        expect += args[t].used;
    }
    assert_int_equal(expect, 2 * 200);
    wait_calls(&sink, expect);
    assert_int_equal(atomic_load(&sink.durable), expect);
    orderd_wal_stats_t stats;
    stats_when(wal, (uint64_t)expect, &stats);
    pthread_mutex_lock(&sink.mu);
    assert_true(sink.first_seen);
    orderd_wal_stats_t first = sink.at_first;
    pthread_mutex_unlock(&sink.mu);
    if (mode == ORDERD_FSYNC_NO) {
        assert_int_equal(stats.syncs, 0); /* left to the OS */
    } else {
        /* acknowledged after write(), before any fdatasync (the first batch came
         * well within a second of opening) ... */
        assert_int_equal(first.syncs, 0);
        /* ... and synced within about a second */
        int64_t until = test_mono_ms() + 3000;
        while (stats.syncs == 0 && test_mono_ms() < until) {
            test_sleep_us(10000);
            orderd_wal_stats(wal, &stats);
        }
        assert_true(stats.syncs >= 1);
    }
    close_wal(wal, &sink);
    for (int t = 0; t < 2; ++t)
        for (int i = 0; i < args[t].used; ++i) {
            assert_int_equal(atomic_load(&args[t].waiters[i].calls), 1);
            assert_int_equal(atomic_load(&args[t].waiters[i].durable), 1);
        }
    orderd_replay_report_t rep;
    orderd_store_t *back = replay_dir(dir, &rep);
    assert_int_equal(rep.records, expect);
    assert_int_equal(rep.orders, 300);
    assert_same_orders(back, st);
    orderd_store_free(back);
    orderd_store_free(st);
    free(args);
    pthread_mutex_destroy(&sink.mu);
    rmdir_tmp(dir);
}

/* Every fdatasync of the library goes through here: the calls made on the
 * thread named in `sync_watch` are counted apart. */
static pthread_t sync_watch;
static atomic_int sync_watching, syncs_on_watched, syncs_elsewhere;

int fdatasync(int fd)
{
    static int (*real)(int);
    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "fdatasync");
    if (atomic_load(&sync_watching))
        atomic_fetch_add(pthread_equal(pthread_self(), sync_watch) ? &syncs_on_watched : &syncs_elsewhere, 1);
    return real(fd);
}

/* With --fsync everysec a worker that commits at the end of its loop
 * iteration (orderd_wal_flush) never runs the once-a-second fdatasync
 * itself: that is the writer thread's, outside the commit role, so the
 * worker's requests are not held up for the length of a sync. */
static void test_everysec_sync_stays_off_the_committer(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tmpdir(dir, sizeof(dir), "wal-everysec");
    sink_t sink;
    sink_init(&sink);
    orderd_store_t *st;
    orderd_wal_t *wal = open_wal(dir, &st, &sink, ORDERD_FSYNC_EVERYSEC);
    sync_watch = pthread_self();
    atomic_store(&syncs_on_watched, 0);
    atomic_store(&syncs_elsewhere, 0);
    atomic_store(&sync_watching, 1);
    enum { MAX = 200000 };
    waiter_t *w = calloc(MAX, sizeof(*w));
    int64_t until = test_mono_ms() + 2600;
    int n = 0;
    /* a busy worker: a change and a commit, over and over */
    while (test_mono_ms() < until && n < MAX) {
        char user[16];
        snprintf(user, sizeof(user), "c%d", n % 64);
        orderd_order_t *o = make_order(user, T0_MS + n, (unsigned)n);
        assert_int_equal(orderd_store_create(st, o, NULL, NULL, NULL, NULL, &w[n++]), ORDERD_STORE_OK);
        free(o);
        orderd_wal_flush(wal); /* as a worker does at the end of its loop iteration */
        test_sleep_us(200);         /* and then waits for its sockets */
    }
    wait_calls(&sink, n);
    atomic_store(&sync_watching, 0);
    assert_int_equal(atomic_load(&syncs_on_watched), 0);
    assert_true(atomic_load(&syncs_elsewhere) >= 2); /* about once a second */
    close_wal(wal, &sink);
    orderd_replay_report_t rep;
    orderd_store_t *back = replay_dir(dir, &rep);
    assert_int_equal(rep.records, (uint64_t)n);
    orderd_store_free(back);
    orderd_store_free(st);
    free(w);
    pthread_mutex_destroy(&sink.mu);
    rmdir_tmp(dir);
}

static void test_fsync_everysec(void **state)
{
    (void)state;
    run_mode(ORDERD_FSYNC_EVERYSEC);
}

static void test_fsync_no(void **state)
{
    (void)state;
    run_mode(ORDERD_FSYNC_NO);
}

static void test_fsync_mode_parse(void **state)
{
    (void)state;
    orderd_fsync_mode_t m = (orderd_fsync_mode_t)-1;
    assert_int_equal(orderd_fsync_mode_parse("always", &m), 0);
    assert_int_equal(m, ORDERD_FSYNC_ALWAYS);
    assert_int_equal(orderd_fsync_mode_parse("everysec", &m), 0);
    assert_int_equal(m, ORDERD_FSYNC_EVERYSEC);
    assert_int_equal(orderd_fsync_mode_parse("no", &m), 0);
    assert_int_equal(m, ORDERD_FSYNC_NO);
    assert_int_equal(orderd_fsync_mode_parse("sometimes", &m), -1);
    assert_int_equal(orderd_fsync_mode_parse("", &m), -1);
    assert_int_equal(orderd_fsync_mode_parse("Always", &m), -1);
    assert_int_equal(m, ORDERD_FSYNC_NO);
}

/* Close with changes still queued: they are written and their waiters told. */
static void test_close_flushes_the_queue(void **state)
{
    (void)state;
    for (int mode = ORDERD_FSYNC_ALWAYS; mode <= ORDERD_FSYNC_NO; ++mode) {
        char dir[PATH_MAX];
        tmpdir(dir, sizeof(dir), "wal-close");
        sink_t sink;
        sink_init(&sink);
        orderd_store_t *st;
        orderd_wal_t *wal = open_wal(dir, &st, &sink, (orderd_fsync_mode_t)mode);
        static waiter_t w[300];
        memset(w, 0, sizeof(w));
        for (int i = 0; i < 300; ++i) {
            char user[16];
            snprintf(user, sizeof(user), "c%d", i % 17);
            orderd_order_t *o = make_order(user, T0_MS + i, (unsigned)i);
            assert_int_equal(orderd_store_create(st, o, NULL, NULL, NULL, NULL, &w[i]), ORDERD_STORE_OK);
            free(o);
        }
        close_wal(wal, &sink);
        for (int i = 0; i < 300; ++i) {
            assert_int_equal(atomic_load(&w[i].calls), 1);
            assert_int_equal(atomic_load(&w[i].durable), 1);
        }
        orderd_replay_report_t rep;
        orderd_store_t *back = replay_dir(dir, &rep);
        assert_int_equal(rep.records, 300);
        assert_same_orders(back, st);
        orderd_store_free(back);
        orderd_store_free(st);
        pthread_mutex_destroy(&sink.mu);
        rmdir_tmp(dir);
    }
}

/* While it runs, the writer keeps zeros written ahead of its records (when
 * the file system has room). A crash then leaves them in the segment: replay
 * reads them as the end, and the next writer continues right after the last
 * record. A clean stop cuts them off. */
static void test_zeros_ahead_survive_a_crash(void **state)
{
    (void)state;
    char dir[PATH_MAX], crash[PATH_MAX], seg[PATH_MAX], crashseg[PATH_MAX];
    tmpdir(dir, sizeof(dir), "wal-zeros");
    tmpdir(crash, sizeof(crash), "wal-zeros-crash");
    struct statvfs fs;
    assert_int_equal(statvfs(dir, &fs), 0);
    if ((unsigned long long)fs.f_bavail * fs.f_frsize < (256ull << 20))
        skip(); /* orderd writes no zeros ahead on a nearly full file system */
    assert_true((size_t)snprintf(seg, sizeof(seg), "%s/journal-0000000000000001.wal", dir) < sizeof(seg));
    assert_true((size_t)snprintf(crashseg, sizeof(crashseg), "%s/journal-0000000000000001.wal", crash) <
                sizeof(crashseg));

    sink_t sink;
    sink_init(&sink);
    orderd_store_t *st;
    orderd_wal_t *wal = open_wal(dir, &st, &sink, ORDERD_FSYNC_ALWAYS);
    static waiter_t w[200];
    memset(w, 0, sizeof(w));
    for (int i = 0; i < 200; ++i) {
        char user[16];
        snprintf(user, sizeof(user), "z%d", i % 7);
        orderd_order_t *o = make_order(user, T0_MS + i, (unsigned)i);
        assert_int_equal(orderd_store_create(st, o, NULL, NULL, NULL, NULL, &w[i]), ORDERD_STORE_OK);
        free(o);
    }
    wait_calls(&sink, 200);
    int64_t until = test_mono_ms() + 5000;
    while (test_file_size(seg) < (1 << 17) && test_mono_ms() < until)
        test_sleep_us(1000);
    long long running = test_file_size(seg);
    if (running < (1 << 17))
        fail_msg("no zeros written ahead: the segment is %lld bytes", running);
    test_copy_dir(dir, crash); /* what a kill -9 leaves */
    close_wal(wal, &sink);

    orderd_replay_report_t rep, crep;
    orderd_store_t *back = replay_dir(dir, &rep);
    assert_int_equal(rep.records, 200);
    assert_int_equal(test_file_size(seg), (long long)rep.segment_end); /* the clean stop cut the zeros */
    orderd_store_t *cback = replay_dir(crash, &crep); /* no torn tail: replay_dir checks */
    assert_int_equal(crep.records, 200);
    assert_int_equal(crep.segment_end, rep.segment_end);
    assert_int_equal(crep.bytes, rep.bytes);
    assert_true(test_file_size(crashseg) > (long long)crep.segment_end);
    assert_same_orders(cback, back);
    orderd_store_free(cback);

    /* the next writer on the crashed directory appends right after the records */
    sink_t sink2;
    sink_init(&sink2);
    orderd_store_t *st2;
    orderd_wal_t *wal2 = open_wal(crash, &st2, &sink2, ORDERD_FSYNC_ALWAYS);
    static waiter_t w2[20];
    memset(w2, 0, sizeof(w2));
    for (int i = 0; i < 20; ++i) {
        orderd_order_t *o = make_order("after-crash", T0_MS + 1000 + i, (unsigned)i);
        assert_int_equal(orderd_store_create(st2, o, NULL, NULL, NULL, NULL, &w2[i]), ORDERD_STORE_OK);
        free(o);
    }
    wait_calls(&sink2, 20);
    close_wal(wal2, &sink2);
    size_t n;
    rec_info_t *recs = scan_segment(crash, &n); /* consecutive records to the end of the file */
    assert_int_equal(n, 220);
    free(recs);
    orderd_store_t *again = replay_dir(crash, &crep);
    assert_int_equal(crep.records, 220);
    assert_same_orders(again, st2);

    orderd_store_free(again);
    orderd_store_free(st2);
    orderd_store_free(back);
    orderd_store_free(st);
    pthread_mutex_destroy(&sink.mu);
    pthread_mutex_destroy(&sink2.mu);
    rmdir_tmp(crash);
    rmdir_tmp(dir);
}

/* pwritev of the library goes through here; the next one fails with EIO
 * when asked. */
static atomic_int fail_next_pwritev;

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    static ssize_t (*real)(int, const struct iovec *, int, off_t);
    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "pwritev");
    if (atomic_exchange(&fail_next_pwritev, 0)) {
        errno = EIO;
        return -1;
    }
    return real(fd, iov, cnt, off);
}

static int segments_in(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL)
        n += strncmp(e->d_name, "journal-", 8) == 0;
    if (d != NULL)
        closedir(d);
    return n;
}

/* A snapshot asked for just before a write fails must be abandoned, even when
 * its thread only gets to run while the failed batch is being undone: its
 * copy may hold a change that was answered 503. The pauses put the steps in
 * that order: the snapshot thread starts 150 ms late, and the undo waits
 * 400 ms after the failure is counted. (Fails when the snapshot thread reads
 * the failure count itself: a cancel answered 503 comes back after restart.) */
static void test_snapshot_after_a_failed_write_is_abandoned(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tmpdir(dir, sizeof(dir), "wal-snapfail");
    setenv("ORDERD_FAULT_PAUSE", "snapshot:start:150,write-failure:before-undo:400", 1);
    sink_t sink;
    sink_init(&sink);
    orderd_store_t *st = orderd_store_new(NSHARDS);
    orderd_replay_report_t rep0;
    assert_int_equal(orderd_journal_replay(dir, st, &rep0), 0);
    orderd_wal_config_t cfg = {.dir = dir, .fsync = ORDERD_FSYNC_ALWAYS, .snapshot_bytes = 4096,
                               .notify = on_notify, .notify_ctx = &sink};
    char err[256] = "";
    orderd_wal_t *wal = orderd_wal_open(&cfg, st, &rep0, err, sizeof(err));
    if (wal == NULL)
        fail_msg("orderd_wal_open: %s", err);

    /* one order to cancel, then creates one at a time until the segment switches */
    static waiter_t w[200];
    memset(w, 0, sizeof(w));
    orderd_order_t *target = make_order("victim", T0_MS, 1);
    uint64_t target_id;
    assert_int_equal(orderd_store_create(st, target, NULL, NULL, NULL, NULL, &w[0]), ORDERD_STORE_OK);
    target_id = target->id;
    free(target);
    wait_calls(&sink, 1);
    int n = 1;
    while (segments_in(dir) < 2 && n < 200) {
        orderd_order_t *o = make_order("filler", T0_MS + n, (unsigned)n);
        assert_int_equal(orderd_store_create(st, o, NULL, NULL, NULL, NULL, &w[n]), ORDERD_STORE_OK);
        free(o);
        wait_calls(&sink, ++n);
    }
    assert_int_equal(segments_in(dir), 2); /* a snapshot was asked for: its thread waits 150 ms */

    /* the cancel's write fails: undone, its waiter told "not durable" */
    atomic_store(&fail_next_pwritev, 1);
    test_arena_t ar = {0};
    orderd_alloc_t a = test_arena_allocator(&ar);
    orderd_order_t *out = NULL;
    assert_int_equal(orderd_store_set_status(st, S("victim"), target_id, ORDERD_STATUS_CANCELLED, T0_MS + 500, NULL,
                                             NULL, &a, &out, &w[n]),
                     ORDERD_STORE_OK);
    wait_calls(&sink, n + 1);
    assert_int_equal(atomic_load(&w[n].durable), 0);
    test_sleep_us(800000); /* the snapshot thread has run its course */
    close_wal(wal, &sink);
    unsetenv("ORDERD_FAULT_PAUSE");

    orderd_replay_report_t rep;
    orderd_store_t *back = orderd_store_new(NSHARDS);
    if (orderd_journal_replay(dir, back, &rep) != 0)
        fail_msg("replay: %s", rep.error);
    orderd_order_t *got = NULL;
    assert_int_equal(orderd_store_get(back, S("victim"), target_id, &a, &got), ORDERD_STORE_OK);
    if (got->status != ORDERD_STATUS_PENDING || got->version != 1)
        fail_msg("the cancel answered 503 came back: status %s, version %u",
                 orderd_status_name((orderd_status_t)got->status), (unsigned)got->version);
    test_arena_reset(&ar);
    orderd_store_free(back);
    orderd_store_free(st);
    pthread_mutex_destroy(&sink.mu);
    rmdir_tmp(dir);
}

/* ------------------------------------------------------------------ */
/* 5. orderd_store_undo                                                 */
/* ------------------------------------------------------------------ */

static void expect_statuses(orderd_store_t *st, const orderd_alloc_t *a, const char *user, size_t per_status[ORDERD_STATUS_COUNT])
{
    for (int k = 0; k < ORDERD_STATUS_COUNT; ++k) {
        orderd_store_page_t page;
        assert_int_equal(orderd_store_list(st, S(user),
                                           &(orderd_page_req_t){.offset = 0, .limit = 100, .status_mask = 1u << k}, a,
                                           &page),
                         ORDERD_STORE_OK);
        if (page.total != per_status[k])
            fail_msg("%s: %zu orders %s, want %zu", user, page.total, orderd_status_name((orderd_status_t)k),
                     per_status[k]);
        for (size_t i = 0; i < page.n; ++i)
            assert_int_equal(page.orders[i]->status, k);
    }
}

static void test_store_undo(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_store_t *st = orderd_store_new(NSHARDS);
    /* the table before: two orders of rose, one processing */
    uint64_t ids[2];
    for (int i = 0; i < 2; ++i) {
        orderd_order_t *o = make_order("rose", T0_MS + i, (unsigned)i);
        assert_int_equal(orderd_store_create(st, o, NULL, NULL, NULL, NULL, NULL), ORDERD_STORE_OK);
        ids[i] = o->id;
        free(o);
    }
    orderd_order_t *out;
    assert_int_equal(
        orderd_store_set_status(st, OPERATOR, ids[1], ORDERD_STATUS_PROCESSING, T0_MS + 5, NULL, NULL, &a, &out, NULL),
        ORDERD_STORE_OK);
    order_list_t before;
    collect(st, &before);
    assert_int_equal(before.n, 2);
    size_t counts_before[ORDERD_STATUS_COUNT] = {1, 1, 0, 0, 0};
    expect_statuses(st, &a, "rose", counts_before);

    /* apply: a create (same user), a change of an old order, a change of the new one */
    orderd_order_t *fresh = make_order("rose", T0_MS + 50, 9);
    fresh->id = orderd_store_next_id(st, S("rose"));
    orderd_change_t created = {.type = ORDERD_CHANGE_CREATED, .u.created.order = fresh};
    assert_int_equal(orderd_store_apply(st, &created), ORDERD_STORE_OK);
    orderd_change_t cancel_old = {.type = ORDERD_CHANGE_STATUS,
                                 .u.status_changed = {.order_id = ids[0],
                                                      .status = ORDERD_STATUS_CANCELLED,
                                                      .prev_status = ORDERD_STATUS_PENDING,
                                                      .actor = ORDERD_ACTOR_USER,
                                                      .version = 2,
                                                      .at_ms = T0_MS + 60,
                                                      .prev_updated_ms = T0_MS}};
    assert_int_equal(orderd_store_apply(st, &cancel_old), ORDERD_STORE_OK);
    orderd_change_t advance_new = {.type = ORDERD_CHANGE_STATUS,
                                  .u.status_changed = {.order_id = fresh->id,
                                                       .status = ORDERD_STATUS_PROCESSING,
                                                       .prev_status = ORDERD_STATUS_PENDING,
                                                       .actor = ORDERD_ACTOR_OPERATOR,
                                                       .version = 2,
                                                       .at_ms = T0_MS + 70,
                                                       .prev_updated_ms = T0_MS + 50}};
    assert_int_equal(orderd_store_apply(st, &advance_new), ORDERD_STORE_OK);
    assert_int_equal(orderd_store_count(st), 3);
    size_t counts_mid[ORDERD_STATUS_COUNT] = {0, 2, 0, 0, 1};
    expect_statuses(st, &a, "rose", counts_mid);

    /* an event whose effect the table does not hold is refused, and changes nothing */
    orderd_change_t undo_wrong = cancel_old;
    undo_wrong.u.status_changed.version = 3; /* the table's version is 2: not this event's effect */
    assert_int_equal(orderd_store_undo(st, &undo_wrong), ORDERD_STORE_EINVAL);
    assert_int_equal(orderd_store_count(st), 3);

    /* newest first */
    assert_int_equal(orderd_store_undo(st, &advance_new), ORDERD_STORE_OK);
    assert_int_equal(orderd_store_get(st, S("rose"), fresh->id, &a, &out), ORDERD_STORE_OK);
    assert_int_equal(out->status, ORDERD_STATUS_PENDING);
    assert_int_equal(out->version, 1);
    assert_true(out->updated_ms == T0_MS + 50);
    assert_int_equal(orderd_store_undo(st, &cancel_old), ORDERD_STORE_OK);
    assert_int_equal(orderd_store_undo(st, &created), ORDERD_STORE_OK);

    /* the table is as before, byte for byte, and so is its status index */
    order_list_t after;
    collect(st, &after);
    assert_int_equal(after.n, before.n);
    assert_int_equal(orderd_store_count(st), 2);
    for (size_t i = 0; i < after.n; ++i) {
        assert_int_equal(after.v[i]->id, before.v[i]->id);
        assert_int_equal(after.v[i]->status, before.v[i]->status);
        assert_int_equal(after.v[i]->version, before.v[i]->version);
        assert_true(after.v[i]->updated_ms == before.v[i]->updated_ms);
        assert_memory_equal(after.v[i], before.v[i], before.v[i]->size);
    }
    expect_statuses(st, &a, "rose", counts_before);
    orderd_store_page_t page;
    assert_int_equal(
        orderd_store_list(st, S("rose"), &(orderd_page_req_t){.offset = 0, .limit = 10, .status_mask = 0}, &a, &page),
        ORDERD_STORE_OK);
    assert_int_equal(page.total, 2);
    assert_int_equal(page.orders[0]->id, ids[1]);
    assert_int_equal(page.orders[1]->id, ids[0]);
    assert_int_equal(orderd_store_get(st, S("rose"), fresh->id, &a, &out), ORDERD_STORE_ENOTFOUND);

    /* undoing again: the table no longer holds those effects */
    assert_int_equal(orderd_store_undo(st, &created), ORDERD_STORE_EINVAL);
    assert_int_equal(orderd_store_undo(st, &cancel_old), ORDERD_STORE_EINVAL);
    assert_int_equal(orderd_store_count(st), 2);

    /* the undone id is never handed out again */
    assert_true(orderd_store_next_id(st, S("rose")) > fresh->id);

    list_free(&before);
    list_free(&after);
    free(fresh);
    orderd_store_free(st);
}

static int arena_and_dirs_teardown(void **state)
{
    remove_dirs(state);
    return test_arena_teardown(state);
}

#define TEST_ARENA_DIRS(fn) cmocka_unit_test_setup_teardown(fn, test_arena_setup, arena_and_dirs_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST_DIRS(test_group_commit_concurrent_creates),
        TEST_DIRS(test_records_of_an_order_in_order),
        TEST_ARENA_DIRS(test_repeated_cancel_is_a_barrier),
        TEST_DIRS(test_fsync_everysec),
        TEST_DIRS(test_everysec_sync_stays_off_the_committer),
        TEST_DIRS(test_fsync_no),
        TEST_DIRS(test_fsync_mode_parse),
        TEST_DIRS(test_close_flushes_the_queue),
        TEST_DIRS(test_zeros_ahead_survive_a_crash),
        TEST_DIRS(test_snapshot_after_a_failed_write_is_abandoned),
        TEST_ARENA_DIRS(test_store_undo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
