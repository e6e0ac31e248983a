#ifndef ORDERD_INTERNAL_IDVEC_H
#define ORDERD_INTERNAL_IDVEC_H

/* A sorted vector of order ids (ascending), for the store's per-status
 * indexes. The ids live in ids[0, n), somewhere inside an allocation of cap
 * ids at base: a removal or an insertion moves whichever side of it is
 * shorter, so taking the oldest ids (fulfilment works oldest first, and
 * cancels tend to hit recent orders) costs O(1) instead of moving the whole
 * vector. Readers only use ids and n. */

#include <stddef.h>
#include <stdint.h>

typedef struct orderd_idvec {
    uint64_t *ids;
    size_t n;
    uint64_t *_base;
    size_t _cap;
} orderd_idvec_t;

/** Makes room for `more` ids (at the end); 0, or -1 out of memory (the vector is unchanged). */
int orderd_idvec_reserve(orderd_idvec_t *v, size_t more);
/** Inserts `id` in order; room must have been reserved. */
void orderd_idvec_insert(orderd_idvec_t *v, uint64_t id);
/** Removes `id` if present. */
void orderd_idvec_remove(orderd_idvec_t *v, uint64_t id);
void orderd_idvec_free(orderd_idvec_t *v);
/** The first index whose id is >= `id` (v->n when none is). */
size_t orderd_idvec_lower_bound(const orderd_idvec_t *v, uint64_t id);

/**
 * Walks k ascending vectors as one sorted sequence, from cursors pos[] that it
 * moves: descending (`desc`) takes v[i]->ids[pos[i] - 1] next, ascending
 * v[i]->ids[pos[i]]. Skips `skip` ids, then writes up to `limit` to out.
 * Returns how many it wrote. O(k x (skip + limit)).
 */
size_t orderd_idvec_merge(const orderd_idvec_t *const *v, size_t k, size_t *pos, int desc, size_t skip,
                          size_t limit, uint64_t *out);

#endif
