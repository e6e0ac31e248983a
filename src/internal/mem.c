#include "internal/mem.h"

#include <stdlib.h>

orderd_mem_fns_t orderd_mem = {malloc, calloc, realloc};

void orderd_mem_set(const orderd_mem_fns_t *fns)
{
    orderd_mem = fns != NULL ? *fns : (orderd_mem_fns_t){malloc, calloc, realloc};
}
