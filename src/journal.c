/* The journal's format and start-up replay. */
#include "orderd/journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal/crc32c.h"
#include "internal/files.h"
#include "orderd/order_ops.h"

/* --- records --- */

/* The CRC covers the length, then everything after the CRC field. */
static uint32_t record_crc(const unsigned char *hdr, const void *payload, uint32_t len)
{
    uint32_t crc = orderd_crc32c(0, hdr, 4);
    crc = orderd_crc32c(crc, hdr + 8, ORDERD_RECORD_HEADER_SIZE - 8);
    return orderd_crc32c(crc, payload, len);
}

void orderd_record_frame(unsigned char hdr[ORDERD_RECORD_HEADER_SIZE], uint8_t type, uint64_t seq,
                         const void *payload, uint32_t len)
{
    orderd_le32_put(hdr, len);
    hdr[8] = type;
    hdr[9] = hdr[10] = hdr[11] = 0;
    orderd_le64_put(hdr + 12, seq);
    orderd_le32_put(hdr + 4, record_crc(hdr, payload, len));
}

void orderd_record_header_init(unsigned char hdr[ORDERD_RECORD_HEADER_SIZE], uint8_t type, uint32_t len)
{
    memset(hdr, 0, ORDERD_RECORD_HEADER_SIZE);
    orderd_le32_put(hdr, len);
    hdr[8] = type;
}

void orderd_record_restamp(unsigned char *record, uint64_t seq)
{
    uint32_t len = orderd_record_hdr_len(record);
    orderd_le64_put(record + 12, seq);
    orderd_le32_put(record + 4, record_crc(record, record + ORDERD_RECORD_HEADER_SIZE, len));
}

int orderd_record_parse(const unsigned char *p, size_t avail, orderd_record_t *rec, size_t *used)
{
    if (avail < ORDERD_RECORD_HEADER_SIZE)
        return ORDERD_FRAME_SHORT;
    uint32_t len = orderd_record_hdr_len(p);
    if (len > ORDERD_RECORD_MAX_PAYLOAD)
        return ORDERD_FRAME_BAD;
    if (avail - ORDERD_RECORD_HEADER_SIZE < len)
        return ORDERD_FRAME_SHORT;
    if (orderd_le32_get(p + 4) != record_crc(p, p + ORDERD_RECORD_HEADER_SIZE, len))
        return ORDERD_FRAME_BAD;
    rec->type = p[8];
    rec->seq = orderd_record_hdr_seq(p);
    rec->payload = p + ORDERD_RECORD_HEADER_SIZE;
    rec->len = len;
    *used = ORDERD_RECORD_HEADER_SIZE + (size_t)len;
    return ORDERD_FRAME_OK;
}

/* File header: magic[8] u32 format u32 header size u64 seq u32 reserved u32 CRC32C of bytes 0..27. */
void orderd_file_header_encode(unsigned char out[ORDERD_FILE_HEADER_SIZE], const char magic[8], uint64_t seq)
{
    memcpy(out, magic, 8);
    orderd_le32_put(out + 8, ORDERD_JOURNAL_FORMAT);
    orderd_le32_put(out + 12, ORDERD_FILE_HEADER_SIZE);
    orderd_le64_put(out + 16, seq);
    orderd_le32_put(out + 24, 0);
    orderd_le32_put(out + 28, orderd_crc32c(0, out, 28));
}

int orderd_file_header_decode(const unsigned char *p, size_t avail, const char magic[8], uint64_t *seq)
{
    if (avail < ORDERD_FILE_HEADER_SIZE || memcmp(p, magic, 8) != 0 ||
        orderd_le32_get(p + 8) != ORDERD_JOURNAL_FORMAT || orderd_le32_get(p + 12) != ORDERD_FILE_HEADER_SIZE ||
        orderd_le32_get(p + 28) != orderd_crc32c(0, p, 28))
        return -1;
    *seq = orderd_le64_get(p + 16);
    return 0;
}

/* --- changes <-> records --- */

#define ALIGN8(n) (((size_t)(n) + 7) & ~(size_t)7)

uint32_t orderd_change_payload_size(const orderd_change_t *ev)
{
    switch (ev->type) {
    case ORDERD_CHANGE_CREATED:
        return ev->u.created.order->size;
    case ORDERD_CHANGE_IDEM_KEY:
        return ev->u.idem.entry->size;
    case ORDERD_CHANGE_AMENDED:
        return (uint32_t)(ORDERD_AMENDED_HEAD_SIZE + ALIGN8(ev->u.amended.detail_len) + ev->u.amended.after->size +
                          ev->u.amended.before->size);
    default:
        return ORDERD_STATUS_PAYLOAD_SIZE + (ev->u.status_changed.after != NULL ? ev->u.status_changed.after->size : 0);
    }
}

/* Status payload: u64 order id, i64 at, i64 previous updated_at, u32 version,
 * u8 status, u8 previous status, u8 actor, u8 reserved.
 * Amended payload (journal.md): u64 order id, i64 at, u32 version, u8
 * status, u8 previous status, u8 actor, u8 flags, u32 detail length, u32
 * after length, u32 before length, u32 reserved; the detail padded to 8;
 * the order after; the order before. */
uint8_t orderd_change_encode(const orderd_change_t *ev, unsigned char *dst)
{
    switch (ev->type) {
    case ORDERD_CHANGE_CREATED:
        memcpy(dst, ev->u.created.order, ev->u.created.order->size);
        return ORDERD_REC_ORDER_CREATED;
    case ORDERD_CHANGE_IDEM_KEY:
        memcpy(dst, ev->u.idem.entry, ev->u.idem.entry->size);
        return ORDERD_REC_IDEM_KEY;
    case ORDERD_CHANGE_AMENDED: {
        const __typeof__(ev->u.amended) *m = &ev->u.amended;
        size_t dpad = ALIGN8(m->detail_len);
        orderd_le64_put(dst, m->order_id);
        orderd_le64_put(dst + 8, (uint64_t)m->at_ms);
        orderd_le32_put(dst + 16, m->version);
        dst[20] = m->status;
        dst[21] = m->prev_status;
        dst[22] = m->actor;
        dst[23] = m->flags;
        orderd_le32_put(dst + 24, m->detail_len);
        orderd_le32_put(dst + 28, m->after->size);
        orderd_le32_put(dst + 32, m->before->size);
        orderd_le32_put(dst + 36, 0);
        unsigned char *p = dst + ORDERD_AMENDED_HEAD_SIZE;
        memset(p, 0, dpad);
        if (m->detail_len != 0)
            memcpy(p, m->detail, m->detail_len);
        p += dpad;
        memcpy(p, m->after, m->after->size);
        memcpy(p + m->after->size, m->before, m->before->size);
        return m->op;
    }
    default:
        break;
    }
    orderd_le64_put(dst, ev->u.status_changed.order_id);
    orderd_le64_put(dst + 8, (uint64_t)ev->u.status_changed.at_ms);
    orderd_le64_put(dst + 16, (uint64_t)ev->u.status_changed.prev_updated_ms);
    orderd_le32_put(dst + 24, ev->u.status_changed.version);
    dst[28] = ev->u.status_changed.status;
    dst[29] = ev->u.status_changed.prev_status;
    dst[30] = ev->u.status_changed.actor;
    if (ev->u.status_changed.after != NULL)
        memcpy(dst + ORDERD_STATUS_PAYLOAD_SIZE, ev->u.status_changed.after, ev->u.status_changed.after->size);
    dst[31] = 0;
    return ORDERD_REC_STATUS_CHANGED;
}

/* An AMENDED record: the head, then the pieces, each checked. */
static int amended_from_record(const orderd_record_t *rec, orderd_change_t *ev)
{
    const unsigned char *p = rec->payload;
    if (rec->len < ORDERD_AMENDED_HEAD_SIZE || ((uintptr_t)p & 7) != 0)
        return -1;
    uint32_t dlen = orderd_le32_get(p + 24), alen = orderd_le32_get(p + 28), blen = orderd_le32_get(p + 32);
    size_t dpad = ALIGN8(dlen);
    if (dlen > rec->len || alen > rec->len || blen > rec->len ||
        (uint64_t)ORDERD_AMENDED_HEAD_SIZE + dpad + alen + blen != rec->len || (alen & 7) != 0 || p[20] >= ORDERD_STATUS_COUNT ||
        p[21] >= ORDERD_STATUS_COUNT || p[22] > ORDERD_ACTOR_OPERATOR || p[23] > ORDERD_AMENDED_VIA_STATUS)
        return -1;
    const unsigned char *detail = p + ORDERD_AMENDED_HEAD_SIZE;
    const orderd_order_t *after = (const void *)(detail + dpad), *before = (const void *)(detail + dpad + alen);
    uint64_t id = orderd_le64_get(p);
    uint32_t version = orderd_le32_get(p + 16);
    if (!orderd_detail_check(detail, dlen) || orderd_order_check(after, alen) != 0 ||
        orderd_order_check(before, blen) != 0 || after->id != id || before->id != id || after->version != version ||
        before->version + 1 != version || after->status != p[20] || before->status != p[21])
        return -1;
    *ev = (orderd_change_t){.type = ORDERD_CHANGE_AMENDED,
                            .u.amended = {.op = rec->type,
                                          .actor = p[22],
                                          .status = p[20],
                                          .prev_status = p[21],
                                          .flags = p[23],
                                          .version = version,
                                          .order_id = id,
                                          .at_ms = (int64_t)orderd_le64_get(p + 8),
                                          .after = after,
                                          .before = before,
                                          .detail = dlen != 0 ? detail : NULL,
                                          .detail_len = dlen}};
    return 0;
}

int orderd_change_from_record(const orderd_record_t *rec, orderd_change_t *ev)
{
    switch (rec->type) {
    case ORDERD_REC_ORDER_CREATED:
    case ORDERD_REC_SNAPSHOT_ORDER:
        /* blobs need 8-byte alignment: readers copy unaligned payloads first */
        if (((uintptr_t)rec->payload & 7) != 0 || orderd_order_check((const void *)rec->payload, rec->len) != 0)
            return -1;
        *ev = (orderd_change_t){.type = ORDERD_CHANGE_CREATED, .u.created.order = (const void *)rec->payload};
        return 0;
    case ORDERD_REC_IDEM_KEY:
    case ORDERD_REC_SNAPSHOT_IDEM:
        if (((uintptr_t)rec->payload & 7) != 0 || orderd_idem_entry_check((const void *)rec->payload, rec->len) != 0)
            return -1;
        *ev = (orderd_change_t){.type = ORDERD_CHANGE_IDEM_KEY, .u.idem.entry = (const void *)rec->payload};
        return 0;
    case ORDERD_REC_EDITED:
    case ORDERD_REC_LINES_CANCELLED:
    case ORDERD_REC_SHIPMENT_CREATED:
    case ORDERD_REC_SHIPMENT_DELIVERED:
    case ORDERD_REC_RETURN_REQUESTED:
    case ORDERD_REC_RETURN_APPROVED:
    case ORDERD_REC_RETURN_REJECTED:
    case ORDERD_REC_RETURN_RECEIVED:
    case ORDERD_REC_REFUNDED:
        return amended_from_record(rec, ev);
    case ORDERD_REC_STATUS_CHANGED: {
        const unsigned char *p = rec->payload;
        if (rec->len < ORDERD_STATUS_PAYLOAD_SIZE || p[28] >= ORDERD_STATUS_COUNT || p[29] >= ORDERD_STATUS_COUNT)
            return -1;
        /* the order after the change, when the record carries it (for the event feed) */
        const orderd_order_t *after = NULL;
        if (rec->len > ORDERD_STATUS_PAYLOAD_SIZE) {
            after = (const orderd_order_t *)(p + ORDERD_STATUS_PAYLOAD_SIZE);
            if (((uintptr_t)p & 7) != 0 || orderd_order_check(after, rec->len - ORDERD_STATUS_PAYLOAD_SIZE) != 0 ||
                after->id != orderd_le64_get(p) || after->version != orderd_le32_get(p + 24) || after->status != p[28])
                return -1;
        }
        *ev = (orderd_change_t){.type = ORDERD_CHANGE_STATUS,
                               .u.status_changed = {.order_id = orderd_le64_get(p),
                                                    .at_ms = (int64_t)orderd_le64_get(p + 8),
                                                    .prev_updated_ms = (int64_t)orderd_le64_get(p + 16),
                                                    .version = orderd_le32_get(p + 24),
                                                    .status = p[28],
                                                    .prev_status = p[29],
                                                    .actor = p[30],
                                                    .after = after}};
        return 0;
    }
    }
    return -1;
}

/* SNAPSHOT_HISTORY: u64 order id, u32 count, u32 reserved, then per change
 * i64 at, u32 version, u8 status, u8 actor, u16 reserved. */
uint32_t orderd_history_payload(uint64_t id, const orderd_audit_entry_t *events, size_t n, unsigned char *buf)
{
    orderd_le64_put(buf, id);
    orderd_le32_put(buf + 8, (uint32_t)n);
    orderd_le32_put(buf + 12, 0);
    for (size_t i = 0; i < n; ++i) {
        unsigned char *p = buf + 16 + i * ORDERD_HISTORY_ENTRY_SIZE;
        orderd_le64_put(p, (uint64_t)events[i].at_ms);
        orderd_le32_put(p + 8, events[i].version);
        p[12] = events[i].status;
        p[13] = events[i].actor;
        p[14] = p[15] = 0;
    }
    return (uint32_t)(16 + n * ORDERD_HISTORY_ENTRY_SIZE);
}

int orderd_history_from_record(const orderd_record_t *rec, uint64_t *id, orderd_audit_entry_t events[ORDERD_HISTORY_MAX],
                               size_t *n)
{
    if (rec->type != ORDERD_REC_SNAPSHOT_HISTORY || rec->len < 16)
        return -1;
    uint32_t count = orderd_le32_get(rec->payload + 8);
    if (count == 0 || count > ORDERD_HISTORY_MAX || rec->len != 16 + count * ORDERD_HISTORY_ENTRY_SIZE)
        return -1;
    *id = orderd_le64_get(rec->payload);
    for (uint32_t i = 0; i < count; ++i) {
        const unsigned char *p = rec->payload + 16 + i * ORDERD_HISTORY_ENTRY_SIZE;
        events[i] = (orderd_audit_entry_t){
            .at_ms = (int64_t)orderd_le64_get(p), .version = orderd_le32_get(p + 8), .status = p[12], .actor = p[13]};
        if (events[i].status >= ORDERD_STATUS_COUNT)
            return -1;
    }
    *n = count;
    return 0;
}

int orderd_audit_from_record(const orderd_record_t *rec, uint64_t *id, const unsigned char **data, size_t *len)
{
    if (rec->type != ORDERD_REC_SNAPSHOT_AUDIT || rec->len < 8 || ((rec->len - 8) & 7) != 0)
        return -1;
    *id = orderd_le64_get(rec->payload);
    *data = rec->payload + 8;
    *len = rec->len - 8;
    return 0;
}

uint32_t orderd_snapshot_end_payload(uint64_t orders, unsigned char buf[ORDERD_SNAPSHOT_END_PAYLOAD_SIZE])
{
    orderd_le64_put(buf, orders);
    return ORDERD_SNAPSHOT_END_PAYLOAD_SIZE;
}

int orderd_snapshot_end_count(const orderd_record_t *rec, uint64_t *orders)
{
    if (rec->type != ORDERD_REC_SNAPSHOT_END || rec->len != ORDERD_SNAPSHOT_END_PAYLOAD_SIZE)
        return -1;
    *orders = orderd_le64_get(rec->payload);
    return 0;
}

void orderd_journal_segment_name(char *buf, size_t size, uint64_t first_seq)
{
    snprintf(buf, size, "journal-%016" PRIx64 ".wal", first_seq);
}

void orderd_journal_snapshot_name(char *buf, size_t size, uint64_t last_seq)
{
    snprintf(buf, size, "snapshot-%016" PRIx64 ".snap", last_seq);
}
