/*
 * The journal's record decoders (src/journal.c) and the record scanner
 * (src/internal/scan.c) on any bytes. Input: a record type, a flags byte,
 * then a payload. The payload goes through orderd_change_from_record,
 * orderd_history_from_record and orderd_snapshot_end_count in an exactly
 * sized, 8-byte aligned buffer (or a misaligned one, flags bit 0, which blob
 * types must refuse); what decodes must stay inside the payload and encode
 * back (orderd_change_payload, orderd_history_payload,
 * orderd_snapshot_end_payload) to the same bytes, and every change renders
 * as the event feed's JSON (orderd_feed_render). Then the whole input is
 * read as a file: orderd_record_parse, orderd_file_header_decode and
 * orderd_scan_file with both magics, whose report must describe the bytes.
 */
#include "fuzz.h"
#include "internal/scan.h"
#include "orderd/codec.h"
#include "orderd/feed.h"
#include "orderd/journal.h"

/* Reads every byte of [p, p+n): an overread shows under ASan. */
static unsigned touch(const void *p, size_t n)
{
    unsigned sum = 0;
    for (size_t i = 0; i < n; ++i)
        sum += ((const unsigned char *)p)[i];
    return sum;
}

static int inside(const void *p, size_t n, const unsigned char *buf, size_t len)
{
    const unsigned char *c = p;
    return c >= buf && c + n <= buf + len;
}

static void check_change(const orderd_record_t *rec, const orderd_change_t *ev)
{
    uint32_t len = orderd_change_payload_size(ev);
    unsigned char *buf = malloc(len + 1);
    FUZZ_CHECK(buf != NULL);
    uint8_t type = orderd_change_encode(ev, buf);
    const unsigned char *payload = buf;
    switch (ev->type) {
    case ORDERD_CHANGE_CREATED: {
        const orderd_order_t *o = ev->u.created.order;
        FUZZ_CHECK(type == ORDERD_REC_ORDER_CREATED && len == rec->len && memcmp(payload, rec->payload, len) == 0);
        FUZZ_CHECK(inside(orderd_order_user(o).base, o->user_len, rec->payload, rec->len));
        FUZZ_CHECK(inside(orderd_order_address(o).base, o->address_len, rec->payload, rec->len));
        FUZZ_CHECK(inside(orderd_order_payment(o).base, o->payment_len, rec->payload, rec->len));
        for (size_t i = 0; i < o->n_items; ++i)
            FUZZ_CHECK(inside(orderd_order_product(o, i).base, o->items[i].product_len, rec->payload, rec->len));
        /* and as a client would get it: every string, the money and the times written out */
        fuzz_arena_t ar = {0};
        orderd_alloc_t a = fuzz_arena_allocator(&ar);
        orderd_str_t json = orderd_codec_encode_order(o, &a);
        FUZZ_CHECK(json.len > 0 && touch(json.base, json.len) > 0);
        fuzz_arena_free(&ar);
        break;
    }
    case ORDERD_CHANGE_IDEM_KEY: {
        const orderd_idem_entry_t *e = ev->u.idem.entry;
        FUZZ_CHECK(type == ORDERD_REC_IDEM_KEY && len == rec->len && memcmp(payload, rec->payload, len) == 0);
        orderd_str_t user = orderd_idem_entry_user(e), key = orderd_idem_entry_key(e);
        FUZZ_CHECK(inside(user.base, user.len, rec->payload, rec->len) &&
                   inside(key.base, key.len, rec->payload, rec->len));
        touch(user.base, user.len);
        touch(key.base, key.len);
        break;
    }
    case ORDERD_CHANGE_STATUS: {
        /* the same bytes, but for the reserved 32nd: the head, then the order after it when there is one */
        const orderd_order_t *after = ev->u.status_changed.after;
        FUZZ_CHECK(type == ORDERD_REC_STATUS_CHANGED && len == rec->len && memcmp(payload, rec->payload, 31) == 0 &&
                   memcmp(payload + ORDERD_STATUS_PAYLOAD_SIZE, rec->payload + ORDERD_STATUS_PAYLOAD_SIZE,
                          len - ORDERD_STATUS_PAYLOAD_SIZE) == 0);
        FUZZ_CHECK(ev->u.status_changed.status < ORDERD_STATUS_COUNT &&
                   ev->u.status_changed.prev_status < ORDERD_STATUS_COUNT);
        FUZZ_CHECK(after == NULL ? rec->len == ORDERD_STATUS_PAYLOAD_SIZE
                                 : inside(after, after->size, rec->payload, rec->len) &&
                                       after->id == ev->u.status_changed.order_id &&
                                       after->version == ev->u.status_changed.version);
        break;
    }
    case ORDERD_CHANGE_AMENDED: {
        /* the same bytes but for the reserved ones (23, 36 to 39) and the detail's padding */
        size_t orders_at = len - ev->u.amended.after->size - ev->u.amended.before->size;
        FUZZ_CHECK(type == rec->type && len == rec->len && memcmp(payload, rec->payload, 23) == 0 &&
                   memcmp(payload + 24, rec->payload + 24, 12) == 0 &&
                   memcmp(payload + orders_at, rec->payload + orders_at, len - orders_at) == 0 &&
                   memcmp(payload + ORDERD_AMENDED_HEAD_SIZE, rec->payload + ORDERD_AMENDED_HEAD_SIZE,
                          ev->u.amended.detail_len) == 0);
        fuzz_arena_t ar = {0};
        orderd_alloc_t a = fuzz_arena_allocator(&ar);
        orderd_audit_entry_t e = {.version = ev->u.amended.version,
                                  .status = ev->u.amended.status,
                                  .actor = ev->u.amended.actor,
                                  .kind = ev->u.amended.op,
                                  .detail = ev->u.amended.detail,
                                  .detail_len = ev->u.amended.detail_len};
        orderd_str_t json = orderd_codec_encode_order(ev->u.amended.after, &a);
        FUZZ_CHECK(json.len > 0 && touch(json.base, json.len) > 0);
        json = orderd_codec_encode_audit_trail(ev->u.amended.after, &e, 1, &a);
        FUZZ_CHECK(json.len > 0 && touch(json.base, json.len) > 0);
        fuzz_arena_free(&ar);
        break;
    }
    default:
        FUZZ_CHECK(!"a change of no known type");
    }
    free(buf);
    /* and as the event feed hands it out (src/feed_event.c): one JSON object, or no event for a key */
    unsigned char *framed = malloc(ORDERD_RECORD_HEADER_SIZE + rec->len);
    FUZZ_CHECK(framed != NULL);
    memcpy(framed + ORDERD_RECORD_HEADER_SIZE, rec->payload, rec->len);
    orderd_record_frame(framed, rec->type, 7, framed + ORDERD_RECORD_HEADER_SIZE, rec->len);
    fuzz_arena_t ar = {0};
    orderd_alloc_t a = fuzz_arena_allocator(&ar);
    orderd_str_t json;
    uint64_t order_id;
    int64_t at_ms;
    int r = orderd_feed_render(framed, ORDERD_RECORD_HEADER_SIZE + rec->len, 3, &a, &json, &order_id, &at_ms);
    FUZZ_CHECK(r == (ev->type == ORDERD_CHANGE_IDEM_KEY ? 1 : 0));
    if (r == 0)
        FUZZ_CHECK(json.len > 2 && json.base[0] == '{' && json.base[json.len - 1] == '}' &&
                   touch(json.base, json.len) > 0 && memcmp(json.base, "{\"id\":\"3-7\",\"seq\":7,", 20) == 0);
    fuzz_arena_free(&ar);
    free(framed);
}

static void check_payload(uint8_t type, const unsigned char *payload, size_t len)
{
    orderd_record_t rec = {.type = type, .seq = 1, .payload = payload, .len = (uint32_t)len};
    orderd_change_t ev;
    if (orderd_change_from_record(&rec, &ev) == 0) {
        FUZZ_CHECK(((uintptr_t)payload & 7) == 0 || ev.type == ORDERD_CHANGE_STATUS);
        check_change(&rec, &ev);
    }

    uint64_t id;
    orderd_audit_entry_t events[ORDERD_HISTORY_MAX];
    size_t n;
    if (orderd_history_from_record(&rec, &id, events, &n) == 0) {
        unsigned char again[16 + ORDERD_HISTORY_ENTRY_SIZE * ORDERD_HISTORY_MAX];
        FUZZ_CHECK(n >= 1 && n <= ORDERD_HISTORY_MAX);
        FUZZ_CHECK(orderd_history_payload(id, events, n, again) == len);
        /* equal but for the reserved bytes: 12-15 of the head, 14-15 of each entry */
        FUZZ_CHECK(memcmp(again, payload, 12) == 0);
        for (size_t i = 0; i < n; ++i)
            FUZZ_CHECK(memcmp(again + 16 + i * ORDERD_HISTORY_ENTRY_SIZE, payload + 16 + i * ORDERD_HISTORY_ENTRY_SIZE,
                              14) == 0);
    }

    uint64_t orders;
    if (orderd_snapshot_end_count(&rec, &orders) == 0) {
        unsigned char again[ORDERD_SNAPSHOT_END_PAYLOAD_SIZE];
        FUZZ_CHECK(orderd_snapshot_end_payload(orders, again) == len && memcmp(again, payload, len) == 0);
    }
}

/* The scanner's reader: what replay does with each record it finds valid. */
static int on_record(void *ctx, const orderd_record_t *rec, size_t off)
{
    size_t *seen = ctx;
    orderd_change_t ev;
    FUZZ_CHECK(((uintptr_t)rec->payload & 7) == 0);
    touch(rec->payload, rec->len);
    ++*seen;
    (void)off;
    return rec->type == ORDERD_REC_SNAPSHOT_END || orderd_change_from_record(rec, &ev) == 0 ? 0 : -1;
}

static void check_scan(const uint8_t *data, size_t size, const char magic[8])
{
    orderd_scan_t sc;
    size_t seen = 0;
    FUZZ_CHECK(orderd_scan_file(data, size, magic, on_record, &seen, &sc) == 0);
    FUZZ_CHECK(sc.state == ORDERD_SCAN_CLEAN || sc.state == ORDERD_SCAN_TORN || sc.state == ORDERD_SCAN_DAMAGED);
    FUZZ_CHECK(sc.valid_end <= size && sc.records <= seen);
    uint64_t first;
    if (orderd_file_header_decode(data, size, magic, &first) != 0) {
        FUZZ_CHECK(sc.state != ORDERD_SCAN_CLEAN && sc.records == 0 && sc.why != NULL);
        return;
    }
    FUZZ_CHECK(sc.first_seq == first && sc.next_seq == first + sc.records && sc.valid_end >= ORDERD_FILE_HEADER_SIZE);
    if (sc.state == ORDERD_SCAN_CLEAN) {
        FUZZ_CHECK(sc.valid_end + sc.zero_tail == size);
        for (size_t i = sc.valid_end; i < size; ++i)
            FUZZ_CHECK(data[i] == 0);
    } else {
        FUZZ_CHECK(sc.why != NULL && sc.bad_at == sc.valid_end && sc.bad_at < size);
        if (sc.state == ORDERD_SCAN_DAMAGED)
            FUZZ_CHECK(sc.resume_at > sc.bad_at && sc.resume_at <= size);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t len = size - 2;
    int misalign = data[1] & 1;
    /* exactly sized: one past the payload is outside the allocation */
    unsigned char *buf = aligned_alloc(8, (len + misalign + 7) & ~(size_t)7);
    FUZZ_CHECK(buf != NULL);
    memcpy(buf + misalign, data + 2, len);
    check_payload(data[0], buf + misalign, len);
    free(buf);

    orderd_record_t rec;
    size_t used;
    int r = orderd_record_parse(data, size, &rec, &used);
    FUZZ_CHECK(r == ORDERD_FRAME_OK || r == ORDERD_FRAME_SHORT || r == ORDERD_FRAME_BAD);
    if (r == ORDERD_FRAME_OK)
        FUZZ_CHECK(used == ORDERD_RECORD_HEADER_SIZE + (size_t)rec.len && used <= size);
    check_scan(data, size, ORDERD_JOURNAL_MAGIC);
    check_scan(data, size, ORDERD_SNAPSHOT_MAGIC);
    return 0;
}
