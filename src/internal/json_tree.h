#ifndef ORDERD_INTERNAL_JSON_TREE_H
#define ORDERD_INTERNAL_JSON_TREE_H

/*
 * A JSON body as a small tree, built from yajl's parse events in request
 * memory: for the bodies of the operations after checkout, which are read
 * field by field. yajl parses; this only keeps what it reports. Nesting stops
 * at ORDERD_CODEC_MAX_DEPTH during the parse, strings are strict UTF-8 and
 * copied, numbers keep their text (money is read from it exactly).
 */

#include <stddef.h>

#include "orderd/common.h"

typedef enum { JT_NULL, JT_BOOL, JT_NUMBER, JT_STRING, JT_ARRAY, JT_OBJECT } orderd_jt_type_t;

typedef struct orderd_jt {
    orderd_jt_type_t type;
    int boolean;
    orderd_str_t text;        /* JT_NUMBER, JT_STRING */
    struct orderd_jt **items; /* JT_ARRAY, JT_OBJECT: the values */
    orderd_str_t *keys;       /* JT_OBJECT: the member names */
    size_t n;
} orderd_jt_t;

typedef enum {
    ORDERD_JT_OK = 0,
    ORDERD_JT_SYNTAX = -1,   /* not JSON, or a string that is not strict UTF-8: *why says so */
    ORDERD_JT_TOO_DEEP = -2, /* nested deeper than ORDERD_CODEC_MAX_DEPTH */
} orderd_jt_result_t;

/** Parses [body, body+len) into *root (memory from `a`). Returns an orderd_jt_result_t; *why on SYNTAX. */
int orderd_jt_parse(const char *body, size_t len, const orderd_alloc_t *a, orderd_jt_t **root, const char **why);

/** The member `name` of object `o`, or NULL (also when o is not an object). *count says how often it appears. */
const orderd_jt_t *orderd_jt_get(const orderd_jt_t *o, const char *name, int *count);

#endif
