#ifndef ORDERD_CHANGE_H
#define ORDERD_CHANGE_H

/*
 * A change to the order table: what the store applies, what the journal
 * writes as one record and replays, and what an order's audit trail keeps of
 * it. The store (store.h) makes changes and hands them to a change sink (the
 * journal writer, wal.h); the journal's format (journal.h) turns them into
 * records and back. Neither needs the other's header for that: this one is
 * what they share.
 */

#include <stdint.h>

#include "orderd/idempotency.h"
#include "orderd/order.h"

typedef enum {
    ORDERD_CHANGE_CREATED = 1,
    ORDERD_CHANGE_STATUS = 2,
    ORDERD_CHANGE_IDEM_KEY = 3, /* an idempotency key was used (see idempotency.h) */
} orderd_change_type_t;

/** Who made a change. */
typedef enum {
    ORDERD_ACTOR_USER = 0,
    ORDERD_ACTOR_OPERATOR = 1,
} orderd_actor_t;

/** One change to the table. */
typedef struct orderd_change {
    orderd_change_type_t type;
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
} orderd_change_t;

/**
 * Where live changes go to become durable. append is called under the owning
 * shard's lock right after the change is applied, in the order changes are
 * applied; it must not do I/O. It returns 0, or -1 to refuse (the journal is
 * read-only after a failed write, or out of memory): the store then undoes
 * the change and the caller answers 503. barrier registers a waiter to be
 * told once everything appended to that shard so far is durable (a repeated
 * cancel must not be acknowledged before the first one is). `waiter` is the
 * caller's, passed through untouched.
 */
typedef struct orderd_store_journal {
    int (*append)(void *ctx, unsigned shard, const orderd_change_t *ev, void *waiter);
    int (*barrier)(void *ctx, unsigned shard, void *waiter);
    void *ctx;
} orderd_store_journal_t;

/** One entry of an order's audit trail: its creation or a status change. */
typedef struct orderd_audit_entry {
    uint32_t version; /* the order's version once the change was applied: 1 is the creation */
    uint8_t status;   /* orderd_status_t after the change */
    uint8_t actor;    /* orderd_actor_t */
    int64_t at_ms;
} orderd_audit_entry_t;

/** Most status changes an order can go through (pending -> processing -> shipped -> delivered). */
#define ORDERD_HISTORY_MAX 3

#endif
