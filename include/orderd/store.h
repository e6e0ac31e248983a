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
 * Every change (change.h) is applied by one step, orderd_store_apply;
 * the live paths build changes and go through it, and journal replay does too.
 *
 * Where each part lives:
 *   src/store.c        the shards, their maps, the apply/undo step, replay,
 *                      and walking a shard for snapshots
 *   src/store_write.c  create, status change and the operations after
 *                      checkout (with If-Match and Idempotency-Key): the
 *                      live changes
 *   src/store_audit.c  each order's audit trail buffer
 *   src/store_ids.c    order ids (with the node's bits) and the user hash
 *   src/store_snapshot.c  what snapshots read and load: every order of a
 *                      shard in id order, audit trails, keys
 *   src/store_read.c   get, the audit trail, a user's pages, the operator's
 *                      queue, counts
 */

#include <stdint.h>

#include "orderd/change.h"
#include "orderd/common.h"
#include "orderd/idempotency.h"
#include "orderd/order.h"
#include "orderd/order_ops.h"
#include "orderd/quota.h"

/** Low bits of an order id that hold its owner's shard hash. */
#define ORDERD_ID_SHARD_BITS 12
/** Most shards a store may have (the id carries ORDERD_ID_SHARD_BITS). */
#define ORDERD_STORE_MAX_SHARDS (1u << ORDERD_ID_SHARD_BITS)
/** Bits of an order id's per-millisecond sequence that hold the node id (--node-id). */
#define ORDERD_ID_NODE_BITS 4
/** Largest node id (--node-id 0 to ORDERD_ID_NODE_MAX). */
#define ORDERD_ID_NODE_MAX ((1u << ORDERD_ID_NODE_BITS) - 1)

typedef struct orderd_store orderd_store_t;

typedef enum {
    ORDERD_STORE_OK = 0,
    ORDERD_STORE_ENOTFOUND = -1, /* no such order, or another user's */
    ORDERD_STORE_ECONFLICT = -2, /* the status change is not allowed now */
    ORDERD_STORE_ENOMEM = -3,
    ORDERD_STORE_EINVAL = -4,    /* a change that does not fit the table (replay of bad data) */
    ORDERD_STORE_EUNAVAILABLE = -5, /* the journal takes no writes now: nothing changed, retry later */
    ORDERD_STORE_EPRECONDITION = -6, /* If-Match names none of the order's current version */
    ORDERD_STORE_EKEYMISMATCH = -7,  /* the idempotency key was used for a different request */
    /* refused by a limit (orderd_store_set_limits), before anything was journaled: nothing changed */
    ORDERD_STORE_ERATELIMIT = -8,    /* the user's token bucket is empty (orderd_store_rate_wait_ms says how long) */
    ORDERD_STORE_EUSERLIMIT = -9,    /* the user holds max_orders_per_user orders */
    ORDERD_STORE_EORDERLIMIT = -10,  /* the table holds max_orders orders */
    ORDERD_STORE_EMEMLIMIT = -11,    /* the process holds memory_bytes of heap or more */
    ORDERD_STORE_REPLAYED = 1,       /* the idempotency key was seen: the original answer, nothing changed */
} orderd_store_err_t;

/** Whether `err` is a refusal by one of the limits (ERATELIMIT to EMEMLIMIT). */
static inline int orderd_store_err_is_limit(int err)
{
    return err <= ORDERD_STORE_ERATELIMIT && err >= ORDERD_STORE_EMEMLIMIT;
}

/* --- the table, applying changes, snapshots (src/store.c) --- */

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

/** Sets how long idempotency keys are kept (default ORDERD_IDEM_TTL_DEFAULT_MS). */
void orderd_store_set_idem_ttl(orderd_store_t *store, int64_t ttl_ms);

/**
 * Sets the node id (0 to ORDERD_ID_NODE_MAX, default 0) that every later new
 * order id carries, so that nodes behind one load balancer never make the
 * same id. Call before serving requests. Returns ORDERD_STORE_EINVAL, and
 * changes nothing, past ORDERD_ID_NODE_MAX.
 */
int orderd_store_set_node_id(orderd_store_t *store, unsigned node_id) __attribute__((warn_unused_result));

/* --- limits (src/store_limits.c keeps and checks them, for src/store_write.c) --- */

/** How often, at most, the heap probe is asked (orderd_store_limits_t.memory_sample_ms in the server). */
#define ORDERD_STORE_MEMORY_SAMPLE_MS 10

/**
 * The limits on what customers may write (--rate-limit-per-user and
 * --rate-limit-burst, --max-orders-per-user, --max-orders, --memory-limit).
 * Each is checked under the shard lock before anything is journaled, so a
 * refusal changes nothing and stores no Idempotency-Key. The operator's
 * status changes and every read pass every limit; replay checks none (the
 * journal holds what was accepted).
 *
 *   rate       every create and cancel of a user who holds orders takes a
 *              token from the bucket in the user's record (a user without
 *              a record has a full one); ERATELIMIT when it is empty. Not
 *              journaled: after a restart every bucket is full.
 *   per user   a create when the user holds max_orders_per_user orders, of
 *              any status (orderd keeps every order), is EUSERLIMIT.
 *   orders     a create when the table holds max_orders orders is
 *              EORDERLIMIT; exact across shards (an atomic count).
 *   memory     a create, or a cancel that would store something (a status
 *              change or a key), when memory_in_use() said memory_bytes or
 *              more at its last sample, is EMEMLIMIT.
 */
typedef struct orderd_store_limits {
    orderd_rate_limit_t rate;        /* rate.per == 0: no rate limit */
    uint64_t max_orders_per_user;    /* 0: none */
    uint64_t max_orders;             /* 0: none */
    uint64_t memory_bytes;           /* 0: none */
    uint64_t (*memory_in_use)(void); /* the heap probe; NULL: orderd_quota_memory_in_use */
    int64_t memory_sample_ms;        /* the probe's answer is reused this long (0: asked on every write) */
    int64_t (*clock_ms)(void);       /* the buckets' clock, never going back; NULL: orderd_quota_clock_ms */
} orderd_store_limits_t;

/** Why writes were refused, since the table was made (summed over the shards; for /metrics). */
typedef struct orderd_store_refusals {
    uint64_t rate;            /* ERATELIMIT */
    uint64_t orders_per_user; /* EUSERLIMIT */
    uint64_t orders;          /* EORDERLIMIT */
    uint64_t memory;          /* EMEMLIMIT */
} orderd_store_refusals_t;

/** Sets the limits (all zero, the default: none). Call before serving requests. */
void orderd_store_set_limits(orderd_store_t *store, const orderd_store_limits_t *limits);

/** The limits in force (a copy of what orderd_store_set_limits was given). */
const orderd_store_limits_t *orderd_store_limits(const orderd_store_t *store);

/**
 * Milliseconds until `user_id`'s bucket holds a token again (0: it does, or
 * there is no rate limit or no such user), for a 429's Retry-After. Takes
 * the user's shard lock; changes nothing.
 */
int64_t orderd_store_rate_wait_ms(orderd_store_t *store, orderd_str_t user_id);

/** Refusals so far (takes no lock: each shard's counters are atomics). Cannot fail. */
void orderd_store_refusals(orderd_store_t *store, orderd_store_refusals_t *out);

/**
 * The heap probe's last answer (orderd_store_limits_t.memory_in_use), asking
 * it again when the answer is older than memory_sample_ms; 0 without a
 * memory limit. Thread-safe, lock-free.
 */
uint64_t orderd_store_memory_in_use(orderd_store_t *store);

/**
 * Applies one change, taking the owning shard's lock. This is the only
 * function that changes the table; live paths and replay both end here.
 * Returns ORDERD_STORE_OK, or ENOMEM / EINVAL (duplicate id on create, unknown
 * order on a status change) and changes nothing.
 */
__attribute__((warn_unused_result)) int orderd_store_apply(orderd_store_t *store, const orderd_change_t *ev);

/**
 * Replays one journaled change: applies it through orderd_store_apply unless
 * the table already holds it (the order's version is at or past the change's,
 * as after a snapshot taken while changes were in flight), in which case it
 * is skipped. Returns OK (applied or skipped) or EINVAL / ENOMEM.
 */
__attribute__((warn_unused_result)) int orderd_store_replay(orderd_store_t *store, const orderd_change_t *ev);

/**
 * Reverts an applied change that never became durable: removes a created
 * order, or moves a status change back (status, version, updated time).
 * Changes must be undone newest first. Returns OK or EINVAL when the table
 * does not hold the change's effect.
 */
__attribute__((warn_unused_result)) int orderd_store_undo(orderd_store_t *store, const orderd_change_t *ev);

/**
 * Puts back the status changes of order `id` read from an older snapshot's
 * SNAPSHOT_HISTORY record (at most ORDERD_HISTORY_MAX; the order is already
 * in the table). Returns OK, or EINVAL for an unknown order or an entry that
 * does not fit its version.
 */
__attribute__((warn_unused_result)) int orderd_store_restore_history(orderd_store_t *store, uint64_t id,
                                                                     const orderd_audit_entry_t *events, size_t n);

/**
 * Runs fn(ctx, shard) while holding shard `shard`'s lock: how the journal
 * writer takes a shard's pending records. fn must not do I/O.
 */
void orderd_store_with_shard(orderd_store_t *store, unsigned shard, void (*fn)(void *ctx, unsigned shard), void *ctx);

/**
 * Calls fn(ctx, order) for every order of shard `shard` under its lock, in id
 * order (for snapshots: fn copies, it must not do I/O).
 */
void orderd_store_each(orderd_store_t *store, unsigned shard, void (*fn)(void *ctx, const orderd_order_t *o),
                       void *ctx);

/**
 * The audit trail of an order past its creation as the table holds it, for
 * snapshots: raw entries (change.h's orderd_audit_raw_t, each with its
 * detail), *len 0 when the order never changed. Only valid on an order passed
 * to an orderd_store_each callback, while it runs.
 */
void orderd_store_order_audit(const orderd_order_t *o, const unsigned char **data, size_t *len);

/**
 * Puts back the audit trail of order `id` read from a snapshot's
 * SNAPSHOT_AUDIT record (the order is already in the table); a long trail
 * comes in several records, each appended after the one before. Returns OK,
 * EINVAL for an unknown order or entries that are not well-formed for it
 * (versions rising past what the trail holds), ENOMEM.
 */
__attribute__((warn_unused_result)) int orderd_store_restore_audit(orderd_store_t *store, uint64_t id,
                                                                   const unsigned char *data, size_t len);

/**
 * Calls fn(ctx, entry) for every unexpired idempotency key of shard `shard`
 * under its lock (for snapshots; fn copies, no I/O).
 */
void orderd_store_each_idem(orderd_store_t *store, unsigned shard,
                            void (*fn)(void *ctx, const orderd_idem_entry_t *e), void *ctx);

/** Number of shards. */
unsigned orderd_store_shards(const orderd_store_t *store);

/** The shard a user's orders live in. */
unsigned orderd_store_shard_of_user(const orderd_store_t *store, orderd_str_t user_id);

/** The shard an order id lives in. */
unsigned orderd_store_shard_of_id(const orderd_store_t *store, uint64_t id);

/**
 * A new order id for `user_id`: unique, never reused, increasing with time,
 * with the store's node id (orderd_id_node) and the user's shard hash in its
 * low bits. Thread-safe, lock-free.
 * orderd_store_create calls it under the shard lock, so a user's orders enter
 * the table in id order.
 */
uint64_t orderd_store_next_id(orderd_store_t *store, orderd_str_t user_id);

/** The node id (orderd_store_set_node_id) an order id was made with. */
uint64_t orderd_id_node(uint64_t id);

/* --- live changes (src/store_write.c) --- */

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

/**
 * Adds `order`, built by the caller (its id is ignored), under the owner's
 * shard lock: takes a new id, writes it into order->id, and applies the
 * created change, which copies the order into the table; the caller's copy
 * stays the caller's. With a journal set, the change is appended with
 * `waiter`.
 *
 * `key` (NULL: none) is the request's Idempotency-Key, stamped with the
 * order's created_ms. A key this user used before, unexpired, for the same
 * fingerprint: returns REPLAYED, *out is a copy (from `a`) of the order as
 * that answer showed it and *status the answer's HTTP status; nothing
 * changes, and `waiter` waits on a barrier so the answer goes out only once
 * the original change is durable. For another fingerprint: EKEYMISMATCH, with
 * *out and *status as for REPLAYED. Otherwise the key is journaled just before
 * the order (same batch), and on OK *out = order and *status = 201. `a`,
 * `out` and `status` are only used with a key and may be NULL without one.
 *
 * The limits (orderd_store_set_limits) come first: the user's token, then,
 * unless the key is replayed, the orders per user, the table's orders and
 * memory. A refusal returns ERATELIMIT, EUSERLIMIT, EORDERLIMIT or
 * EMEMLIMIT before anything is journaled, and the key is not kept as an
 * answer: a retry with it once the limit allows is a new create.
 *
 * Returns OK, REPLAYED, EKEYMISMATCH, ENOMEM, EUNAVAILABLE (the journal
 * refused) or a limit's error; on ENOMEM, EUNAVAILABLE and the limits'
 * errors nothing changed.
 */
__attribute__((warn_unused_result)) int orderd_store_create(orderd_store_t *store, orderd_order_t *order,
                                                            const orderd_idem_key_t *key, const orderd_alloc_t *a,
                                                            orderd_order_t **out, int *status, void *waiter);

/**
 * Moves order `id` of `user_id` to status `to` at `now_ms`, following
 * orderd_status_transition. A user_id with a NULL base acts for the operator
 * and may change any user's order.
 *
 * `pre` (may be NULL) is If-Match: when it names none of the order's current
 * version, EPRECONDITION with *out the order as it stands, nothing changed.
 * `key` (may be NULL; ignored for the operator) is an Idempotency-Key: a
 * replayed one returns REPLAYED with *out as the original answer showed it;
 * a mismatched one EKEYMISMATCH.
 *
 * On OK (applied, or a safe repeat) and on ECONFLICT, *out is a copy of the
 * order as it now stands, so the caller can return it or name its current
 * status. ENOTFOUND as for orderd_store_get. With a journal set, an applied
 * change is appended with `waiter` and a safe repeat waits on a barrier with
 * it (return OK); a conflict involves no waiter. EUNAVAILABLE when the
 * journal refuses, ENOMEM out of memory: nothing changed.
 *
 * A user's change of their own order takes a token first (ERATELIMIT), and
 * is EMEMLIMIT past the memory limit when it would store something (the
 * change, or a key); the operator's pass every limit. Refused, nothing
 * changed and no key is kept.
 */
__attribute__((warn_unused_result)) int orderd_store_set_status(orderd_store_t *store, orderd_str_t user_id,
                                                                uint64_t id, orderd_status_t to, int64_t now_ms,
                                                                const orderd_precondition_t *pre,
                                                                const orderd_idem_key_t *key, const orderd_alloc_t *a,
                                                                orderd_order_t **out, void *waiter);

/**
 * An operation after checkout (order_ops.h) on order `id` of `user_id` (a
 * NULL base: the operator, any user's order) at `now_ms`, under the shard
 * lock: If-Match `pre`, then the Idempotency-Key `key` (the operator's keys
 * are kept under the order's shard with no user), then orderd_op_apply.
 *
 * `res` gets orderd_op_apply's result: on OK *out is a copy of the order
 * after the change, which is applied through orderd_shard_apply_live (one
 * AMENDED change: a journal record of the operation's type) with `waiter`;
 * with `dry_run` nothing is applied, journaled or kept, and *out is the order
 * as it would be. NOOP (nothing to do) waits on a barrier and returns OK
 * with *out the order as it stands; CONFLICT, INVALID and NO_TARGET return
 * ECONFLICT with *out the order as it stands and res saying why. EPRECONDITION,
 * REPLAYED, EKEYMISMATCH, ENOTFOUND, EUNAVAILABLE, ENOMEM and the customer's
 * limits (a token, and the memory limit for what would be stored) as for
 * orderd_store_set_status.
 */
__attribute__((warn_unused_result)) int orderd_store_amend(orderd_store_t *store, orderd_str_t user_id, uint64_t id,
                                                           const orderd_op_t *op, int64_t now_ms, int dry_run,
                                                           const orderd_precondition_t *pre,
                                                           const orderd_idem_key_t *key, const orderd_alloc_t *a,
                                                           orderd_order_t **out, orderd_op_result_t *res,
                                                           void *waiter);

/* --- reads (src/store_read.c) --- */

/** A page of orders; orders are copies owned by the caller's allocator. */
typedef struct orderd_store_page {
    orderd_order_t **orders;
    size_t n;
    size_t total;  /* the orders matching the filter */
    size_t offset; /* where the page starts in that list */
} orderd_store_page_t;

/** Where a page starts: by offset, or next to an order id (a cursor). */
typedef enum {
    ORDERD_PAGE_OFFSET = 0,
    ORDERD_PAGE_AFTER,  /* the orders that follow `cursor` in the list's order */
    ORDERD_PAGE_BEFORE, /* the orders that precede `cursor`, the nearest ones */
} orderd_page_mode_t;

/*
 * Which orders a page lists and where it starts. Zero in a filter field
 * means no filter, so `(orderd_page_req_t){.limit = 10}` lists every order.
 * orderd_store_queue honours every field; orderd_store_list takes its user
 * as an argument and ignores user_id, product_id and the created bounds.
 */
typedef struct orderd_page_req {
    orderd_page_mode_t mode;
    size_t offset; /* ORDERD_PAGE_OFFSET */
    uint64_t cursor;
    size_t limit;
    unsigned status_mask; /* bit (1 << status) for each status to keep; 0: every status */
    orderd_str_t user_id;    /* only this user's orders; a NULL base: every user's */
    orderd_str_t product_id; /* only orders with a line of this product (bytes compared); a NULL base: any */
    int64_t created_after_ms;  /* only orders created strictly later than this (Unix ms); 0: no bound */
    int64_t created_before_ms; /* only orders created strictly earlier than this (Unix ms); 0: no bound */
} orderd_page_req_t;

/**
 * Copies order `id` of user `user_id` (a NULL base: any user's, for the
 * operator) into memory from `a` and sets *out. Returns ORDERD_STORE_OK or
 * ENOTFOUND (also when the order is another user's).
 */
__attribute__((warn_unused_result)) int orderd_store_get(orderd_store_t *store, orderd_str_t user_id, uint64_t id,
                                                         const orderd_alloc_t *a, orderd_order_t **out);

/**
 * Copies order `id` of `user_id` (a NULL base: any user's, for the operator)
 * with its whole audit trail into memory from `a`: (*events)[0] is the
 * creation, then one entry per change, oldest first, each operation's with
 * its detail. Returns OK or ENOTFOUND as for get.
 */
__attribute__((warn_unused_result)) int orderd_store_audit_trail(orderd_store_t *store, orderd_str_t user_id, uint64_t id,
                                                            const orderd_alloc_t *a, orderd_order_t **out,
                                                            orderd_audit_entry_t **events, size_t *n_events);

/**
 * A page of `user_id`'s orders, newest first, as `req` says; page->offset is
 * where it starts in the whole filtered list (also for cursors). Takes one
 * shard lock; costs O(limit) for cursors and a single status, never a scan
 * of the user's orders. Returns OK.
 */
__attribute__((warn_unused_result)) int orderd_store_list(orderd_store_t *store, orderd_str_t user_id,
                                                          const orderd_page_req_t *req, const orderd_alloc_t *a,
                                                          orderd_store_page_t *page);

/**
 * A page of every user's orders, oldest first (the operator's fulfilment
 * queue), as `req` says: the status list, and the filters of
 * orderd_page_req_t combined (an order must pass each one given);
 * page->total counts the orders that pass them all.
 *
 * With req->user_id, only that user's shard is read, through the user's
 * own index (an unknown user: an empty page, total 0). Otherwise each
 * shard's lock is taken in turn. With product_id or a created bound, each
 * shard read (or the user) has every order of the chosen statuses looked at
 * under its lock, to count the total; without them the cost is that of the
 * status indexes alone. An order is tested as it stood when its shard was
 * read and copied as it stands when copied (a status may have moved on
 * meanwhile). Returns OK, or ENOMEM (nothing changed; *page holds no
 * orders).
 */
__attribute__((warn_unused_result)) int orderd_store_queue(orderd_store_t *store, const orderd_page_req_t *req,
                                                           const orderd_alloc_t *a, orderd_store_page_t *page);

/** Number of orders in the table (takes every shard lock in turn; for tests and stats). */
size_t orderd_store_count(orderd_store_t *store);

/** Number of idempotency keys held (for tests and stats). */
size_t orderd_store_idem_count(orderd_store_t *store);

/**
 * Orders by status: out[s] is the number of orders whose status is s. Takes
 * each shard's lock in turn, so the totals are each shard's as it stood when
 * read. Cannot fail.
 */
void orderd_store_count_by_status(orderd_store_t *store, size_t out[ORDERD_STATUS_COUNT]);

#endif
