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
    ORDERD_CHANGE_AMENDED = 4,  /* an operation after checkout (order_ops.h): the order as it is after it */
} orderd_change_type_t;

/** An operation the one-step status endpoint made (a shipment of everything, every delivery): the audit trail
 * shows it as the status change it was asked as. */
#define ORDERD_AMENDED_VIA_STATUS 1

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
            /* the whole order after the change, for the event feed (feed.h); the
             * record copies it when it is framed, after the change is applied.
             * NULL: none (records written before they carried it) */
            const orderd_order_t *after;
        } status_changed;
        struct {
            const orderd_idem_entry_t *entry; /* the store copies it */
        } idem;
        struct {
            uint8_t op;          /* orderd_op_type_t (order_ops.h), which is also the journal record's type */
            uint8_t actor;       /* orderd_actor_t */
            uint8_t status;      /* after the change */
            uint8_t prev_status; /* before it */
            uint8_t flags;       /* ORDERD_AMENDED_* */
            uint32_t version;    /* after the change: before's + 1 */
            uint64_t order_id;
            int64_t at_ms;
            const orderd_order_t *after;  /* the whole order after it; the store copies it */
            const orderd_order_t *before; /* the whole order before it: what an undo puts back */
            const unsigned char *detail;  /* what changed (orderd_detail_next); the store copies it */
            uint32_t detail_len;
        } amended;
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

/**
 * One entry of an order's audit trail: its creation, a status change, or an
 * operation with what it changed. Positional initialisers give a creation or
 * status change ({version, status, actor, at_ms}).
 */
typedef struct orderd_audit_entry {
    uint32_t version; /* the order's version once the change was applied: 1 is the creation */
    uint8_t status;   /* orderd_status_t after the change */
    uint8_t actor;    /* orderd_actor_t */
    int64_t at_ms;
    uint8_t kind;     /* 0: the creation or a status change; else the operation (orderd_op_type_t) */
    const unsigned char *detail; /* what the operation changed (orderd_detail_next); NULL for kind 0 */
    uint32_t detail_len;
    uint8_t flags;    /* ORDERD_AMENDED_* of the operation */
} orderd_audit_entry_t;

/**
 * An audit entry as the table keeps it, one after another in one buffer per
 * order, and as a snapshot's SNAPSHOT_AUDIT record holds them: this header,
 * then detail_len bytes of detail padded with zeros to a multiple of 8.
 */
typedef struct orderd_audit_raw {
    int64_t at_ms;
    uint32_t version;
    uint32_t detail_len;
    uint8_t kind;
    uint8_t status;
    uint8_t actor;
    uint8_t flags;
    uint8_t _reserved[4];
} orderd_audit_raw_t;

/** Bytes one raw entry takes with its detail. */
static inline size_t orderd_audit_raw_size(uint32_t detail_len)
{
    return sizeof(orderd_audit_raw_t) + (((size_t)detail_len + 7) & ~(size_t)7);
}

/** Most status changes in a snapshot's SNAPSHOT_HISTORY record (the format before SNAPSHOT_AUDIT). */
#define ORDERD_HISTORY_MAX 3

#endif
