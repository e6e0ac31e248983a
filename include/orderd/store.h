#ifndef ORDERD_STORE_H
#define ORDERD_STORE_H

/*
 * The order table: sharded and lock-striped. Each shard owns a mutex, a hash
 * map id -> order and a per-user index for newest-first pages.
 *
 * A user's orders all live in one shard: the shard is chosen from a hash of
 * the user id, and the low ORDERD_ID_SHARD_BITS of every order id carry that
 * same hash, so get, list and cancel each take exactly one shard lock, found
 * either from the user or from the id. No lock is held across I/O or JSON
 * work: readers copy orders out (one memcpy each) under the lock.
 *
 * Every change is an event applied by one function, orderd_store_apply; the
 * live paths build events and go through it, and journal replay will too.
 */

#include <stdint.h>

#include "orderd/common.h"
#include "orderd/order.h"

/** Low bits of an order id that hold its owner's shard hash. */
#define ORDERD_ID_SHARD_BITS 12
/** Most shards a store may have (the id carries ORDERD_ID_SHARD_BITS). */
#define ORDERD_STORE_MAX_SHARDS (1u << ORDERD_ID_SHARD_BITS)

typedef struct orderd_store orderd_store_t;

typedef enum {
    ORDERD_STORE_OK = 0,
    ORDERD_STORE_ENOTFOUND = -1, /* no such order, or another user's */
    ORDERD_STORE_ECONFLICT = -2, /* the status change is not allowed now */
    ORDERD_STORE_ENOMEM = -3,
    ORDERD_STORE_EINVAL = -4,    /* an event that does not fit the table (replay of bad data) */
} orderd_store_err_t;

typedef enum {
    ORDERD_EVENT_CREATED = 1,
    ORDERD_EVENT_STATUS_CHANGED = 2,
} orderd_event_type_t;

/** One change to the table. */
typedef struct orderd_event {
    orderd_event_type_t type;
    union {
        struct {
            const orderd_order_t *order; /* the whole new order; the store copies it */
        } created;
        struct {
            uint64_t order_id;
            uint8_t status;   /* orderd_status_t */
            uint32_t version; /* the order's version after the change */
            int64_t at_ms;
        } status_changed;
    } u;
} orderd_event_t;

/** A page of a user's orders, newest first; orders are copies owned by the caller's allocator. */
typedef struct orderd_store_page {
    orderd_order_t **orders;
    size_t n;
    size_t total; /* the user's orders matching the filter */
} orderd_store_page_t;

/**
 * Creates an empty table of `nshards` shards (a power of two, at most
 * ORDERD_STORE_MAX_SHARDS). Returns NULL on a bad count or out of memory.
 */
orderd_store_t *orderd_store_new(unsigned nshards);

/** Frees the table and every order in it. */
void orderd_store_free(orderd_store_t *store);

/**
 * Applies one event, taking the owning shard's lock. This is the only
 * function that changes the table; live paths and replay both end here.
 * Returns ORDERD_STORE_OK, or ENOMEM / EINVAL (duplicate id on create, unknown
 * order on a status change) and changes nothing.
 */
__attribute__((warn_unused_result)) int orderd_store_apply(orderd_store_t *store, const orderd_event_t *ev);

/**
 * A new order id for `user_id`: unique, never reused, increasing with time,
 * with the user's shard hash in its low bits. Thread-safe, lock-free.
 * orderd_store_create calls it under the shard lock, so a user's orders enter
 * the table in id order.
 */
uint64_t orderd_store_next_id(orderd_store_t *store, orderd_str_t user_id);

/**
 * Adds `order`, built by the caller (its id is ignored): under the owner's
 * shard lock it takes a new id, writes it into order->id, and applies the
 * created event, which copies the order into the table. The caller's copy
 * stays the caller's. Returns ORDERD_STORE_OK or ENOMEM.
 */
__attribute__((warn_unused_result)) int orderd_store_create(orderd_store_t *store, orderd_order_t *order);

/**
 * Copies order `id` of user `user_id` into memory from `a` and sets *out.
 * Returns ORDERD_STORE_OK or ENOTFOUND (also when the order is another user's).
 */
__attribute__((warn_unused_result)) int orderd_store_get(orderd_store_t *store, orderd_str_t user_id, uint64_t id,
                                                         const orderd_alloc_t *a, orderd_order_t **out);

/**
 * A page of `user_id`'s orders, newest first, skipping `offset` and taking at
 * most `limit`. `status_mask` has bit (1 << status) set for each status to
 * keep; 0 keeps all. Costs O(limit), not a scan of the user's orders.
 */
__attribute__((warn_unused_result)) int orderd_store_list(orderd_store_t *store, orderd_str_t user_id,
                                                          unsigned status_mask, size_t offset, size_t limit,
                                                          const orderd_alloc_t *a, orderd_store_page_t *page);

/**
 * Moves order `id` of `user_id` to status `to` at `now_ms`, following
 * orderd_status_transition. A user_id with a NULL base acts for the operator
 * and may change any user's order. On OK (applied, or a safe repeat) and on
 * ECONFLICT, *out is a copy of the order as it now stands, so the caller can
 * return it or name its current status. ENOTFOUND as for get.
 */
__attribute__((warn_unused_result)) int orderd_store_set_status(orderd_store_t *store, orderd_str_t user_id, uint64_t id,
                                                                orderd_status_t to, int64_t now_ms,
                                                                const orderd_alloc_t *a, orderd_order_t **out);

/** Number of orders in the table (takes every shard lock in turn; for tests and stats). */
size_t orderd_store_count(orderd_store_t *store);

/** The shard a user's orders live in. */
unsigned orderd_store_shard_of_user(const orderd_store_t *store, orderd_str_t user_id);

/** The shard an order id lives in. */
unsigned orderd_store_shard_of_id(const orderd_store_t *store, uint64_t id);

#endif
