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
#include "orderd/idempotency.h"
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
    ORDERD_STORE_EPRECONDITION = -6, /* If-Match names none of the order's current version */
    ORDERD_STORE_EKEYMISMATCH = -7,  /* the idempotency key was used for a different request */
    ORDERD_STORE_REPLAYED = 1,       /* the idempotency key was seen: the original answer, nothing changed */
} orderd_store_err_t;

typedef enum {
    ORDERD_EVENT_CREATED = 1,
    ORDERD_EVENT_STATUS_CHANGED = 2,
    ORDERD_EVENT_IDEM_KEY = 3, /* an idempotency key was used (see idempotency.h) */
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
        struct {
            const orderd_idem_entry_t *entry; /* the store copies it */
        } idem;
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
    size_t offset; /* where the page starts in that list */
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

/** One entry of an order's audit trail: its creation or a status change. */
typedef struct orderd_order_event {
    uint32_t seq;   /* the order's version once the event was applied: 1 is the creation */
    uint8_t status; /* orderd_status_t after the event */
    uint8_t actor;  /* orderd_actor_t */
    int64_t at_ms;
} orderd_order_event_t;

/** Most status changes an order can go through (pending -> processing -> shipped -> delivered). */
#define ORDERD_HISTORY_MAX 3

/**
 * Copies order `id` of `user_id` (a NULL base: any user's, for the operator)
 * with its audit trail: events[0] is the creation, then one entry per status
 * change, oldest first; *n_events is 1 to ORDERD_HISTORY_MAX + 1. Returns OK or
 * ENOTFOUND as for get.
 */
__attribute__((warn_unused_result)) int orderd_store_events(orderd_store_t *store, orderd_str_t user_id, uint64_t id,
                                                            const orderd_alloc_t *a, orderd_order_t **out,
                                                            orderd_order_event_t events[ORDERD_HISTORY_MAX + 1],
                                                            size_t *n_events);

/**
 * The status changes of an order as the table holds it, for snapshots: only
 * valid on an order passed to an orderd_store_each callback. Writes up to
 * ORDERD_HISTORY_MAX entries (oldest first) and returns their number.
 */
size_t orderd_store_order_history(const orderd_order_t *o, orderd_order_event_t out[ORDERD_HISTORY_MAX]);

/**
 * Puts back the status changes of order `id` read from a snapshot (the order
 * is already in the table). Returns OK, or EINVAL for an unknown order.
 */
__attribute__((warn_unused_result)) int orderd_store_restore_history(orderd_store_t *store, uint64_t id,
                                                                     const orderd_order_event_t *events, size_t n);

/* --- conditional and idempotent changes --- */

/** If-Match, resolved for one order: the versions its entity tags name. */
typedef struct orderd_precondition {
    int active; /* 0: no If-Match */
    int any;    /* "*": any current version matches */
    size_t n;
    uint32_t versions[8];
} orderd_precondition_t;

/** An Idempotency-Key on a change, with the request's fingerprint. */
typedef struct orderd_idem_key {
    orderd_str_t key; /* 1 to ORDERD_IDEM_KEY_MAX bytes */
    unsigned char fingerprint[ORDERD_IDEM_FP_LEN];
} orderd_idem_key_t;

/** Sets how long idempotency keys are kept (default ORDERD_IDEM_TTL_DEFAULT_MS). */
void orderd_store_set_idem_ttl(orderd_store_t *store, int64_t ttl_ms);

/**
 * orderd_store_create with an idempotency key (NULL: none). A key this user
 * used before, unexpired, for the same fingerprint: returns REPLAYED, *out is
 * the order as that answer showed it and *status the answer's HTTP status;
 * nothing changes, and `waiter` waits on a barrier so the answer goes out only
 * once the original change is durable. For another fingerprint: EKEYMISMATCH.
 * Otherwise the order is created and the key is journaled with it (the key's
 * record first, in the same batch). `now_ms` stamps the key.
 */
__attribute__((warn_unused_result)) int orderd_store_create_keyed(orderd_store_t *store, orderd_order_t *order,
                                                                  const orderd_idem_key_t *key, int64_t now_ms,
                                                                  const orderd_alloc_t *a, orderd_order_t **out,
                                                                  int *status, void *waiter);

/**
 * orderd_store_set_status with If-Match (`pre`, may be NULL) and an
 * idempotency key (`key`, may be NULL; needs a non-NULL user). A replayed key
 * returns REPLAYED with *out as the original answer showed it; a mismatched
 * one EKEYMISMATCH. A precondition that fails: EPRECONDITION, *out the order
 * as it stands, nothing changed. Other results as for orderd_store_set_status.
 */
__attribute__((warn_unused_result)) int orderd_store_change_status(orderd_store_t *store, orderd_str_t user_id,
                                                                   uint64_t id, orderd_status_t to, int64_t now_ms,
                                                                   const orderd_precondition_t *pre,
                                                                   const orderd_idem_key_t *key,
                                                                   const orderd_alloc_t *a, orderd_order_t **out,
                                                                   void *waiter);

/**
 * Calls fn(ctx, entry) for every unexpired idempotency key of shard `shard`
 * under its lock (for snapshots; fn copies, no I/O).
 */
void orderd_store_each_idem(orderd_store_t *store, unsigned shard,
                            void (*fn)(void *ctx, const orderd_idem_entry_t *e), void *ctx);

/** Number of idempotency keys held (for tests and stats). */
size_t orderd_store_idem_count(orderd_store_t *store);

/* --- pages --- */

/** Where a page starts: by offset, or next to an order id (a cursor). */
typedef enum {
    ORDERD_PAGE_OFFSET = 0,
    ORDERD_PAGE_AFTER,  /* the orders that follow `cursor` in the list's order */
    ORDERD_PAGE_BEFORE, /* the orders that precede `cursor`, the nearest ones */
} orderd_page_mode_t;

typedef struct orderd_page_req {
    orderd_page_mode_t mode;
    size_t offset;  /* ORDERD_PAGE_OFFSET */
    uint64_t cursor;
    size_t limit;
    unsigned status_mask; /* 0: every status */
} orderd_page_req_t;

/**
 * A page of `user_id`'s orders, newest first, as `req` says; page->offset is
 * where it starts in the whole filtered list (also for cursors). O(limit) for
 * cursors and a single status.
 */
__attribute__((warn_unused_result)) int orderd_store_list_page(orderd_store_t *store, orderd_str_t user_id,
                                                               const orderd_page_req_t *req,
                                                               const orderd_alloc_t *a, orderd_store_page_t *page);

/**
 * A page of every user's orders, oldest first (for fulfilment workers), as
 * `req` says. Takes each shard's lock in turn; orders are copied as they
 * stand when copied (a status may have moved on meanwhile).
 */
__attribute__((warn_unused_result)) int orderd_store_admin_page(orderd_store_t *store, const orderd_page_req_t *req,
                                                                const orderd_alloc_t *a, orderd_store_page_t *page);

/** Number of orders in the table (takes every shard lock in turn; for tests and stats). */
size_t orderd_store_count(orderd_store_t *store);

/** The shard a user's orders live in. */
unsigned orderd_store_shard_of_user(const orderd_store_t *store, orderd_str_t user_id);

/** The shard an order id lives in. */
unsigned orderd_store_shard_of_id(const orderd_store_t *store, uint64_t id);

#endif
