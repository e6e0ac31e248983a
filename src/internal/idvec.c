#include "internal/idvec.h"

#include <stdlib.h>
#include <string.h>

#include "internal/mem.h"

int orderd_idvec_reserve(orderd_idvec_t *v, size_t more)
{
    size_t front = (size_t)(v->ids - v->_base);
    if (front + v->n + more <= v->_cap)
        return 0;
    if (v->n + more <= v->_cap && front >= v->_cap / 2) {
        /* mostly free at the front: slide down instead of growing */
        memmove(v->_base, v->ids, v->n * sizeof(*v->ids));
        v->ids = v->_base;
        return 0;
    }
    size_t ncap = v->_cap == 0 ? 4 : v->_cap * 2;
    while (ncap < front + v->n + more)
        ncap *= 2;
    uint64_t *n = orderd_realloc(v->_base, ncap * sizeof(*n));
    if (n == NULL)
        return -1;
    v->_base = n;
    v->ids = n + front;
    v->_cap = ncap;
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
    if (at < v->n / 2 && v->ids > v->_base) {
        /* nearer the front, with room there: move the front down one */
        memmove(v->ids - 1, v->ids, at * sizeof(*v->ids));
        --v->ids;
    } else {
        memmove(&v->ids[at + 1], &v->ids[at], (v->n - at) * sizeof(*v->ids));
    }
    v->ids[at] = id;
    ++v->n;
}

void orderd_idvec_remove(orderd_idvec_t *v, uint64_t id)
{
    size_t at = orderd_idvec_lower_bound(v, id);
    if (at == v->n || v->ids[at] != id)
        return;
    if (at < v->n / 2) {
        memmove(v->ids + 1, v->ids, at * sizeof(*v->ids));
        ++v->ids;
    } else {
        memmove(&v->ids[at], &v->ids[at + 1], (v->n - at - 1) * sizeof(*v->ids));
    }
    if (--v->n == 0)
        v->ids = v->_base; /* empty: the whole allocation is room again */
}

void orderd_idvec_free(orderd_idvec_t *v)
{
    free(v->_base);
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
