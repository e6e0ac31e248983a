/*
 * The limits on what customers write (orderd_store_limits_t): keeping them,
 * the checks store_write.c makes under a shard's lock before it journals
 * anything, the heap probe's sample, and the refusals /metrics reports.
 * A refusal only counts itself (and, for the rate, brings the user's
 * bucket up to date): the table and the journal never see it.
 */
#include <string.h>

#include "internal/store_shard.h"
#include "orderd/metrics.h"

void orderd_store_set_limits(orderd_store_t *store, const orderd_store_limits_t *limits)
{
    store->limits = *limits;
    if (store->limits.memory_in_use == NULL)
        store->limits.memory_in_use = orderd_quota_memory_in_use;
    if (store->limits.clock_ms == NULL)
        store->limits.clock_ms = orderd_quota_clock_ms;
    if (store->limits.memory_bytes != 0) {
        atomic_store_explicit(&store->mem_in_use, store->limits.memory_in_use(), memory_order_relaxed);
        atomic_store_explicit(&store->mem_asked_ms, store->limits.clock_ms(), memory_order_relaxed);
    }
}

const orderd_store_limits_t *orderd_store_limits(const orderd_store_t *store) { return &store->limits; }

/* One thread at a time asks the probe again (whoever moves mem_asked_ms on);
 * the others use the last answer meanwhile. The answer may be up to
 * memory_sample_ms old: the limit can be passed by what is allocated in
 * that time, and reads never wait for it. */
uint64_t orderd_store_memory_in_use(orderd_store_t *store)
{
    const orderd_store_limits_t *l = &store->limits;
    if (l->memory_bytes == 0)
        return 0;
    int64_t now = l->clock_ms(), asked = atomic_load_explicit(&store->mem_asked_ms, memory_order_relaxed);
    if (now - asked >= l->memory_sample_ms &&
        atomic_compare_exchange_strong_explicit(&store->mem_asked_ms, &asked, now, memory_order_relaxed,
                                                memory_order_relaxed))
        atomic_store_explicit(&store->mem_in_use, l->memory_in_use(), memory_order_relaxed);
    return atomic_load_explicit(&store->mem_in_use, memory_order_relaxed);
}

int64_t orderd_store_rate_wait_ms(orderd_store_t *store, orderd_str_t user_id)
{
    const orderd_store_limits_t *l = &store->limits;
    if (l->rate.per == 0)
        return 0;
    shard_t *s = &store->shards[orderd_store_shard_of_user(store, user_id)];
    pthread_mutex_lock(&s->mu);
    user_t *u = orderd_shard_user(s, orderd_shard_user_hash(user_id), user_id);
    int64_t wait = u != NULL ? orderd_rate_wait_ms(&u->rate, &l->rate, l->clock_ms()) : 0;
    pthread_mutex_unlock(&s->mu);
    return wait;
}

void orderd_store_refusals(orderd_store_t *store, orderd_store_refusals_t *out)
{
    uint64_t sum[4] = {0};
    for (unsigned i = 0; i < store->nshards; ++i)
        for (int k = 0; k < 4; ++k)
            sum[k] += orderd_counter_get(&store->shards[i].refused[k]);
    *out =
        (orderd_store_refusals_t){sum[REFUSED_RATE], sum[REFUSED_PER_USER], sum[REFUSED_ORDERS], sum[REFUSED_MEMORY]};
}

/* --- the checks, under the shard's lock (internal/store_shard.h) --- */

static int refuse(shard_t *s, int which, int err)
{
    orderd_counter_add(&s->refused[which], 1);
    return err;
}

int orderd_shard_take_token(orderd_store_t *store, shard_t *s, user_t *u)
{
    const orderd_store_limits_t *l = &store->limits;
    if (l->rate.per == 0 || u == NULL) /* no record yet: a full bucket, taken from once it exists */
        return ORDERD_STORE_OK;
    return orderd_rate_take(&u->rate, &l->rate, l->clock_ms(), NULL) ? ORDERD_STORE_OK
                                                                     : refuse(s, REFUSED_RATE, ORDERD_STORE_ERATELIMIT);
}

int orderd_shard_check_memory(orderd_store_t *store, shard_t *s, uint64_t mem_in_use)
{
    uint64_t max = store->limits.memory_bytes;
    return max == 0 || mem_in_use < max ? ORDERD_STORE_OK : refuse(s, REFUSED_MEMORY, ORDERD_STORE_EMEMLIMIT);
}

/* Per user first, then memory, then the table's count, which is the only
 * one that changes anything: the order is counted in before it is applied,
 * so two shards cannot both take the last place. */
int orderd_shard_admit_order(orderd_store_t *store, shard_t *s, const user_t *u, uint64_t mem_in_use)
{
    const orderd_store_limits_t *l = &store->limits;
    if (l->max_orders_per_user != 0 && u != NULL && u->n_orders >= l->max_orders_per_user)
        return refuse(s, REFUSED_PER_USER, ORDERD_STORE_EUSERLIMIT);
    int ret = orderd_shard_check_memory(store, s, mem_in_use);
    if (ret != ORDERD_STORE_OK)
        return ret;
    uint64_t n = atomic_load_explicit(&store->norders, memory_order_relaxed);
    do {
        if (l->max_orders != 0 && n >= l->max_orders)
            return refuse(s, REFUSED_ORDERS, ORDERD_STORE_EORDERLIMIT);
    } while (
        !atomic_compare_exchange_weak_explicit(&store->norders, &n, n + 1, memory_order_relaxed, memory_order_relaxed));
    return ORDERD_STORE_OK;
}

void orderd_shard_unadmit_order(orderd_store_t *store)
{
    atomic_fetch_sub_explicit(&store->norders, 1, memory_order_relaxed);
}
