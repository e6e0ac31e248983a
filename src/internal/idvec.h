#ifndef ORDERD_INTERNAL_IDVEC_H
#define ORDERD_INTERNAL_IDVEC_H

/* A sorted vector of order ids (ascending), for the store's per-status index. */

#include <stddef.h>
#include <stdint.h>

typedef struct orderd_idvec {
    uint64_t *ids;
    size_t n, cap;
} orderd_idvec_t;

/** Makes room for `more` ids; 0, or -1 out of memory (the vector is unchanged). */
int orderd_idvec_reserve(orderd_idvec_t *v, size_t more);
/** Inserts `id` in order; room must have been reserved. */
void orderd_idvec_insert(orderd_idvec_t *v, uint64_t id);
/** Removes `id` if present. */
void orderd_idvec_remove(orderd_idvec_t *v, uint64_t id);
void orderd_idvec_free(orderd_idvec_t *v);

#endif
