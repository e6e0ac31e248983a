#ifndef ORDERD_TEST_ALLOC_FAIL_H
#define ORDERD_TEST_ALLOC_FAIL_H

/*
 * An allocator that can be told to fail the Nth call, for the code that
 * allocates through src/internal/mem.h (the order table, the key table, the
 * index vectors). The libcbor way: a test arms it with N, runs one verb,
 * and learns whether the Nth allocation was reached; walking N = 1, 2, ...
 * until it is not reached runs the verb once with each of its allocations
 * failing. One test thread at a time.
 */

#include <stdlib.h>

#include "../src/internal/mem.h"

typedef struct alloc_fail {
    long countdown; /* 0: disarmed; else the call that fails, counted down */
    long calls;     /* allocations since the last arming */
    int hit;        /* the armed call was reached (and failed) */
} alloc_fail_t;

static alloc_fail_t alloc_fail_state;

/* 1 when this call is the one to fail. */
static inline int alloc_fail_tick(void)
{
    ++alloc_fail_state.calls;
    if (alloc_fail_state.countdown > 0 && --alloc_fail_state.countdown == 0) {
        alloc_fail_state.hit = 1;
        return 1;
    }
    return 0;
}

static inline void *alloc_fail_malloc(size_t size)
{
    return alloc_fail_tick() ? NULL : malloc(size);
}

static inline void *alloc_fail_calloc(size_t n, size_t size)
{
    return alloc_fail_tick() ? NULL : calloc(n, size);
}

static inline void *alloc_fail_realloc(void *p, size_t size)
{
    return alloc_fail_tick() ? NULL : realloc(p, size);
}

/** From now on the `nth` allocation (1-based) fails; the others succeed. */
static inline void alloc_fail_arm(long nth)
{
    static const orderd_mem_fns_t fns = {alloc_fail_malloc, alloc_fail_calloc, alloc_fail_realloc};
    alloc_fail_state = (alloc_fail_t){.countdown = nth};
    orderd_mem_set(&fns);
}

/** Back to the C library's allocator. Returns whether the armed call was reached. */
static inline int alloc_fail_disarm(void)
{
    orderd_mem_set(NULL);
    return alloc_fail_state.hit;
}

#endif
