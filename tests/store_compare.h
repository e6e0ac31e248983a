#ifndef ORDERD_TESTS_STORE_COMPARE_H
#define ORDERD_TESTS_STORE_COMPARE_H

/* Comparing whole tables, for the journal and writer tests: include after
 * cmocka.h. */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/store.h"

/* Every order of a store, copied out and sorted by id. */
typedef struct order_list {
    orderd_order_t **v;
    size_t n, cap;
} order_list_t;

static void collect_fn(void *ctx, const orderd_order_t *o)
{
    order_list_t *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        if (l->v == NULL)
            abort();
    }
    orderd_order_t *c = malloc(o->size);
    if (c == NULL)
        abort();
    memcpy(c, o, o->size);
    l->v[l->n++] = c;
}

static int cmp_order_id(const void *a, const void *b)
{
    uint64_t x = (*(orderd_order_t *const *)a)->id, y = (*(orderd_order_t *const *)b)->id;
    return x < y ? -1 : x > y;
}

static void collect(orderd_store_t *st, order_list_t *l)
{
    memset(l, 0, sizeof(*l));
    for (unsigned i = 0; i < orderd_store_shards(st); ++i)
        orderd_store_each(st, i, collect_fn, l);
    if (l->n > 0)
        qsort(l->v, l->n, sizeof(*l->v), cmp_order_id);
}

static void list_free(order_list_t *l)
{
    for (size_t i = 0; i < l->n; ++i)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* Both tables hold exactly the same orders, byte for byte. */
static void assert_same_orders(orderd_store_t *a, orderd_store_t *b)
{
    order_list_t la, lb;
    collect(a, &la);
    collect(b, &lb);
    assert_int_equal(la.n, lb.n);
    assert_int_equal(orderd_store_count(a), la.n);
    assert_int_equal(orderd_store_count(b), lb.n);
    for (size_t i = 0; i < la.n; ++i) {
        const orderd_order_t *x = la.v[i], *y = lb.v[i];
        if (x->id != y->id)
            fail_msg("order #%zu: id %" PRIx64 " in one table, %" PRIx64 " in the other", i, x->id, y->id);
        if (x->size != y->size || memcmp(x, y, x->size) != 0) {
            size_t at = 0;
            while (at < x->size && at < y->size && ((const unsigned char *)x)[at] == ((const unsigned char *)y)[at])
                ++at;
            fail_msg("order %" PRIx64 " differs at byte %zu (versions %u / %u, status %u / %u)", x->id, at,
                     x->version, y->version, x->status, y->status);
        }
    }
    list_free(&la);
    list_free(&lb);
}

#endif
