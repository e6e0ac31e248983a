#include "internal/idvec.h"

#include <stdlib.h>
#include <string.h>

int orderd_idvec_reserve(orderd_idvec_t *v, size_t more)
{
    if (v->n + more <= v->cap)
        return 0;
    size_t ncap = v->cap == 0 ? 4 : v->cap * 2;
    while (ncap < v->n + more)
        ncap *= 2;
    uint64_t *n = realloc(v->ids, ncap * sizeof(*n));
    if (n == NULL)
        return -1;
    v->ids = n;
    v->cap = ncap;
    return 0;
}

size_t orderd_idvec_lower_bound(const orderd_idvec_t *v, uint64_t id)
{
    size_t lo = 0, hi = v->n;
    /* new ids are the largest: check the end first */
    if (hi > 0 && v->ids[hi - 1] < id)
        return hi;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void orderd_idvec_insert(orderd_idvec_t *v, uint64_t id)
{
    size_t at = orderd_idvec_lower_bound(v, id);
    memmove(&v->ids[at + 1], &v->ids[at], (v->n - at) * sizeof(*v->ids));
    v->ids[at] = id;
    ++v->n;
}

void orderd_idvec_remove(orderd_idvec_t *v, uint64_t id)
{
    size_t at = orderd_idvec_lower_bound(v, id);
    if (at == v->n || v->ids[at] != id)
        return;
    memmove(&v->ids[at], &v->ids[at + 1], (v->n - at - 1) * sizeof(*v->ids));
    --v->n;
}

void orderd_idvec_free(orderd_idvec_t *v)
{
    free(v->ids);
    *v = (orderd_idvec_t){0};
}

size_t orderd_idvec_merge(const orderd_idvec_t *const *v, size_t k, size_t *pos, int desc, size_t skip,
                          size_t limit, uint64_t *out)
{
    size_t n = 0;
    while (n < limit) {
        size_t best = k;
        uint64_t best_id = 0;
        for (size_t i = 0; i < k; ++i) {
            if (desc ? pos[i] == 0 : pos[i] >= v[i]->n)
                continue;
            uint64_t id = desc ? v[i]->ids[pos[i] - 1] : v[i]->ids[pos[i]];
            if (best == k || (desc ? id > best_id : id < best_id)) {
                best = i;
                best_id = id;
            }
        }
        if (best == k)
            break;
        pos[best] += desc ? (size_t)-1 : 1;
        if (skip > 0)
            --skip;
        else
            out[n++] = best_id;
    }
    return n;
}
