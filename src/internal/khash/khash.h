#ifndef ORDERD_KHASH_SHIM_H
#define ORDERD_KHASH_SHIM_H

/*
 * <h2o/http2_internal.h> includes "khash.h" (klib's hash table, bundled in
 * h2o's deps/), which Debian's libh2o-dev-common does not install. This is
 * not klib: it declares only the names that header uses, so that it parses.
 * The one thing of the table in h2o_http2_conn_t is a pointer to it
 * (`streams`), whose size does not depend on what it points to, so the
 * struct's layout is the library's. Nothing here may look the table up:
 * the header's one inline function that would, h2o_http2_conn_get_stream,
 * is never called by orderd, and its stand-ins below find nothing.
 * Only src/http/rapid_reset.c has this directory on its include path.
 */

typedef unsigned int khint_t;
typedef khint_t khiter_t;

#define khash_t(name) kh_##name##_t
#define KHASH_MAP_INIT_INT64(name, khval_t) typedef struct kh_##name##_s kh_##name##_t;

#define kh_get(name, h, k) ((void)(h), (void)(k), (khiter_t)0)
#define kh_end(h) ((void)(h), (khiter_t)0)
#define kh_val(h, x) ((void)(h), (void)(x), (void *)0)

#endif
