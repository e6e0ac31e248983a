/* Unit tests for src/internal/yajl_alloc.h: yajl's memory from a request
 * allocator. A realloc keeps the contents, grows in place while it can, and
 * the blocks of a growing buffer add up to O(its final size), measured on
 * the test arena, which counts every byte handed out and frees nothing
 * before the end, as a request pool does. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "../src/internal/yajl_alloc.h"
#include "test_util.h"

/* Every block carries a 16-byte header in front. */
#define HEAD 16

static yajl_alloc_funcs funcs_of(void **state, orderd_alloc_t *a)
{
    yajl_alloc_funcs f;
    *a = test_alloc(state);
    orderd_yajl_alloc_funcs(&f, a);
    return f;
}

static void test_malloc_and_free(void **state)
{
    orderd_alloc_t a;
    yajl_alloc_funcs f = funcs_of(state, &a);
    test_arena_t *ar = *state;
    unsigned char *p = f.malloc(f.ctx, 100);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 8, 0);
    memset(p, 7, 100);
    assert_int_equal(ar->bytes, 100 + HEAD);
    f.free(f.ctx, p); /* a no-op: the arena frees it at the end */
    f.free(f.ctx, NULL);
    assert_int_equal(ar->blocks, 1);
}

static void test_realloc_null_is_malloc(void **state)
{
    orderd_alloc_t a;
    yajl_alloc_funcs f = funcs_of(state, &a);
    test_arena_t *ar = *state;
    unsigned char *p = f.realloc(f.ctx, NULL, 64);
    assert_non_null(p);
    memset(p, 1, 64);
    assert_int_equal(ar->blocks, 1);
    assert_int_equal(ar->bytes, 64 + HEAD);
}

static void test_realloc_keeps_contents(void **state)
{
    orderd_alloc_t a;
    yajl_alloc_funcs f = funcs_of(state, &a);
    size_t size = 10;
    unsigned char *p = f.malloc(f.ctx, size);
    for (size_t i = 0; i < size; ++i)
        p[i] = (unsigned char)i;
    while (size < 100000) {
        size_t grown = size * 3 + 1;
        p = f.realloc(f.ctx, p, grown);
        assert_non_null(p);
        for (size_t i = 0; i < size; ++i)
            if (p[i] != (unsigned char)i)
                fail_msg("byte %zu lost growing %zu -> %zu bytes", i, size, grown);
        for (size_t i = size; i < grown; ++i)
            p[i] = (unsigned char)i;
        size = grown;
    }
}

static void test_realloc_in_place(void **state)
{
    orderd_alloc_t a;
    yajl_alloc_funcs f = funcs_of(state, &a);
    test_arena_t *ar = *state;
    unsigned char *p = f.malloc(f.ctx, 128);
    assert_ptr_equal(f.realloc(f.ctx, p, 128), p);
    assert_ptr_equal(f.realloc(f.ctx, p, 1), p);
    /* a move doubles: the next growth up to that fits where it is */
    unsigned char *q = f.realloc(f.ctx, p, 129);
    assert_ptr_not_equal(q, p);
    assert_ptr_equal(f.realloc(f.ctx, q, 200), q);
    assert_ptr_equal(f.realloc(f.ctx, q, 256), q);
    assert_int_equal(ar->blocks, 2);
    /* a jump past double gets what it asked for */
    unsigned char *r = f.realloc(f.ctx, q, 10000);
    assert_ptr_not_equal(r, q);
    assert_int_equal(ar->bytes, 128 + 256 + 10000 + 3 * HEAD);
}

/* yajl's nesting stack grows 128 bytes at a time, and once grew a block of
 * exactly the new size each time: O(S^2) bytes for S. */
static void test_step_growth_is_linear(void **state)
{
    orderd_alloc_t a;
    yajl_alloc_funcs f = funcs_of(state, &a);
    test_arena_t *ar = *state;
    const size_t step = 128, final = 256 * 1024;
    unsigned char *p = f.malloc(f.ctx, step);
    for (size_t size = 2 * step; size <= final; size += step) {
        p = f.realloc(f.ctx, p, size);
        p[size - 1] = 1;
    }
    /* the exact-size scheme took final^2 / (2 step) = 256 MiB here */
    if (ar->bytes > 4 * final + HEAD * ar->blocks)
        fail_msg("%zu reallocs to %zu bytes took %zu bytes in %zu blocks", final / step, final, ar->bytes, ar->blocks);
    assert_true(ar->blocks <= 16);
}

/* Whatever the sizes asked for, the total stays within 4 x the largest. */
static void test_random_growth_is_bounded(void **state)
{
    test_rng_t rng = {42};
    for (int round = 0; round < 50; ++round) {
        orderd_alloc_t a;
        yajl_alloc_funcs f = funcs_of(state, &a);
        test_arena_t *ar = *state;
        size_t size = 1 + test_rng_below(&rng, 512), largest = size;
        unsigned char *p = f.malloc(f.ctx, size);
        for (int i = 0; i < 500; ++i) {
            size_t want = test_rng_below(&rng, 4) == 0 ? 1 + test_rng_below(&rng, (unsigned)size)
                                                       : size + test_rng_below(&rng, 300);
            p = f.realloc(f.ctx, p, want);
            p[want - 1] = 1;
            size = want;
            if (size > largest)
                largest = size;
        }
        if (ar->bytes > 4 * largest + HEAD * ar->blocks)
            fail_msg("round %d: largest %zu bytes, %zu bytes in %zu blocks", round, largest, ar->bytes, ar->blocks);
        test_arena_reset(ar);
    }
}

/* yajl itself, with no callbacks to stop it: 200000 levels of '[' cost a
 * few times the body, not the 156 MiB of the exact-size scheme. */
static void test_yajl_deep_nesting_memory(void **state)
{
    orderd_alloc_t a;
    yajl_alloc_funcs f = funcs_of(state, &a);
    test_arena_t *ar = *state;
    const size_t len = 200000;
    unsigned char *body = malloc(len);
    assert_non_null(body);
    memset(body, '[', len);
    yajl_handle h = yajl_alloc(NULL, &f, NULL);
    assert_non_null(h);
    assert_int_equal(yajl_parse(h, body, len), yajl_status_ok);
    free(body);
    if (ar->bytes > 4 * len + 64 * 1024)
        fail_msg("%zu levels of nesting took %zu bytes in %zu blocks", len, ar->bytes, ar->blocks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST_ARENA_TEST(test_malloc_and_free),
        TEST_ARENA_TEST(test_realloc_null_is_malloc),
        TEST_ARENA_TEST(test_realloc_keeps_contents),
        TEST_ARENA_TEST(test_realloc_in_place),
        TEST_ARENA_TEST(test_step_growth_is_linear),
        TEST_ARENA_TEST(test_random_growth_is_bounded),
        TEST_ARENA_TEST(test_yajl_deep_nesting_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
