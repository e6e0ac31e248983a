#ifndef ORDERD_COMMON_H
#define ORDERD_COMMON_H

/* Small types shared by every module. */

#include <stddef.h>

/** A string slice (not NUL-terminated). */
typedef struct orderd_str {
    const char *base;
    size_t len;
} orderd_str_t;

/**
 * An allocator for memory that lives as long as one request: the HTTP layer
 * backs it with the request's h2o pool, tests with an arena. Nothing allocated
 * from it is freed one by one. alloc returns 8-byte aligned memory and never
 * NULL (a pool aborts on exhaustion, as h2o does).
 */
typedef struct orderd_alloc {
    void *(*alloc)(void *ctx, size_t size);
    void *ctx;
} orderd_alloc_t;

static inline void *orderd_alloc(const orderd_alloc_t *a, size_t size)
{
    return a->alloc(a->ctx, size);
}

/** One broken field of a request, for a 422's "errors" list. */
typedef struct orderd_field_error {
    const char *field;   /* "items[0].quantity" */
    const char *message; /* "must be an integer from 1 to 1000000" */
} orderd_field_error_t;

#define ORDERD_STR(lit) ((orderd_str_t){(lit), sizeof(lit) - 1})

#endif
