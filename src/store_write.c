/*
 * The live changes: create, and a status change (cancel, fulfilment), each
 * with its optional Idempotency-Key and, for status changes, If-Match, and
 * each checked against the limits (store_limits.c) before anything of it
 * is journaled.
 * Everything runs under the owning shard's lock, like every change: the
 * precondition, the key's look-up, the key's record and the change itself
 * are one step, so no other request can come in between. Each change goes
 * through orderd_shard_apply_live (store.c), the one step that applies it
 * and hands it to the journal.
 */
#include <stdlib.h>
#include <string.h>

#include "internal/store_shard.h"

/* Who keeps the operator's Idempotency-Keys: a name no X-User-Id can be. */
static const orderd_str_t operator_keys = ORDERD_STR("!operator");

typedef struct patch_ctx {
    uint32_t v;
    int only_status; /* every change after version v was a status change */
} patch_ctx_t;

static int after_v(void *ctx, const orderd_audit_entry_t *e)
{
    patch_ctx_t *p = ctx;
    if (e->version > p->v && e->kind != 0)
        p->only_status = 0;
    return 0;
}

/* The order as the answer that made version `v` showed it. A status change
 * changes nothing but status, version and time, so the order after later
 * status changes is patched back from the trail. After a later operation
 * the blob itself moved on: the answer is the order as it is now. */
static orderd_order_t *copy_at_version(const orderd_order_t *o, uint32_t v, const orderd_alloc_t *a)
{
    orderd_order_t *c = orderd_shard_copy_out(o, a);
    patch_ctx_t p = {v, 1};
    orderd_audit_entry_t e;
    if (v < 1 || v >= o->version || (orderd_audit_each(o, after_v, &p), !p.only_status))
        return c;
    c->version = v;
    if (v == 1) {
        c->status = ORDERD_STATUS_PENDING;
        c->updated_ms = o->created_ms;
    } else if (orderd_audit_find(o, v, &e)) {
        c->status = e.status;
        c->updated_ms = e.at_ms;
    }
    return c;
}

/* What a key already used means for a new request with it, under the lock:
 * 0 when the key is new (or its entry is stale: expired, or its change never
 * became durable and was undone, or was cut off by a crash), else REPLAYED or
 * EKEYMISMATCH with *hit set. */
static int idem_lookup(orderd_store_t *store, shard_t *s, orderd_str_t user, const orderd_idem_key_t *key,
                       int64_t now_ms, const orderd_idem_entry_t **hit, const orderd_order_t **order)
{
    orderd_idem_sweep(&s->idem, now_ms - store->idem_ttl_ms, 2); /* reclaim a little on every use */
    const orderd_idem_entry_t *e = orderd_idem_find(&s->idem, user, key->key);
    if (e == NULL || e->created_ms < now_ms - store->idem_ttl_ms) /* expired (the sweep's cutoff) */
        return 0;
    const orderd_order_t *o = orderd_shard_find(s, e->order_id);
    if (o == NULL || o->version < e->version)
        return 0;
    *hit = e;
    *order = o;
    return memcmp(e->fingerprint, key->fingerprint, ORDERD_IDEM_FP_LEN) == 0 ? ORDERD_STORE_REPLAYED
                                                                           : ORDERD_STORE_EKEYMISMATCH;
}

/* A replayed key is answered once everything before it in the shard (the
 * original change above all) is durable. */
static int idem_replay(orderd_store_t *store, shard_t *s, void *waiter)
{
    int ret = orderd_shard_barrier(store, s, waiter);
    return ret == ORDERD_STORE_OK ? ORDERD_STORE_REPLAYED : ret;
}

/* Room for the largest entry, on the stack: the table and the journal copy it. */
typedef union idem_buf {
    orderd_idem_entry_t entry;
    unsigned char bytes[(sizeof(orderd_idem_entry_t) + ORDERD_USER_ID_MAX + ORDERD_IDEM_KEY_MAX + 7) & ~7u];
} idem_buf_t;

/* Journals the key before the change it answers: a crash that keeps the key
 * but cuts the change leaves a stale key (see idem_lookup), never a change
 * whose key was lost. On OK, *made is the entry (in `buf`). */
static int idem_record(orderd_store_t *store, shard_t *s, orderd_str_t user, const orderd_idem_key_t *key,
                       uint64_t order_id, uint32_t version, uint16_t status, int64_t now_ms, idem_buf_t *buf,
                       const orderd_idem_entry_t **made)
{
    orderd_idem_entry_build(&buf->entry, user, key->key, order_id, version, status, key->fingerprint, now_ms);
    orderd_change_t ev = {.type = ORDERD_CHANGE_IDEM_KEY, .u.idem.entry = &buf->entry};
    int ret = orderd_shard_apply_live(store, s, &ev, NULL);
    if (ret == ORDERD_STORE_OK)
        *made = &buf->entry;
    return ret;
}

/* As idem_record, for an operation after checkout: the entry keeps the
 * answer's order whole, in memory from `a` (the table and the journal copy it). */
static int idem_record_answer(orderd_store_t *store, shard_t *s, orderd_str_t user, const orderd_idem_key_t *key,
                              const orderd_order_t *answer, uint16_t status, int64_t now_ms, const orderd_alloc_t *a,
                              const orderd_idem_entry_t **made)
{
    orderd_idem_entry_t *e = orderd_alloc(a, orderd_idem_entry_size(user.len, key->key.len) + answer->size);
    orderd_idem_entry_build(e, user, key->key, answer->id, answer->version, status, key->fingerprint, now_ms);
    orderd_idem_entry_set_answer(e, answer);
    orderd_change_t ev = {.type = ORDERD_CHANGE_IDEM_KEY, .u.idem.entry = e};
    int ret = orderd_shard_apply_live(store, s, &ev, NULL);
    if (ret == ORDERD_STORE_OK)
        *made = e;
    return ret;
}

/* The first answer of a key seen again: the order it kept, or the order rebuilt at its version. */
static orderd_order_t *first_answer(const orderd_idem_entry_t *hit, const orderd_order_t *have, const orderd_alloc_t *a)
{
    const orderd_order_t *kept = orderd_idem_entry_answer(hit);
    return kept != NULL ? orderd_shard_copy_out(kept, a) : copy_at_version(have, hit->version, a);
}

/* Takes back a key journaled for a change that was then refused. */
static void idem_unrecord(shard_t *s, const orderd_idem_entry_t *e)
{
    if (e != NULL)
        orderd_idem_remove(&s->idem, e);
}

int orderd_store_create(orderd_store_t *store, orderd_order_t *order, const orderd_idem_key_t *key,
                        const orderd_alloc_t *a, orderd_order_t **out, int *status, void *waiter)
{
    orderd_str_t uid = orderd_order_user(order);
    shard_t *s = &store->shards[orderd_store_shard_of_user(store, uid)];
    const orderd_idem_entry_t *made = NULL;
    idem_buf_t buf;
    int ret, admitted = 0;
    uint64_t mem = orderd_store_memory_in_use(store); /* may ask the probe: not under the lock */
    const orderd_store_limits_t *lim = &store->limits;
    pthread_mutex_lock(&s->mu);
    user_t *u = lim->rate.per != 0 || lim->max_orders_per_user != 0
                    ? orderd_shard_user(s, orderd_shard_user_hash(uid), uid)
                    : NULL;
    if ((ret = orderd_shard_take_token(store, s, u)) != ORDERD_STORE_OK)
        goto done;
    if (key != NULL) {
        const orderd_idem_entry_t *hit;
        const orderd_order_t *have;
        if ((ret = idem_lookup(store, s, uid, key, order->created_ms, &hit, &have)) != 0) {
            *out = first_answer(hit, have, a);
            *status = hit->status;
            if (ret == ORDERD_STORE_REPLAYED)
                ret = idem_replay(store, s, waiter);
            goto done;
        }
    }
    if ((ret = orderd_shard_admit_order(store, s, u, mem)) != ORDERD_STORE_OK)
        goto done;
    admitted = 1;
    order->id = orderd_store_next_id(store, uid);
    if (key != NULL &&
        (ret = idem_record(store, s, uid, key, order->id, 1, 201, order->created_ms, &buf, &made)) != ORDERD_STORE_OK)
        goto done;
    orderd_change_t ev = {.type = ORDERD_CHANGE_CREATED, .u.created.order = order};
    /* on failure the key's record stays queued: replay finds no order for it, a stale key */
    if ((ret = orderd_shard_apply_live(store, s, &ev, waiter)) != ORDERD_STORE_OK) {
        idem_unrecord(s, made);
        goto done;
    }
    admitted = 0; /* counted for good */
    /* a new user's record starts with a full bucket: this create takes its first token */
    if (u == NULL && lim->rate.per != 0)
        (void)orderd_shard_take_token(store, s, orderd_shard_user(s, orderd_shard_user_hash(uid), uid));
    if (key != NULL) {
        *out = order;
        *status = 201;
    }
done:
    if (admitted)
        orderd_shard_unadmit_order(store);
    pthread_mutex_unlock(&s->mu);
    return ret;
}

static orderd_actor_t actor_of(orderd_str_t user_id)
{
    return user_id.base == NULL ? ORDERD_ACTOR_OPERATOR : ORDERD_ACTOR_USER;
}

/*
 * Runs operation `op` on `o` under the shard lock (the order's owner, the
 * limits' token, the key's look-up and If-Match are the caller's): see
 * orderd_store_amend. `key_owner` keeps `key` (NULL: no key).
 */
static int amend_locked(orderd_store_t *store, shard_t *s, orderd_order_t *o, orderd_str_t key_owner,
                        const orderd_idem_key_t *key, orderd_actor_t actor, const orderd_op_t *op, int64_t now_ms,
                        int dry_run, uint64_t mem, const orderd_alloc_t *a, orderd_order_t **out,
                        orderd_op_result_t *res, void *waiter, uint16_t http_status, uint8_t flags)
{
    const orderd_idem_entry_t *made = NULL;
    int ret;
    uint64_t id = o->id;
    orderd_op_outcome_t oc = orderd_op_apply(o, op, actor, now_ms, a, res);
    if (oc != ORDERD_OP_OK && oc != ORDERD_OP_NOOP) {
        *out = orderd_shard_copy_out(o, a);
        return ORDERD_STORE_ECONFLICT;
    }
    if (dry_run) {
        *out = oc == ORDERD_OP_OK ? res->after : orderd_shard_copy_out(o, a);
        return ORDERD_STORE_OK;
    }
    /* past the memory limit a customer's change, or key, would be stored: refused */
    if (actor == ORDERD_ACTOR_USER && (oc == ORDERD_OP_OK || key != NULL) &&
        (ret = orderd_shard_check_memory(store, s, mem)) != ORDERD_STORE_OK) {
        *out = orderd_shard_copy_out(o, a);
        return ret;
    }
    if (key != NULL) {
        /* the answer is the order after the operation, or as it stands for a repeat */
        ret = idem_record_answer(store, s, key_owner, key, oc == ORDERD_OP_OK ? res->after : orderd_shard_copy_out(o, a),
                                 oc == ORDERD_OP_OK ? http_status : 200, now_ms, a, &made);
        if (ret != ORDERD_STORE_OK) {
            *out = orderd_shard_copy_out(o, a);
            return ret;
        }
    }
    if (oc == ORDERD_OP_NOOP) {
        *out = orderd_shard_copy_out(o, a);
        if ((ret = orderd_shard_barrier(store, s, waiter)) != ORDERD_STORE_OK)
            idem_unrecord(s, made);
        return ret;
    }
    const orderd_order_t *after = res->after;
    /* undo puts `before` back: a copy, since the table frees its blob when it swaps */
    orderd_change_t ev = {.type = ORDERD_CHANGE_AMENDED,
                          .u.amended = {.op = (uint8_t)op->type,
                                        .actor = (uint8_t)actor,
                                        .status = after->status,
                                        .prev_status = o->status,
                                        .flags = flags,
                                        .version = after->version,
                                        .order_id = id,
                                        .at_ms = after->updated_ms,
                                        .after = after,
                                        .before = orderd_shard_copy_out(o, a),
                                        .detail = res->detail,
                                        .detail_len = res->detail_len}};
    if ((ret = orderd_shard_apply_live(store, s, &ev, waiter)) != ORDERD_STORE_OK) {
        idem_unrecord(s, made);
        *out = orderd_shard_copy_out(orderd_shard_find(s, id), a);
        return ret;
    }
    *out = orderd_shard_copy_out(orderd_shard_find(s, id), a);
    return ORDERD_STORE_OK;
}

static int version_matches(const orderd_precondition_t *pre, uint32_t version)
{
    if (pre == NULL || !pre->active || pre->any)
        return 1;
    for (size_t i = 0; i < pre->n; ++i)
        if (pre->versions[i] == version)
            return 1;
    return 0;
}

int orderd_store_set_status(orderd_store_t *store, orderd_str_t user_id, uint64_t id, orderd_status_t to,
                            int64_t now_ms, const orderd_precondition_t *pre, const orderd_idem_key_t *key,
                            const orderd_alloc_t *a, orderd_order_t **out, void *waiter)
{
    shard_t *s = &store->shards[orderd_store_shard_of_id(store, id)];
    int ret = ORDERD_STORE_ENOTFOUND;
    const orderd_idem_entry_t *made = NULL;
    idem_buf_t buf;
    int customer = user_id.base != NULL; /* the operator passes every limit */
    uint64_t mem = customer ? orderd_store_memory_in_use(store) : 0;
    pthread_mutex_lock(&s->mu);
    orderd_order_t *o = orderd_shard_find(s, id);
    if (o == NULL || !orderd_shard_owned_by(o, user_id))
        goto done;
    /* the order is the user's, so the user's record is in this shard */
    if (customer && store->limits.rate.per != 0 &&
        (ret = orderd_shard_take_token(store, s, orderd_shard_user(s, orderd_shard_user_hash(user_id), user_id))) !=
            ORDERD_STORE_OK)
        goto done;
    if (key != NULL && user_id.base != NULL) {
        const orderd_idem_entry_t *hit;
        const orderd_order_t *have;
        if ((ret = idem_lookup(store, s, user_id, key, now_ms, &hit, &have)) != 0) {
            *out = first_answer(hit, have, a);
            if (ret == ORDERD_STORE_REPLAYED)
                ret = idem_replay(store, s, waiter);
            goto done;
        }
    }
    if (!version_matches(pre, o->version)) {
        ret = ORDERD_STORE_EPRECONDITION;
        goto copy;
    }
    /* the one-step status endpoint on orders with shipments: ship what is
     * open in one shipment, deliver every shipment */
    orderd_op_t redirect = {0};
    if (to == ORDERD_STATUS_SHIPPED &&
        (o->status == ORDERD_STATUS_PARTIALLY_SHIPPED || (o->status == ORDERD_STATUS_PROCESSING)))
        redirect.type = ORDERD_OP_SHIP;
    else if (to == ORDERD_STATUS_DELIVERED && o->status == ORDERD_STATUS_SHIPPED && orderd_order_ext(o) != NULL &&
             orderd_order_ext(o)->n_shipments != 0)
        redirect.type = ORDERD_OP_DELIVER; /* target 0: every shipment */
    if (redirect.type != 0) {
        orderd_op_result_t res;
        ret = amend_locked(store, s, o, (orderd_str_t){NULL, 0}, NULL, actor_of(user_id), &redirect, now_ms, 0, 0, a,
                           out, &res, waiter, 200, ORDERD_AMENDED_VIA_STATUS);
        goto done;
    }
    orderd_transition_t tr = orderd_status_transition((orderd_status_t)o->status, to);
    if (to == ORDERD_STATUS_CANCELLED && !customer && o->status == ORDERD_STATUS_PROCESSING)
        tr = ORDERD_TRANSITION_APPLY; /* the operator may cancel what is not shipped yet */
    /* past the memory limit, a change or a key would be stored: refused; a repeat without a key stores nothing */
    if (customer && (tr == ORDERD_TRANSITION_APPLY || (tr == ORDERD_TRANSITION_NOOP && key != NULL)) &&
        (ret = orderd_shard_check_memory(store, s, mem)) != ORDERD_STORE_OK)
        goto done;
    if (tr != ORDERD_TRANSITION_CONFLICT && key != NULL && user_id.base != NULL &&
        (ret = idem_record(store, s, user_id, key, id, tr == ORDERD_TRANSITION_APPLY ? o->version + 1 : o->version,
                           200, now_ms, &buf, &made)) != ORDERD_STORE_OK)
        goto copy;
    switch (tr) {
    case ORDERD_TRANSITION_APPLY: {
        orderd_change_t ev = {.type = ORDERD_CHANGE_STATUS,
                             .u.status_changed = {.order_id = id,
                                                  .status = (uint8_t)to,
                                                  .prev_status = o->status,
                                                  .actor = user_id.base == NULL ? ORDERD_ACTOR_OPERATOR
                                                                                : ORDERD_ACTOR_USER,
                                                  .version = o->version + 1,
                                                  .at_ms = now_ms > o->updated_ms ? now_ms : o->updated_ms,
                                                  .prev_updated_ms = o->updated_ms,
                                                  .after = o}}; /* changed in place: framed after it is */
        ret = orderd_shard_apply_live(store, s, &ev, waiter);
        if (ret != ORDERD_STORE_OK && ret != ORDERD_STORE_EUNAVAILABLE) {
            /* out of memory: the key's entry goes too, or the table would keep a key for nothing */
            idem_unrecord(s, made);
            goto done;
        }
        break;
    }
    case ORDERD_TRANSITION_NOOP:
        ret = orderd_shard_barrier(store, s, waiter);
        break;
    case ORDERD_TRANSITION_CONFLICT:
        ret = ORDERD_STORE_ECONFLICT;
        break;
    }
    if (ret != ORDERD_STORE_OK)
        idem_unrecord(s, made);
copy:
    *out = orderd_shard_copy_out(o, a);
done:
    pthread_mutex_unlock(&s->mu);
    return ret;
}

int orderd_store_amend(orderd_store_t *store, orderd_str_t user_id, uint64_t id, const orderd_op_t *op, int64_t now_ms,
                       int dry_run, const orderd_precondition_t *pre, const orderd_idem_key_t *key,
                       const orderd_alloc_t *a, orderd_order_t **out, orderd_op_result_t *res, void *waiter)
{
    shard_t *s = &store->shards[orderd_store_shard_of_id(store, id)];
    int ret = ORDERD_STORE_ENOTFOUND, customer = user_id.base != NULL;
    orderd_str_t owner = customer ? user_id : operator_keys;
    uint64_t mem = customer && !dry_run ? orderd_store_memory_in_use(store) : 0;
    memset(res, 0, sizeof(*res));
    if (dry_run)
        key = NULL; /* a preview keeps nothing */
    pthread_mutex_lock(&s->mu);
    orderd_order_t *o = orderd_shard_find(s, id);
    if (o == NULL || !orderd_shard_owned_by(o, user_id))
        goto done;
    if (customer && !dry_run && store->limits.rate.per != 0 &&
        (ret = orderd_shard_take_token(store, s, orderd_shard_user(s, orderd_shard_user_hash(user_id), user_id))) !=
            ORDERD_STORE_OK)
        goto done;
    if (key != NULL) {
        const orderd_idem_entry_t *hit;
        const orderd_order_t *have;
        if ((ret = idem_lookup(store, s, owner, key, now_ms, &hit, &have)) != 0) {
            *out = first_answer(hit, have, a);
            if (ret == ORDERD_STORE_REPLAYED)
                ret = idem_replay(store, s, waiter);
            goto done;
        }
    }
    if (!version_matches(pre, o->version)) {
        ret = ORDERD_STORE_EPRECONDITION;
        *out = orderd_shard_copy_out(o, a);
        goto done;
    }
    ret = amend_locked(store, s, o, owner, key, actor_of(user_id), op, now_ms, dry_run, mem, a, out, res, waiter,
                       op->type == ORDERD_OP_SHIP || op->type == ORDERD_OP_RETURN_REQUEST || op->type == ORDERD_OP_REFUND
                           ? 201
                           : 200,
                       0);
done:
    pthread_mutex_unlock(&s->mu);
    return ret;
}
