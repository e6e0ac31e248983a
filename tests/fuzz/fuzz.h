#ifndef ORDERD_TESTS_FUZZ_H
#define ORDERD_TESTS_FUZZ_H

/*
 * What the fuzz targets (tests/fuzz/<name>_fuzz.c) share. Each target is one
 * LLVMFuzzerTestOneInput over the production functions; built with clang and
 * -fsanitize=fuzzer it is a libFuzzer binary (`make fuzz`), linked with
 * replay_main.c it replays its corpus and regressions in `make test`.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <h2o.h>

#include "orderd/codec.h"
#include "orderd/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* optional: once, before the first input (libFuzzer, and replay_main.c when a target has it) */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A broken invariant is a crash: libFuzzer keeps the input that did it. */
#define FUZZ_CHECK(cond)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                                   \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

/*
 * An orderd_alloc_t where every allocation is its own malloc block, so
 * AddressSanitizer sees the bounds of each (a pool's chunks would hide an
 * overrun inside them); fuzz_arena_free releases them all, as a request's
 * pool does at its end.
 */
typedef struct fuzz_arena {
    void **blocks;
    size_t n, cap;
    size_t bytes; /* asked for since the last free */
} fuzz_arena_t;

static inline void *fuzz_arena_alloc(void *ctx, size_t size)
{
    fuzz_arena_t *ar = ctx;
    if (ar->n == ar->cap) {
        ar->cap = ar->cap == 0 ? 64 : ar->cap * 2;
        ar->blocks = realloc(ar->blocks, ar->cap * sizeof(*ar->blocks));
        FUZZ_CHECK(ar->blocks != NULL);
    }
    void *p = malloc(size == 0 ? 1 : size);
    FUZZ_CHECK(p != NULL);
    ar->blocks[ar->n++] = p;
    ar->bytes += size;
    return p;
}

static inline orderd_alloc_t fuzz_arena_allocator(fuzz_arena_t *ar)
{
    return (orderd_alloc_t){fuzz_arena_alloc, ar};
}

static inline void fuzz_arena_free(fuzz_arena_t *ar)
{
    for (size_t i = 0; i < ar->n; ++i)
        free(ar->blocks[i]);
    free(ar->blocks);
    *ar = (fuzz_arena_t){0};
}

/*
 * A request as far as the header parsers see it: headers, the pool, the body.
 * Nothing can be sent on it (it has no connection), so only the functions
 * that read a request without answering it take one.
 */
static inline void fuzz_req_init(h2o_req_t *req)
{
    memset(req, 0, sizeof(*req));
    h2o_mem_init_pool(&req->pool);
}

static inline void fuzz_req_dispose(h2o_req_t *req)
{
    h2o_mem_clear_pool(&req->pool);
}

/*
 * Adds the header fields the input spells, one per '\n'-separated line: the
 * line's first byte picks the name from names[] (modulo n), the rest is the
 * value, which points into the input (so an overread of it is caught). Known
 * names become h2o tokens as h2o's parsers make them. At most `max` fields;
 * returns how many.
 */
static inline size_t fuzz_add_header_lines(h2o_req_t *req, const uint8_t *data, size_t size, const char *const *names,
                                           size_t n, size_t max)
{
    size_t added = 0;
    const char *p = (const char *)data, *end = p + size;
    while (p < end && added < max) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *stop = nl != NULL ? nl : end;
        if (stop > p) {
            const char *name = names[(unsigned char)*p % n];
            h2o_add_header_by_str(&req->pool, &req->headers, name, strlen(name), 1, NULL, p + 1,
                                  (size_t)(stop - p - 1));
            ++added;
        }
        p = stop + 1;
    }
    return added;
}

/* How many fields named `name` (lower case) `headers` has; *last gets the last one's value. */
static inline size_t fuzz_header_count(const h2o_headers_t *headers, const char *name, h2o_iovec_t *last)
{
    size_t count = 0;
    for (size_t i = 0; i < headers->size; ++i)
        if (h2o_memis(headers->entries[i].name->base, headers->entries[i].name->len, name, strlen(name))) {
            ++count;
            *last = headers->entries[i].value;
        }
    return count;
}

/*
 * A header target's request: the fields the input spells (at most 64), names[0]
 * being the header under test. Returns how many fields have that name; *value
 * gets the last one's value.
 */
static inline size_t fuzz_header_request(h2o_req_t *req, const uint8_t *data, size_t size, const char *const *names,
                                         size_t n, h2o_iovec_t *value)
{
    fuzz_req_init(req);
    fuzz_add_header_lines(req, data, size, names, n, 64);
    *value = h2o_iovec_init(NULL, 0);
    return fuzz_header_count(&req->headers, names[0], value);
}

/*
 * A decoder's answer (codec.h) and its report agree: OK has no errors;
 * SYNTAX and TOO_DEEP say why in one line; INVALID names 1 to `max_errors`
 * fields, each with a message.
 */
static inline void fuzz_check_decode_report(int rc, const orderd_decode_report_t *r, size_t max_errors)
{
    switch (rc) {
    case ORDERD_DECODE_OK:
        FUZZ_CHECK(r->n_errors == 0);
        break;
    case ORDERD_DECODE_SYNTAX:
    case ORDERD_DECODE_TOO_DEEP:
        FUZZ_CHECK(r->syntax != NULL && strlen(r->syntax) > 0 && strchr(r->syntax, '\n') == NULL);
        break;
    case ORDERD_DECODE_INVALID:
        FUZZ_CHECK(r->n_errors >= 1 && r->n_errors <= max_errors);
        for (size_t i = 0; i < r->n_errors; ++i)
            FUZZ_CHECK(r->errors[i].field != NULL && r->errors[i].message != NULL && strlen(r->errors[i].message) > 0);
        break;
    default:
        FUZZ_CHECK(!"an unknown result");
    }
}

#endif
