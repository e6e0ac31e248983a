#include "internal/yajl_alloc.h"

#include <stdint.h>
#include <string.h>

/* Each block carries its capacity in front, so realloc knows how far it may
 * grow in place and how much to copy. */
typedef struct {
    size_t cap;
    size_t _align;
} block_head_t;

static void *block_new(void *ctx, size_t cap)
{
    block_head_t *h = orderd_alloc(ctx, sizeof(*h) + cap);
    h->cap = cap;
    return h + 1;
}

static void *pool_malloc(void *ctx, size_t size)
{
    return block_new(ctx, size);
}

/*
 * The pool frees nothing before the request ends, so every block a realloc
 * leaves behind stays allocated. yajl grows its nesting stack 128 bytes at a
 * time: handing out exactly the size asked for made a stack of S bytes cost
 * S^2 / 256 bytes (4.3 GB for a 1 MiB body of '['). A block that has to move
 * gets at least twice its old capacity instead, so the blocks of one growing
 * buffer add up to at most twice its final capacity, which is at most twice
 * the largest size asked for, and most growth happens in place.
 */
static void *pool_realloc(void *ctx, void *ptr, size_t size)
{
    if (ptr == NULL)
        return pool_malloc(ctx, size);
    block_head_t *old = (block_head_t *)ptr - 1;
    if (size <= old->cap)
        return ptr;
    size_t cap = old->cap <= SIZE_MAX / 4 && old->cap * 2 > size ? old->cap * 2 : size;
    void *n = block_new(ctx, cap);
    memcpy(n, ptr, old->cap);
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

int orderd_yajl_parse(const yajl_callbacks *callbacks, void *ctx, const char *body, size_t len,
                      const orderd_alloc_t *a, const char **error)
{
    yajl_alloc_funcs funcs;
    orderd_yajl_alloc_funcs(&funcs, a);
    yajl_handle h = yajl_alloc(callbacks, &funcs, ctx);
    yajl_status st = yajl_parse(h, (const unsigned char *)body, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    if (st == yajl_status_ok)
        return 0;
    char *msg = (char *)yajl_get_error(h, 0, (const unsigned char *)body, len);
    msg[strcspn(msg, "\r\n")] = '\0';
    *error = msg;
    return -1;
}
