/* Unit tests for the journal's format (orderd/journal.h): CRC32C, the
 * little-endian fields, record and file framing, and the codecs of events,
 * history, idempotency keys and SNAPSHOT_END. Replay: journal_replay_test.c;
 * snapshots: snapshot_test.c; the writer: wal_test.c. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/internal/crc32c.h"
#include "orderd/journal.h"
#include "orderd/order.h"
#include "orderd/order_ops.h"
#include "orderd/store.h"
#include "fixture.h"
#include "test_util.h"

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

/* The integers of the format are little-endian, at any alignment; the
 * checks below read them with these helpers. */
static void test_little_endian_helpers(void **state)
{
    (void)state;
    unsigned char buf[24];
    for (size_t at = 0; at < 8; ++at) {
        memset(buf, 0xEE, sizeof(buf));
        orderd_le32_put(buf + at, 0x04030201u);
        assert_memory_equal(buf + at, "\x01\x02\x03\x04", 4);
        assert_int_equal(orderd_le32_get(buf + at), 0x04030201u);
        orderd_le64_put(buf + at + 4, 0x0c0b0a0908070605ULL);
        assert_memory_equal(buf + at, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c", 12);
        assert_true(orderd_le64_get(buf + at + 4) == 0x0c0b0a0908070605ULL);
        assert_true(orderd_le64_get(buf + at) == 0x0807060504030201ULL);
        /* nothing written around them */
        for (size_t i = 0; i < sizeof(buf); ++i)
            if (i < at || i >= at + 12)
                assert_int_equal(buf[i], 0xEE);
    }
    static const uint64_t v64[] = {0, 1, 0x80, 0xff, 0x100, 0x80000000u, UINT32_MAX, 1ULL << 32, INT64_MAX,
                                   0x8000000000000000ULL, UINT64_MAX};
    for (size_t i = 0; i < sizeof(v64) / sizeof(v64[0]); ++i) {
        orderd_le64_put(buf, v64[i]);
        assert_true(orderd_le64_get(buf) == v64[i]);
        for (int k = 0; k < 8; ++k)
            assert_int_equal(buf[k], (unsigned char)(v64[i] >> (8 * k)));
        orderd_le32_put(buf, (uint32_t)v64[i]);
        assert_int_equal(orderd_le32_get(buf), (uint32_t)v64[i]);
    }

    /* a record header's fields through the accessors */
    unsigned char rec[ORDERD_RECORD_HEADER_SIZE + 3];
    memcpy(rec + ORDERD_RECORD_HEADER_SIZE, "abc", 3);
    orderd_record_frame(rec, ORDERD_REC_STATUS_CHANGED, 0x1122334455667788ULL, rec + ORDERD_RECORD_HEADER_SIZE, 3);
    assert_int_equal(orderd_record_hdr_len(rec), 3);
    assert_true(orderd_record_hdr_seq(rec) == 0x1122334455667788ULL);
    orderd_record_t peek = orderd_record_peek(rec);
    assert_int_equal(peek.type, ORDERD_REC_STATUS_CHANGED);
    assert_true(peek.seq == 0x1122334455667788ULL);
    assert_int_equal(peek.len, 3);
    assert_ptr_equal(peek.payload, rec + ORDERD_RECORD_HEADER_SIZE);
    /* before the writer stamps them: length and type only */
    orderd_record_header_init(rec, ORDERD_REC_IDEM_KEY, 3);
    peek = orderd_record_peek(rec);
    assert_int_equal(peek.type, ORDERD_REC_IDEM_KEY);
    assert_int_equal(peek.len, 3);
    assert_true(peek.seq == 0);
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
    assert_int_equal(orderd_le32_get(rec), len);
    assert_int_equal(rec[8], type);
    assert_int_equal(rec[9] | rec[10] | rec[11], 0);
    assert_int_equal(orderd_le64_get(rec + 12), seq);
    uint32_t crc = orderd_crc32c(0, rec, 4);
    crc = orderd_crc32c(crc, rec + 8, total - 8);
    assert_int_equal(orderd_le32_get(rec + 4), crc);

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
        int want = bit < 32 ? expect_for_length(orderd_le32_get(rec), total) : ORDERD_FRAME_BAD;
        int got = orderd_record_parse(rec, total, &out, &used);
        if (got != want)
            fail_msg("len %u: bit %zu flipped: parse says %d, want %d", len, bit, got, want);
        rec[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
    assert_int_equal(orderd_record_parse(rec, total, &out, &used), ORDERD_FRAME_OK);

    /* restamp: a new seq, a new CRC, still parseable, payload untouched */
    uint32_t old_crc = orderd_le32_get(rec + 4);
    unsigned char *before = malloc(total);
    memcpy(before, rec, total);
    orderd_record_restamp(rec, seq + 12345);
    assert_int_equal(orderd_record_parse(rec, total, &out, &used), ORDERD_FRAME_OK);
    assert_int_equal(out.seq, seq + 12345);
    assert_int_equal(out.type, type);
    assert_int_equal(out.len, len);
    assert_int_not_equal(orderd_le32_get(rec + 4), old_crc);
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
        orderd_le32_put(h + 28, orderd_crc32c(0, h, 28));
        assert_int_equal(orderd_file_header_decode(h, ORDERD_FILE_HEADER_SIZE, ORDERD_JOURNAL_MAGIC, &seq), -1);
    }
    /* and the CRC really is what guards the rest: a seq change with the CRC fixed up decodes */
    memcpy(h, good, sizeof(good));
    h[16] ^= 1;
    orderd_le32_put(h + 28, orderd_crc32c(0, h, 28));
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
        orderd_change_t ev = {.type = ORDERD_CHANGE_CREATED, .u.created.order = o}, back;
        uint32_t len = orderd_change_payload_size(&ev);
        unsigned char *payload = aligned_alloc(8, len);
        assert_int_equal(orderd_change_encode(&ev, payload), ORDERD_REC_ORDER_CREATED);
        assert_int_equal(len, o->size);
        assert_memory_equal(payload, o, len); /* the blob itself */

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
        assert_int_equal(orderd_change_from_record(&r, &back), 0);
        assert_int_equal(back.type, ORDERD_CHANGE_CREATED);
        assert_int_equal(back.u.created.order->size, o->size);
        assert_memory_equal(back.u.created.order, o, o->size);
        assert_int_equal(back.u.created.order->id, o->id);
        assert_int_equal(back.u.created.order->version, 1);

        /* a snapshot order decodes the same way */
        r.type = ORDERD_REC_SNAPSHOT_ORDER;
        assert_int_equal(orderd_change_from_record(&r, &back), 0);
        assert_memory_equal(back.u.created.order, o, o->size);

        /* a blob whose length does not match its size field is refused */
        r.type = ORDERD_REC_ORDER_CREATED;
        r.len = o->size - 8;
        assert_int_equal(orderd_change_from_record(&r, &back), -1);
        r.len = o->size;
        copy->status = ORDERD_STATUS_COUNT; /* an unknown status */
        assert_int_equal(orderd_change_from_record(&r, &back), -1);
        copy->status = ORDERD_STATUS_PENDING;
        copy->user_len = 0;
        assert_int_equal(orderd_change_from_record(&r, &back), -1);
        free(copy);
        free(rec);
        free(payload);
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
        orderd_change_t ev = {.type = ORDERD_CHANGE_STATUS,
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
        const unsigned char *payload = buf;
        uint32_t len = orderd_change_payload_size(&ev);
        assert_int_equal(orderd_change_encode(&ev, buf), ORDERD_REC_STATUS_CHANGED);
        assert_int_equal(len, ORDERD_STATUS_PAYLOAD_SIZE);
        /* the order id comes first, little-endian */
        assert_int_equal(orderd_le64_get(buf), cases[i].id);

        unsigned char rec[ORDERD_RECORD_HEADER_SIZE + ORDERD_STATUS_PAYLOAD_SIZE];
        memcpy(rec + ORDERD_RECORD_HEADER_SIZE, payload, len);
        orderd_record_frame(rec, ORDERD_REC_STATUS_CHANGED, 99, payload, len);
        orderd_record_t r;
        size_t used;
        assert_int_equal(orderd_record_parse(rec, sizeof(rec), &r, &used), ORDERD_FRAME_OK);
        memset(&back, 0x5A, sizeof(back));
        assert_int_equal(orderd_change_from_record(&r, &back), 0);
        assert_int_equal(back.type, ORDERD_CHANGE_STATUS);
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
        assert_int_equal(orderd_change_from_record(&bad, &back), -1);
        unsigned char p2[ORDERD_STATUS_PAYLOAD_SIZE];
        memcpy(p2, r.payload, sizeof(p2));
        bad = r;
        bad.payload = p2;
        for (size_t k = 0; k < sizeof(p2); ++k)
            if (p2[k] == cases[i].status && k >= 24) {
                /* the status byte (whichever it is) set out of range: refused */
                p2[k] = ORDERD_STATUS_COUNT;
                int rc = orderd_change_from_record(&bad, &back);
                p2[k] = cases[i].status;
                if (rc == 0 && back.u.status_changed.status >= ORDERD_STATUS_COUNT)
                    fail_msg("a status byte of %d decoded", ORDERD_STATUS_COUNT);
            }
        bad = r;
        bad.type = 99; /* an unknown record type */
        assert_int_equal(orderd_change_from_record(&bad, &back), -1);
        bad.type = ORDERD_REC_SNAPSHOT_END;
        assert_int_equal(orderd_change_from_record(&bad, &back), -1);
    }
}

/* ------------------------------------------------------------------ */
/* 3. snapshot payloads: history, keys, the end                         */
/* ------------------------------------------------------------------ */

static void test_history_payload_codec(void **state)
{
    (void)state;
    orderd_audit_entry_t in[2] = {{.version = 2, .status = ORDERD_STATUS_PROCESSING, .actor = ORDERD_ACTOR_OPERATOR,
                                   .at_ms = 123456789},
                                  {.version = 3, .status = ORDERD_STATUS_SHIPPED, .actor = ORDERD_ACTOR_OPERATOR,
                                   .at_ms = 223456789}},
                         out[ORDERD_HISTORY_MAX];
    unsigned char buf[16 + ORDERD_HISTORY_ENTRY_SIZE * ORDERD_HISTORY_MAX];
    uint32_t len = orderd_history_payload(77, in, 2, buf);
    assert_int_equal(len, 48);
    orderd_record_t rec = {.type = ORDERD_REC_SNAPSHOT_HISTORY, .payload = buf, .len = len};
    uint64_t id;
    size_t n;
    assert_int_equal(orderd_history_from_record(&rec, &id, out, &n), 0);
    assert_true(id == 77 && n == 2);
    assert_true(out[1].version == 3 && out[1].status == ORDERD_STATUS_SHIPPED && out[1].at_ms == 223456789 &&
                out[1].actor == ORDERD_ACTOR_OPERATOR);
    rec.len = 40; /* count says 2 */
    assert_int_equal(orderd_history_from_record(&rec, &id, out, &n), -1);
    rec.len = len;
    buf[16 + 12] = ORDERD_STATUS_COUNT; /* a status that does not exist */
    assert_int_equal(orderd_history_from_record(&rec, &id, out, &n), -1);
    rec.type = ORDERD_REC_STATUS_CHANGED;
    assert_int_equal(orderd_history_from_record(&rec, &id, out, &n), -1);
}

/* An operation's record: head, detail, the order after and before; every
 * piece checked on the way back. */
static void test_amended_record_codec(void **state)
{
    (void)state;
    orderd_order_t *before = make_order("amy", T0_MS, 3);
    before->id = 0x0abcdef012345ULL << 12;
    orderd_edit_step_t step = {.kind = ORDERD_EDIT_SET_ADDRESS, .address = S("9 New Rd")};
    orderd_op_t op = {.type = ORDERD_OP_EDIT, .steps = &step, .n_steps = 1};
    orderd_op_result_t res;
    test_arena_t ar = {0};
    orderd_alloc_t a = test_arena_allocator(&ar);
    assert_int_equal(orderd_op_apply(before, &op, ORDERD_ACTOR_USER, T0_MS + 9, &a, &res), ORDERD_OP_OK);
    orderd_change_t ev = {.type = ORDERD_CHANGE_AMENDED,
                          .u.amended = {.op = ORDERD_OP_EDIT, .actor = ORDERD_ACTOR_USER, .status = res.after->status,
                                        .prev_status = before->status, .version = 2, .order_id = before->id,
                                        .at_ms = T0_MS + 9, .after = res.after, .before = before,
                                        .detail = res.detail, .detail_len = res.detail_len}},
                   back;
    uint32_t len = orderd_change_payload_size(&ev);
    assert_int_equal(len, ORDERD_AMENDED_HEAD_SIZE + ((res.detail_len + 7) & ~7u) + res.after->size + before->size);
    unsigned char *p = aligned_alloc(8, len);
    assert_int_equal(orderd_change_encode(&ev, p), ORDERD_REC_EDITED);
    assert_int_equal(orderd_le64_get(p), before->id); /* the order id first, little-endian */
    assert_int_equal(orderd_le32_get(p + 16), 2);
    orderd_record_t rec = {.type = ORDERD_REC_EDITED, .payload = p, .len = len};
    assert_int_equal(orderd_change_from_record(&rec, &back), 0);
    assert_int_equal(back.type, ORDERD_CHANGE_AMENDED);
    assert_true(back.u.amended.op == ORDERD_OP_EDIT && back.u.amended.version == 2 &&
                back.u.amended.order_id == before->id && back.u.amended.at_ms == T0_MS + 9 &&
                back.u.amended.detail_len == res.detail_len);
    assert_memory_equal(back.u.amended.after, res.after, res.after->size);
    assert_memory_equal(back.u.amended.before, before, before->size);
    assert_memory_equal(back.u.amended.detail, res.detail, res.detail_len);
    /* each kind of damage is refused */
    struct {
        size_t at;
        unsigned char value;
    } damage[] = {{0, 0x77},  /* an id the orders do not have */
                  {16, 9},    /* a version the after order does not have */
                  {20, 4},    /* a status the after order does not have */
                  {20, 99},   /* no status */
                  {22, 7},    /* no actor */
                  {24, 0xff}, /* a detail length that does not add up */
                  {28, 0x01}, /* an after length that is not the after's size */
                  {ORDERD_AMENDED_HEAD_SIZE, 0}}; /* a detail entry of no kind */
    for (size_t i = 0; i < sizeof(damage) / sizeof(damage[0]); ++i) {
        unsigned char keep = p[damage[i].at];
        p[damage[i].at] = damage[i].value;
        if (orderd_change_from_record(&rec, &back) == 0)
            fail_msg("damage %zu (byte %zu = %u) accepted", i, damage[i].at, damage[i].value);
        p[damage[i].at] = keep;
    }
    rec.len = len - 8;
    assert_int_equal(orderd_change_from_record(&rec, &back), -1);
    rec.len = len;
    rec.type = ORDERD_REC_REFUNDED; /* the type is the operation: another type decodes as that one */
    assert_int_equal(orderd_change_from_record(&rec, &back), 0);
    assert_int_equal(back.u.amended.op, ORDERD_OP_REFUND);
    free(p);
    free(before);
    test_arena_reset(&ar);
}

static void test_idem_record_codec(void **state)
{
    (void)state;
    unsigned char fp[ORDERD_IDEM_FP_LEN] = {5};
    size_t size = orderd_idem_entry_size(5, 3);
    orderd_idem_entry_t *e = aligned_alloc(8, size);
    orderd_idem_entry_build(e, S("alice"), S("k-1"), 99, 1, 201, fp, T0_MS);
    orderd_change_t ev = {.type = ORDERD_CHANGE_IDEM_KEY, .u.idem.entry = e}, back;
    uint32_t len = orderd_change_payload_size(&ev);
    unsigned char *payload = aligned_alloc(8, len);
    assert_int_equal(orderd_change_encode(&ev, payload), ORDERD_REC_IDEM_KEY);
    assert_int_equal(len, size);
    assert_memory_equal(payload, e, len);
    orderd_record_t rec = {.type = ORDERD_REC_IDEM_KEY, .payload = payload, .len = len};
    assert_int_equal(orderd_change_from_record(&rec, &back), 0);
    assert_int_equal(back.type, ORDERD_CHANGE_IDEM_KEY);
    assert_int_equal(back.u.idem.entry->order_id, 99);
    rec.len = len - 8;
    assert_int_equal(orderd_change_from_record(&rec, &back), -1);
    free(payload);
    free(e);
}

static void test_snapshot_end_codec(void **state)
{
    (void)state;
    static const uint64_t counts[] = {0, 1, 300, 0x0102030405060708ULL, UINT64_MAX};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); ++i) {
        unsigned char buf[ORDERD_SNAPSHOT_END_PAYLOAD_SIZE];
        uint32_t len = orderd_snapshot_end_payload(counts[i], buf);
        assert_int_equal(len, 8); /* journal.md: a u64, little-endian */
        assert_true(orderd_le64_get(buf) == counts[i]);
        orderd_record_t rec = {.type = ORDERD_REC_SNAPSHOT_END, .payload = buf, .len = len};
        uint64_t n = ~counts[i];
        assert_int_equal(orderd_snapshot_end_count(&rec, &n), 0);
        assert_true(n == counts[i]);
        rec.len = 7;
        assert_int_equal(orderd_snapshot_end_count(&rec, &n), -1);
        rec.len = 9;
        assert_int_equal(orderd_snapshot_end_count(&rec, &n), -1);
        rec.len = len;
        rec.type = ORDERD_REC_SNAPSHOT_ORDER;
        assert_int_equal(orderd_snapshot_end_count(&rec, &n), -1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c),
        cmocka_unit_test(test_little_endian_helpers),
        cmocka_unit_test(test_record_framing),
        cmocka_unit_test(test_file_header),
        cmocka_unit_test(test_event_codec_created),
        cmocka_unit_test(test_event_codec_status),
        cmocka_unit_test(test_history_payload_codec),
        cmocka_unit_test(test_idem_record_codec),
        cmocka_unit_test(test_amended_record_codec),
        cmocka_unit_test(test_snapshot_end_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
