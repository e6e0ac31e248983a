#ifndef ORDERD_IDEMPOTENCY_H
#define ORDERD_IDEMPOTENCY_H

/*
 * Idempotency keys (IETF httpapi "Idempotency-Key" draft): a client may send
 * the same change again under the same key and get the first answer back
 * instead of a second change. A key is scoped to its user and remembered,
 * with a fingerprint of the request and what the answer showed, for a TTL
 * (24 h by default). Keys are journal records (ORDERD_REC_IDEM_KEY), so they
 * survive restarts, and live in the user's shard next to the user's orders.
 *
 * An entry is one pointer-free blob, like an order: the same bytes are the
 * in-memory entry, the journal payload and the snapshot payload.
 */

#include <stddef.h>
#include <stdint.h>

#include "orderd/common.h"

struct orderd_order; /* order.h */

/** Longest key: 1 to 255 printable ASCII bytes. */
#define ORDERD_IDEM_KEY_MAX 255
/** Bytes of a request fingerprint (the first half of a SHA-256). */
#define ORDERD_IDEM_FP_LEN 16
/** Default time a key is kept: 24 hours. */
#define ORDERD_IDEM_TTL_DEFAULT_MS (24LL * 3600 * 1000)

typedef struct orderd_idem_entry {
    uint64_t order_id;   /* the order the answer was about */
    int64_t created_ms;  /* when the key was first used; it expires TTL later */
    uint32_t version;    /* the order's version in that answer */
    uint16_t status;     /* the answer's HTTP status: 201 (create) or 200 (cancel) */
    uint8_t user_len;    /* 1 to 64 */
    uint8_t key_len;     /* 1 to 255 */
    uint32_t size;       /* bytes of the whole entry, a multiple of 8 */
    uint32_t answer_len; /* 0, or the bytes of the order the answer showed, after the text */
    unsigned char fingerprint[ORDERD_IDEM_FP_LEN];
    char text[];         /* user id, then key; zero padding to a multiple of 8; then the answer's order, if kept */
} orderd_idem_entry_t;

/** Bytes an entry for a user id and a key of these lengths takes. */
size_t orderd_idem_entry_size(size_t user_len, size_t key_len);

/** Builds an entry into `dst` (orderd_idem_entry_size() bytes, 8-byte aligned). */
void orderd_idem_entry_build(orderd_idem_entry_t *dst, orderd_str_t user, orderd_str_t key, uint64_t order_id,
                             uint32_t version, uint16_t status, const unsigned char fp[ORDERD_IDEM_FP_LEN],
                             int64_t created_ms);

/**
 * Appends `answer`, the order as the answer showed it, to an entry just
 * built in a buffer of orderd_idem_entry_size() + answer->size bytes: an
 * operation after checkout keeps its answer whole, since later operations
 * change more of the order than its status (keys of creates and status
 * changes keep none: their answers are rebuilt from the audit trail).
 */
void orderd_idem_entry_set_answer(orderd_idem_entry_t *e, const struct orderd_order *answer);

/** The order an entry's answer showed, when the entry keeps it; else NULL. */
const struct orderd_order *orderd_idem_entry_answer(const orderd_idem_entry_t *e);

orderd_str_t orderd_idem_entry_user(const orderd_idem_entry_t *e);
orderd_str_t orderd_idem_entry_key(const orderd_idem_entry_t *e);

/** Checks an entry read from disk: 0 when well-formed, -1 otherwise. */
__attribute__((warn_unused_result)) int orderd_idem_entry_check(const orderd_idem_entry_t *e, size_t size);

/**
 * Whether `key` is a valid Idempotency-Key value: 1 to 255 bytes, each
 * printable ASCII (0x20 to 0x7e).
 */
int orderd_idem_key_valid(orderd_str_t key);

/**
 * The fingerprint of a request: SHA-256 over the method, the path and the
 * body (each length-prefixed), cut to ORDERD_IDEM_FP_LEN bytes.
 */
void orderd_idem_fingerprint(orderd_str_t method, orderd_str_t path, orderd_str_t body,
                             unsigned char out[ORDERD_IDEM_FP_LEN]);

/* --- the per-shard table (used by the store under the shard lock) --- */

typedef struct orderd_idem_node orderd_idem_node_t;

/** A slot keeps the hash beside the pointer: a probe that misses reads no node. */
typedef struct orderd_idem_slot {
    uint64_t hash;
    orderd_idem_node_t *node; /* NULL: empty */
} orderd_idem_slot_t;

/** Keys of one shard: a hash on (user, key) plus a list oldest first for expiry. */
typedef struct orderd_idem_table {
    orderd_idem_slot_t *slots;
    size_t cap, n;
    orderd_idem_node_t *oldest, *newest;
    int64_t oldest_ms; /* oldest's created_ms, kept here so a sweep with nothing to do reads no node */
} orderd_idem_table_t;

/** The entry for (user, key), or NULL. */
const orderd_idem_entry_t *orderd_idem_find(orderd_idem_table_t *t, orderd_str_t user, orderd_str_t key);

/**
 * Adds a copy of `e`, replacing an entry of the same (user, key). Returns 0,
 * or -1 out of memory (the table is unchanged).
 */
__attribute__((warn_unused_result)) int orderd_idem_put(orderd_idem_table_t *t, const orderd_idem_entry_t *e);

/** Removes the entry for e's (user, key) if it is the one with e's order and time. */
void orderd_idem_remove(orderd_idem_table_t *t, const orderd_idem_entry_t *e);

/** Drops up to `max` of the oldest entries created before `cutoff_ms`; returns how many. */
size_t orderd_idem_sweep(orderd_idem_table_t *t, int64_t cutoff_ms, size_t max);

/** Calls fn for every entry created at or after `cutoff_ms`, oldest first. */
void orderd_idem_each(orderd_idem_table_t *t, int64_t cutoff_ms, void (*fn)(void *ctx, const orderd_idem_entry_t *e),
                      void *ctx);

void orderd_idem_table_free(orderd_idem_table_t *t);

#endif
