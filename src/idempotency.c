/* Idempotency keys: the entry blob, request fingerprints and the per-shard table. */
#include "orderd/idempotency.h"

/* SHA256_Init and friends: deprecated in OpenSSL 3 but the cheapest way here */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal/mem.h"
#include "orderd/order.h"

struct orderd_idem_node {
    uint64_t hash;
    orderd_idem_node_t *prev, *next; /* by creation: oldest first */
    orderd_idem_entry_t entry;       /* variable size: keep last */
};

size_t orderd_idem_entry_size(size_t user_len, size_t key_len)
{
    return (sizeof(orderd_idem_entry_t) + user_len + key_len + 7) & ~(size_t)7;
}

void orderd_idem_entry_build(orderd_idem_entry_t *dst, orderd_str_t user, orderd_str_t key, uint64_t order_id,
                             uint32_t version, uint16_t status, const unsigned char fp[ORDERD_IDEM_FP_LEN],
                             int64_t created_ms)
{
    size_t size = orderd_idem_entry_size(user.len, key.len);
    memset(dst, 0, size); /* padding is zero: equal entries are equal bytes */
    dst->order_id = order_id;
    dst->created_ms = created_ms;
    dst->version = version;
    dst->status = status;
    dst->user_len = (uint8_t)user.len;
    dst->key_len = (uint8_t)key.len;
    dst->size = (uint32_t)size;
    memcpy(dst->fingerprint, fp, ORDERD_IDEM_FP_LEN);
    memcpy(dst->text, user.base, user.len);
    memcpy(dst->text + user.len, key.base, key.len);
}

void orderd_idem_entry_set_answer(orderd_idem_entry_t *e, const orderd_order_t *answer)
{
    memcpy((char *)e + e->size, answer, answer->size); /* blobs are multiples of 8: so is the entry */
    e->size += answer->size;
    e->answer_len = answer->size;
}

const orderd_order_t *orderd_idem_entry_answer(const orderd_idem_entry_t *e)
{
    return e->answer_len == 0 ? NULL : (const orderd_order_t *)((const char *)e + e->size - e->answer_len);
}

orderd_str_t orderd_idem_entry_user(const orderd_idem_entry_t *e)
{
    return (orderd_str_t){e->text, e->user_len};
}

orderd_str_t orderd_idem_entry_key(const orderd_idem_entry_t *e)
{
    return (orderd_str_t){e->text + e->user_len, e->key_len};
}

int orderd_idem_entry_check(const orderd_idem_entry_t *e, size_t size)
{
    if (size < sizeof(*e) || e->size != size || e->user_len == 0 || e->user_len > ORDERD_USER_ID_MAX ||
        e->key_len == 0 || e->answer_len > size || orderd_idem_entry_size(e->user_len, e->key_len) != size - e->answer_len ||
        (e->status != 200 && e->status != 201) || e->version == 0)
        return -1;
    const orderd_order_t *answer = orderd_idem_entry_answer(e);
    if (answer != NULL && (orderd_order_check(answer, e->answer_len) != 0 || answer->id != e->order_id ||
                           answer->version != e->version))
        return -1;
    return 0;
}

int orderd_idem_key_valid(orderd_str_t key)
{
    if (key.len < 1 || key.len > ORDERD_IDEM_KEY_MAX)
        return 0;
    for (size_t i = 0; i < key.len; ++i)
        if ((unsigned char)key.base[i] < 0x20 || (unsigned char)key.base[i] > 0x7e)
            return 0;
    return 1;
}

static void sha_part(SHA256_CTX *c, orderd_str_t s)
{
    uint64_t len = s.len;
    SHA256_Update(c, &len, sizeof(len));
    SHA256_Update(c, s.base, s.len);
}

void orderd_idem_fingerprint(orderd_str_t method, orderd_str_t path, orderd_str_t body,
                             unsigned char out[ORDERD_IDEM_FP_LEN])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256_CTX c;
    SHA256_Init(&c);
    sha_part(&c, method);
    sha_part(&c, path);
    sha_part(&c, body);
    SHA256_Final(md, &c);
    memcpy(out, md, ORDERD_IDEM_FP_LEN);
}

/* --- the table --- */

static uint64_t key_hash(orderd_str_t user, orderd_str_t key)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < user.len; ++i)
        h = (h ^ (unsigned char)user.base[i]) * 0x100000001b3ULL;
    h = (h ^ 0xff) * 0x100000001b3ULL; /* separates ("ab","c") from ("a","bc") */
    for (size_t i = 0; i < key.len; ++i)
        h = (h ^ (unsigned char)key.base[i]) * 0x100000001b3ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static int node_is(const orderd_idem_node_t *nd, orderd_str_t user, orderd_str_t key)
{
    const orderd_idem_entry_t *e = &nd->entry;
    return e->user_len == user.len && e->key_len == key.len && memcmp(e->text, user.base, user.len) == 0 &&
           memcmp(e->text + user.len, key.base, key.len) == 0;
}

static orderd_idem_slot_t *slot_of(orderd_idem_table_t *t, uint64_t hash, orderd_str_t user, orderd_str_t key)
{
    size_t mask = t->cap - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        orderd_idem_slot_t *sl = &t->slots[i];
        if (sl->node == NULL || (sl->hash == hash && node_is(sl->node, user, key)))
            return sl;
    }
}

const orderd_idem_entry_t *orderd_idem_find(orderd_idem_table_t *t, orderd_str_t user, orderd_str_t key)
{
    if (t->cap == 0)
        return NULL;
    orderd_idem_node_t *nd = slot_of(t, key_hash(user, key), user, key)->node;
    return nd != NULL ? &nd->entry : NULL;
}

/* Backward-shift deletion of slot `hole`, keeping probe chains whole. */
static void slot_delete(orderd_idem_table_t *t, size_t hole)
{
    size_t mask = t->cap - 1;
    for (size_t i = (hole + 1) & mask; t->slots[i].node != NULL; i = (i + 1) & mask) {
        size_t home = t->slots[i].hash & mask;
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            t->slots[hole] = t->slots[i];
            hole = i;
        }
    }
    t->slots[hole] = (orderd_idem_slot_t){0, NULL};
    --t->n;
}

static void oldest_changed(orderd_idem_table_t *t)
{
    t->oldest_ms = t->oldest != NULL ? t->oldest->entry.created_ms : 0;
}

static void list_unlink(orderd_idem_table_t *t, orderd_idem_node_t *nd)
{
    if (nd->prev != NULL) {
        nd->prev->next = nd->next;
    } else {
        t->oldest = nd->next;
        oldest_changed(t);
    }
    if (nd->next != NULL)
        nd->next->prev = nd->prev;
    else
        t->newest = nd->prev;
}

/* Unlinks and frees the node in slot `at`. */
static void drop_at(orderd_idem_table_t *t, orderd_idem_slot_t *at)
{
    orderd_idem_node_t *nd = at->node;
    list_unlink(t, nd);
    slot_delete(t, (size_t)(at - t->slots));
    free(nd);
}

static int reserve(orderd_idem_table_t *t)
{
    if ((t->n + 1) * 2 <= t->cap)
        return 0;
    size_t ncap = t->cap == 0 ? 16 : t->cap * 2, ocap = t->cap;
    orderd_idem_slot_t *old = t->slots, *fresh = orderd_calloc(ncap, sizeof(*fresh));
    if (fresh == NULL)
        return -1;
    t->slots = fresh;
    t->cap = ncap;
    /* every key is distinct: each goes to the first empty slot of its chain */
    for (size_t i = 0; i < ocap; ++i)
        if (old[i].node != NULL) {
            size_t j = old[i].hash & (ncap - 1);
            while (fresh[j].node != NULL)
                j = (j + 1) & (ncap - 1);
            fresh[j] = old[i];
        }
    free(old);
    return 0;
}

int orderd_idem_put(orderd_idem_table_t *t, const orderd_idem_entry_t *e)
{
    orderd_str_t user = orderd_idem_entry_user(e), key = orderd_idem_entry_key(e);
    uint64_t hash = key_hash(user, key);
    orderd_idem_node_t *nd;
    if (reserve(t) != 0 || (nd = orderd_malloc(offsetof(orderd_idem_node_t, entry) + e->size)) == NULL)
        return -1;
    nd->hash = hash; /* for the sweep, which starts from the node */
    memcpy(&nd->entry, e, e->size);
    orderd_idem_slot_t *at = slot_of(t, hash, user, key);
    if (at->node != NULL) {
        drop_at(t, at);
        at = slot_of(t, hash, user, key);
    }
    *at = (orderd_idem_slot_t){hash, nd};
    ++t->n;
    /* keys arrive in time order, nearly always: keep the list sorted from the newest end */
    orderd_idem_node_t *after = t->newest;
    while (after != NULL && after->entry.created_ms > e->created_ms)
        after = after->prev;
    nd->prev = after;
    nd->next = after != NULL ? after->next : t->oldest;
    if (nd->next != NULL)
        nd->next->prev = nd;
    else
        t->newest = nd;
    if (after != NULL) {
        after->next = nd;
    } else {
        t->oldest = nd;
        oldest_changed(t);
    }
    return 0;
}

void orderd_idem_remove(orderd_idem_table_t *t, const orderd_idem_entry_t *e)
{
    if (t->cap == 0)
        return;
    orderd_str_t user = orderd_idem_entry_user(e), key = orderd_idem_entry_key(e);
    orderd_idem_slot_t *at = slot_of(t, key_hash(user, key), user, key);
    if (at->node != NULL && at->node->entry.order_id == e->order_id && at->node->entry.created_ms == e->created_ms)
        drop_at(t, at);
}

size_t orderd_idem_sweep(orderd_idem_table_t *t, int64_t cutoff_ms, size_t max)
{
    size_t n = 0;
    while (n < max && t->oldest != NULL && t->oldest_ms < cutoff_ms) {
        const orderd_idem_entry_t *e = &t->oldest->entry;
        drop_at(t, slot_of(t, t->oldest->hash, orderd_idem_entry_user(e), orderd_idem_entry_key(e)));
        ++n;
    }
    return n;
}

void orderd_idem_each(orderd_idem_table_t *t, int64_t cutoff_ms, void (*fn)(void *ctx, const orderd_idem_entry_t *e),
                      void *ctx)
{
    for (orderd_idem_node_t *nd = t->oldest; nd != NULL; nd = nd->next)
        if (nd->entry.created_ms >= cutoff_ms)
            fn(ctx, &nd->entry);
}

void orderd_idem_table_free(orderd_idem_table_t *t)
{
    for (orderd_idem_node_t *nd = t->oldest, *next; nd != NULL; nd = next) {
        next = nd->next;
        free(nd);
    }
    free(t->slots);
    *t = (orderd_idem_table_t){0};
}
