#ifndef ORDERD_TEST_UTIL_H
#define ORDERD_TEST_UTIL_H

/*
 * Shared helpers for the unit tests: an arena implementing orderd_alloc_t.
 * Every allocation is its own malloc'd block on a list; the whole list is
 * freed at once (test_arena_reset), which is what a request pool does. New
 * memory is filled with 0xA5 so code that relies on zeroed memory shows up.
 */

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/common.h"

typedef struct test_arena_block {
    struct test_arena_block *next;
    size_t size;
    alignas(16) unsigned char data[];
} test_arena_block_t;

typedef struct test_arena {
    test_arena_block_t *head;
    size_t bytes;  /* bytes handed out since the last reset */
    size_t blocks; /* allocations since the last reset */
} test_arena_t;

static inline void *test_arena_alloc_fn(void *ctx, size_t size)
{
    test_arena_t *ar = ctx;
    test_arena_block_t *b = malloc(sizeof(*b) + (size ? size : 1));
    if (b == NULL) {
        fprintf(stderr, "test arena: out of memory (%zu bytes)\n", size);
        abort();
    }
    b->next = ar->head;
    b->size = size;
    ar->head = b;
    ar->bytes += size;
    ar->blocks++;
    memset(b->data, 0xA5, size);
    return b->data;
}

static inline orderd_alloc_t test_arena_allocator(test_arena_t *ar)
{
    orderd_alloc_t a = {test_arena_alloc_fn, ar};
    return a;
}

static inline void test_arena_reset(test_arena_t *ar)
{
    test_arena_block_t *b = ar->head;
    while (b != NULL) {
        test_arena_block_t *next = b->next;
        free(b);
        b = next;
    }
    ar->head = NULL;
    ar->bytes = 0;
    ar->blocks = 0;
}

/* cmocka setup / teardown: *state becomes a fresh test_arena_t. */
static inline int test_arena_setup(void **state)
{
    test_arena_t *ar = calloc(1, sizeof(*ar));
    if (ar == NULL)
        return -1;
    *state = ar;
    return 0;
}

static inline int test_arena_teardown(void **state)
{
    test_arena_t *ar = *state;
    if (ar != NULL) {
        test_arena_reset(ar);
        free(ar);
    }
    *state = NULL;
    return 0;
}

/* The allocator of the arena set up by test_arena_setup. */
static inline orderd_alloc_t test_alloc(void **state)
{
    return test_arena_allocator((test_arena_t *)*state);
}

/* A small deterministic PRNG (64-bit LCG, upper bits used). */
typedef struct test_rng {
    unsigned long long s;
} test_rng_t;

static inline unsigned long long test_rng_next(test_rng_t *r)
{
    r->s = r->s * 6364136223846793005ULL + 1442695040888963407ULL;
    unsigned long long x = r->s;
    /* mix so the low bits are usable too */
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static inline unsigned test_rng_below(test_rng_t *r, unsigned n)
{
    return (unsigned)(test_rng_next(r) % n);
}

#define TEST_ARENA_TEST(fn) cmocka_unit_test_setup_teardown(fn, test_arena_setup, test_arena_teardown)


/* ---- files and temporary data directories (journal and WAL tests) ----
 * Data directories are flat, so removing one is: every entry, then the
 * directory. Failures abort: a test cannot go on without its files. */

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Makes a fresh directory /tmp/orderd-<tag>-XXXXXX; buf gets its path. */
/* Monotonic milliseconds, and sleeping, for tests that wait on threads. */
static inline int64_t test_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void test_sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};
    nanosleep(&ts, NULL);
}

static inline void test_tmpdir(char *buf, size_t cap, const char *tag)
{
    snprintf(buf, cap, "/tmp/orderd-%s-XXXXXX", tag);
    if (mkdtemp(buf) == NULL) {
        perror("mkdtemp");
        abort();
    }
}

/* Removes a flat directory and everything in it. */
static inline void test_rmtree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        char path[PATH_MAX];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < sizeof(path))
                unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* Reads a whole file into a malloc'd buffer (NULL when it cannot be read). */
static inline unsigned char *test_read_file(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    unsigned char *buf = malloc(cap);
    size_t got;
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            unsigned char *g = realloc(buf, cap *= 2);
            if (g == NULL)
                free(buf);
            buf = g;
        }
    }
    fclose(f);
    if (buf == NULL)
        abort();
    *len = n;
    return buf;
}

/* Writes (replaces) a whole file. */
static inline void test_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || (len > 0 && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

/* The size of a file, or -1 when it does not exist. */
static inline long long test_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Copies every file of flat directory `from` into `to`. */
static inline void test_copy_dir(const char *from, const char *to)
{
    DIR *d = opendir(from);
    if (d == NULL) {
        perror(from);
        abort();
    }
    struct dirent *e;
    char src[PATH_MAX], dst[PATH_MAX];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if ((size_t)snprintf(src, sizeof(src), "%s/%s", from, e->d_name) >= sizeof(src) ||
            (size_t)snprintf(dst, sizeof(dst), "%s/%s", to, e->d_name) >= sizeof(dst))
            abort(); /* paths under a test's own temporary directory are short */
        size_t len;
        unsigned char *data = test_read_file(src, &len);
        if (data == NULL) {
            perror(src);
            abort();
        }
        test_write_file(dst, data, len);
        free(data);
    }
    closedir(d);
}

/* Temporary directories: registered when made, so a failed test's teardown
 * can remove what the test itself did not get to. */
static char *live_dirs[64];


__attribute__((unused)) static void tmpdir(char *buf, size_t cap, const char *tag)
{
    test_tmpdir(buf, cap, tag);
    for (size_t i = 0; i < 64; ++i)
        if (live_dirs[i] == NULL) {
            live_dirs[i] = strdup(buf);
            return;
        }
}

__attribute__((unused)) static void rmdir_tmp(const char *dir)
{
    test_rmtree(dir);
    for (size_t i = 0; i < 64; ++i)
        if (live_dirs[i] != NULL && strcmp(live_dirs[i], dir) == 0) {
            free(live_dirs[i]);
            live_dirs[i] = NULL;
        }
}

__attribute__((unused)) static int remove_dirs(void **state)
{
    (void)state;
    for (size_t i = 0; i < 64; ++i)
        if (live_dirs[i] != NULL) {
            test_rmtree(live_dirs[i]);
            free(live_dirs[i]);
            live_dirs[i] = NULL;
        }
    return 0;
}

/* A cmocka test whose teardown removes the temporary directories it left. */
#define TEST_DIRS(fn) cmocka_unit_test_teardown(fn, remove_dirs)

#endif
