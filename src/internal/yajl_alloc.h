#ifndef ORDERD_INTERNAL_YAJL_ALLOC_H
#define ORDERD_INTERNAL_YAJL_ALLOC_H

/* yajl allocation functions backed by a request allocator: nothing is freed
 * one by one; the request's pool releases it all at once. */

#include <yajl/yajl_common.h>
#include <yajl/yajl_parse.h>

#include "orderd/common.h"

/**
 * Fills *funcs so yajl allocates from `a` (which must outlive the yajl
 * object). free does nothing, and a realloc that cannot grow a block in place
 * at least doubles it: all the blocks of one buffer grown to S bytes by any
 * number of reallocs take at most 4 S bytes (plus 16 bytes a block).
 */
void orderd_yajl_alloc_funcs(yajl_alloc_funcs *funcs, const orderd_alloc_t *a);

/**
 * Parses [body, body+len) with `callbacks` and `ctx` in memory from `a` (the
 * pool owns yajl's memory: nothing to free). Returns 0 when yajl read it all,
 * else -1 with *error the first line of yajl's message ("parse error:
 * trailing garbage"), also in memory from `a`. A callback that stopped the
 * parse says why through its own ctx.
 */
int orderd_yajl_parse(const yajl_callbacks *callbacks, void *ctx, const char *body, size_t len,
                      const orderd_alloc_t *a, const char **error);

#endif
