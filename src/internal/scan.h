#ifndef ORDERD_INTERNAL_SCAN_H
#define ORDERD_INTERNAL_SCAN_H

/* Walking the records of one journal segment or snapshot file. */

#include <stddef.h>
#include <stdint.h>

#include "orderd/journal.h"

typedef enum {
    ORDERD_SCAN_CLEAN = 0, /* every byte belongs to a valid record, or to the zero-filled tail after them */
    ORDERD_SCAN_TORN,      /* a bad or incomplete tail with no valid record after it */
    ORDERD_SCAN_DAMAGED,   /* a bad record followed by valid ones, or a record the reader refused */
} orderd_scan_state_t;

typedef struct orderd_scan {
    uint64_t first_seq; /* the header's sequence number */
    uint64_t next_seq;  /* one past the last valid record's */
    size_t valid_end;   /* length of the valid prefix, header included */
    size_t zero_tail;   /* CLEAN: bytes of zeros after the valid prefix (space written ahead) */
    size_t records;
    int state;          /* orderd_scan_state_t */
    size_t bad_at;      /* TORN / DAMAGED: offset of the first bad record */
    size_t resume_at;   /* DAMAGED by bytes: where valid records start again */
    const char *why;
} orderd_scan_t;

/**
 * Checks the header (magic `magic`) and walks the records of data[0, len),
 * which must carry consecutive sequence numbers from the header's. Calls
 * on_record for each valid one, its payload 8-byte aligned (copied when the
 * file's is not); a non-zero return stops the walk and marks that record
 * DAMAGED. Returns 0, or -1 out of memory.
 */
int orderd_scan_file(const unsigned char *data, size_t len, const char magic[8],
                     int (*on_record)(void *ctx, const orderd_record_t *rec, size_t off), void *ctx,
                     orderd_scan_t *sc);

#endif
