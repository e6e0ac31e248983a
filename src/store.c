/*
 * The order table: shards, their two maps (id -> order, user -> index), the
 * one step that applies or undoes a change, replay, and walking a shard for
 * snapshots. Live changes (store_write.c) and reads (store_read.c) sit on
 * top of this file and reach a shard through internal/store_shard.h.
 */
#include "orderd/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal/idvec.h"
#include "internal/mem.h"
#include "internal/store_shard.h"

/* --- id map --- */

static orderd_id_slot_t *ids_slot(shard_t *s, uint64_t id)
{
    size_t mask = s->ids_cap - 1;
    for (size_t i = orderd_shard_mix64(id) & mask;; i = (i + 1) & mask)
        if (s->ids[i].o == NULL || s->ids[i].id == id)
            return &s->ids[i];
}

orderd_order_t *orderd_shard_find(shard_t *s, uint64_t id)
{
    return s->ids_cap == 0 ? NULL : ids_slot(s, id)->o;
}

/* Points id's slot at o (the slot holds it or is empty). */
static void ids_set(shard_t *s, uint64_t id, orderd_order_t *o)
{
    *ids_slot(s, id) = (orderd_id_slot_t){id, o};
}

/* Removes `id` (backward-shift deletion keeps probe chains whole). */
static void ids_remove(shard_t *s, uint64_t id)
{
    size_t mask = s->ids_cap - 1;
    orderd_id_slot_t *slot = ids_slot(s, id);
    if (slot->o == NULL)
        return;
    size_t hole = (size_t)(slot - s->ids);
    for (size_t i = (hole + 1) & mask; s->ids[i].o != NULL; i = (i + 1) & mask) {
        size_t home = orderd_shard_mix64(s->ids[i].id) & mask;
        /* move entry i into the hole unless its home lies cyclically in (hole, i] */
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            s->ids[hole] = s->ids[i];
            hole = i;
        }
    }
    s->ids[hole] = (orderd_id_slot_t){0, NULL};
    --s->ids_n;
}

/* Makes room for one more entry (load factor <= 1/2). */
static int ids_reserve(shard_t *s)
{
    if ((s->ids_n + 1) * 2 <= s->ids_cap)
        return 0;
    size_t ncap = s->ids_cap == 0 ? 64 : s->ids_cap * 2;
    orderd_id_slot_t *old = s->ids;
    size_t ocap = s->ids_cap;
    if ((s->ids = orderd_calloc(ncap, sizeof(*s->ids))) == NULL) {
        s->ids = old;
        return -1;
    }
    s->ids_cap = ncap;
    for (size_t i = 0; i < ocap; ++i)
        if (old[i].o != NULL)
            *ids_slot(s, old[i].id) = old[i];
    free(old);
    return 0;
}

/* --- user map --- */

static user_t **users_slot(shard_t *s, uint64_t hash, orderd_str_t id)
{
    size_t mask = s->users_cap - 1;
    /* the shard already used the low bits; probe from the high ones */
    for (size_t i = (hash >> 32) & mask;; i = (i + 1) & mask) {
        user_t *u = s->users[i];
        if (u == NULL || (u->hash == hash && u->id_len == id.len && memcmp(u->id, id.base, id.len) == 0))
            return &s->users[i];
    }
}

user_t *orderd_shard_user(shard_t *s, uint64_t hash, orderd_str_t id)
{
    return s->users_cap == 0 ? NULL : *users_slot(s, hash, id);
}

static user_t *users_get_or_add(shard_t *s, uint64_t hash, orderd_str_t id)
{
    user_t *u = orderd_shard_user(s, hash, id);
    if (u != NULL)
        return u;
    if ((s->users_n + 1) * 2 > s->users_cap) {
        size_t ncap = s->users_cap == 0 ? 16 : s->users_cap * 2, ocap = s->users_cap;
        user_t **old = s->users, **fresh = orderd_calloc(ncap, sizeof(*fresh));
        if (fresh == NULL)
            return NULL;
        s->users = fresh;
        s->users_cap = ncap;
        for (size_t i = 0; i < ocap; ++i)
            if (old[i] != NULL)
                *users_slot(s, old[i]->hash, (orderd_str_t){old[i]->id, old[i]->id_len}) = old[i];
        free(old);
    }
    if ((u = orderd_calloc(1, sizeof(*u))) == NULL)
        return NULL;
    u->hash = hash;
    u->id_len = (uint8_t)id.len;
    memcpy(u->id, id.base, id.len);
    *users_slot(s, hash, id) = u;
    ++s->users_n;
    return u;
}

/* --- the store --- */

orderd_store_t *orderd_store_new(unsigned nshards)
{
    if (nshards == 0 || nshards > ORDERD_STORE_MAX_SHARDS || (nshards & (nshards - 1)) != 0)
        return NULL;
    orderd_store_t *store = orderd_calloc(1, sizeof(*store));
    if (store == NULL)
        return NULL;
    if ((store->shards = aligned_alloc(64, sizeof(shard_t) * nshards)) == NULL) {
        free(store);
        return NULL;
    }
    memset(store->shards, 0, sizeof(shard_t) * nshards);
    for (unsigned i = 0; i < nshards; ++i)
        pthread_mutex_init(&store->shards[i].mu, NULL);
    store->nshards = nshards;
    store->idem_ttl_ms = ORDERD_IDEM_TTL_DEFAULT_MS;
    return store;
}

void orderd_store_free(orderd_store_t *store)
{
    if (store == NULL)
        return;
    for (unsigned i = 0; i < store->nshards; ++i) {
        shard_t *s = &store->shards[i];
        for (size_t j = 0; j < s->ids_cap; ++j)
            if (s->ids[j].o != NULL) {
                orderd_audit_free(s->ids[j].o);
                free(s->ids[j].o);
            }
        for (size_t j = 0; j < s->users_cap; ++j) {
            user_t *u = s->users[j];
            if (u == NULL)
                continue;
            for (int k = 0; k < ORDERD_STATUS_COUNT; ++k)
                orderd_idvec_free(&u->by_status[k]);
            free(u->orders);
            free(u);
        }
        for (int k = 0; k < ORDERD_STATUS_COUNT; ++k)
            orderd_idvec_free(&s->by_status[k]);
        orderd_idem_table_free(&s->idem);
        free(s->ids);
        free(s->users);
        pthread_mutex_destroy(&s->mu);
    }
    free(store->shards);
    free(store);
}

static int user_orders_reserve(user_t *u)
{
    if (u->n_orders < u->cap_orders)
        return 0;
    size_t ncap = u->cap_orders == 0 ? 4 : u->cap_orders * 2;
    orderd_order_t **n = orderd_realloc(u->orders, ncap * sizeof(*n));
    if (n == NULL)
        return -1;
    u->orders = n;
    u->cap_orders = ncap;
    return 0;
}

/* Moves `id` between the per-status indexes; room in `to` is reserved. */
static void move_status(user_t *u, shard_t *s, uint64_t id, uint8_t from, uint8_t to)
{
    orderd_idvec_remove(&u->by_status[from], id);
    orderd_idvec_insert(&u->by_status[to], id);
    orderd_idvec_remove(&s->by_status[from], id);
    orderd_idvec_insert(&s->by_status[to], id);
}

/*
 * Puts blob `in` in the place of the order it is a version of: the AMENDED
 * change `ev` applied (in = its after: the entry is added to the trail) or
 * undone (in = its before: the entry goes). The new copy takes over the
 * audit buffer, the id map's slot and the user's list; the status indexes
 * follow. Everything that can fail comes first.
 */
static int swap_locked(shard_t *s, const orderd_order_t *in, const orderd_change_t *ev)
{
    orderd_order_t *o = orderd_shard_find(s, ev->u.amended.order_id);
    int undo = in == ev->u.amended.before;
    if (o == NULL || in->id != o->id || in->status >= ORDERD_STATUS_COUNT ||
        o->version != (undo ? ev->u.amended.version : ev->u.amended.version - 1) ||
        orderd_order_user(in).len != o->user_len ||
        memcmp(orderd_order_user(in).base, orderd_order_user(o).base, o->user_len) != 0)
        return ORDERD_STORE_EINVAL;
    user_t *u = orderd_shard_user(s, orderd_shard_user_hash(orderd_order_user(o)), orderd_order_user(o));
    orderd_order_t *copy;
    if (u == NULL)
        return ORDERD_STORE_EINVAL;
    if ((!undo && orderd_audit_reserve(o, ev->u.amended.detail_len) != 0) ||
        (in->status != o->status && (orderd_idvec_reserve(&u->by_status[in->status], 1) != 0 ||
                                     orderd_idvec_reserve(&s->by_status[in->status], 1) != 0)) ||
        (copy = orderd_malloc(ORDERD_SLOT_SIZE(in->size))) == NULL)
        return ORDERD_STORE_ENOMEM;
    memcpy(copy, in, in->size);
    *audit_slot(copy) = *audit_slot(o);
    if (undo)
        orderd_audit_pop(copy, o->version);
    else
        orderd_audit_push(copy, &(orderd_audit_entry_t){.version = in->version,
                                                        .status = in->status,
                                                        .actor = ev->u.amended.actor,
                                                        .at_ms = ev->u.amended.at_ms,
                                                        .kind = ev->u.amended.op,
                                                        .detail = ev->u.amended.detail,
                                                        .detail_len = ev->u.amended.detail_len,
                                                        .flags = ev->u.amended.flags});
    if (in->status != o->status)
        move_status(u, s, o->id, o->status, in->status);
    ids_set(s, o->id, copy);
    size_t lo = 0, hi = u->n_orders; /* the user's list is sorted by id */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (u->orders[mid]->id < o->id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < u->n_orders && u->orders[lo] == o)
        u->orders[lo] = copy;
    free(o);
    return ORDERD_STORE_OK;
}

/* Applies one change to shard `s`, whose lock the caller holds. Everything that
 * can fail is reserved before anything changes, so a failure changes nothing. */
static int apply_locked(orderd_store_t *store, shard_t *s, const orderd_change_t *ev)
{
    switch (ev->type) {
    case ORDERD_CHANGE_CREATED: {
        const orderd_order_t *in = ev->u.created.order;
        orderd_str_t uid = orderd_order_user(in);
        if (orderd_shard_find(s, in->id) != NULL || in->status >= ORDERD_STATUS_COUNT)
            return ORDERD_STORE_EINVAL;
        user_t *u;
        orderd_order_t *copy;
        if (ids_reserve(s) != 0 || (u = users_get_or_add(s, orderd_shard_user_hash(uid), uid)) == NULL ||
            user_orders_reserve(u) != 0 || orderd_idvec_reserve(&u->by_status[in->status], 1) != 0 ||
            orderd_idvec_reserve(&s->by_status[in->status], 1) != 0 ||
            (copy = orderd_malloc(ORDERD_SLOT_SIZE(in->size))) == NULL)
            return ORDERD_STORE_ENOMEM;
        memcpy(copy, in, in->size);
        *audit_slot(copy) = NULL;
        ids_set(s, copy->id, copy);
        ++s->ids_n;
        /* ids usually arrive in order: the insert point is almost always the end */
        size_t at = u->n_orders;
        if (at > 0 && u->last_id > copy->id) /* ids come in order, but for another node's clock */
            while (at > 0 && u->orders[at - 1]->id > copy->id)
                --at;
        memmove(&u->orders[at + 1], &u->orders[at], (u->n_orders - at) * sizeof(*u->orders));
        u->orders[at] = copy;
        if (at == u->n_orders)
            u->last_id = copy->id;
        ++u->n_orders;
        orderd_idvec_insert(&u->by_status[copy->status], copy->id);
        orderd_idvec_insert(&s->by_status[copy->status], copy->id);
        orderd_shard_seq_observe(store, copy->id);
        return ORDERD_STORE_OK;
    }
    case ORDERD_CHANGE_STATUS: {
        orderd_order_t *o = orderd_shard_find(s, ev->u.status_changed.order_id);
        uint8_t to = ev->u.status_changed.status;
        if (o == NULL || to >= ORDERD_STATUS_COUNT)
            return ORDERD_STORE_EINVAL;
        user_t *u = orderd_shard_user(s, orderd_shard_user_hash(orderd_order_user(o)), orderd_order_user(o));
        if (u == NULL)
            return ORDERD_STORE_EINVAL;
        if (orderd_audit_reserve(o, 0) != 0)
            return ORDERD_STORE_ENOMEM;
        if (to != o->status) {
            if (orderd_idvec_reserve(&u->by_status[to], 1) != 0 || orderd_idvec_reserve(&s->by_status[to], 1) != 0)
                return ORDERD_STORE_ENOMEM;
            move_status(u, s, o->id, o->status, to);
        }
        o->status = to;
        o->version = ev->u.status_changed.version;
        o->updated_ms = ev->u.status_changed.at_ms;
        orderd_audit_push(
            o, &(orderd_audit_entry_t){
                   .version = o->version, .status = to, .actor = ev->u.status_changed.actor, .at_ms = o->updated_ms});
        return ORDERD_STORE_OK;
    }
    case ORDERD_CHANGE_AMENDED:
        return swap_locked(s, ev->u.amended.after, ev);
    case ORDERD_CHANGE_IDEM_KEY:
        return orderd_idem_put(&s->idem, ev->u.idem.entry) == 0 ? ORDERD_STORE_OK : ORDERD_STORE_ENOMEM;
    }
    return ORDERD_STORE_EINVAL;
}

/* Reverts `ev`, applied earlier under this shard's lock and never made durable. */
static int undo_locked(shard_t *s, const orderd_change_t *ev)
{
    switch (ev->type) {
    case ORDERD_CHANGE_CREATED: {
        orderd_order_t *o = orderd_shard_find(s, ev->u.created.order->id);
        if (o == NULL)
            return ORDERD_STORE_EINVAL;
        user_t *u = orderd_shard_user(s, orderd_shard_user_hash(orderd_order_user(o)), orderd_order_user(o));
        if (u == NULL)
            return ORDERD_STORE_EINVAL;
        size_t at = u->n_orders;
        while (at > 0 && u->orders[at - 1] != o)
            --at;
        if (at == 0)
            return ORDERD_STORE_EINVAL;
        memmove(&u->orders[at - 1], &u->orders[at], (u->n_orders - at) * sizeof(*u->orders));
        --u->n_orders;
        u->last_id = u->n_orders > 0 ? u->orders[u->n_orders - 1]->id : 0;
        orderd_idvec_remove(&u->by_status[o->status], o->id);
        orderd_idvec_remove(&s->by_status[o->status], o->id);
        ids_remove(s, o->id);
        orderd_audit_free(o);
        free(o);
        return ORDERD_STORE_OK;
    }
    case ORDERD_CHANGE_STATUS: {
        orderd_order_t *o = orderd_shard_find(s, ev->u.status_changed.order_id);
        uint8_t back = ev->u.status_changed.prev_status;
        if (o == NULL || o->version != ev->u.status_changed.version || back >= ORDERD_STATUS_COUNT)
            return ORDERD_STORE_EINVAL;
        user_t *u = orderd_shard_user(s, orderd_shard_user_hash(orderd_order_user(o)), orderd_order_user(o));
        if (u == NULL)
            return ORDERD_STORE_EINVAL;
        if (back != o->status) {
            /* the id left this vector when the change was applied: room is there */
            if (orderd_idvec_reserve(&u->by_status[back], 1) != 0 || orderd_idvec_reserve(&s->by_status[back], 1) != 0)
                return ORDERD_STORE_ENOMEM;
            move_status(u, s, o->id, o->status, back);
        }
        orderd_audit_pop(o, o->version);
        o->status = back;
        o->version -= 1;
        o->updated_ms = ev->u.status_changed.prev_updated_ms;
        return ORDERD_STORE_OK;
    }
    case ORDERD_CHANGE_AMENDED:
        return swap_locked(s, ev->u.amended.before, ev);
    case ORDERD_CHANGE_IDEM_KEY:
        orderd_idem_remove(&s->idem, ev->u.idem.entry);
        return ORDERD_STORE_OK;
    }
    return ORDERD_STORE_EINVAL;
}

/* store->norders follows the orders that replay, orderd_store_apply and
 * orderd_store_undo add and take away; live creates count theirs in before
 * applying (orderd_shard_admit_order), so orderd_shard_apply_live does not. */
static void count_created(orderd_store_t *store, const orderd_change_t *ev, int ret, int delta)
{
    if (ev->type == ORDERD_CHANGE_CREATED && ret == ORDERD_STORE_OK)
        atomic_fetch_add_explicit(&store->norders, (uint64_t)(int64_t)delta, memory_order_relaxed);
}

static uint64_t change_order_id(const orderd_change_t *ev)
{
    switch (ev->type) {
    case ORDERD_CHANGE_CREATED:
        return ev->u.created.order->id;
    case ORDERD_CHANGE_IDEM_KEY:
        return ev->u.idem.entry->order_id;
    case ORDERD_CHANGE_AMENDED:
        return ev->u.amended.order_id;
    default:
        return ev->u.status_changed.order_id;
    }
}

static uint32_t change_version(const orderd_change_t *ev)
{
    switch (ev->type) {
    case ORDERD_CHANGE_CREATED:
        return ev->u.created.order->version;
    case ORDERD_CHANGE_AMENDED:
        return ev->u.amended.version;
    default:
        return ev->u.status_changed.version;
    }
}

static int known_event(const orderd_change_t *ev)
{
    return ev->type == ORDERD_CHANGE_CREATED || ev->type == ORDERD_CHANGE_STATUS ||
           ev->type == ORDERD_CHANGE_IDEM_KEY || ev->type == ORDERD_CHANGE_AMENDED;
}

/* A key lives in its user's shard, which is also the shard of the order it names. */
static shard_t *shard_of_event(orderd_store_t *store, const orderd_change_t *ev)
{
    return &store->shards[orderd_store_shard_of_id(store, change_order_id(ev))];
}

int orderd_store_apply(orderd_store_t *store, const orderd_change_t *ev)
{
    if (!known_event(ev))
        return ORDERD_STORE_EINVAL;
    shard_t *s = shard_of_event(store, ev);
    pthread_mutex_lock(&s->mu);
    int ret = apply_locked(store, s, ev);
    pthread_mutex_unlock(&s->mu);
    count_created(store, ev, ret, 1);
    return ret;
}

int orderd_store_replay(orderd_store_t *store, const orderd_change_t *ev)
{
    if (!known_event(ev))
        return ORDERD_STORE_EINVAL;
    shard_t *s = shard_of_event(store, ev);
    int ret;
    if (ev->type == ORDERD_CHANGE_IDEM_KEY) {
        /* a key past its time is reclaimed by not loading it; the cutoff is
         * now - TTL, never created + TTL, which a damaged time could overflow */
        if (ev->u.idem.entry->created_ms < orderd_now_ms() - store->idem_ttl_ms)
            return ORDERD_STORE_OK;
        pthread_mutex_lock(&s->mu);
        ret = apply_locked(store, s, ev);
        pthread_mutex_unlock(&s->mu);
        return ret;
    }
    pthread_mutex_lock(&s->mu);
    const orderd_order_t *have = orderd_shard_find(s, change_order_id(ev));
    uint32_t version = change_version(ev);
    if (have != NULL && have->version >= version)
        ret = ORDERD_STORE_OK; /* already in the table (a snapshot taken while it was in flight) */
    else if (ev->type != ORDERD_CHANGE_CREATED && (have == NULL || have->version + 1 != version))
        ret = ORDERD_STORE_EINVAL; /* a gap: the journal misses a change of this order */
    else
        ret = apply_locked(store, s, ev);
    pthread_mutex_unlock(&s->mu);
    if (have == NULL)
        count_created(store, ev, ret, 1);
    return ret;
}

int orderd_store_undo(orderd_store_t *store, const orderd_change_t *ev)
{
    if (!known_event(ev))
        return ORDERD_STORE_EINVAL;
    shard_t *s = shard_of_event(store, ev);
    pthread_mutex_lock(&s->mu);
    int ret = undo_locked(s, ev);
    pthread_mutex_unlock(&s->mu);
    count_created(store, ev, ret, -1);
    return ret;
}

void orderd_store_set_journal(orderd_store_t *store, const orderd_store_journal_t *journal)
{
    if (journal != NULL)
        store->journal = *journal;
    else
        memset(&store->journal, 0, sizeof(store->journal));
}

void orderd_store_with_shard(orderd_store_t *store, unsigned shard, void (*fn)(void *ctx, unsigned shard), void *ctx)
{
    shard_t *s = &store->shards[shard];
    pthread_mutex_lock(&s->mu);
    fn(ctx, shard);
    pthread_mutex_unlock(&s->mu);
}

unsigned orderd_store_shards(const orderd_store_t *store)
{
    return store->nshards;
}

/* --- for store_write.c and store_read.c, under the shard's lock --- */

int orderd_shard_apply_live(orderd_store_t *store, shard_t *s, const orderd_change_t *ev, void *waiter)
{
    int ret = apply_locked(store, s, ev);
    if (ret != ORDERD_STORE_OK || store->journal.append == NULL)
        return ret;
    if (store->journal.append(store->journal.ctx, (unsigned)(s - store->shards), ev, waiter) != 0) {
        (void)undo_locked(s, ev);
        return ORDERD_STORE_EUNAVAILABLE;
    }
    return ORDERD_STORE_OK;
}

int orderd_shard_barrier(orderd_store_t *store, shard_t *s, void *waiter)
{
    if (store->journal.barrier != NULL &&
        store->journal.barrier(store->journal.ctx, (unsigned)(s - store->shards), waiter) != 0)
        return ORDERD_STORE_EUNAVAILABLE;
    return ORDERD_STORE_OK;
}

orderd_order_t *orderd_shard_copy_out(const orderd_order_t *o, const orderd_alloc_t *a)
{
    orderd_order_t *c = orderd_alloc(a, o->size);
    memcpy(c, o, o->size);
    return c;
}

int orderd_shard_owned_by(const orderd_order_t *o, orderd_str_t user_id)
{
    return user_id.base == NULL ||
           (o->user_len == user_id.len && memcmp(orderd_order_user(o).base, user_id.base, user_id.len) == 0);
}

void orderd_store_set_idem_ttl(orderd_store_t *store, int64_t ttl_ms)
{
    store->idem_ttl_ms = ttl_ms;
}
