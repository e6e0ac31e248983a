#ifndef ORDERD_INTERNAL_STORE_SHARD_H
#define ORDERD_INTERNAL_STORE_SHARD_H

/*
 * The store's insides: a shard, its maps and its one change step, defined in
 * src/store.c. src/store_write.c and src/store_read.c hold a shard's lock and
 * use the functions below; reads also walk the index vectors of a user or a
 * shard. Only orderd_shard_apply_live (and the key table's own calls) change
 * a shard.
 */

#include <pthread.h>
#include <stdatomic.h>

#include "internal/idvec.h"
#include "orderd/quota.h"
#include "orderd/store.h"

typedef struct user {
    uint64_t hash;
    orderd_order_t **orders;              /* every order of the user, by id (creation order) */
    size_t n_orders, cap_orders;
    uint64_t last_id; /* orders[n_orders - 1]->id (0: none): a new order goes last without reading it */
    orderd_idvec_t by_status[ORDERD_STATUS_COUNT]; /* ids, ascending, one vector per status */
    orderd_rate_t rate; /* the user's token bucket (--rate-limit-per-user); zero: full, as after a restart */
    uint8_t id_len;
    char id[ORDERD_USER_ID_MAX];
} user_t;

/* One slot of a shard's id map: the id kept beside the pointer, so a probe
 * reads no order (an order is a cache miss of its own; replay of 1M orders
 * spent most of its time in those misses). o NULL: empty. */
typedef struct orderd_id_slot {
    uint64_t id;
    orderd_order_t *o;
} orderd_id_slot_t;

/* Each shard on its own cache lines so two threads locking neighbours do not
 * bounce one line between cores. */
typedef struct shard {
    pthread_mutex_t mu;
    orderd_id_slot_t *ids; /* open addressing on the order id, linear probing */
    size_t ids_cap, ids_n;
    user_t **users; /* open addressing on the user hash */
    size_t users_cap, users_n;
    orderd_idvec_t by_status[ORDERD_STATUS_COUNT]; /* every user's ids, ascending: the operator's lists */
    orderd_idem_table_t idem;                      /* the idempotency keys of this shard's users */
    /* writes refused by a limit (orderd_store_refusals_t's order): written
     * under the lock, read by /metrics without it */
    _Atomic uint64_t refused[4];
} __attribute__((aligned(64))) shard_t;

struct orderd_store {
    shard_t *shards;
    unsigned nshards;
    _Atomic uint64_t last_seq;
    int64_t idem_ttl_ms;
    unsigned node_id; /* --node-id: in every new order id */
    orderd_store_journal_t journal; /* append == NULL: no journal */
    orderd_store_limits_t limits;   /* all zero: none */
    /* orders in the table: live creates count theirs in before applying
     * (so --max-orders holds across shards), replay and undo as they go */
    _Atomic uint64_t norders;
    _Atomic uint64_t mem_in_use;  /* the heap probe's last answer */
    _Atomic int64_t mem_asked_ms; /* when it was asked (limits.clock_ms) */
};

/* Indexes of shard_t.refused. */
enum { REFUSED_RATE, REFUSED_PER_USER, REFUSED_ORDERS, REFUSED_MEMORY };

/* An order's audit trail past its creation, kept behind a pointer right
 * after its blob in the table's copy (not in the blob: the blob is the
 * journal's create payload). NULL until the first change. `data` holds `n`
 * orderd_audit_raw_t entries with their details (change.h), oldest first. */
typedef struct audit {
    uint32_t n, len, cap;
    uint32_t _reserved;
    unsigned char data[];
} audit_t;

/* Bytes the table allocates for an order of `size` blob bytes. */
#define ORDERD_SLOT_SIZE(size) ((size) + sizeof(audit_t *))

static inline audit_t **audit_slot(const orderd_order_t *o)
{
    return (audit_t **)((char *)o + o->size);
}

/* --- defined in store_audit.c: an order's audit buffer; the caller holds
 * the shard's lock. Only the reserve fails, so a change reserves first. --- */

/** Makes room for one more entry with `detail_len` bytes of detail: 0, or -1 out of memory. */
int orderd_audit_reserve(orderd_order_t *o, uint32_t detail_len);

/** Appends an entry (room reserved). */
void orderd_audit_push(orderd_order_t *o, const orderd_audit_entry_t *e);

/** Drops the newest entry when it made `version` (an undone change). */
void orderd_audit_pop(orderd_order_t *o, uint32_t version);

/** Frees the buffer (the order is going away or handing its buffer to its new blob). */
void orderd_audit_free(orderd_order_t *o);

/**
 * Calls fn(ctx, entry) for each entry past the creation, oldest first (the
 * entry's detail points into the buffer); stops when fn returns non-zero and
 * returns that, else 0.
 */
int orderd_audit_each(const orderd_order_t *o, int (*fn)(void *ctx, const orderd_audit_entry_t *e), void *ctx);

/** The entry that made `version` into *out: 1, or 0 when there is none. */
int orderd_audit_find(const orderd_order_t *o, uint32_t version, orderd_audit_entry_t *out);

/** The raw entries (change.h's orderd_audit_raw_t layout), for snapshots; *len 0 when none. */
void orderd_audit_bytes(const orderd_order_t *o, const unsigned char **data, size_t *len);

/**
 * Appends `len` bytes of raw entries read from a snapshot to the buffer:
 * ORDERD_STORE_OK, EINVAL when they are not well-formed entries (versions
 * rising, at most the order's, kinds and statuses known, details that read)
 * or ENOMEM; on failure the buffer is as it was.
 */
int orderd_audit_load(orderd_order_t *o, const unsigned char *data, size_t len);

/* --- defined in store_ids.c --- */

/** The user hash that picks a user's shard and fills an order id's low bits. */
uint64_t orderd_shard_user_hash(orderd_str_t user);

/** A 64-bit finaliser (the hash maps' probe start). */
uint64_t orderd_shard_mix64(uint64_t x);

/** Takes note of an id replay or a snapshot handed back, so orderd_store_next_id never gives it out again. */
void orderd_shard_seq_observe(orderd_store_t *store, uint64_t id);

/* --- defined in store.c; the caller holds the shard's lock --- */


/** The order with id `id`, or NULL. */
orderd_order_t *orderd_shard_find(shard_t *s, uint64_t id);

/** The index of the user with this hash and id, or NULL. */
user_t *orderd_shard_user(shard_t *s, uint64_t hash, orderd_str_t id);

/** Whether `user_id` may see the order (a NULL base: the operator, any order). */
int orderd_shard_owned_by(const orderd_order_t *o, orderd_str_t user_id);

/** A copy of the order's blob from `a` (request memory: cannot fail). */
orderd_order_t *orderd_shard_copy_out(const orderd_order_t *o, const orderd_alloc_t *a);

/**
 * Applies a live change to `s` and appends it to the journal with `waiter`.
 * If the journal refuses, the change is undone: nothing happened, and the
 * result is EUNAVAILABLE. Other results as for orderd_store_apply.
 */
int orderd_shard_apply_live(orderd_store_t *store, shard_t *s, const orderd_change_t *ev, void *waiter);

/**
 * Registers `waiter` to hear once everything journaled in `s` so far is
 * durable. Returns OK (also with no journal: the waiter is not used), or
 * EUNAVAILABLE when the journal refuses.
 */
int orderd_shard_barrier(orderd_store_t *store, shard_t *s, void *waiter);

/* --- defined in store_limits.c; the caller holds the shard's lock. Each
 * refusal is counted in s->refused and changes nothing else. --- */

/**
 * Takes a token from user `u`'s bucket for a write: OK, or ERATELIMIT. `u`
 * NULL (a user with no record yet, whose bucket is full) is OK, no token taken.
 */
int orderd_shard_take_token(orderd_store_t *store, shard_t *s, user_t *u);

/** OK, or EMEMLIMIT when `mem_in_use` (orderd_store_memory_in_use, read before the lock) is past the limit. */
int orderd_shard_check_memory(orderd_store_t *store, shard_t *s, uint64_t mem_in_use);

/**
 * Whether one more order of `u` (NULL: a user with none) may be created:
 * EUSERLIMIT, EMEMLIMIT or EORDERLIMIT, or OK with the order already counted
 * in store->norders: a create that then fails calls orderd_shard_unadmit_order.
 */
int orderd_shard_admit_order(orderd_store_t *store, shard_t *s, const user_t *u, uint64_t mem_in_use);

/** Takes back the count of an admitted order that was not created. */
void orderd_shard_unadmit_order(orderd_store_t *store);

#endif
