#ifndef ORDERD_INTERNAL_UTF8_H
#define ORDERD_INTERNAL_UTF8_H

#include <stddef.h>

/** Whether [s, s+len) is strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
int orderd_utf8_valid(const unsigned char *s, size_t len);

#endif
