#ifndef ORDERD_INTERNAL_TEXT_H
#define ORDERD_INTERNAL_TEXT_H

/* One line of text built piece by piece in a fixed buffer: the start-up log's configuration, what a key file held. */

#include <stddef.h>

/** The buffer (p, len bytes) and how much of it is used; always NUL-terminated once written to. */
typedef struct orderd_text {
    char *p;
    size_t len, used;
} orderd_text_t;

/** Appends printf(fmt, ...) to t, cut where the buffer ends (never past it). Cannot fail. */
__attribute__((format(printf, 2, 3))) void orderd_text_put(orderd_text_t *t, const char *fmt, ...);

#endif
