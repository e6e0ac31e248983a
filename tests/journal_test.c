/* Unit tests for orderd/journal.h: record and file framing, the event codec,
 * replay of journals written by the real writer, torn tails cut at every
 * byte, damage in the middle (refused, then repaired), snapshots and
 * idempotent replay. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "../src/internal/crc32c.h"
#include "../src/internal/files.h"
#include "orderd/journal.h"
#include "orderd/order.h"
#include "orderd/store.h"
#include "orderd/wal.h"
#include "test_util.h"
#include "store_compare.h"

#define NSHARDS 16
/* 2026-01-01T00:00:00Z: the writer harness's clock starts here and moves 1 ms per change */
#define T0_MS 1767225600000LL

static orderd_str_t S(const char *s)
{
    return (orderd_str_t){s, strlen(s)};
}

static const orderd_str_t OPERATOR = {NULL, 0};

/* ------------------------------------------------------------------ */
/* helpers: orders, stores, segments                                    */
/* ------------------------------------------------------------------ */

/* A malloc'd order for `user` with 1..4 items; `salt` varies every field. */
static orderd_order_t *make_order(const char *user, int64_t now, unsigned salt)
{
    orderd_item_draft_t items[4];
    char prod[4][32], addr[64];
    unsigned n = 1 + salt % 4;
    int64_t total = 0;
    for (unsigned i = 0; i < n; ++i) {
        snprintf(prod[i], sizeof(prod[i]), "sku-%u-%u", salt, i);
        items[i] = (orderd_item_draft_t){S(prod[i]), 1 + (salt + i) % 5, 100 + 7 * (int64_t)salt + i};
        total += items[i].price * items[i].quantity;
    }
    snprintf(addr, sizeof(addr), "%u Long Road, Springfield", salt);
    orderd_order_draft_t d = {items, n, S(addr), S(salt % 2 ? "card" : "invoice"), {'E', 'U', 'R'}, total};
    size_t size = orderd_order_size(&d, strlen(user));
    orderd_order_t *o = aligned_alloc(8, size);
    assert_non_null(o);
    orderd_order_build(o, 0, S(user), &d, now);
    return o;
}

/* How many orders of a store are in `status`. */
static size_t count_status(orderd_store_t *st, orderd_status_t status)
{
    order_list_t l;
    collect(st, &l);
    size_t n = 0;
    for (size_t i = 0; i < l.n; ++i)
        n += l.v[i]->status == status;
    list_free(&l);
    return n;
}

/* Replay with the library's log lines (torn tails, fallbacks) kept off the
 * test output; nothing in here asserts, so stderr is always restored.
 * Sanitizer builds keep stderr: their reports must not vanish. */
static int quiet_replay(const char *dir, orderd_store_t *st, orderd_replay_report_t *rep)
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
static orderd_store_t *replay_ok(const char *dir, orderd_replay_report_t *rep)
{
    orderd_store_t *st = orderd_store_new(NSHARDS);
    assert_non_null(st);
    if (quiet_replay(dir, st, rep) != 0)
        fail_msg("replay of %s failed: %s", dir, rep->error);
    return st;
}

static void segment_path(char *buf, size_t cap, const char *dir, uint64_t first)
{
    char name[64];
    orderd_journal_segment_name(name, sizeof(name), first);
    snprintf(buf, cap, "%s/%s", dir, name);
}

/* The records of a segment: their offsets, and offs[n] = the end of the last. */
typedef struct seg {
    unsigned char *data;
    size_t len;
    size_t n;
    size_t *offs; /* n + 1 entries */
} seg_t;

static void seg_load(seg_t *s, const char *path)
{
    s->data = test_read_file(path, &s->len);
    assert_non_null(s->data);
    uint64_t first;
    assert_int_equal(orderd_file_header_decode(s->data, s->len, ORDERD_JOURNAL_MAGIC, &first), 0);
    size_t cap = 16;
    s->offs = malloc(cap * sizeof(*s->offs));
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

static void seg_free(seg_t *s)
{
    free(s->data);
    free(s->offs);
}

/* Record i of a segment as an event; the payload is copied to *copy (8-byte
 * aligned, the caller frees it). */
static void seg_event(const seg_t *s, size_t i, orderd_event_t *ev, void **copy)
{
    orderd_record_t rec;
    size_t used;
    assert_int_equal(orderd_record_parse(s->data + s->offs[i], s->len - s->offs[i], &rec, &used), ORDERD_FRAME_OK);
    *copy = aligned_alloc(8, (rec.len + 8) & ~(size_t)7);
    memcpy(*copy, rec.payload, rec.len);
    rec.payload = *copy;
    assert_int_equal(orderd_event_from_record(&rec, ev), 0);
}

/* A table holding the events of the first k records, applied directly. */
static orderd_store_t *seg_reference(const seg_t *s, size_t k)
{
    orderd_store_t *st = orderd_store_new(NSHARDS);
    for (size_t i = 0; i < k; ++i) {
        orderd_event_t ev;
        void *copy;
        seg_event(s, i, &ev, &copy);
        assert_int_equal(orderd_store_apply(st, &ev), ORDERD_STORE_OK);
        free(copy);
    }
    return st;
}

/* Orders created and status changes to cancelled among the first k records. */
static void seg_counts(const seg_t *s, size_t k, size_t *orders, size_t *cancelled)
{
    *orders = *cancelled = 0;
    for (size_t i = 0; i < k; ++i) {
        orderd_event_t ev;
        void *copy;
        seg_event(s, i, &ev, &copy);
        if (ev.type == ORDERD_EVENT_CREATED)
            ++*orders;
        else if (ev.u.status_changed.status == ORDERD_STATUS_CANCELLED)
            ++*cancelled;
        free(copy);
    }
}

/* ------------------------------------------------------------------ */
/* the real writer, driven through the store                            */
/* ------------------------------------------------------------------ */

typedef struct writer {
    orderd_store_t *store;
    orderd_wal_t *wal;
    atomic_long notified, durable, foreign;
    long submitted;
    int64_t now;
} writer_t;

static int waiter_token; /* every change waits with &waiter_token */

static void count_notify(void *ctx, void *waiter, int durable)
{
    writer_t *w = ctx;
    if (waiter != &waiter_token)
        atomic_fetch_add(&w->foreign, 1);
    atomic_fetch_add(&w->notified, 1);
    if (durable)
        atomic_fetch_add(&w->durable, 1);
}

/* Starts a writer on `store` after a replay that produced `rep`. */
static void writer_attach(writer_t *w, const char *dir, orderd_store_t *store, const orderd_replay_report_t *rep,
                          orderd_fsync_mode_t mode, uint64_t snapshot_bytes)
{
    memset(w, 0, sizeof(*w));
    w->store = store;
    w->now = T0_MS;
    orderd_wal_config_t cfg = {.dir = dir, .fsync = mode, .snapshot_bytes = snapshot_bytes,
                               .notify = count_notify, .notify_ctx = w};
    char err[256] = "";
    w->wal = orderd_wal_open(&cfg, store, rep, err, sizeof(err));
    if (w->wal == NULL)
        fail_msg("orderd_wal_open(%s): %s", dir, err);
}

/* A new store, replayed from `dir` (empty or not), with a writer on it. */
static void writer_start(writer_t *w, const char *dir, uint64_t snapshot_bytes)
{
    orderd_replay_report_t rep;
    orderd_store_t *st = replay_ok(dir, &rep);
    writer_attach(w, dir, st, &rep, ORDERD_FSYNC_ALWAYS, snapshot_bytes);
}

static uint64_t w_create(writer_t *w, const char *user, unsigned salt)
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
static int w_status(writer_t *w, orderd_str_t user, uint64_t id, orderd_status_t to)
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
static void stats_when(orderd_wal_t *wal, uint64_t records, orderd_wal_stats_t *out)
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
static void w_wait(writer_t *w)
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
static void w_close(writer_t *w)
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
static orderd_store_t *write_script(const char *dir, int nrecords)
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

/* ------------------------------------------------------------------ */
/* 1. framing                                                           */
/* ------------------------------------------------------------------ */

/* Bit-at-a-time CRC-32C (reflected polynomial 0x82F63B78), the reference. */
static uint32_t crc32c_ref(uint32_t crc, const unsigned char *p, size_t len)
{
    crc = ~crc;
    for (size_t i = 0; i < len; ++i) {
        crc ^= p[i];
        for (int k = 0; k < 8; ++k)
            crc = crc & 1 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
}

static void test_crc32c(void **state)
{
    (void)state;
    assert_int_equal(orderd_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(orderd_crc32c(0, "", 0), 0);
    /* extending: the CRC of a whole equals the CRC of its parts in turn */
    assert_int_equal(orderd_crc32c(orderd_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
    /* 32 zero bytes: the iSCSI test vector of RFC 3720 */
    unsigned char zeros[32] = {0};
    assert_int_equal(orderd_crc32c(0, zeros, 32), 0x8A9136AAu);
    unsigned char ff[32];
    memset(ff, 0xff, sizeof(ff));
    assert_int_equal(orderd_crc32c(0, ff, 32), 0x62A8AB43u);

    /* every length and alignment against the bitwise reference */
    unsigned char buf[300];
    test_rng_t r = {7};
    for (size_t i = 0; i < sizeof(buf); ++i)
        buf[i] = (unsigned char)test_rng_next(&r);
    for (size_t start = 0; start < 9; ++start)
        for (size_t len = 0; start + len <= sizeof(buf); len += 1 + len / 16) {
            uint32_t want = crc32c_ref(0, buf + start, len);
            assert_int_equal(orderd_crc32c(0, buf + start, len), want);
            assert_int_equal(orderd_crc32c(orderd_crc32c(0, buf + start, len / 3), buf + start + len / 3,
                                           len - len / 3),
                             want);
        }
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* What parse must say about a record whose length field now reads `len`. */
static int expect_for_length(uint32_t len, size_t avail)
{
    if (len > ORDERD_RECORD_MAX_PAYLOAD)
        return ORDERD_FRAME_BAD;
    if (avail - ORDERD_RECORD_HEADER_SIZE < len)
        return ORDERD_FRAME_SHORT; /* indistinguishable from a record cut short */
    return ORDERD_FRAME_BAD;       /* the CRC no longer matches */
}

static void check_frame(uint8_t type, uint64_t seq, uint32_t len, test_rng_t *r)
{
    size_t total = ORDERD_RECORD_HEADER_SIZE + (size_t)len;
    unsigned char *rec = malloc(total + 16);
    assert_non_null(rec);
    for (size_t i = 0; i < total + 16; ++i)
        rec[i] = (unsigned char)test_rng_next(r);
    unsigned char *payload = rec + ORDERD_RECORD_HEADER_SIZE;
    orderd_record_frame(rec, type, seq, payload, len);

    /* the documented layout: u32 length, u32 CRC, u8 type, 3 zero bytes, u64 seq; little-endian */
    assert_int_equal(le32(rec), len);
    assert_int_equal(rec[8], type);
    assert_int_equal(rec[9] | rec[10] | rec[11], 0);
    assert_int_equal(le64(rec + 12), seq);
    uint32_t crc = orderd_crc32c(0, rec, 4);
    crc = orderd_crc32c(crc, rec + 8, total - 8);
    assert_int_equal(le32(rec + 4), crc);

    orderd_record_t out;
    size_t used = 0;
    assert_int_equal(orderd_record_parse(rec, total, &out, &used), ORDERD_FRAME_OK);
    assert_int_equal(used, total);
    assert_int_equal(out.type, type);
    assert_int_equal(out.seq, seq);
    assert_int_equal(out.len, len);
    assert_ptr_equal(out.payload, payload);
    /* bytes after the record do not matter */
    assert_int_equal(orderd_record_parse(rec, total + 16, &out, &used), ORDERD_FRAME_OK);
    assert_int_equal(used, total);

    /* cut short anywhere: SHORT (all cuts for small records, a sample for big ones) */
    for (size_t avail = 0; avail < total; avail = total <= 4096 || avail < 64 ? avail + 1 : avail * 2 + 1)
        assert_int_equal(orderd_record_parse(rec, avail, &out, &used), ORDERD_FRAME_SHORT);
    assert_int_equal(orderd_record_parse(rec, total - 1, &out, &used), ORDERD_FRAME_SHORT);

    /* one flipped bit anywhere: never OK; BAD, or SHORT when the length now points past the end */
    size_t nbits = total * 8;
    size_t samples = total <= 256 ? nbits : total > 100000 ? 240 : 2048;
    for (size_t k = 0; k < samples; ++k) {
        size_t bit = total <= 256 ? k : (k < 160 ? k : (size_t)(test_rng_next(r) % nbits));
        rec[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        int want = bit < 32 ? expect_for_length(le32(rec), total) : ORDERD_FRAME_BAD;
        int got = orderd_record_parse(rec, total, &out, &used);
        if (got != want)
            fail_msg("len %u: bit %zu flipped: parse says %d, want %d", len, bit, got, want);
        rec[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
    assert_int_equal(orderd_record_parse(rec, total, &out, &used), ORDERD_FRAME_OK);

    /* restamp: a new seq, a new CRC, still parseable, payload untouched */
    uint32_t old_crc = le32(rec + 4);
    unsigned char *before = malloc(total);
    memcpy(before, rec, total);
    orderd_record_restamp(rec, seq + 12345);
    assert_int_equal(orderd_record_parse(rec, total, &out, &used), ORDERD_FRAME_OK);
    assert_int_equal(out.seq, seq + 12345);
    assert_int_equal(out.type, type);
    assert_int_equal(out.len, len);
    assert_int_not_equal(le32(rec + 4), old_crc);
    assert_memory_equal(rec + ORDERD_RECORD_HEADER_SIZE, before + ORDERD_RECORD_HEADER_SIZE, len);
    assert_memory_equal(rec, before, 4);
    assert_memory_equal(rec + 8, before + 8, 4);
    /* header_init + restamp == frame with that seq */
    orderd_record_header_init(rec, type, len);
    orderd_record_restamp(rec, seq);
    assert_memory_equal(rec, before, ORDERD_RECORD_HEADER_SIZE);
    free(before);
    free(rec);
}

static void test_record_framing(void **state)
{
    (void)state;
    test_rng_t r = {42};
    static const uint32_t lens[] = {0, 1, 7, 32, 33, 1000, 65536 + 3, ORDERD_RECORD_MAX_PAYLOAD};
    static const uint8_t types[] = {ORDERD_REC_ORDER_CREATED, ORDERD_REC_STATUS_CHANGED, ORDERD_REC_SNAPSHOT_ORDER,
                                    ORDERD_REC_SNAPSHOT_END, 200};
    static const uint64_t seqs[] = {1, 2, (1ull << 40) + 5, UINT64_MAX - 20000};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); ++i)
        check_frame(types[i % 5], seqs[i % 4], lens[i], &r);
    for (size_t t = 0; t < 5; ++t)
        check_frame(types[t], seqs[t % 4], 32, &r);

    /* a length over the maximum is BAD even when that many bytes are there */
    unsigned char *big = calloc(1, ORDERD_RECORD_HEADER_SIZE + ORDERD_RECORD_MAX_PAYLOAD + 8);
    orderd_record_frame(big, 1, 1, big + ORDERD_RECORD_HEADER_SIZE, ORDERD_RECORD_MAX_PAYLOAD + 1);
    orderd_record_t out;
    size_t used;
    assert_int_equal(orderd_record_parse(big, ORDERD_RECORD_HEADER_SIZE + ORDERD_RECORD_MAX_PAYLOAD + 8, &out, &used),
                     ORDERD_FRAME_BAD);
    free(big);

    /* two records back to back parse one after the other */
    unsigned char two[2 * ORDERD_RECORD_HEADER_SIZE + 5 + 3];
    memcpy(two + ORDERD_RECORD_HEADER_SIZE, "hello", 5);
    orderd_record_frame(two, 1, 9, two + ORDERD_RECORD_HEADER_SIZE, 5);
    unsigned char *second = two + ORDERD_RECORD_HEADER_SIZE + 5;
    memcpy(second + ORDERD_RECORD_HEADER_SIZE, "abc", 3);
    orderd_record_frame(second, 2, 10, second + ORDERD_RECORD_HEADER_SIZE, 3);
    assert_int_equal(orderd_record_parse(two, sizeof(two), &out, &used), ORDERD_FRAME_OK);
    assert_int_equal(used, ORDERD_RECORD_HEADER_SIZE + 5);
    assert_memory_equal(out.payload, "hello", 5);
    assert_int_equal(orderd_record_parse(two + used, sizeof(two) - used, &out, &used), ORDERD_FRAME_OK);
    assert_int_equal(out.seq, 10);
    assert_memory_equal(out.payload, "abc", 3);
}

static void test_file_header(void **state)
{
    (void)state;
    unsigned char h[ORDERD_FILE_HEADER_SIZE + 4];
    uint64_t seq = 0;
    static const uint64_t seqs[] = {0, 1, 42, 0x0123456789abcdefULL, UINT64_MAX};
    for (size_t i = 0; i < 5; ++i) {
        orderd_file_header_encode(h, ORDERD_JOURNAL_MAGIC, seqs[i]);
        assert_memory_equal(h, ORDERD_JOURNAL_MAGIC, 8);
        assert_int_equal(orderd_file_header_decode(h, ORDERD_FILE_HEADER_SIZE, ORDERD_JOURNAL_MAGIC, &seq), 0);
        assert_int_equal(seq, seqs[i]);
        /* the other kind of file is refused */
        assert_int_equal(orderd_file_header_decode(h, ORDERD_FILE_HEADER_SIZE, ORDERD_SNAPSHOT_MAGIC, &seq), -1);
        orderd_file_header_encode(h, ORDERD_SNAPSHOT_MAGIC, seqs[i]);
        assert_int_equal(orderd_file_header_decode(h, ORDERD_FILE_HEADER_SIZE, ORDERD_SNAPSHOT_MAGIC, &seq), 0);
        assert_int_equal(seq, seqs[i]);
        assert_int_equal(orderd_file_header_decode(h, ORDERD_FILE_HEADER_SIZE, ORDERD_JOURNAL_MAGIC, &seq), -1);
    }

    orderd_file_header_encode(h, ORDERD_JOURNAL_MAGIC, 77);
    unsigned char good[ORDERD_FILE_HEADER_SIZE];
    memcpy(good, h, sizeof(good));
    /* too short */
    for (size_t avail = 0; avail < ORDERD_FILE_HEADER_SIZE; ++avail)
        assert_int_equal(orderd_file_header_decode(h, avail, ORDERD_JOURNAL_MAGIC, &seq), -1);
    /* any flipped bit: refused (the CRC covers bytes 0..27, the CRC field is checked against it) */
    for (size_t bit = 0; bit < ORDERD_FILE_HEADER_SIZE * 8; ++bit) {
        h[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        seq = 12345;
        if (orderd_file_header_decode(h, ORDERD_FILE_HEADER_SIZE, ORDERD_JOURNAL_MAGIC, &seq) != -1)
            fail_msg("file header with bit %zu flipped accepted (seq %" PRIu64 ")", bit, seq);
        h[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
    assert_memory_equal(h, good, sizeof(good));
    /* a wrong magic, format or header size is refused even with a matching CRC */
    struct {
        size_t at;
        unsigned char v;
    } edits[] = {{0, 'X'}, {7, '2'}, {8, 2}, {8, 0}, {12, 64}, {13, 1}};
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); ++i) {
        memcpy(h, good, sizeof(good));
        h[edits[i].at] = edits[i].v;
        uint32_t crc = orderd_crc32c(0, h, 28);
        for (int k = 0; k < 4; ++k)
            h[28 + k] = (unsigned char)(crc >> (8 * k));
        assert_int_equal(orderd_file_header_decode(h, ORDERD_FILE_HEADER_SIZE, ORDERD_JOURNAL_MAGIC, &seq), -1);
    }
    /* and the CRC really is what guards the rest: a seq change with the CRC fixed up decodes */
    memcpy(h, good, sizeof(good));
    h[16] ^= 1;
    uint32_t crc = orderd_crc32c(0, h, 28);
    for (int k = 0; k < 4; ++k)
        h[28 + k] = (unsigned char)(crc >> (8 * k));
    assert_int_equal(orderd_file_header_decode(h, ORDERD_FILE_HEADER_SIZE, ORDERD_JOURNAL_MAGIC, &seq), 0);
    assert_int_equal(seq, 76);
}

/* ------------------------------------------------------------------ */
/* 2. event codec                                                       */
/* ------------------------------------------------------------------ */

static void test_event_codec_created(void **state)
{
    (void)state;
    for (unsigned salt = 0; salt < 8; ++salt) {
        orderd_order_t *o = make_order(salt % 2 ? "user-with-a-rather-long-name-0123456789" : "u", T0_MS + salt, salt);
        o->id = 0x00123456789abcdeULL + salt;
        orderd_event_t ev = {.type = ORDERD_EVENT_CREATED, .u.created.order = o}, back;
        unsigned char buf[ORDERD_STATUS_PAYLOAD_SIZE];
        const void *payload = NULL;
        uint32_t len = 0;
        assert_int_equal(orderd_event_payload(&ev, buf, &payload, &len), ORDERD_REC_ORDER_CREATED);
        assert_ptr_equal(payload, o); /* the blob itself, no copy */
        assert_int_equal(len, o->size);

        /* through a real frame and parse */
        unsigned char *rec = aligned_alloc(8, ORDERD_RECORD_HEADER_SIZE + len + 4);
        memcpy(rec + ORDERD_RECORD_HEADER_SIZE, payload, len);
        orderd_record_frame(rec, ORDERD_REC_ORDER_CREATED, 5, payload, len);
        orderd_record_t r;
        size_t used;
        assert_int_equal(orderd_record_parse(rec, ORDERD_RECORD_HEADER_SIZE + len, &r, &used), ORDERD_FRAME_OK);
        orderd_order_t *copy = aligned_alloc(8, len);
        memcpy(copy, r.payload, r.len);
        r.payload = (const void *)copy;
        assert_int_equal(orderd_event_from_record(&r, &back), 0);
        assert_int_equal(back.type, ORDERD_EVENT_CREATED);
        assert_int_equal(back.u.created.order->size, o->size);
        assert_memory_equal(back.u.created.order, o, o->size);
        assert_int_equal(back.u.created.order->id, o->id);
        assert_int_equal(back.u.created.order->version, 1);

        /* a snapshot order decodes the same way */
        r.type = ORDERD_REC_SNAPSHOT_ORDER;
        assert_int_equal(orderd_event_from_record(&r, &back), 0);
        assert_memory_equal(back.u.created.order, o, o->size);

        /* a blob whose length does not match its size field is refused */
        r.type = ORDERD_REC_ORDER_CREATED;
        r.len = o->size - 8;
        assert_int_equal(orderd_event_from_record(&r, &back), -1);
        r.len = o->size;
        copy->status = ORDERD_STATUS_COUNT; /* an unknown status */
        assert_int_equal(orderd_event_from_record(&r, &back), -1);
        copy->status = ORDERD_STATUS_PENDING;
        copy->user_len = 0;
        assert_int_equal(orderd_event_from_record(&r, &back), -1);
        free(copy);
        free(rec);
        free(o);
    }
}

static void test_event_codec_status(void **state)
{
    (void)state;
    const struct {
        uint64_t id;
        uint8_t status, prev, actor;
        uint32_t version;
        int64_t at, prev_at;
    } cases[] = {
        {0x0123456789abcdefULL, ORDERD_STATUS_CANCELLED, ORDERD_STATUS_PENDING, ORDERD_ACTOR_USER, 2, T0_MS + 17,
         T0_MS},
        {0xfedcba9876543210ULL, ORDERD_STATUS_PROCESSING, ORDERD_STATUS_PENDING, ORDERD_ACTOR_OPERATOR, 0x89abcdefu,
         INT64_MAX, INT64_MIN},
        {1, ORDERD_STATUS_DELIVERED, ORDERD_STATUS_SHIPPED, ORDERD_ACTOR_OPERATOR, UINT32_MAX, -1, -5},
        {UINT64_MAX, ORDERD_STATUS_SHIPPED, ORDERD_STATUS_PROCESSING, ORDERD_ACTOR_OPERATOR, 4, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        orderd_event_t ev = {.type = ORDERD_EVENT_STATUS_CHANGED,
                             .u.status_changed = {.order_id = cases[i].id,
                                                  .status = cases[i].status,
                                                  .prev_status = cases[i].prev,
                                                  .actor = cases[i].actor,
                                                  .version = cases[i].version,
                                                  .at_ms = cases[i].at,
                                                  .prev_updated_ms = cases[i].prev_at}},
                       back;
        unsigned char buf[ORDERD_STATUS_PAYLOAD_SIZE];
        memset(buf, 0xEE, sizeof(buf));
        const void *payload = NULL;
        uint32_t len = 0;
        assert_int_equal(orderd_event_payload(&ev, buf, &payload, &len), ORDERD_REC_STATUS_CHANGED);
        assert_ptr_equal(payload, buf);
        assert_int_equal(len, ORDERD_STATUS_PAYLOAD_SIZE);
        /* the order id comes first, little-endian */
        assert_int_equal(le64(buf), cases[i].id);

        unsigned char rec[ORDERD_RECORD_HEADER_SIZE + ORDERD_STATUS_PAYLOAD_SIZE];
        memcpy(rec + ORDERD_RECORD_HEADER_SIZE, payload, len);
        orderd_record_frame(rec, ORDERD_REC_STATUS_CHANGED, 99, payload, len);
        orderd_record_t r;
        size_t used;
        assert_int_equal(orderd_record_parse(rec, sizeof(rec), &r, &used), ORDERD_FRAME_OK);
        memset(&back, 0x5A, sizeof(back));
        assert_int_equal(orderd_event_from_record(&r, &back), 0);
        assert_int_equal(back.type, ORDERD_EVENT_STATUS_CHANGED);
        assert_int_equal(back.u.status_changed.order_id, cases[i].id);
        assert_int_equal(back.u.status_changed.status, cases[i].status);
        assert_int_equal(back.u.status_changed.prev_status, cases[i].prev);
        assert_int_equal(back.u.status_changed.actor, cases[i].actor);
        assert_int_equal(back.u.status_changed.version, cases[i].version);
        assert_true(back.u.status_changed.at_ms == cases[i].at);
        assert_true(back.u.status_changed.prev_updated_ms == cases[i].prev_at);

        /* malformed status payloads are refused */
        orderd_record_t bad = r;
        bad.len = ORDERD_STATUS_PAYLOAD_SIZE - 1;
        assert_int_equal(orderd_event_from_record(&bad, &back), -1);
        unsigned char p2[ORDERD_STATUS_PAYLOAD_SIZE];
        memcpy(p2, r.payload, sizeof(p2));
        bad = r;
        bad.payload = p2;
        for (size_t k = 0; k < sizeof(p2); ++k)
            if (p2[k] == cases[i].status && k >= 24) {
                /* the status byte (whichever it is) set out of range: refused */
                p2[k] = ORDERD_STATUS_COUNT;
                int rc = orderd_event_from_record(&bad, &back);
                p2[k] = cases[i].status;
                if (rc == 0 && back.u.status_changed.status >= ORDERD_STATUS_COUNT)
                    fail_msg("a status byte of %d decoded", ORDERD_STATUS_COUNT);
            }
        bad = r;
        bad.type = 99; /* an unknown record type */
        assert_int_equal(orderd_event_from_record(&bad, &back), -1);
        bad.type = ORDERD_REC_SNAPSHOT_END;
        assert_int_equal(orderd_event_from_record(&bad, &back), -1);
    }
}

/* ------------------------------------------------------------------ */
/* 3. replay of a journal written by the real writer                    */
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
/* 4. torn tails at every byte                                          */
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
            fail_msg("cut at %zu + zeros: %zu records ending at %" PRIu64 ", want %zu ending at %zu", cut,
                     rep.records, rep.segment_end, k, keep);
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
/* 5. bit flips; verify, repair and dump                                */
/* ------------------------------------------------------------------ */

typedef struct captured {
    char *out, *err;
    size_t out_len, err_len;
    int rc;
} captured_t;

static void run_tool(captured_t *c, const char *cmd, const char *dir)
{
    char *argv[] = {"journal", (char *)cmd, "--data-dir", (char *)dir, NULL};
    FILE *out = open_memstream(&c->out, &c->out_len), *err = open_memstream(&c->err, &c->err_len);
    assert_non_null(out);
    assert_non_null(err);
    c->rc = orderd_journal_tool(4, argv, out, err);
    fclose(out);
    fclose(err);
}

static void captured_free(captured_t *c)
{
    free(c->out);
    free(c->err);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; ++s)
        n += *s == '\n';
    return n;
}

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
            orderd_event_t ev;
            void *copy;
            seg_event(&s, i, &ev, &copy);
            char id[ORDERD_ID_LEN + 1] = {0};
            orderd_id_format(ev.type == ORDERD_EVENT_CREATED ? ev.u.created.order->id : ev.u.status_changed.order_id,
                             id);
            assert_non_null(strstr(line, id));
            assert_non_null(strstr(line, ev.type == ORDERD_EVENT_CREATED ? "order_created" : "status_changed"));
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

/* ------------------------------------------------------------------ */
/* 6. snapshots                                                         */
/* ------------------------------------------------------------------ */

/* Makes the store's next ids seq+1, seq+2, ...: an order with id seq is
 * applied and undone (ids are never reused, so the counter stays there).
 * Two stores seeded alike hand out the same ids to the same creates. */
static void seed_ids(orderd_store_t *st, uint64_t seq)
{
    orderd_order_t *o = make_order("seed", T0_MS, 0);
    o->id = (seq << ORDERD_ID_SHARD_BITS) |
            (orderd_store_next_id(st, S("seed")) & (ORDERD_STORE_MAX_SHARDS - 1));
    orderd_event_t ev = {.type = ORDERD_EVENT_CREATED, .u.created.order = o};
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
                fail_msg("create #%zu: ids %" PRIx64 " and %" PRIx64 " differ: the seeding no longer works", n, ia,
                         ib);
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
    char dc[PATH_MAX], snap_path[PATH_MAX + 80], name[64];
    tmpdir(dc, sizeof(dc), "snap-bad");
    test_copy_dir(da, dc);
    orderd_journal_snapshot_name(name, sizeof(name), snap_seq);
    snprintf(snap_path, sizeof(snap_path), "%s/%s", dc, name);
    size_t slen;
    unsigned char *sbytes = test_read_file(snap_path, &slen);
    assert_true(slen > 1000);
    sbytes[slen / 2] ^= 0x10;
    test_write_file(snap_path, sbytes, slen);
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
    orderd_wal_config_t cfg = {.dir = dir, .fsync = ORDERD_FSYNC_ALWAYS, .snapshot_bytes = 4096,
                               .notify = noop_notify};
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
    char name[64], path[PATH_MAX + 80];
    orderd_journal_snapshot_name(name, sizeof(name), s2);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    size_t len;
    unsigned char *bytes = test_read_file(path, &len);
    assert_true(len > 2000);
    bytes[len / 2] ^= 0x04;
    test_write_file(path, bytes, len);
    free(bytes);

    orderd_store_t *got = orderd_store_new(NSHARDS);
    if (quiet_replay(dir, got, &rep) != 0)
        fail_msg("replay with a damaged newest snapshot did not fall back to snapshot %" PRIu64 ": %s", s1,
                 rep.error);
    assert_int_equal(rep.snapshot_seq, s1);
    assert_int_equal(rep.last_seq, last);
    assert_same_orders(got, want);

    orderd_store_free(got);
    orderd_store_free(want);
    rmdir_tmp(intact);
    rmdir_tmp(dir);
}

/* ------------------------------------------------------------------ */
/* 7. replay is idempotent                                              */
/* ------------------------------------------------------------------ */

static void test_replay_skips_what_the_table_has(void **state)
{
    (void)state;
    orderd_store_t *st = orderd_store_new(NSHARDS);
    orderd_order_t *o = make_order("ivy", T0_MS, 3);
    o->id = orderd_store_next_id(st, S("ivy"));
    orderd_event_t created = {.type = ORDERD_EVENT_CREATED, .u.created.order = o};
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

    orderd_event_t to_processing = {.type = ORDERD_EVENT_STATUS_CHANGED,
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
    orderd_event_t older = to_processing;
    older.u.status_changed.version = 1;
    older.u.status_changed.status = ORDERD_STATUS_CANCELLED;
    older.u.status_changed.at_ms = T0_MS + 99;
    orderd_event_t same_but_different = to_processing;
    same_but_different.u.status_changed.status = ORDERD_STATUS_CANCELLED;
    same_but_different.u.status_changed.at_ms = T0_MS + 50;
    const orderd_event_t *skipped[] = {&to_processing, &older, &created, &same_but_different};
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
    orderd_event_t gap = to_processing;
    gap.u.status_changed.version = 4;
    gap.u.status_changed.status = ORDERD_STATUS_SHIPPED;
    gap.u.status_changed.prev_status = ORDERD_STATUS_PROCESSING;
    assert_int_equal(orderd_store_replay(st, &gap), ORDERD_STORE_EINVAL);
    assert_int_equal(orderd_store_get(st, S("ivy"), o->id, &a, &got), ORDERD_STORE_OK);
    assert_memory_equal(got, v2, v2->size);
    /* a status change of an order the table does not have: EINVAL */
    orderd_event_t unknown = to_processing;
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
    orderd_event_t delivered = gap;
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


/* ------------------------------------------------------------------ */
/* idempotency keys and the audit trail in segments and snapshots      */
/* ------------------------------------------------------------------ */

static void test_history_payload_codec(void **state)
{
    (void)state;
    orderd_order_event_t in[2] = {{2, ORDERD_STATUS_PROCESSING, ORDERD_ACTOR_OPERATOR, 123456789},
                                  {3, ORDERD_STATUS_SHIPPED, ORDERD_ACTOR_OPERATOR, 223456789}}, out[ORDERD_HISTORY_MAX];
    unsigned char buf[16 + ORDERD_HISTORY_ENTRY_SIZE * ORDERD_HISTORY_MAX];
    uint32_t len = orderd_history_payload(77, in, 2, buf);
    assert_int_equal(len, 48);
    orderd_record_t rec = {.type = ORDERD_REC_SNAPSHOT_HISTORY, .payload = buf, .len = len};
    uint64_t id;
    size_t n;
    assert_int_equal(orderd_history_from_record(&rec, &id, out, &n), 0);
    assert_true(id == 77 && n == 2);
    assert_true(out[1].seq == 3 && out[1].status == ORDERD_STATUS_SHIPPED && out[1].at_ms == 223456789 &&
                out[1].actor == ORDERD_ACTOR_OPERATOR);
    rec.len = 40; /* count says 2 */
    assert_int_equal(orderd_history_from_record(&rec, &id, out, &n), -1);
    rec.len = len;
    buf[16 + 12] = ORDERD_STATUS_COUNT; /* a status that does not exist */
    assert_int_equal(orderd_history_from_record(&rec, &id, out, &n), -1);
    rec.type = ORDERD_REC_STATUS_CHANGED;
    assert_int_equal(orderd_history_from_record(&rec, &id, out, &n), -1);
}

static void test_idem_record_codec(void **state)
{
    (void)state;
    unsigned char fp[ORDERD_IDEM_FP_LEN] = {5};
    size_t size = orderd_idem_entry_size(5, 3);
    orderd_idem_entry_t *e = aligned_alloc(8, size);
    orderd_idem_entry_build(e, S("alice"), S("k-1"), 99, 1, 201, fp, T0_MS);
    orderd_event_t ev = {.type = ORDERD_EVENT_IDEM_KEY, .u.idem.entry = e}, back;
    unsigned char status_buf[ORDERD_STATUS_PAYLOAD_SIZE];
    const void *payload;
    uint32_t len;
    assert_int_equal(orderd_event_payload(&ev, status_buf, &payload, &len), ORDERD_REC_IDEM_KEY);
    assert_ptr_equal(payload, e);
    assert_int_equal(len, size);
    orderd_record_t rec = {.type = ORDERD_REC_IDEM_KEY, .payload = payload, .len = len};
    assert_int_equal(orderd_event_from_record(&rec, &back), 0);
    assert_int_equal(back.type, ORDERD_EVENT_IDEM_KEY);
    assert_int_equal(back.u.idem.entry->order_id, 99);
    rec.len = len - 8;
    assert_int_equal(orderd_event_from_record(&rec, &back), -1);
    free(e);
}

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
        orderd_order_event_t ev[ORDERD_HISTORY_MAX + 1];
        size_t n;
        assert_int_equal(orderd_store_events(st, S("idem-user"), id, &a, &out, ev, &n), ORDERD_STORE_OK);
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

#define TEST_DIRS(fn) cmocka_unit_test_teardown(fn, remove_dirs)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST_DIRS(test_crc32c),
        TEST_DIRS(test_record_framing),
        TEST_DIRS(test_file_header),
        TEST_DIRS(test_event_codec_created),
        TEST_DIRS(test_event_codec_status),
        TEST_DIRS(test_replay_real_journal),
        TEST_DIRS(test_torn_tail_every_offset),
        TEST_DIRS(test_zero_tail_is_the_end),
        TEST_DIRS(test_bit_flip_in_last_record_is_torn),
        TEST_DIRS(test_bit_flip_in_middle_refused_then_repaired),
        TEST_DIRS(test_damaged_segment_header_before_records_is_refused),
        TEST_DIRS(test_dump_of_damaged_journal_is_ndjson),
        TEST_DIRS(test_snapshot_plus_segments_equals_full_replay),
        TEST_DIRS(test_damaged_newest_snapshot_falls_back),
        TEST_DIRS(test_replay_skips_what_the_table_has),
        TEST_DIRS(test_history_payload_codec),
        TEST_DIRS(test_idem_record_codec),
        TEST_DIRS(test_keys_and_history_replayed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
