#ifndef ORDERD_TESTS_FIXTURE_H
#define ORDERD_TESTS_FIXTURE_H

/*
 * What the unit tests build their cases from: strings, orders and the clock
 * the journal harnesses start at. No cmocka asserts in here, so worker
 * threads of a test may call every helper; test_util.h comes with it.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/common.h"
#include "orderd/order.h"
#include "test_util.h"

/* 2026-01-01T00:00:00Z: the journal harnesses' clock starts here and moves 1 ms per change */
#define T0_MS 1767225600000LL

/* A NUL-terminated string as an orderd_str_t (not copied). */
static inline orderd_str_t S(const char *s)
{
    return (orderd_str_t){s, strlen(s)};
}

/* The user of a status change made by the operator. */
__attribute__((unused)) static const orderd_str_t OPERATOR = {NULL, 0};

/* The order `d` of `user` built in memory from `a`, with id `id` at time `now`. */
static inline orderd_order_t *order_from_draft(const orderd_alloc_t *a, uint64_t id, orderd_str_t user,
                                               const orderd_order_draft_t *d, int64_t now)
{
    orderd_order_t *o = orderd_alloc(a, orderd_order_size(d, user.len));
    orderd_order_build(o, id, user, d, now);
    return o;
}

/* A malloc'd order for `user` with 1..4 items at time `now`, id 0 (the store
 * gives it one); `salt` varies every field. */
static inline orderd_order_t *make_order(const char *user, int64_t now, unsigned salt)
{
    orderd_item_draft_t items[4];
    char prod[4][32], addr[64];
    unsigned n = 1 + salt % 4;
    int64_t total = 0;
    for (unsigned i = 0; i < n; ++i) {
        snprintf(prod[i], sizeof(prod[i]), "sku-%u-%u", salt, i);
        items[i] = (orderd_item_draft_t){S(prod[i]), 1 + (salt + i) % 5, 100 + 7 * (int64_t)salt + i};
        total += items[i].price * items[i].quantity;
    }
    snprintf(addr, sizeof(addr), "%u Long Road, Springfield", salt);
    orderd_order_draft_t d = {items, n, S(addr), S(salt % 2 ? "card" : "invoice"), {'E', 'U', 'R'}, total};
    orderd_order_t *o = aligned_alloc(8, orderd_order_size(&d, strlen(user)));
    if (o == NULL)
        abort();
    orderd_order_build(o, 0, S(user), &d, now);
    return o;
}

/* qsort order of uint64_t values. */
static inline int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

#endif
