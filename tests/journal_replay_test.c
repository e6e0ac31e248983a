/* Unit tests for start-up replay and `orderd journal` (orderd/journal.h):
 * replay of journals written by the real writer, torn tails cut at every
 * byte, zeros written ahead, damage in the middle (refused, then repaired),
 * dump of a damaged journal, and idempotent replay. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>

#include "orderd/journal.h"
#include "orderd/order.h"
#include "orderd/store.h"
#include "orderd/wal.h"
#include "journal_fixture.h"

/* ------------------------------------------------------------------ */
/* 1. replay of a journal written by the real writer                    */
/* ------------------------------------------------------------------ */

static void test_replay_real_journal(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tmpdir(dir, sizeof(dir), "replay");
    writer_t w;
    writer_start(&w, dir, UINT64_MAX);

    static const char *const users[] = {"alice", "bob", "carol", "dave", "erin", "frank", "grace"};
    uint64_t ids[120];
    size_t records = 0;
    test_rng_t r = {3};
    for (unsigned i = 0; i < 120; ++i) {
        ids[i] = w_create(&w, users[i % 7], i);
        ++records;
        if (i % 5 == 4) {
            /* a customer cancel of an earlier order: applied, a repeat, or a conflict */
            unsigned j = test_rng_below(&r, i + 1);
            int before = (int)count_status(w.store, ORDERD_STATUS_CANCELLED);
            int rc = w_status(&w, S(users[j % 7]), ids[j], ORDERD_STATUS_CANCELLED);
            assert_true(rc == ORDERD_STORE_OK || rc == ORDERD_STORE_ECONFLICT);
            records += (int)count_status(w.store, ORDERD_STATUS_CANCELLED) != before;
        }
        if (i % 7 == 6) {
            /* the operator moves an earlier order one step */
            unsigned j = test_rng_below(&r, i + 1);
            for (orderd_status_t to = ORDERD_STATUS_PROCESSING; to <= ORDERD_STATUS_DELIVERED; ++to) {
                int rc = w_status(&w, OPERATOR, ids[j], to);
                assert_true(rc == ORDERD_STORE_OK || rc == ORDERD_STORE_ECONFLICT);
                if (rc == ORDERD_STORE_OK) {
                    ++records;
                    break;
                }
            }
        }
        /* another user's order is not found and writes nothing */
        if (i % 11 == 0)
            assert_int_equal(w_status(&w, S("mallory"), ids[i], ORDERD_STATUS_CANCELLED), ORDERD_STORE_ENOTFOUND);
    }
    orderd_wal_stats_t stats;
    w_wait(&w);
    stats_when(w.wal, records, &stats);
    assert_int_equal(stats.last_seq, records);
    w_close(&w);

    char seg[PATH_MAX];
    segment_path(seg, sizeof(seg), dir, 1);
    long long seg_len = test_file_size(seg);
    assert_true(seg_len > ORDERD_FILE_HEADER_SIZE);

    orderd_replay_report_t rep;
    orderd_store_t *back = replay_ok(dir, &rep);
    assert_int_equal(rep.records, records);
    assert_int_equal(rep.last_seq, records);
    assert_int_equal(rep.snapshot_seq, 0);
    assert_int_equal(rep.orders, 120);
    assert_int_equal(rep.torn_bytes, 0);
    assert_int_equal(rep.bytes, (uint64_t)seg_len);
    assert_string_equal(rep.segment, seg);
    assert_int_equal(rep.segment_end, (uint64_t)seg_len);
    assert_int_equal(rep.segment_bytes, (uint64_t)seg_len);
    assert_same_orders(back, w.store);
    assert_true(count_status(back, ORDERD_STATUS_CANCELLED) > 0);
    assert_true(count_status(back, ORDERD_STATUS_PROCESSING) + count_status(back, ORDERD_STATUS_SHIPPED) > 0);

    /* the segment holds exactly `records` records with seq 1.. */
    seg_t s;
    seg_load(&s, seg);
    assert_int_equal(s.n, records);
    assert_int_equal(s.offs[s.n], (size_t)seg_len);
    seg_free(&s);

    /* ids survive: a new id after the restart is past every replayed one */
    for (unsigned u = 0; u < 7; ++u) {
        uint64_t next = orderd_store_next_id(back, S(users[u]));
        for (unsigned i = 0; i < 120; ++i)
            assert_true(next > ids[i]);
    }

    /* appending after the replay continues the same segment; a second replay holds both runs */
    writer_t w2;
    writer_attach(&w2, dir, back, &rep, ORDERD_FSYNC_ALWAYS, UINT64_MAX);
    uint64_t late = w_create(&w2, "zoe", 999);
    assert_int_equal(w_status(&w2, OPERATOR, late, ORDERD_STATUS_PROCESSING), ORDERD_STORE_OK);
    w_close(&w2);
    orderd_replay_report_t rep2;
    orderd_store_t *again = replay_ok(dir, &rep2);
    assert_int_equal(rep2.records, records + 2);
    assert_int_equal(rep2.last_seq, records + 2);
    assert_int_equal(rep2.orders, 121);
    assert_string_equal(rep2.segment, seg);
    assert_same_orders(again, back);

    orderd_store_free(again);
    orderd_store_free(back);
    orderd_store_free(w.store);
    rmdir_tmp(dir);
}

/* ------------------------------------------------------------------ */
/* 2. torn tails at every byte                                          */
/* ------------------------------------------------------------------ */

static void test_torn_tail_every_offset(void **state)
{
    (void)state;
    char src[PATH_MAX], srcseg[PATH_MAX];
    tmpdir(src, sizeof(src), "torn-src");
    orderd_store_t *live = write_script(src, 6); /* create, create, cancel, advance, create, create */
    segment_path(srcseg, sizeof(srcseg), src, 1);
    seg_t s;
    seg_load(&s, srcseg);
    assert_int_equal(s.n, 6);

    /* the tables that the first k records make, and their counts */
    orderd_store_t *ref[7] = {0};
    size_t orders[7], cancelled[7];
    for (size_t k = 0; k <= s.n; ++k) {
        ref[k] = seg_reference(&s, k);
        seg_counts(&s, k, &orders[k], &cancelled[k]);
    }
    assert_same_orders(ref[s.n], live);
    assert_int_equal(orders[6], 4);
    assert_int_equal(cancelled[6], 1);

    size_t cuts = 0;
    for (size_t cut = s.offs[s.n - 3]; cut <= s.len; ++cut, ++cuts) {
        char dir[PATH_MAX], seg[PATH_MAX];
        tmpdir(dir, sizeof(dir), "torn");
        segment_path(seg, sizeof(seg), dir, 1);
        test_write_file(seg, s.data, cut);
        size_t k = 0;
        while (k < s.n && s.offs[k + 1] <= cut)
            ++k;
        size_t keep = s.offs[k];

        orderd_store_t *st = orderd_store_new(NSHARDS);
        orderd_replay_report_t rep;
        if (quiet_replay(dir, st, &rep) != 0)
            fail_msg("cut at %zu: replay failed: %s", cut, rep.error);
        if (rep.records != k || rep.torn_bytes != cut - keep)
            fail_msg("cut at %zu: %zu records, %" PRIu64 " torn bytes; want %zu and %zu", cut, rep.records,
                     rep.torn_bytes, k, cut - keep);
        assert_int_equal(rep.last_seq, k);
        assert_int_equal(rep.orders, orders[k]);
        assert_int_equal(rep.segment_end, keep);
        assert_string_equal(rep.segment, seg);
        if (test_file_size(seg) != (long long)keep)
            fail_msg("cut at %zu: file is %lld bytes after replay, want %zu", cut, test_file_size(seg), keep);
        assert_int_equal(orderd_store_count(st), orders[k]);
        assert_int_equal(count_status(st, ORDERD_STATUS_CANCELLED), cancelled[k]);
        assert_same_orders(st, ref[k]);

        /* the writer continues after the cut; a new replay has everything */
        writer_t w;
        writer_attach(&w, dir, st, &rep, ORDERD_FSYNC_ALWAYS, UINT64_MAX);
        uint64_t id = w_create(&w, "newcomer", 1000 + (unsigned)cut);
        w_close(&w);
        orderd_replay_report_t rep2;
        orderd_store_t *again = replay_ok(dir, &rep2);
        assert_int_equal(rep2.records, k + 1);
        assert_int_equal(rep2.last_seq, k + 1);
        assert_int_equal(rep2.torn_bytes, 0);
        assert_int_equal(rep2.orders, orders[k] + 1);
        assert_int_equal(count_status(again, ORDERD_STATUS_CANCELLED), cancelled[k]);
        test_arena_t ar = {0};
        orderd_alloc_t a = test_arena_allocator(&ar);
        orderd_order_t *got = NULL;
        assert_int_equal(orderd_store_get(again, S("newcomer"), id, &a, &got), ORDERD_STORE_OK);
        test_arena_reset(&ar);
        assert_same_orders(again, st);
        orderd_store_free(again);
        orderd_store_free(st);
        rmdir_tmp(dir);
    }
    assert_int_equal(cuts, s.len - s.offs[s.n - 3] + 1);

    for (size_t k = 0; k <= s.n; ++k)
        orderd_store_free(ref[k]);
    seg_free(&s);
    orderd_store_free(live);
    rmdir_tmp(src);
}

/* The writer keeps zeros written ahead of its records (wal.c); a crash
 * leaves them after the last record. Zeros after a whole record are the
 * end: nothing cut, and the writer continues right after the record, not
 * after the zeros. A cut record before zeros is a torn tail; zeros with a
 * valid record after them are damage. */
static void test_zero_tail_is_the_end(void **state)
{
    (void)state;
    char src[PATH_MAX], srcseg[PATH_MAX];
    tmpdir(src, sizeof(src), "zeros-src");
    orderd_store_t *live = write_script(src, 6);
    segment_path(srcseg, sizeof(srcseg), src, 1);
    seg_t s;
    seg_load(&s, srcseg);
    assert_int_equal(s.n, 6);
    const size_t zeros = 3 * 4096 + 17;

    for (size_t cut = s.offs[s.n - 2]; cut <= s.len; ++cut) {
        char dir[PATH_MAX], seg[PATH_MAX];
        tmpdir(dir, sizeof(dir), "zeros");
        segment_path(seg, sizeof(seg), dir, 1);
        unsigned char *buf = calloc(1, cut + zeros);
        memcpy(buf, s.data, cut);
        test_write_file(seg, buf, cut + zeros);
        free(buf);
        /* the zeros stand in for the cut-off bytes that were zeros anyway */
        size_t ext = cut, k = 0;
        while (ext < s.len && s.data[ext] == 0)
            ++ext;
        while (k < s.n && s.offs[k + 1] <= ext)
            ++k;
        size_t keep = s.offs[k];
        int whole = keep >= cut;

        orderd_replay_report_t rep;
        orderd_store_t *st = replay_ok(dir, &rep);
        if (rep.records != k || rep.segment_end != keep)
            fail_msg("cut at %zu + zeros: %zu records ending at %" PRIu64 ", want %zu ending at %zu", cut, rep.records,
                     rep.segment_end, k, keep);
        /* after a whole record the zeros stay (the end); after a cut record all goes */
        assert_int_equal(rep.torn_bytes, whole ? 0 : cut + zeros - keep);
        assert_int_equal(test_file_size(seg), (long long)(whole ? cut + zeros : keep));
        assert_int_equal(rep.bytes, whole ? keep : cut + zeros); /* bytes read, zeros ahead left out */

        writer_t w;
        writer_attach(&w, dir, st, &rep, ORDERD_FSYNC_ALWAYS, UINT64_MAX);
        w_create(&w, "after-zeros", 7000 + (unsigned)cut);
        w_close(&w);
        /* the new record follows the old ones directly; the clean stop cut the zeros */
        seg_t again;
        seg_load(&again, seg);
        assert_int_equal(again.n, k + 1);
        assert_memory_equal(again.data, s.data, keep);
        seg_free(&again);
        orderd_store_free(st);
        rmdir_tmp(dir);
    }

    /* zeros where a record was, with a valid record after them: damage */
    char dir[PATH_MAX], seg[PATH_MAX];
    tmpdir(dir, sizeof(dir), "zeros-hole");
    segment_path(seg, sizeof(seg), dir, 1);
    unsigned char *buf = malloc(s.len);
    memcpy(buf, s.data, s.len);
    memset(buf + s.offs[s.n - 2], 0, s.offs[s.n - 1] - s.offs[s.n - 2]);
    test_write_file(seg, buf, s.len);
    free(buf);
    orderd_store_t *st = orderd_store_new(NSHARDS);
    orderd_replay_report_t rep;
    assert_int_not_equal(quiet_replay(dir, st, &rep), 0);
    assert_non_null(strstr(rep.error, "damaged"));
    assert_int_equal(test_file_size(seg), (long long)s.len);
    orderd_store_free(st);
    rmdir_tmp(dir);

    seg_free(&s);
    orderd_store_free(live);
    rmdir_tmp(src);
}

/* ------------------------------------------------------------------ */
/* 3. bit flips; verify, repair and dump                                */
/* ------------------------------------------------------------------ */

static void test_bit_flip_in_last_record_is_torn(void **state)
{
    (void)state;
    char src[PATH_MAX], srcseg[PATH_MAX];
    tmpdir(src, sizeof(src), "flip-src");
    orderd_store_t *live = write_script(src, 8);
    segment_path(srcseg, sizeof(srcseg), src, 1);
    seg_t s;
    seg_load(&s, srcseg);
    assert_int_equal(s.n, 8);
    orderd_store_t *ref = seg_reference(&s, s.n - 1);
    size_t last = s.offs[s.n - 1];

    unsigned char *bytes = malloc(s.len);
    for (size_t at = last; at < s.len; ++at) {
        memcpy(bytes, s.data, s.len);
        bytes[at] ^= (unsigned char)(1u << (at % 8));
        char dir[PATH_MAX], seg[PATH_MAX];
        tmpdir(dir, sizeof(dir), "flip-last");
        segment_path(seg, sizeof(seg), dir, 1);
        test_write_file(seg, bytes, s.len);
        orderd_store_t *st = orderd_store_new(NSHARDS);
        orderd_replay_report_t rep;
        if (quiet_replay(dir, st, &rep) != 0)
            fail_msg("bit flipped at %zu (last record at %zu): replay refused: %s", at, last, rep.error);
        assert_int_equal(rep.records, s.n - 1);
        assert_int_equal(rep.last_seq, s.n - 1);
        assert_int_equal(rep.torn_bytes, s.len - last);
        assert_int_equal(rep.segment_end, last);
        assert_int_equal(test_file_size(seg), (long long)last);
        assert_same_orders(st, ref);
        orderd_store_free(st);
        rmdir_tmp(dir);
    }
    free(bytes);
    orderd_store_free(ref);
    seg_free(&s);
    orderd_store_free(live);
    rmdir_tmp(src);
}

static void test_bit_flip_in_middle_refused_then_repaired(void **state)
{
    (void)state;
    char src[PATH_MAX], srcseg[PATH_MAX];
    tmpdir(src, sizeof(src), "mid-src");
    orderd_store_t *live = write_script(src, 8);
    segment_path(srcseg, sizeof(srcseg), src, 1);
    seg_t s;
    seg_load(&s, srcseg);
    assert_int_equal(s.n, 8);

    /* the intact journal: verify is clean, dump prints one JSON line per record */
    captured_t c;
    run_tool(&c, "verify", src);
    assert_int_equal(c.rc, 0);
    assert_non_null(strstr(c.out, "ok"));
    captured_free(&c);
    run_tool(&c, "dump", src);
    assert_int_equal(c.rc, 0);
    assert_int_equal(count_lines(c.out), s.n);
    {
        char *line = c.out;
        for (size_t i = 0; i < s.n; ++i) {
            char *nl = strchr(line, '\n');
            assert_non_null(nl);
            *nl = '\0';
            char want[64];
            snprintf(want, sizeof(want), "\"seq\":%zu,", i + 1);
            assert_true(line[0] == '{' && nl[-1] == '}');
            if (strstr(line, want) == NULL)
                fail_msg("dump line %zu lacks %s: %s", i, want, line);
            orderd_change_t ev;
            void *copy;
            seg_event(&s, i, &ev, &copy);
            char id[ORDERD_ID_LEN + 1] = {0};
            orderd_id_format(ev.type == ORDERD_CHANGE_CREATED ? ev.u.created.order->id : ev.u.status_changed.order_id,
                             id);
            assert_non_null(strstr(line, id));
            assert_non_null(strstr(line, ev.type == ORDERD_CHANGE_CREATED ? "order_created" : "status_changed"));
            free(copy);
            line = nl + 1;
        }
    }
    captured_free(&c);

    /* a flipped bit in records 3 (a status change) and 4 (a create): in the
     * length, the CRC, the type, a reserved byte, the seq and the payload */
    static const size_t where[] = {0, 1, 5, 8, 10, 13, 19, 20, 28, 40};
    for (size_t m = 3; m <= 4; ++m)
        for (size_t wi = 0; wi < sizeof(where) / sizeof(where[0]); ++wi) {
            size_t at = s.offs[m] + where[wi];
            assert_true(at < s.offs[m + 1]);
            unsigned char *bytes = malloc(s.len);
            memcpy(bytes, s.data, s.len);
            bytes[at] ^= (unsigned char)(1u << (wi % 8));

            char dir[PATH_MAX], seg[PATH_MAX], broken[PATH_MAX + 16];
            tmpdir(dir, sizeof(dir), "flip-mid");
            segment_path(seg, sizeof(seg), dir, 1);
            snprintf(broken, sizeof(broken), "%s.broken", seg);
            test_write_file(seg, bytes, s.len);

            /* start-up refuses, naming the file and the offset, and leaves the file alone */
            orderd_store_t *st = orderd_store_new(NSHARDS);
            orderd_replay_report_t rep;
            if (quiet_replay(dir, st, &rep) != -1)
                fail_msg("record %zu, byte %zu flipped: replay accepted it (%zu records, %" PRIu64 " torn)", m,
                         where[wi], rep.records, rep.torn_bytes);
            char off[64];
            snprintf(off, sizeof(off), "offset %zu", s.offs[m]);
            if (strstr(rep.error, seg) == NULL || strstr(rep.error, off) == NULL)
                fail_msg("record %zu at %zu damaged: the error does not name %s and %s: %s", m, s.offs[m], seg, off,
                         rep.error);
            assert_non_null(strstr(rep.error, "repair"));
            orderd_store_free(st);
            size_t now_len;
            unsigned char *now = test_read_file(seg, &now_len);
            assert_int_equal(now_len, s.len);
            assert_memory_equal(now, bytes, s.len);
            free(now);

            run_tool(&c, "verify", dir);
            assert_int_equal(c.rc, 1);
            char damaged[64];
            snprintf(damaged, sizeof(damaged), "DAMAGED at offset %zu", s.offs[m]);
            if (strstr(c.out, damaged) == NULL)
                fail_msg("verify does not report '%s': %s", damaged, c.out);
            captured_free(&c);

            run_tool(&c, "repair", dir);
            assert_int_equal(c.rc, 0);
            captured_free(&c);
            /* the valid prefix stays; the rest, byte for byte, is in .broken */
            assert_int_equal(test_file_size(seg), (long long)s.offs[m]);
            size_t blen;
            unsigned char *b = test_read_file(broken, &blen);
            assert_non_null(b);
            assert_int_equal(blen, s.len - s.offs[m]);
            assert_memory_equal(b, bytes + s.offs[m], blen);
            free(b);
            now = test_read_file(seg, &now_len);
            assert_memory_equal(now, bytes, now_len);
            free(now);

            orderd_store_t *ref = seg_reference(&s, m);
            st = replay_ok(dir, &rep);
            assert_int_equal(rep.records, m);
            assert_int_equal(rep.last_seq, m);
            assert_int_equal(rep.torn_bytes, 0);
            assert_same_orders(st, ref);
            orderd_store_free(st);
            orderd_store_free(ref);

            run_tool(&c, "verify", dir);
            assert_int_equal(c.rc, 0);
            captured_free(&c);
            run_tool(&c, "dump", dir);
            assert_int_equal(c.rc, 0);
            assert_int_equal(count_lines(c.out), m);
            captured_free(&c);

            free(bytes);
            rmdir_tmp(dir);
        }
    seg_free(&s);
    orderd_store_free(live);
    rmdir_tmp(src);
}

/* A segment's header is written and synced before any record goes in, so
 * a damaged header in front of valid records is not an incomplete last
 * write: start-up must refuse (naming the file) and leave the file as it is,
 * not drop the acknowledged records behind it. */
static void test_damaged_segment_header_before_records_is_refused(void **state)
{
    (void)state;
    static const size_t where[] = {0, 9, 17, 29};
    for (size_t wi = 0; wi < sizeof(where) / sizeof(where[0]); ++wi) {
        char dir[PATH_MAX], seg[PATH_MAX];
        tmpdir(dir, sizeof(dir), "hdr");
        orderd_store_t *live = write_script(dir, 5);
        segment_path(seg, sizeof(seg), dir, 1);
        size_t len;
        unsigned char *bytes = test_read_file(seg, &len);
        bytes[where[wi]] ^= 0x01;
        test_write_file(seg, bytes, len);

        orderd_store_t *st = orderd_store_new(NSHARDS);
        orderd_replay_report_t rep;
        int rc = quiet_replay(dir, st, &rep);
        long long after = test_file_size(seg);
        if (rc != -1)
            fail_msg("header byte %zu flipped: replay returned %d with %zu records, %" PRIu64
                     " torn bytes; the segment is now %lld bytes (was %zu): 5 acknowledged records dropped",
                     where[wi], rc, rep.records, rep.torn_bytes, after, len);
        assert_non_null(strstr(rep.error, seg));
        assert_int_equal(after, (long long)len);
        orderd_store_free(st);
        free(bytes);
        orderd_store_free(live);
        rmdir_tmp(dir);
    }
}

/* dump of a journal damaged in the middle: the records before the damage,
 * as NDJSON (every line of the output a JSON object), and the damage named. */
static void test_dump_of_damaged_journal_is_ndjson(void **state)
{
    (void)state;
    char dir[PATH_MAX], seg[PATH_MAX];
    tmpdir(dir, sizeof(dir), "dump");
    orderd_store_t *live = write_script(dir, 8);
    segment_path(seg, sizeof(seg), dir, 1);
    seg_t s;
    seg_load(&s, seg);
    s.data[s.offs[4] + 30] ^= 0x02;
    test_write_file(seg, s.data, s.len);

    captured_t c;
    run_tool(&c, "dump", dir);
    char off[64];
    snprintf(off, sizeof(off), "offset %zu", s.offs[4]);
    if (strstr(c.out, off) == NULL && strstr(c.err, off) == NULL)
        fail_msg("dump of a damaged journal does not say where the damage is: out=%s err=%s", c.out, c.err);
    size_t lines = 0;
    for (char *line = c.out, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1, ++lines) {
        *nl = '\0';
        if (line[0] != '{' || nl[-1] != '}')
            fail_msg("dump output line %zu is not a JSON object (NDJSON): %s", lines + 1, line);
        char want[32];
        snprintf(want, sizeof(want), "\"seq\":%zu,", lines + 1);
        assert_non_null(strstr(line, want));
    }
    assert_int_equal(lines, 4);
    captured_free(&c);
    seg_free(&s);
    orderd_store_free(live);
    rmdir_tmp(dir);
}

/* verify and repair refuse a directory whose LOCK a running server holds
 * (here: another open of it, as a second process would have); dump reads it */
static void test_tool_refuses_a_locked_directory(void **state)
{
    (void)state;
    char dir[PATH_MAX], lock[PATH_MAX + 8];
    tmpdir(dir, sizeof(dir), "locked");
    orderd_store_t *live = write_script(dir, 4);
    snprintf(lock, sizeof(lock), "%s/LOCK", dir);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    static const char *const refused[] = {"verify", "repair"};
    for (size_t i = 0; i < 2; i++) {
        captured_t c;
        run_tool(&c, refused[i], dir);
        assert_int_equal(c.rc, 1);
        if (strstr(c.err, "in use by a running orderd") == NULL || count_lines(c.err) != 1)
            fail_msg("%s on a locked directory: want one line saying it is in use, got: %s", refused[i], c.err);
        assert_string_equal(c.out, "");
        captured_free(&c);
    }
    captured_t c;
    run_tool(&c, "dump", dir);
    assert_int_equal(c.rc, 0);
    assert_int_equal(count_lines(c.out), 4);
    captured_free(&c);
    /* released: verify runs again, and takes its lock only while it runs */
    close(fd);
    run_tool(&c, "verify", dir);
    assert_int_equal(c.rc, 0);
    captured_free(&c);
    fd = open(lock, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    close(fd);
    orderd_store_free(live);
    rmdir_tmp(dir);
}

/* ------------------------------------------------------------------ */
/* 4. replay is idempotent                                              */
/* ------------------------------------------------------------------ */

static void test_replay_skips_what_the_table_has(void **state)
{
    (void)state;
    orderd_store_t *st = orderd_store_new(NSHARDS);
    orderd_order_t *o = make_order("ivy", T0_MS, 3);
    o->id = orderd_store_next_id(st, S("ivy"));
    orderd_change_t created = {.type = ORDERD_CHANGE_CREATED, .u.created.order = o};
    assert_int_equal(orderd_store_replay(st, &created), ORDERD_STORE_OK);
    assert_int_equal(orderd_store_count(st), 1);

    test_arena_t ar = {0};
    orderd_alloc_t a = test_arena_allocator(&ar);
    orderd_order_t *got;
    /* the same create again: skipped */
    assert_int_equal(orderd_store_replay(st, &created), ORDERD_STORE_OK);
    assert_int_equal(orderd_store_count(st), 1);
    assert_int_equal(orderd_store_get(st, S("ivy"), o->id, &a, &got), ORDERD_STORE_OK);
    assert_memory_equal(got, o, o->size);

    orderd_change_t to_processing = {.type = ORDERD_CHANGE_STATUS,
                                    .u.status_changed = {.order_id = o->id,
                                                         .status = ORDERD_STATUS_PROCESSING,
                                                         .prev_status = ORDERD_STATUS_PENDING,
                                                         .actor = ORDERD_ACTOR_OPERATOR,
                                                         .version = 2,
                                                         .at_ms = T0_MS + 10,
                                                         .prev_updated_ms = T0_MS}};
    assert_int_equal(orderd_store_replay(st, &to_processing), ORDERD_STORE_OK);
    assert_int_equal(orderd_store_get(st, S("ivy"), o->id, &a, &got), ORDERD_STORE_OK);
    assert_int_equal(got->status, ORDERD_STATUS_PROCESSING);
    assert_int_equal(got->version, 2);
    assert_true(got->updated_ms == T0_MS + 10);
    orderd_order_t *v2 = malloc(got->size);
    memcpy(v2, got, got->size);

    /* the same change again, an older one, the create again: all skipped, nothing moves */
    orderd_change_t older = to_processing;
    older.u.status_changed.version = 1;
    older.u.status_changed.status = ORDERD_STATUS_CANCELLED;
    older.u.status_changed.at_ms = T0_MS + 99;
    orderd_change_t same_but_different = to_processing;
    same_but_different.u.status_changed.status = ORDERD_STATUS_CANCELLED;
    same_but_different.u.status_changed.at_ms = T0_MS + 50;
    const orderd_change_t *skipped[] = {&to_processing, &older, &created, &same_but_different};
    for (size_t i = 0; i < 4; ++i) {
        assert_int_equal(orderd_store_replay(st, skipped[i]), ORDERD_STORE_OK);
        assert_int_equal(orderd_store_count(st), 1);
        assert_int_equal(orderd_store_get(st, S("ivy"), o->id, &a, &got), ORDERD_STORE_OK);
        assert_memory_equal(got, v2, v2->size);
    }
    /* the per-status index did not move either */
    orderd_store_page_t page;
    assert_int_equal(
        orderd_store_list(st, S("ivy"),
                          &(orderd_page_req_t){.offset = 0, .limit = 10, .status_mask = 1u << ORDERD_STATUS_PROCESSING},
                          &a, &page),
        0);
    assert_int_equal(page.total, 1);
    assert_int_equal(
        orderd_store_list(st, S("ivy"),
                          &(orderd_page_req_t){.offset = 0, .limit = 10, .status_mask = 1u << ORDERD_STATUS_CANCELLED},
                          &a, &page),
        0);
    assert_int_equal(page.total, 0);

    /* a version gap: the journal misses a change; EINVAL, nothing changes */
    orderd_change_t gap = to_processing;
    gap.u.status_changed.version = 4;
    gap.u.status_changed.status = ORDERD_STATUS_SHIPPED;
    gap.u.status_changed.prev_status = ORDERD_STATUS_PROCESSING;
    assert_int_equal(orderd_store_replay(st, &gap), ORDERD_STORE_EINVAL);
    assert_int_equal(orderd_store_get(st, S("ivy"), o->id, &a, &got), ORDERD_STORE_OK);
    assert_memory_equal(got, v2, v2->size);
    /* a status change of an order the table does not have: EINVAL */
    orderd_change_t unknown = to_processing;
    unknown.u.status_changed.order_id = o->id + (1u << ORDERD_ID_SHARD_BITS);
    assert_int_equal(orderd_store_replay(st, &unknown), ORDERD_STORE_EINVAL);
    assert_int_equal(orderd_store_count(st), 1);
    /* the next version applies */
    gap.u.status_changed.version = 3;
    gap.u.status_changed.at_ms = T0_MS + 20;
    assert_int_equal(orderd_store_replay(st, &gap), ORDERD_STORE_OK);
    assert_int_equal(orderd_store_get(st, S("ivy"), o->id, &a, &got), ORDERD_STORE_OK);
    assert_int_equal(got->status, ORDERD_STATUS_SHIPPED);
    assert_int_equal(got->version, 3);
    assert_true(got->updated_ms == T0_MS + 20);
    orderd_change_t delivered = gap;
    delivered.u.status_changed.version = 4;
    delivered.u.status_changed.status = ORDERD_STATUS_DELIVERED;
    delivered.u.status_changed.prev_status = ORDERD_STATUS_SHIPPED;
    delivered.u.status_changed.at_ms = T0_MS + 30;
    delivered.u.status_changed.prev_updated_ms = T0_MS + 20;
    assert_int_equal(orderd_store_replay(st, &delivered), ORDERD_STORE_OK);
    assert_int_equal(orderd_store_replay(st, &gap), ORDERD_STORE_OK); /* older again: skipped */
    assert_int_equal(orderd_store_replay(st, &delivered), ORDERD_STORE_OK);
    assert_int_equal(orderd_store_get(st, S("ivy"), o->id, &a, &got), ORDERD_STORE_OK);
    assert_int_equal(got->status, ORDERD_STATUS_DELIVERED);
    assert_int_equal(got->version, 4);
    assert_true(got->updated_ms == T0_MS + 30);
    assert_int_equal(orderd_store_count(st), 1);

    free(v2);
    test_arena_reset(&ar);
    free(o);
    orderd_store_free(st);
}

/* A covered segment left beside a newer snapshot (a backup copied by hand
 * with one segment too many): start-up must not append after it, or the
 * gap in its numbers makes the next start-up cut acknowledged records as a
 * torn tail. The writer starts a segment of its own after the snapshot. */
static void test_old_segment_before_the_snapshot_is_not_appended_to(void **state)
{
    (void)state;
    char dir[PATH_MAX], seg1[PATH_MAX];
    tmpdir(dir, sizeof(dir), "covered");
    writer_t w;
    writer_start(&w, dir, UINT64_MAX);
    for (unsigned i = 0; i < 5; ++i)
        (void)w_create(&w, "early", i);
    w_wait(&w);
    w_close(&w);
    orderd_store_free(w.store);
    segment_path(seg1, sizeof(seg1), dir, 1);
    size_t len;
    unsigned char *old = test_read_file(seg1, &len); /* records 1 to 5 */
    assert_non_null(old);

    /* more changes, then a snapshot past them; the covered segments go */
    orderd_replay_report_t rep;
    orderd_store_t *st = replay_ok(dir, &rep);
    writer_attach(&w, dir, st, &rep, ORDERD_FSYNC_ALWAYS, 1);
    for (unsigned i = 0; i < 20; ++i)
        (void)w_create(&w, "later", i);
    w_wait(&w);
    test_sleep_us(300000); /* the snapshot thread */
    w_close(&w);
    orderd_store_free(st);
    /* put the old segment back, alone beside the snapshot */
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "journal-", 8) == 0) {
            char p[PATH_MAX + 300];
            snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    test_write_file(seg1, old, len);
    free(old);

    st = replay_ok(dir, &rep);
    assert_true(rep.snapshot_seq > 5);
    assert_int_equal(rep.last_seq, rep.snapshot_seq);
    assert_int_equal(orderd_store_count(st), 25);
    writer_attach(&w, dir, st, &rep, ORDERD_FSYNC_ALWAYS, UINT64_MAX);
    uint64_t id = w_create(&w, "after", 1); /* acknowledged: it must come back */
    w_wait(&w);
    w_close(&w);
    orderd_store_free(st);
    st = replay_ok(dir, &rep);
    assert_int_equal(rep.torn_bytes, 0);
    assert_int_equal(orderd_store_count(st), 26);
    test_arena_t ar = {0};
    orderd_alloc_t a = test_arena_allocator(&ar);
    orderd_order_t *o;
    assert_int_equal(orderd_store_get(st, S("after"), id, &a, &o), ORDERD_STORE_OK);
    test_arena_reset(&ar);
    orderd_store_free(st);
    rmdir_tmp(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST_DIRS(test_replay_real_journal),
        TEST_DIRS(test_old_segment_before_the_snapshot_is_not_appended_to),
        TEST_DIRS(test_torn_tail_every_offset),
        TEST_DIRS(test_zero_tail_is_the_end),
        TEST_DIRS(test_bit_flip_in_last_record_is_torn),
        TEST_DIRS(test_bit_flip_in_middle_refused_then_repaired),
        TEST_DIRS(test_damaged_segment_header_before_records_is_refused),
        TEST_DIRS(test_dump_of_damaged_journal_is_ndjson),
        TEST_DIRS(test_tool_refuses_a_locked_directory),
        TEST_DIRS(test_replay_skips_what_the_table_has),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
