#ifndef ORDERD_INTERNAL_MEM_H
#define ORDERD_INTERNAL_MEM_H

/*
 * Heap memory for what outlives a request: the order table, the key table
 * and their index vectors. They allocate through these three so that a unit
 * test can make the Nth allocation fail and prove that a change refused for
 * want of memory changed nothing (the libcbor way; tests/alloc_fail.h). The
 * server never sets them: they stay the C library's functions (jemalloc's in
 * the server). Memory from them is released with plain free().
 */

#include <stddef.h>

typedef struct orderd_mem_fns {
    void *(*malloc)(size_t size);
    void *(*calloc)(size_t n, size_t size);
    void *(*realloc)(void *p, size_t size);
} orderd_mem_fns_t;

/** The functions in use (src/internal/mem.c); change them only with orderd_mem_set. */
extern orderd_mem_fns_t orderd_mem;

/**
 * Routes the allocations above through `fns` (NULL: back to the C
 * library's). For tests; call it while no other thread allocates.
 */
void orderd_mem_set(const orderd_mem_fns_t *fns);

static inline void *orderd_malloc(size_t size)
{
    return orderd_mem.malloc(size);
}

static inline void *orderd_calloc(size_t n, size_t size)
{
    return orderd_mem.calloc(n, size);
}

static inline void *orderd_realloc(void *p, size_t size)
{
    return orderd_mem.realloc(p, size);
}

#endif
