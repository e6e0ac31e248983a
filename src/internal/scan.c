#include "internal/scan.h"

#include <stdlib.h>
#include <string.h>

/* How far past the expected sequence number a record may be and still count
 * as "valid records follow" (a flipped bit in one record leaves the next
 * ones with seq + 1, + 2, ...). */
#define SEQ_WINDOW (1u << 30)

/* Is there a valid record anywhere in [from, len) carrying a sequence
 * number in [seq, seq + SEQ_WINDOW) (any number when `any`)? Checks the cheap
 * seq field first. */
static size_t find_valid_after(const unsigned char *data, size_t len, size_t from, uint64_t seq, int any)
{
    for (size_t at = from; at + ORDERD_RECORD_HEADER_SIZE <= len; ++at) {
        uint64_t s = orderd_record_hdr_seq(data + at);
        if (!any && (s < seq || s - seq >= SEQ_WINDOW))
            continue;
        orderd_record_t rec;
        size_t used;
        if (orderd_record_parse(data + at, len - at, &rec, &used) == ORDERD_FRAME_OK)
            return at;
    }
    return 0;
}

/* Are data[from, len) all zero bytes? */
static int all_zero(const unsigned char *data, size_t len, size_t from)
{
    for (size_t i = from; i < len; ++i)
        if (data[i] != 0)
            return 0;
    return 1;
}

int orderd_scan_file(const unsigned char *data, size_t len, const char magic[8],
                     int (*on_record)(void *ctx, const orderd_record_t *rec, size_t off), void *ctx,
                     orderd_scan_t *sc)
{
    memset(sc, 0, sizeof(*sc));
    if (orderd_file_header_decode(data, len, magic, &sc->first_seq) != 0) {
        /* The header is written and synced before any record: a bad header
         * with records after it is damage, not a segment cut short while
         * being created. */
        size_t resume = len > ORDERD_FILE_HEADER_SIZE ? find_valid_after(data, len, ORDERD_FILE_HEADER_SIZE, 0, 1) : 0;
        sc->state = resume != 0 ? ORDERD_SCAN_DAMAGED : ORDERD_SCAN_TORN;
        sc->resume_at = resume;
        sc->why = "missing or damaged file header";
        return 0;
    }
    sc->next_seq = sc->first_seq;
    sc->valid_end = ORDERD_FILE_HEADER_SIZE;

    /* unaligned payloads are copied here; it grows to the largest of them
     * (orders are a few hundred bytes), not to the 1 MiB a record may hold */
    unsigned char *scratch = NULL;
    size_t scratch_cap = 0;
    size_t off = ORDERD_FILE_HEADER_SIZE;
    while (off < len) {
        orderd_record_t rec;
        size_t used;
        int r = orderd_record_parse(data + off, len - off, &rec, &used);
        if (r == ORDERD_FRAME_OK && rec.seq != sc->next_seq)
            r = ORDERD_FRAME_BAD;
        if (r != ORDERD_FRAME_OK && all_zero(data, len, off)) {
            /* the writer fills the space ahead of the records with zeros
             * (see wal.c); an all-zero record header fails its CRC */
            sc->zero_tail = len - off;
            break;
        }
        if (r != ORDERD_FRAME_OK) {
            size_t resume = find_valid_after(data, len, off + 1, sc->next_seq, 0);
            sc->bad_at = off;
            if (resume != 0) {
                sc->state = ORDERD_SCAN_DAMAGED;
                sc->resume_at = resume;
                sc->why = "a damaged record is followed by valid records";
            } else {
                sc->state = ORDERD_SCAN_TORN;
                sc->why = r == ORDERD_FRAME_SHORT ? "incomplete last record" : "damaged last record";
            }
            break;
        }
        if (((uintptr_t)rec.payload & 7) != 0) {
            if (scratch == NULL || rec.len > scratch_cap) {
                size_t cap = rec.len < 4096 ? 4096 : ((size_t)rec.len + 7) & ~(size_t)7;
                free(scratch);
                if ((scratch = aligned_alloc(8, cap)) == NULL)
                    return -1;
                scratch_cap = cap;
            }
            memcpy(scratch, rec.payload, rec.len);
            rec.payload = scratch;
        }
        if (on_record != NULL && on_record(ctx, &rec, off) != 0) {
            sc->state = ORDERD_SCAN_DAMAGED;
            sc->bad_at = off;
            sc->resume_at = off + used;
            sc->why = "a record does not apply to the orders before it";
            break;
        }
        off += used;
        sc->valid_end = off;
        sc->next_seq = rec.seq + 1;
        ++sc->records;
    }
    free(scratch);
    return 0;
}
