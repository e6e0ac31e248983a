/*
 * Order ids and the user hash that picks a user's shard (internal/store_shard.h):
 * a new id for a user (orderd_store_next_id), the node an id was made on,
 * and the ids replay hands back, which are never given out again.
 */
#include <stdatomic.h>

#include "internal/store_shard.h"

/* Ids are (sequence << ORDERD_ID_SHARD_BITS) | (user hash & shard bits). The
 * sequence is (ms << 10) | (node << 6) | counter: milliseconds since
 * 2025-01-01, then the node id (--node-id) in the top ORDERD_ID_NODE_BITS of
 * the 10 per-millisecond bits, then a 6-bit counter. So the sequence keeps
 * growing across restarts even before the journal restores the last one,
 * two nodes never make the same id, and 52 bits last past the year 2160. More
 * than 64 ids in one millisecond carry into the next millisecond's slot
 * (still monotonic: the clock catches up). */
#define ID_EPOCH_MS 1735689600000LL
#define ID_SEQ_PER_MS_SHIFT 10
#define ID_COUNTER_BITS (ID_SEQ_PER_MS_SHIFT - ORDERD_ID_NODE_BITS)
#define ID_COUNTER_MASK ((1ull << ID_COUNTER_BITS) - 1)
#define ID_SHARD_MASK ((uint64_t)ORDERD_STORE_MAX_SHARDS - 1)

/* --- hashing --- */

uint64_t orderd_shard_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* FNV-1a, then a finaliser. It must stay the same across versions: order ids
 * carry its low bits. X-User-Id values come from the trusted gateway in front
 * of orderd, so an unkeyed hash is acceptable here. */
uint64_t orderd_shard_user_hash(orderd_str_t user)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < user.len; ++i) {
        h ^= (unsigned char)user.base[i];
        h *= 0x100000001b3ULL;
    }
    return orderd_shard_mix64(h);
}

unsigned orderd_store_shard_of_user(const orderd_store_t *store, orderd_str_t user_id)
{
    return (unsigned)(orderd_shard_user_hash(user_id) & (store->nshards - 1));
}

unsigned orderd_store_shard_of_id(const orderd_store_t *store, uint64_t id)
{
    return (unsigned)(id & (store->nshards - 1));
}

/* The next sequence after `last` that carries `node`: the counter steps, and
 * past its last value the millisecond does. */
static uint64_t seq_after(uint64_t last, unsigned node)
{
    uint64_t ms = last >> ID_SEQ_PER_MS_SHIFT, counter = last & ID_COUNTER_MASK;
    if (((last >> ID_COUNTER_BITS) & (ORDERD_ID_NODE_MAX)) != node)
        counter = ID_COUNTER_MASK; /* an id of another node (replayed): start past its millisecond */
    if (counter == ID_COUNTER_MASK) {
        ms++;
        counter = 0;
    } else {
        counter++;
    }
    return (ms << ID_SEQ_PER_MS_SHIFT) | ((uint64_t)node << ID_COUNTER_BITS) | counter;
}

uint64_t orderd_store_next_id(orderd_store_t *store, orderd_str_t user_id)
{
    unsigned node = store->node_id;
    uint64_t floor =
        ((uint64_t)(orderd_now_ms() - ID_EPOCH_MS) << ID_SEQ_PER_MS_SHIFT) | ((uint64_t)node << ID_COUNTER_BITS);
    uint64_t last = atomic_load_explicit(&store->last_seq, memory_order_relaxed), next;
    do {
        next = seq_after(last, node);
        if (next < floor)
            next = floor;
    } while (!atomic_compare_exchange_weak_explicit(&store->last_seq, &last, next, memory_order_relaxed,
                                                    memory_order_relaxed));
    return (next << ORDERD_ID_SHARD_BITS) | (orderd_shard_user_hash(user_id) & ID_SHARD_MASK);
}

uint64_t orderd_id_node(uint64_t id)
{
    return (id >> (ORDERD_ID_SHARD_BITS + ID_COUNTER_BITS)) & ORDERD_ID_NODE_MAX;
}

/* Replay hands us ids made by earlier runs (of any node id): never hand them
 * out again. next_id steps past the largest, keeping its own node bits. */
void orderd_shard_seq_observe(orderd_store_t *store, uint64_t id)
{
    uint64_t seq = id >> ORDERD_ID_SHARD_BITS, last = atomic_load_explicit(&store->last_seq, memory_order_relaxed);
    while (last < seq && !atomic_compare_exchange_weak_explicit(&store->last_seq, &last, seq, memory_order_relaxed,
                                                                memory_order_relaxed))
        ;
}

int orderd_store_set_node_id(orderd_store_t *store, unsigned node_id)
{
    if (node_id > ORDERD_ID_NODE_MAX)
        return ORDERD_STORE_EINVAL;
    store->node_id = node_id;
    return 0;
}
