/* See text.h. */
#include "text.h"

#include <stdarg.h>
#include <stdio.h>

void orderd_text_put(orderd_text_t *t, const char *fmt, ...)
{
    if (t->len == 0 || t->used + 1 >= t->len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->p + t->used, t->len - t->used, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->used = t->used + (size_t)n < t->len ? t->used + (size_t)n : t->len - 1;
}
