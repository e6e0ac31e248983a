#ifndef ORDERD_JOURNAL_H
#define ORDERD_JOURNAL_H

/*
 * The write-ahead journal's on-disk format, and reading it back: framing,
 * the change <-> record codec, replay at start-up, verify, dump and repair.
 * docs/journal.md describes the format byte by byte.
 *
 * A data directory holds segments `journal-<first seq, 16 hex>.wal` and
 * snapshots `snapshot-<last seq, 16 hex>.snap`. Both start with a 32-byte
 * header; then records: u32 payload length, u32 CRC32C, u8 type, 3 reserved
 * bytes, u64 sequence number, payload. The CRC covers every byte of the
 * record but the CRC field itself. All integers are little-endian.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "orderd/change.h"
#include "orderd/order_ops.h"

/* Replay fills a table (store.h); the format needs only its name. */
typedef struct orderd_store orderd_store_t;

#define ORDERD_JOURNAL_MAGIC "ORDJRNL1"
#define ORDERD_SNAPSHOT_MAGIC "ORDSNAP1"
#define ORDERD_JOURNAL_FORMAT 1
#define ORDERD_FILE_HEADER_SIZE 32
#define ORDERD_RECORD_HEADER_SIZE 20
/** No record payload is larger (an order is at most ~81 KiB). */
#define ORDERD_RECORD_MAX_PAYLOAD (1u << 20)
/** Payload bytes of a status-change record. */
#define ORDERD_STATUS_PAYLOAD_SIZE 32
/** Bytes of an operation record's head, before its detail and orders. */
#define ORDERD_AMENDED_HEAD_SIZE 40

typedef enum {
    ORDERD_REC_ORDER_CREATED = 1,  /* payload: the order blob (orderd_order_t) */
    ORDERD_REC_STATUS_CHANGED = 2, /* payload: ORDERD_STATUS_PAYLOAD_SIZE bytes, see journal.md */
    ORDERD_REC_IDEM_KEY = 3,       /* payload: an idempotency key entry (orderd_idem_entry_t) */
    /* the operations after checkout (order_ops.h, one type each, the same
     * numbers as orderd_op_type_t): payload ORDERD_AMENDED_HEAD_SIZE bytes of
     * head, the detail, the order after and the order before, see journal.md */
    ORDERD_REC_EDITED = ORDERD_OP_EDIT, /* 4 */
    ORDERD_REC_LINES_CANCELLED = ORDERD_OP_CANCEL_LINES,
    ORDERD_REC_SHIPMENT_CREATED = ORDERD_OP_SHIP,
    ORDERD_REC_SHIPMENT_DELIVERED = ORDERD_OP_DELIVER,
    ORDERD_REC_RETURN_REQUESTED = ORDERD_OP_RETURN_REQUEST,
    ORDERD_REC_RETURN_APPROVED = ORDERD_OP_RETURN_APPROVE,
    ORDERD_REC_RETURN_REJECTED = ORDERD_OP_RETURN_REJECT,
    ORDERD_REC_RETURN_RECEIVED = ORDERD_OP_RETURN_RECEIVE,
    ORDERD_REC_REFUNDED = ORDERD_OP_REFUND, /* 12 */
    ORDERD_REC_SNAPSHOT_ORDER = 16, /* snapshots: an order as it stands (blob) */
    ORDERD_REC_SNAPSHOT_END = 17,   /* snapshots: u64 number of orders; last record */
    ORDERD_REC_SNAPSHOT_HISTORY = 18, /* snapshots: the status changes of the order just before */
    ORDERD_REC_SNAPSHOT_IDEM = 19,    /* snapshots: an unexpired idempotency key (as type 3) */
    ORDERD_REC_SNAPSHOT_AUDIT = 20,   /* snapshots: the audit trail of the order just before (u64 id, raw entries) */
} orderd_record_type_t;

typedef struct orderd_record {
    uint8_t type;
    uint64_t seq;
    const unsigned char *payload;
    uint32_t len;
} orderd_record_t;

/* --- little-endian fields: every integer of the format --- */

/** Reads the little-endian u32 at p (any alignment). */
static inline uint32_t orderd_le32_get(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/** Reads the little-endian u64 at p (any alignment). */
static inline uint64_t orderd_le64_get(const unsigned char *p)
{
    return (uint64_t)orderd_le32_get(p) | (uint64_t)orderd_le32_get(p + 4) << 32;
}

/** Writes v at p as a little-endian u32. */
static inline void orderd_le32_put(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        p[i] = (unsigned char)(v >> (8 * i));
}

/** Writes v at p as a little-endian u64. */
static inline void orderd_le64_put(unsigned char *p, uint64_t v)
{
    orderd_le32_put(p, (uint32_t)v);
    orderd_le32_put(p + 4, (uint32_t)(v >> 32));
}

/* --- the fields of a record header, unchecked (see orderd_record_parse for a checked read) --- */

/** The payload length a record header states. */
static inline uint32_t orderd_record_hdr_len(const unsigned char *hdr)
{
    return orderd_le32_get(hdr);
}

/** The sequence number a record header states. */
static inline uint64_t orderd_record_hdr_seq(const unsigned char *hdr)
{
    return orderd_le64_get(hdr + 12);
}

/**
 * The record framed at p, read without checking its CRC: for records this
 * process framed itself (whose sequence number and CRC may not be stamped
 * yet). The payload points into p.
 */
static inline orderd_record_t orderd_record_peek(const unsigned char *p)
{
    return (orderd_record_t){.type = p[8],
                             .seq = orderd_record_hdr_seq(p),
                             .payload = p + ORDERD_RECORD_HEADER_SIZE,
                             .len = orderd_record_hdr_len(p)};
}

typedef enum {
    ORDERD_FRAME_OK = 0,
    ORDERD_FRAME_SHORT = -1, /* the bytes end inside the record */
    ORDERD_FRAME_BAD = -2,   /* impossible length or CRC mismatch */
} orderd_frame_result_t;

/** Writes the 20-byte header of a record (computing its CRC) into hdr. */
void orderd_record_frame(unsigned char hdr[ORDERD_RECORD_HEADER_SIZE], uint8_t type, uint64_t seq,
                         const void *payload, uint32_t len);

/** Writes a record header with length and type only; orderd_record_restamp seals it later. */
void orderd_record_header_init(unsigned char hdr[ORDERD_RECORD_HEADER_SIZE], uint8_t type, uint32_t len);

/** Re-stamps the sequence number of a framed record (header + payload) and its CRC. */
void orderd_record_restamp(unsigned char *record, uint64_t seq);

/**
 * Reads the record at p (avail bytes there). OK: *rec set, *used = its size.
 * SHORT: avail ends inside it. BAD: length out of range or CRC mismatch.
 */
int orderd_record_parse(const unsigned char *p, size_t avail, orderd_record_t *rec, size_t *used);

/** Writes a file header: magic, format, size, first (or last) seq, CRC. */
void orderd_file_header_encode(unsigned char out[ORDERD_FILE_HEADER_SIZE], const char magic[8], uint64_t seq);

/** Checks a file header; 0 and *seq, or -1. */
__attribute__((warn_unused_result)) int orderd_file_header_decode(const unsigned char *p, size_t avail,
                                                                  const char magic[8], uint64_t *seq);

/** Payload bytes of the record for a change. */
uint32_t orderd_change_payload_size(const orderd_change_t *ev);

/**
 * Writes the payload of the record for a change into dst
 * (orderd_change_payload_size bytes) and returns the record's type: a
 * created change's payload is the order blob, a key's its entry, an
 * operation's its head, detail and both orders (journal.md).
 */
uint8_t orderd_change_encode(const orderd_change_t *ev, unsigned char *dst);

/**
 * The change a journal record holds. The order blob is checked with
 * orderd_order_check. Returns 0, or -1 for a payload that does not decode.
 */
__attribute__((warn_unused_result)) int orderd_change_from_record(const orderd_record_t *rec, orderd_change_t *ev);

/** Bytes of one status change in a SNAPSHOT_HISTORY payload (after its 16-byte head). */
#define ORDERD_HISTORY_ENTRY_SIZE 16

/**
 * Encodes the status changes of order `id` as a SNAPSHOT_HISTORY payload into
 * buf (16 + 16 x ORDERD_HISTORY_MAX bytes at most); returns its length.
 */
uint32_t orderd_history_payload(uint64_t id, const orderd_audit_entry_t *events, size_t n, unsigned char *buf);

/** Decodes a SNAPSHOT_HISTORY payload; 0, or -1 when malformed. */
__attribute__((warn_unused_result)) int orderd_history_from_record(const orderd_record_t *rec, uint64_t *id,
                                                                   orderd_audit_entry_t events[ORDERD_HISTORY_MAX],
                                                                   size_t *n);

/**
 * Reads a SNAPSHOT_AUDIT record: the order's id and its raw audit entries
 * (change.h's orderd_audit_raw_t; checked when the store loads them).
 * Returns 0, or -1 when it is not one.
 */
__attribute__((warn_unused_result)) int orderd_audit_from_record(const orderd_record_t *rec, uint64_t *id,
                                                                 const unsigned char **data, size_t *len);

/** Payload bytes of a SNAPSHOT_END record: u64 number of SNAPSHOT_ORDER records before it. */
#define ORDERD_SNAPSHOT_END_PAYLOAD_SIZE 8

/** Encodes the SNAPSHOT_END payload for `orders` orders into buf; returns its length. */
uint32_t orderd_snapshot_end_payload(uint64_t orders, unsigned char buf[ORDERD_SNAPSHOT_END_PAYLOAD_SIZE]);

/** Decodes a SNAPSHOT_END record: 0 and *orders, or -1 when it is not one or malformed. */
__attribute__((warn_unused_result)) int orderd_snapshot_end_count(const orderd_record_t *rec, uint64_t *orders);

/** What start-up found and did. */
typedef struct orderd_replay_report {
    uint64_t last_seq;        /* the newest record applied (or covered by the snapshot) */
    uint64_t snapshot_seq;    /* 0: no snapshot loaded */
    size_t records;           /* journal records applied */
    size_t snapshot_orders;   /* orders loaded from the snapshot */
    size_t orders;            /* orders in the table afterwards */
    uint64_t bytes;           /* journal and snapshot bytes read */
    uint64_t torn_bytes;      /* bytes cut off a torn tail */
    char segment[4200];       /* the last segment ("" if none): appending continues there */
    uint64_t segment_end;     /* its valid length */
    uint64_t segment_bytes;   /* bytes in all live segments (for the snapshot threshold) */
    char error[9000];         /* why replay refused, when it returns -1 */
} orderd_replay_report_t;

/**
 * Loads the newest valid snapshot and the newer segments of `dir` into
 * `store` through orderd_store_replay. A torn tail of the last segment (an
 * incomplete last write) is cut off at the last valid record. Damage followed
 * by valid records is refused: returns -1 with report->error naming the file
 * and offset. Returns 0 on success.
 */
__attribute__((warn_unused_result)) int orderd_journal_replay(const char *dir, orderd_store_t *store,
                                                              orderd_replay_report_t *report);

/**
 * `orderd journal verify|dump|repair --data-dir DIR`: verify prints the first
 * bad offset (exit 0 when clean, 1 when damaged); dump prints every record as
 * NDJSON; repair keeps each damaged segment's valid prefix and moves the rest
 * aside to `<segment>.broken` (later segments are moved aside whole), never
 * deleting anything. Returns the process exit code.
 */
int orderd_journal_tool(int argc, char **argv, FILE *out, FILE *err);

/** The file name of segment `first_seq` / snapshot `last_seq` (no directory). */
void orderd_journal_segment_name(char *buf, size_t size, uint64_t first_seq);
void orderd_journal_snapshot_name(char *buf, size_t size, uint64_t last_seq);

#endif
