#include "internal/yajl_alloc.h"

#include <string.h>

/* Each block carries its size in front, so realloc knows how much to copy. */
typedef struct {
    size_t size;
    size_t _align;
} block_head_t;

static void *pool_malloc(void *ctx, size_t size)
{
    block_head_t *h = orderd_alloc(ctx, sizeof(*h) + size);
    h->size = size;
    return h + 1;
}

static void *pool_realloc(void *ctx, void *ptr, size_t size)
{
    if (ptr == NULL)
        return pool_malloc(ctx, size);
    block_head_t *old = (block_head_t *)ptr - 1;
    if (size <= old->size)
        return ptr;
    void *n = pool_malloc(ctx, size);
    memcpy(n, ptr, old->size);
    return n;
}

static void pool_free(void *ctx, void *ptr)
{
    (void)ctx, (void)ptr;
}

void orderd_yajl_alloc_funcs(yajl_alloc_funcs *funcs, const orderd_alloc_t *a)
{
    funcs->malloc = pool_malloc;
    funcs->realloc = pool_realloc;
    funcs->free = pool_free;
    funcs->ctx = (void *)a;
}
