/*
 * What snapshots read from the table and write back into it: every order of
 * a shard in id order, each order's audit trail, the unexpired keys; and, at
 * start-up, an order's trail from a snapshot's SNAPSHOT_AUDIT (or older
 * SNAPSHOT_HISTORY) records. Each takes the shard's lock; the table's own
 * change step stays in store.c.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal/mem.h"
#include "internal/store_shard.h"

typedef struct id_ptr {
    uint64_t id;
    orderd_order_t *o;
} id_ptr_t;

static int cmp_id_ptr(const void *a, const void *b)
{
    uint64_t x = ((const id_ptr_t *)a)->id, y = ((const id_ptr_t *)b)->id;
    return x < y ? -1 : x > y;
}

/* In id order: a snapshot written this way loads with appends only into
 * the sorted per-user and per-shard id vectors. In the table's hash order,
 * every load was an insert at a random place, quadratic in the size of each
 * vector (start-up took minutes with 20k orders a user). The sort is of
 * (id, pointer) pairs, so it reads no order while the shard is locked. */
void orderd_store_each(orderd_store_t *store, unsigned shard, void (*fn)(void *ctx, const orderd_order_t *o), void *ctx)
{
    shard_t *s = &store->shards[shard];
    pthread_mutex_lock(&s->mu);
    id_ptr_t *v = s->ids_n > 0 ? orderd_malloc(s->ids_n * sizeof(*v)) : NULL;
    if (v != NULL) {
        size_t n = 0;
        for (size_t i = 0; i < s->ids_cap; ++i)
            if (s->ids[i].o != NULL)
                v[n++] = (id_ptr_t){s->ids[i].id, s->ids[i].o};
        qsort(v, n, sizeof(*v), cmp_id_ptr);
        for (size_t i = 0; i < n; ++i)
            fn(ctx, v[i].o);
        free(v);
    } else {
        for (size_t i = 0; i < s->ids_cap; ++i) /* out of memory: any order will do */
            if (s->ids[i].o != NULL)
                fn(ctx, s->ids[i].o);
    }
    pthread_mutex_unlock(&s->mu);
}

void orderd_store_order_audit(const orderd_order_t *o, const unsigned char **data, size_t *len)
{
    orderd_audit_bytes(o, data, len);
}

int orderd_store_restore_audit(orderd_store_t *store, uint64_t id, const unsigned char *data, size_t len)
{
    shard_t *s = &store->shards[orderd_store_shard_of_id(store, id)];
    pthread_mutex_lock(&s->mu);
    orderd_order_t *o = orderd_shard_find(s, id);
    int ret = o != NULL ? orderd_audit_load(o, data, len) : ORDERD_STORE_EINVAL;
    pthread_mutex_unlock(&s->mu);
    return ret;
}

int orderd_store_restore_history(orderd_store_t *store, uint64_t id, const orderd_audit_entry_t *events, size_t n)
{
    orderd_audit_raw_t raw[ORDERD_HISTORY_MAX];
    if (n > ORDERD_HISTORY_MAX)
        return ORDERD_STORE_EINVAL;
    for (size_t i = 0; i < n; ++i)
        raw[i] = (orderd_audit_raw_t){.at_ms = events[i].at_ms,
                                      .version = events[i].version,
                                      .status = events[i].status,
                                      .actor = events[i].actor};
    return orderd_store_restore_audit(store, id, (const unsigned char *)raw, n * sizeof(raw[0]));
}

void orderd_store_each_idem(orderd_store_t *store, unsigned shard, void (*fn)(void *ctx, const orderd_idem_entry_t *e),
                            void *ctx)
{
    shard_t *s = &store->shards[shard];
    pthread_mutex_lock(&s->mu);
    orderd_idem_each(&s->idem, orderd_now_ms() - store->idem_ttl_ms, fn, ctx);
    pthread_mutex_unlock(&s->mu);
}
