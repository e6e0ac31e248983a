/* Unit tests for snapshots (src/snapshot.c) through the real writer: a
 * snapshot plus the segments after it replays to the same table as the whole
 * journal, covered segments go, a damaged newest snapshot falls back to the
 * older one, and idempotency keys and the audit trail survive both. (A
 * snapshot racing a failed write: wal_test.c.) */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "../src/internal/files.h"
#include "orderd/journal.h"
#include "orderd/order.h"
#include "orderd/store.h"
#include "orderd/wal.h"
#include "journal_fixture.h"

/* ------------------------------------------------------------------ */
/* 1. snapshot plus segments; a damaged snapshot                        */
/* ------------------------------------------------------------------ */

/* Makes the store's next ids seq+1, seq+2, ...: an order with id seq is
 * applied and undone (ids are never reused, so the counter stays there).
 * Two stores seeded alike hand out the same ids to the same creates. */
static void seed_ids(orderd_store_t *st, uint64_t seq)
{
    orderd_order_t *o = make_order("seed", T0_MS, 0);
    o->id = (seq << ORDERD_ID_SHARD_BITS) | (orderd_store_next_id(st, S("seed")) & (ORDERD_STORE_MAX_SHARDS - 1));
    orderd_change_t ev = {.type = ORDERD_CHANGE_CREATED, .u.created.order = o};
    assert_int_equal(orderd_store_apply(st, &ev), ORDERD_STORE_OK);
    assert_int_equal(orderd_store_undo(st, &ev), ORDERD_STORE_OK);
    assert_int_equal(orderd_store_count(st), 0);
    free(o);
}

static size_t list_files(const char *dir, const char *prefix, const char *suffix, uint64_t **nums)
{
    size_t n = 0;
    assert_int_equal(orderd_list_numbered(dir, prefix, suffix, nums, &n), 0);
    return n;
}

static int dir_has_suffix(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    size_t sl = strlen(suffix);
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        found |= l >= sl && strcmp(e->d_name + l - sl, suffix) == 0;
    }
    closedir(d);
    return found;
}

/* Flips bits `mask` of the middle byte of snapshot `seq` in `dir`; `path`
 * gets its path, *len its length. Returns the bytes now in the file (the
 * caller frees them). */
static unsigned char *damage_snapshot(const char *dir, uint64_t seq, unsigned char mask, char *path, size_t cap,
                                      size_t *len)
{
    char name[64];
    orderd_journal_snapshot_name(name, sizeof(name), seq);
    snprintf(path, cap, "%s/%s", dir, name);
    unsigned char *bytes = test_read_file(path, len);
    assert_non_null(bytes);
    bytes[*len / 2] ^= mask;
    test_write_file(path, bytes, *len);
    return bytes;
}

static void wait_snapshots(writer_t *w, uint64_t want)
{
    orderd_wal_stats_t st;
    int64_t until = test_mono_ms() + 10000;
    for (;;) {
        orderd_wal_stats(w->wal, &st);
        if (st.snapshots >= want)
            return;
        if (test_mono_ms() > until)
            fail_msg("%" PRIu64 " snapshots after 10 s, want %" PRIu64, st.snapshots, want);
        test_sleep_us(2000);
    }
}

static void test_snapshot_plus_segments_equals_full_replay(void **state)
{
    (void)state;
    char da[PATH_MAX], db[PATH_MAX];
    tmpdir(da, sizeof(da), "snap-a");
    tmpdir(db, sizeof(db), "snap-b");
    /* ids far ahead of the clock, the same in both stores */
    uint64_t seed = ((uint64_t)(orderd_now_ms() - 1735689600000LL) << 10) + (1ull << 36);

    orderd_replay_report_t rep;
    orderd_store_t *sa = replay_ok(da, &rep);
    seed_ids(sa, seed);
    writer_t a, b;
    writer_attach(&a, da, sa, &rep, ORDERD_FSYNC_ALWAYS, 4096);
    orderd_store_t *sb = replay_ok(db, &rep);
    seed_ids(sb, seed);
    writer_attach(&b, db, sb, &rep, ORDERD_FSYNC_ALWAYS, UINT64_MAX);

    uint64_t ids[400];
    char users[400][16];
    size_t n = 0, records = 0;
    test_rng_t r = {11};
    for (int i = 0; i < 420; ++i) {
        unsigned op = test_rng_below(&r, 10);
        if (n == 0 || op < 6 || n < 10) {
            if (n == 400)
                continue;
            snprintf(users[n], sizeof(users[n]), "user-%02u", test_rng_below(&r, 37));
            uint64_t ia = w_create(&a, users[n], (unsigned)i), ib = w_create(&b, users[n], (unsigned)i);
            if (ia != ib)
                fail_msg("create #%zu: ids %" PRIx64 " and %" PRIx64 " differ: the seeding no longer works", n, ia, ib);
            ids[n++] = ia;
            ++records;
        } else {
            size_t j = test_rng_below(&r, (unsigned)n);
            orderd_status_t to = op < 9 ? ORDERD_STATUS_CANCELLED : ORDERD_STATUS_PROCESSING;
            orderd_str_t who = op < 9 ? S(users[j]) : OPERATOR;
            size_t cancelled_before = count_status(a.store, ORDERD_STATUS_CANCELLED),
                   processing_before = count_status(a.store, ORDERD_STATUS_PROCESSING);
            int ra = w_status(&a, who, ids[j], to), rb = w_status(&b, who, ids[j], to);
            assert_int_equal(ra, rb);
            assert_true(ra == ORDERD_STORE_OK || ra == ORDERD_STORE_ECONFLICT);
            records += count_status(a.store, ORDERD_STATUS_CANCELLED) != cancelled_before ||
                       count_status(a.store, ORDERD_STATUS_PROCESSING) != processing_before;
        }
        if (i % 50 == 0) {
            w_wait(&a);
            w_wait(&b);
        }
    }
    w_wait(&a);
    w_wait(&b);
    wait_snapshots(&a, 1);
    orderd_wal_stats_t st_a, st_b;
    stats_when(a.wal, records, &st_a);
    stats_when(b.wal, records, &st_b);
    assert_int_equal(st_b.snapshots, 0);
    w_close(&a);
    w_close(&b);
    assert_same_orders(sa, sb);

    /* one snapshot left (an older one goes once a newer one is complete), no temp files */
    uint64_t *snaps, *segs;
    assert_int_equal(list_files(da, "snapshot-", ".snap", &snaps), 1);
    uint64_t snap_seq = snaps[0];
    free(snaps);
    assert_true(snap_seq > 0 && snap_seq <= records); /* == records: a snapshot right after the last batch */
    assert_false(dir_has_suffix(da, ".tmp"));
    /* the segments the snapshot covers are gone: every one left starts after it */
    size_t nseg = list_files(da, "journal-", ".wal", &segs);
    assert_true(nseg >= 1);
    for (size_t i = 0; i < nseg; ++i)
        if (segs[i] <= snap_seq)
            fail_msg("segment %" PRIu64 " is still there after snapshot %" PRIu64, segs[i], snap_seq);
    assert_int_equal(segs[0], snap_seq + 1);
    free(segs);
    char first[PATH_MAX];
    segment_path(first, sizeof(first), da, 1);
    assert_int_equal(test_file_size(first), -1);
    /* the unsnapshotted directory has every record in its one segment */
    assert_int_equal(list_files(db, "journal-", ".wal", &segs), 1);
    free(segs);
    assert_int_equal(list_files(db, "snapshot-", ".snap", &snaps), 0);
    free(snaps);

    orderd_replay_report_t ra, rb;
    orderd_store_t *xa = replay_ok(da, &ra), *xb = replay_ok(db, &rb);
    assert_int_equal(ra.snapshot_seq, snap_seq);
    assert_int_equal(rb.snapshot_seq, 0);
    assert_int_equal(ra.last_seq, records);
    assert_int_equal(rb.last_seq, records);
    assert_int_equal(rb.records, records);
    assert_true(ra.records <= records - snap_seq);
    assert_int_equal(ra.orders, n);
    assert_int_equal(rb.orders, n);
    assert_same_orders(xa, xb);
    assert_same_orders(xa, sa);

    /* A damaged newest snapshot. Here it is the only one and the segments
     * before it are gone, so no replay can hold every change: whether
     * load_snapshot gives up on it or skips it (and then finds record 1
     * missing), start-up must refuse, loudly, naming the directory's files,
     * and change nothing on disk. (With an older snapshot to fall back on,
     * see test_damaged_newest_snapshot_falls_back.) */
    char dc[PATH_MAX], snap_path[PATH_MAX + 80];
    tmpdir(dc, sizeof(dc), "snap-bad");
    test_copy_dir(da, dc);
    size_t slen;
    unsigned char *sbytes = damage_snapshot(dc, snap_seq, 0x10, snap_path, sizeof(snap_path), &slen);
    assert_true(slen > 1000);
    orderd_store_t *xc = orderd_store_new(NSHARDS);
    orderd_replay_report_t rc;
    assert_int_equal(quiet_replay(dc, xc, &rc), -1);
    assert_true(rc.error[0] != '\0');
    assert_non_null(strstr(rc.error, dc));
    /* nothing was deleted or changed on the way */
    size_t now_len;
    unsigned char *now = test_read_file(snap_path, &now_len);
    assert_int_equal(now_len, slen);
    assert_memory_equal(now, sbytes, slen);
    free(now);
    assert_int_equal(list_files(dc, "journal-", ".wal", &segs), nseg);
    free(segs);
    free(sbytes);
    orderd_store_free(xc);

    orderd_store_free(xa);
    orderd_store_free(xb);
    orderd_store_free(sa);
    orderd_store_free(sb);
    rmdir_tmp(da);
    rmdir_tmp(db);
    rmdir_tmp(dc);
}

static void noop_notify(void *ctx, void *waiter, int durable)
{
    (void)ctx;
    (void)waiter;
    (void)durable;
}

/* The child of the fallback test: continue the journal in `dir` until the
 * snapshot fault point ends the process right after the new snapshot's
 * rename, before the older snapshot and segments are removed. */
static void __attribute__((noreturn)) crash_after_rename(const char *dir)
{
    setenv("ORDERD_FAULT_POINT", "snapshot:after-rename", 1);
    orderd_store_t *st = orderd_store_new(NSHARDS);
    orderd_replay_report_t rep;
    if (st == NULL || orderd_journal_replay(dir, st, &rep) != 0)
        _exit(2);
    orderd_wal_config_t cfg = {.dir = dir, .fsync = ORDERD_FSYNC_ALWAYS, .snapshot_bytes = 4096, .notify = noop_notify};
    char err[256];
    if (orderd_wal_open(&cfg, st, &rep, err, sizeof(err)) == NULL)
        _exit(3);
    for (unsigned i = 0; i < 20000; ++i) {
        orderd_order_t *o = make_order(i % 2 ? "kid-a" : "kid-b", T0_MS + i, i);
        if (orderd_store_create(st, o, NULL, NULL, NULL, NULL, &waiter_token) != ORDERD_STORE_OK)
            _exit(4);
        free(o);
        test_sleep_us(1000);
    }
    _exit(5);
}

static void test_damaged_newest_snapshot_falls_back(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tmpdir(dir, sizeof(dir), "snap-fallback");

    /* a first snapshot S1, and a segment after it */
    writer_t w;
    writer_start(&w, dir, 4096);
    for (unsigned i = 0; i < 300; ++i) {
        uint64_t id = w_create(&w, i % 3 ? "ann" : "ben", i);
        if (i % 4 == 3)
            assert_int_equal(w_status(&w, S(i % 3 ? "ann" : "ben"), id, ORDERD_STATUS_CANCELLED), ORDERD_STORE_OK);
        w_wait(&w);
        orderd_wal_stats_t st;
        orderd_wal_stats(w.wal, &st);
        if (st.snapshots >= 1)
            break;
    }
    wait_snapshots(&w, 1);
    w_close(&w);
    orderd_store_free(w.store);
    uint64_t *snaps;
    assert_int_equal(list_files(dir, "snapshot-", ".snap", &snaps), 1);
    uint64_t s1 = snaps[0];
    free(snaps);

    /* a second run dies right after renaming snapshot S2 into place */
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        crash_after_rename(dir);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 86); /* the fault point's exit status */
    assert_int_equal(list_files(dir, "snapshot-", ".snap", &snaps), 2);
    assert_int_equal(snaps[0], s1);
    uint64_t s2 = snaps[1];
    free(snaps);
    assert_true(s2 > s1);

    /* what the intact directory replays to (from S2) */
    char intact[PATH_MAX];
    tmpdir(intact, sizeof(intact), "snap-intact");
    test_copy_dir(dir, intact);
    orderd_replay_report_t rep;
    orderd_store_t *want = replay_ok(intact, &rep);
    assert_int_equal(rep.snapshot_seq, s2);
    assert_true(rep.orders > 0);
    uint64_t last = rep.last_seq;

    /* damage S2 in the middle: S1 and the segments after it still hold everything */
    char path[PATH_MAX + 80];
    size_t len;
    free(damage_snapshot(dir, s2, 0x04, path, sizeof(path), &len));
    assert_true(len > 2000);

    orderd_store_t *got = orderd_store_new(NSHARDS);
    if (quiet_replay(dir, got, &rep) != 0)
        fail_msg("replay with a damaged newest snapshot did not fall back to snapshot %" PRIu64 ": %s", s1, rep.error);
    assert_int_equal(rep.snapshot_seq, s1);
    assert_int_equal(rep.last_seq, last);
    assert_same_orders(got, want);

    orderd_store_free(got);
    orderd_store_free(want);
    rmdir_tmp(intact);
    rmdir_tmp(dir);
}

/* ------------------------------------------------------------------ */
/* 2. idempotency keys and the audit trail                              */
/* ------------------------------------------------------------------ */

/* Keys and the trail survive a replay of segments alone, and of a snapshot
 * that covers them (the older segments are gone then). */
static void test_keys_and_history_replayed(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tmpdir(dir, sizeof(dir), "idem");
    for (int with_snapshot = 0; with_snapshot < 2; with_snapshot++) {
        writer_t w;
        orderd_replay_report_t rep;
        orderd_store_t *st = replay_ok(dir, &rep);
        writer_attach(&w, dir, st, &rep, ORDERD_FSYNC_ALWAYS, with_snapshot ? 4096 : UINT64_MAX);
        test_arena_t ar = {0};
        orderd_alloc_t a = test_arena_allocator(&ar);
        orderd_idem_key_t key = {S(with_snapshot ? "key-s" : "key-j"), {1}};
        /* a key is stamped with its order's creation time: a real one, or replay drops it as expired */
        orderd_order_t *o = make_order("idem-user", orderd_now_ms(), 1), *out;
        int status;
        assert_int_equal(orderd_store_create(st, o, &key, &a, &out, &status, &waiter_token), ORDERD_STORE_OK);
        ++w.submitted;
        uint64_t id = o->id;
        free(o);
        assert_int_equal(w_status(&w, OPERATOR, id, ORDERD_STATUS_PROCESSING), ORDERD_STORE_OK);
        if (with_snapshot) {
            for (unsigned i = 0; i < 40; i++)
                w_create(&w, "filler", i);
            w_wait(&w);
            wait_snapshots(&w, 1);
        }
        w_close(&w);
        orderd_store_free(st);
        test_arena_reset(&ar);

        st = replay_ok(dir, &rep);
        if (with_snapshot)
            assert_true(rep.snapshot_seq > 0);
        orderd_audit_entry_t *ev;
        size_t n;
        assert_int_equal(orderd_store_audit_trail(st, S("idem-user"), id, &a, &out, &ev, &n), ORDERD_STORE_OK);
        assert_int_equal(n, 2);
        assert_true(ev[1].status == ORDERD_STATUS_PROCESSING && ev[1].actor == ORDERD_ACTOR_OPERATOR);
        o = make_order("idem-user", orderd_now_ms(), 1);
        assert_int_equal(orderd_store_create(st, o, &key, &a, &out, &status, NULL), ORDERD_STORE_REPLAYED);
        assert_int_equal(out->id, id);
        assert_int_equal(out->version, 1);
        free(o);
        if (!with_snapshot) { /* the tool dumps segments: the key is a record of its own there */
            captured_t c = {0};
            run_tool(&c, "dump", dir);
            assert_non_null(strstr(c.out, "\"event\":\"idempotency_key\""));
            assert_non_null(strstr(c.out, "\"key\":\"key-j\""));
            captured_free(&c);
        }
        test_arena_reset(&ar);
        orderd_store_free(st);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST_DIRS(test_snapshot_plus_segments_equals_full_replay),
        TEST_DIRS(test_damaged_newest_snapshot_falls_back),
        TEST_DIRS(test_keys_and_history_replayed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
