#ifndef ORDERD_TEST_UTIL_H
#define ORDERD_TEST_UTIL_H

/*
 * Shared helpers for the unit tests: an arena implementing orderd_alloc_t.
 * Every allocation is its own malloc'd block on a list; the whole list is
 * freed at once (test_arena_reset), which is what a request pool does. New
 * memory is filled with 0xA5 so code that relies on zeroed memory shows up.
 */

#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/common.h"

typedef struct test_arena_block {
    struct test_arena_block *next;
    size_t size;
    alignas(16) unsigned char data[];
} test_arena_block_t;

typedef struct test_arena {
    test_arena_block_t *head;
    size_t bytes;  /* bytes handed out since the last reset */
    size_t blocks; /* allocations since the last reset */
} test_arena_t;

static inline void *test_arena_alloc_fn(void *ctx, size_t size)
{
    test_arena_t *ar = ctx;
    test_arena_block_t *b = malloc(sizeof(*b) + (size ? size : 1));
    if (b == NULL) {
        fprintf(stderr, "test arena: out of memory (%zu bytes)\n", size);
        abort();
    }
    b->next = ar->head;
    b->size = size;
    ar->head = b;
    ar->bytes += size;
    ar->blocks++;
    memset(b->data, 0xA5, size);
    return b->data;
}

static inline orderd_alloc_t test_arena_allocator(test_arena_t *ar)
{
    orderd_alloc_t a = {test_arena_alloc_fn, ar};
    return a;
}

static inline void test_arena_reset(test_arena_t *ar)
{
    test_arena_block_t *b = ar->head;
    while (b != NULL) {
        test_arena_block_t *next = b->next;
        free(b);
        b = next;
    }
    ar->head = NULL;
    ar->bytes = 0;
    ar->blocks = 0;
}

/* cmocka setup / teardown: *state becomes a fresh test_arena_t. */
static inline int test_arena_setup(void **state)
{
    test_arena_t *ar = calloc(1, sizeof(*ar));
    if (ar == NULL)
        return -1;
    *state = ar;
    return 0;
}

static inline int test_arena_teardown(void **state)
{
    test_arena_t *ar = *state;
    if (ar != NULL) {
        test_arena_reset(ar);
        free(ar);
    }
    *state = NULL;
    return 0;
}

/* The allocator of the arena set up by test_arena_setup. */
static inline orderd_alloc_t test_alloc(void **state)
{
    return test_arena_allocator((test_arena_t *)*state);
}

/* A small deterministic PRNG (64-bit LCG, upper bits used). */
typedef struct test_rng {
    unsigned long long s;
} test_rng_t;

static inline unsigned long long test_rng_next(test_rng_t *r)
{
    r->s = r->s * 6364136223846793005ULL + 1442695040888963407ULL;
    unsigned long long x = r->s;
    /* mix so the low bits are usable too */
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static inline unsigned test_rng_below(test_rng_t *r, unsigned n)
{
    return (unsigned)(test_rng_next(r) % n);
}

#define TEST_ARENA_TEST(fn) cmocka_unit_test_setup_teardown(fn, test_arena_setup, test_arena_teardown)

#endif
