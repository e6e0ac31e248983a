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
    ORDERD_STORE_EUNAVAILABLE = -5, /* the journal takes no writes now: nothing changed, retry later */
} orderd_store_err_t;

typedef enum {
    ORDERD_EVENT_CREATED = 1,
    ORDERD_EVENT_STATUS_CHANGED = 2,
} orderd_event_type_t;

/** Who made a change. */
typedef enum {
    ORDERD_ACTOR_USER = 0,
    ORDERD_ACTOR_OPERATOR = 1,
} orderd_actor_t;

/** One change to the table. */
typedef struct orderd_event {
    orderd_event_type_t type;
    union {
        struct {
            const orderd_order_t *order; /* the whole new order; the store copies it */
        } created;
        struct {
            uint64_t order_id;
            uint8_t status;      /* orderd_status_t, after the change */
            uint8_t prev_status; /* before it: lets a change that never became durable be undone */
            uint8_t actor;       /* orderd_actor_t */
            uint32_t version;    /* the order's version after the change */
            int64_t at_ms;
            int64_t prev_updated_ms;
        } status_changed;
    } u;
} orderd_event_t;

/**
 * Where live changes go to become durable. append is called under the owning
 * shard's lock right after the change is applied, in the order changes are
 * applied; it must not do I/O. It returns 0, or -1 to refuse (the journal is
 * read-only after a failed write): the store then undoes the change and the
 * caller answers 503. barrier registers a waiter to be told once everything
 * appended to that shard so far is durable (a repeated cancel must not be
 * acknowledged before the first one is). `waiter` is the caller's, passed
 * through untouched.
 */
typedef struct orderd_store_journal {
    int (*append)(void *ctx, unsigned shard, const orderd_event_t *ev, void *waiter);
    int (*barrier)(void *ctx, unsigned shard, void *waiter);
    void *ctx;
} orderd_store_journal_t;

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
 * Sends every later live change to `journal` (NULL: none, changes are
 * acknowledged at once). Call before serving requests.
 */
void orderd_store_set_journal(orderd_store_t *store, const orderd_store_journal_t *journal);

/**
 * Applies one event, taking the owning shard's lock. This is the only
 * function that changes the table; live paths and replay both end here.
 * Returns ORDERD_STORE_OK, or ENOMEM / EINVAL (duplicate id on create, unknown
 * order on a status change) and changes nothing.
 */
__attribute__((warn_unused_result)) int orderd_store_apply(orderd_store_t *store, const orderd_event_t *ev);

/**
 * Replays one journal event: applies it through orderd_store_apply unless
 * the table already holds it (the order's version is at or past the event's,
 * as after a snapshot taken while changes were in flight), in which case it
 * is skipped. Returns OK (applied or skipped) or EINVAL / ENOMEM.
 */
__attribute__((warn_unused_result)) int orderd_store_replay(orderd_store_t *store, const orderd_event_t *ev);

/**
 * Reverts an applied event that never became durable: removes a created
 * order, or moves a status change back (status, version, updated time).
 * Events must be undone newest first. Returns OK or EINVAL when the table
 * does not hold the event's effect.
 */
__attribute__((warn_unused_result)) int orderd_store_undo(orderd_store_t *store, const orderd_event_t *ev);

/**
 * Runs fn(ctx, shard) while holding shard `shard`'s lock: how the journal
 * writer takes a shard's pending records. fn must not do I/O.
 */
void orderd_store_with_shard(orderd_store_t *store, unsigned shard, void (*fn)(void *ctx, unsigned shard), void *ctx);

/** Number of shards. */
unsigned orderd_store_shards(const orderd_store_t *store);

/**
 * Calls fn(ctx, order) for every order of shard `shard` under its lock (for
 * snapshots: fn copies, it must not do I/O).
 */
void orderd_store_each(orderd_store_t *store, unsigned shard, void (*fn)(void *ctx, const orderd_order_t *o),
                       void *ctx);

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
 * stays the caller's. With a journal set, the change is appended with
 * `waiter`. Returns ORDERD_STORE_OK, ENOMEM or EUNAVAILABLE.
 */
__attribute__((warn_unused_result)) int orderd_store_create(orderd_store_t *store, orderd_order_t *order,
                                                            void *waiter);

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
 * return it or name its current status. ENOTFOUND as for get. With a journal
 * set, an applied change is appended with `waiter` and a safe repeat waits on
 * a barrier with it (return OK), a conflict involves no waiter; EUNAVAILABLE
 * when the journal refuses.
 */
__attribute__((warn_unused_result)) int orderd_store_set_status(orderd_store_t *store, orderd_str_t user_id, uint64_t id,
                                                                orderd_status_t to, int64_t now_ms,
                                                                const orderd_alloc_t *a, orderd_order_t **out,
                                                                void *waiter);

/** Number of orders in the table (takes every shard lock in turn; for tests and stats). */
size_t orderd_store_count(orderd_store_t *store);

/** The shard a user's orders live in. */
unsigned orderd_store_shard_of_user(const orderd_store_t *store, orderd_str_t user_id);

/** The shard an order id lives in. */
unsigned orderd_store_shard_of_id(const orderd_store_t *store, uint64_t id);

#endif
