/*
 * Start-up replay (orderd_journal_replay, src/journal_replay.c): the
 * snapshot loader and the segments' replay into a table, on a data
 * directory the input describes. Files go to a directory of their own under
 * /dev/shm (or $TMPDIR), emptied after each input.
 *
 * Input, structured (first byte < 0x80): byte 0 says which files there are
 * (bit 0 a snapshot, bit 1 a second segment); bytes 1-3 their sequence
 * numbers (the snapshot's; how far the first segment starts before or after
 * the record following it; the gap between the segments); then chunks of
 * [control][length, u16 LE][payload], each one record framed with a valid
 * CRC and the file's next sequence number, so the decoders behind the
 * framing are reached. The control byte: bits 0-1 the file (snapshot, first
 * segment, second segment); bits 2-4 the record type (1, 2, 3, 16, 17, 18,
 * 19, or any: the payload's first byte, the rest the payload); bits 5-6
 * how it is written (framed; unframed bytes; framed after a skipped sequence
 * number; framed with a broken CRC); bit 7 zeros after it. A SNAPSHOT_END with no payload gets the
 * count of orders before it. Raw (first byte >= 0x80): bytes 1-2 the length
 * of a snapshot file (bit 0 set) taken as it is, the rest a segment as it is.
 *
 * Checked: a refused directory says why; a loaded table holds only orders
 * that orderd_order_check accepts and that encode as JSON, with an audit
 * trail in version order, and the report counts them.
 */
#include <dirent.h>
#include <inttypes.h>
#include <unistd.h>

#include "fuzz.h"
#include "orderd/codec.h"
#include "orderd/journal.h"
#include "orderd/store.h"

static char dir[4096];

static void empty_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    FUZZ_CHECK(d != NULL);
    while ((e = readdir(d)) != NULL) {
        char path[4400];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FUZZ_CHECK(unlink(path) == 0);
    }
    closedir(d);
}

static void remove_dir(void)
{
    empty_dir();
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *tmp = getenv("TMPDIR");
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : tmp != NULL ? tmp : "/tmp";
    snprintf(dir, sizeof(dir), "%s/orderd-journal-fuzz-XXXXXX", base);
    FUZZ_CHECK(mkdtemp(dir) != NULL);
    atexit(remove_dir);
    return 0;
}

/* --- building the files --- */

typedef struct file {
    unsigned char *buf;
    size_t len, cap;
    uint64_t next;   /* the next record's sequence number */
    uint64_t orders; /* SNAPSHOT_ORDER records so far */
} file_t;

static void put(file_t *f, const void *p, size_t n)
{
    if (f->len + n > f->cap) {
        f->cap = (f->len + n) * 2 + 64;
        f->buf = realloc(f->buf, f->cap);
        FUZZ_CHECK(f->buf != NULL);
    }
    memcpy(f->buf + f->len, p, n);
    f->len += n;
}

static void file_begin(file_t *f, const char magic[8], uint64_t seq)
{
    unsigned char hdr[ORDERD_FILE_HEADER_SIZE];
    orderd_file_header_encode(hdr, magic, seq);
    *f = (file_t){.next = seq};
    put(f, hdr, sizeof(hdr));
}

static void put_record(file_t *f, uint8_t type, const unsigned char *payload, uint32_t len, int break_crc)
{
    unsigned char hdr[ORDERD_RECORD_HEADER_SIZE];
    orderd_record_frame(hdr, type, f->next++, payload, len);
    if (break_crc)
        hdr[4] ^= 1;
    put(f, hdr, sizeof(hdr));
    put(f, payload, len);
    f->orders += type == ORDERD_REC_SNAPSHOT_ORDER;
}

static void write_file(const char *name, const file_t *f)
{
    char path[4400];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *out = fopen(path, "wb");
    FUZZ_CHECK(out != NULL);
    FUZZ_CHECK(f->len == 0 || fwrite(f->buf, 1, f->len, out) == f->len);
    FUZZ_CHECK(fclose(out) == 0);
}

static void write_snapshot(uint64_t seq, const file_t *f)
{
    char name[64];
    orderd_journal_snapshot_name(name, sizeof(name), seq);
    write_file(name, f);
}

static void write_segment(uint64_t first, const file_t *f)
{
    char name[64];
    orderd_journal_segment_name(name, sizeof(name), first);
    write_file(name, f);
}

static const uint8_t types[] = {ORDERD_REC_ORDER_CREATED,  ORDERD_REC_STATUS_CHANGED, ORDERD_REC_IDEM_KEY,
                                ORDERD_REC_SNAPSHOT_ORDER, ORDERD_REC_SNAPSHOT_END,   ORDERD_REC_SNAPSHOT_HISTORY,
                                ORDERD_REC_SNAPSHOT_IDEM};

static void build_structured(const uint8_t *data, size_t size)
{
    int has_snap = data[0] & 1, has_b = (data[0] & 2) != 0;
    uint64_t snap_seq = has_snap ? data[1] : 0;
    /* the first segment starts up to 3 before the record after the snapshot, or up to 3 after it (a gap) */
    int64_t a_first = (int64_t)snap_seq + 1 + (data[2] % 7) - 3;
    file_t files[3] = {{0}};
    file_begin(&files[0], ORDERD_SNAPSHOT_MAGIC, snap_seq);
    file_begin(&files[1], ORDERD_JOURNAL_MAGIC, (uint64_t)(a_first < 1 ? 1 : a_first));
    uint64_t a_start = files[1].next;
    int b_begun = 0;
    uint64_t b_start = 0;
    size_t at = 4;
    while (at + 3 <= size) {
        uint8_t ctl = data[at];
        size_t len = (size_t)data[at + 1] | (size_t)data[at + 2] << 8;
        at += 3;
        if (len > size - at)
            len = size - at;
        const unsigned char *payload = data + at;
        at += len;
        int which = ctl & 3;
        if (which == 0 && !has_snap)
            which = 1;
        if (which >= 2)
            which = has_b ? 2 : 1;
        file_t *f = &files[which];
        if (which == 2 && !b_begun) {
            /* the second segment starts where the first ends, or one before or after */
            b_start = files[1].next + (data[3] % 3) - 1;
            file_begin(f, ORDERD_JOURNAL_MAGIC, b_start < 1 ? 1 : b_start);
            b_start = f->next;
            b_begun = 1;
        }
        unsigned kind = (ctl >> 2) & 7;
        uint8_t type = kind < 7 ? types[kind] : len > 0 ? payload[0] : 0;
        if (kind == 7 && len > 0) { /* any type: the payload's first byte, then the payload */
            ++payload;
            --len;
        }
        unsigned char end[ORDERD_SNAPSHOT_END_PAYLOAD_SIZE];
        if (type == ORDERD_REC_SNAPSHOT_END && len == 0) {
            len = orderd_snapshot_end_payload(f->orders, end);
            payload = end;
        }
        switch ((ctl >> 5) & 3) {
        case 0:
            put_record(f, type, payload, (uint32_t)len, 0);
            break;
        case 1:
            put(f, payload, len);
            break;
        case 2:
            ++f->next;
            put_record(f, type, payload, (uint32_t)len, 0);
            break;
        case 3:
            put_record(f, type, payload, (uint32_t)len, 1);
            break;
        }
        if (ctl & 0x80) {
            static const unsigned char zeros[64];
            put(f, zeros, sizeof(zeros));
        }
    }
    if (has_snap)
        write_snapshot(snap_seq, &files[0]);
    write_segment(a_start, &files[1]);
    if (b_begun)
        write_segment(b_start, &files[2]);
    for (int i = 0; i < 3; ++i)
        free(files[i].buf);
}

/* The sequence number a file's header names, or `otherwise`. */
static uint64_t header_seq(const uint8_t *p, size_t n, const char magic[8], uint64_t otherwise)
{
    uint64_t seq;
    return orderd_file_header_decode(p, n, magic, &seq) == 0 ? seq : otherwise;
}

static void build_raw(const uint8_t *data, size_t size)
{
    size_t at = 1;
    if ((data[0] & 1) && size >= 3) {
        size_t len = (size_t)data[1] | (size_t)data[2] << 8;
        at = 3;
        if (len > size - at)
            len = size - at;
        file_t f = {.buf = (unsigned char *)data + at, .len = len};
        write_snapshot(header_seq(data + at, len, ORDERD_SNAPSHOT_MAGIC, 0), &f);
        at += len;
    }
    file_t f = {.buf = (unsigned char *)data + at, .len = size - at};
    write_segment(header_seq(data + at, size - at, ORDERD_JOURNAL_MAGIC, 1), &f);
}

/* --- the loaded table --- */

typedef struct walk {
    size_t orders;
    fuzz_arena_t ar;
} walk_t;

static void check_order(void *ctx, const orderd_order_t *o)
{
    walk_t *w = ctx;
    FUZZ_CHECK(orderd_order_check(o, o->size) == 0);
    /* the trail as the table holds it: versions rising, each entry within the order's */
    const unsigned char *data;
    size_t len, n = 0;
    orderd_store_order_audit(o, &data, &len);
    orderd_alloc_t a = fuzz_arena_allocator(&w->ar);
    orderd_audit_entry_t *events = orderd_alloc(&a, (len / sizeof(orderd_audit_raw_t) + 1) * sizeof(*events));
    for (size_t off = 0; off < len; ++n) {
        orderd_audit_raw_t r;
        FUZZ_CHECK(len - off >= sizeof(r));
        memcpy(&r, data + off, sizeof(r));
        FUZZ_CHECK(r.version >= 2 && r.version <= o->version && (n == 0 || r.version > events[n - 1].version) &&
                   r.status < ORDERD_STATUS_COUNT);
        events[n] = (orderd_audit_entry_t){.version = r.version, .status = r.status, .actor = r.actor,
                                           .at_ms = r.at_ms, .kind = r.kind,
                                           .detail = r.detail_len != 0 ? data + off + sizeof(r) : NULL,
                                           .detail_len = r.detail_len};
        off += orderd_audit_raw_size(r.detail_len);
    }
    FUZZ_CHECK(orderd_codec_encode_order(o, &a).len > 0);
    FUZZ_CHECK(orderd_codec_encode_audit_trail(o, events, n, &a).len > 0);
    ++w->orders;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static orderd_replay_report_t rep;
    if (size < 4)
        return 0;
    if (data[0] < 0x80)
        build_structured(data, size);
    else
        build_raw(data, size);
    orderd_store_t *store = orderd_store_new(8);
    FUZZ_CHECK(store != NULL);
    int rc = orderd_journal_replay(dir, store, &rep);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (getenv("FUZZ_VERBOSE") != NULL)
        fprintf(stderr, "journal_fuzz: replay %d: %zu records, snapshot %" PRIu64 " with %zu orders, %zu orders; %s\n",
                rc, rep.records, rep.snapshot_seq, rep.snapshot_orders, rep.orders, rc != 0 ? rep.error : "");
    if (rc != 0) {
        FUZZ_CHECK(rep.error[0] != '\0');
    } else {
        walk_t w = {0};
        for (unsigned i = 0; i < orderd_store_shards(store); ++i)
            orderd_store_each(store, i, check_order, &w);
        fuzz_arena_free(&w.ar);
        FUZZ_CHECK(w.orders == rep.orders && rep.orders == orderd_store_count(store));
        FUZZ_CHECK(rep.last_seq >= rep.snapshot_seq && rep.segment_end <= rep.segment_bytes);
    }
    orderd_store_free(store);
    empty_dir();
    return 0;
}
