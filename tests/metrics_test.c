/* Unit tests for orderd/metrics.h: histogram buckets, summing blocks written
 * by other threads, and the exposition text. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "orderd/metrics.h"

static const uint64_t small_le[] = {10, 100};
static const orderd_histogram_bounds_t small = {small_le, 2, 0.5};

static void test_observe_picks_first_bucket_at_or_above(void **state)
{
    orderd_histogram_t h = {0};
    orderd_histogram_init(&h, &small);
    orderd_histogram_observe(&h, 0);
    orderd_histogram_observe(&h, 10);  /* on the bound: that bucket */
    orderd_histogram_observe(&h, 11);
    orderd_histogram_observe(&h, 100);
    orderd_histogram_observe(&h, 101); /* past the last bound: +Inf */
    assert_int_equal(orderd_counter_get(&h.counts[0]), 2);
    assert_int_equal(orderd_counter_get(&h.counts[1]), 2);
    assert_int_equal(orderd_counter_get(&h.counts[2]), 1);
    assert_int_equal(orderd_counter_get(&h.sum), 222);
}

static void test_render_histogram_is_cumulative_and_scaled(void **state)
{
    orderd_histogram_t a = {0}, b = {0};
    orderd_histogram_init(&a, &small);
    orderd_histogram_init(&b, &small);
    orderd_histogram_observe(&a, 4);
    orderd_histogram_observe(&b, 50);
    orderd_histogram_observe(&b, 1000);
    orderd_histogram_sum_t sum = {0};
    orderd_histogram_add_to(&a, &sum);
    orderd_histogram_add_to(&b, &sum);
    assert_ptr_equal(sum.bounds, &small);

    orderd_metrics_text_t t = {0};
    orderd_metrics_family(&t, "x_seconds", "histogram", "Help text.");
    orderd_metrics_histogram(&t, "x_seconds", "route=\"/a\"", &sum);
    orderd_metrics_histogram(&t, "x_seconds", NULL, &sum);
    assert_false(t.failed);
    const char *want = "# HELP x_seconds Help text.\n"
                       "# TYPE x_seconds histogram\n"
                       "x_seconds_bucket{route=\"/a\",le=\"5\"} 1\n"
                       "x_seconds_bucket{route=\"/a\",le=\"50\"} 2\n"
                       "x_seconds_bucket{route=\"/a\",le=\"+Inf\"} 3\n"
                       "x_seconds_sum{route=\"/a\"} 527\n"
                       "x_seconds_count{route=\"/a\"} 3\n"
                       "x_seconds_bucket{le=\"5\"} 1\n"
                       "x_seconds_bucket{le=\"50\"} 2\n"
                       "x_seconds_bucket{le=\"+Inf\"} 3\n"
                       "x_seconds_sum 527\n"
                       "x_seconds_count 3\n";
    assert_int_equal(t.len, strlen(want));
    assert_memory_equal(t.buf, want, t.len);
    orderd_metrics_text_free(&t);
    assert_null(t.buf);
}

static void test_samples_and_growth(void **state)
{
    orderd_metrics_text_t t = {0};
    orderd_metrics_sample(&t, "a_total", NULL, 3);
    orderd_metrics_sample(&t, "b", "k=\"v\"", 0.25);
    assert_string_equal(t.buf, "a_total 3\nb{k=\"v\"} 0.25\n");
    /* past the first 4096 bytes the buffer grows and keeps what it had */
    for (int i = 0; i < 2000; ++i)
        orderd_metrics_sample(&t, "c", NULL, i);
    assert_false(t.failed);
    assert_true(t.cap > 4096);
    assert_memory_equal(t.buf, "a_total 3\n", 10);
    assert_memory_equal(t.buf + t.len - 7, "c 1999\n", 7);
    orderd_metrics_text_free(&t);
}

static void test_seconds_buckets_are_ascending(void **state)
{
    const orderd_histogram_bounds_t *all[] = {&orderd_buckets_seconds, &orderd_buckets_count};
    for (size_t k = 0; k < 2; ++k) {
        assert_true(all[k]->n <= ORDERD_HISTOGRAM_MAX_BUCKETS);
        for (unsigned i = 1; i < all[k]->n; ++i)
            assert_true(all[k]->le[i - 1] < all[k]->le[i]);
    }
    assert_int_equal(orderd_buckets_seconds.le[0], 100000); /* 100 us in ns */
}

/* One writer per block, one reader summing: what a scrape does while
 * workers count. Run under TSan (make tsan), this must stay quiet. */
#define WRITES 200000
static void *writer(void *arg)
{
    orderd_histogram_t *h = arg;
    for (int i = 0; i < WRITES; ++i)
        orderd_histogram_observe(h, (uint64_t)(i % 200));
    return NULL;
}

static void test_concurrent_scrape_sees_monotonic_totals(void **state)
{
    orderd_histogram_t blocks[2] = {{0}, {0}};
    pthread_t th[2];
    for (int i = 0; i < 2; ++i) {
        orderd_histogram_init(&blocks[i], &small);
        assert_int_equal(pthread_create(&th[i], NULL, writer, &blocks[i]), 0);
    }
    uint64_t last = 0;
    for (int round = 0; round < 1000; ++round) {
        orderd_histogram_sum_t s = {0};
        for (int i = 0; i < 2; ++i)
            orderd_histogram_add_to(&blocks[i], &s);
        uint64_t n = s.counts[0] + s.counts[1] + s.counts[2];
        assert_true(n >= last);
        last = n;
    }
    for (int i = 0; i < 2; ++i)
        pthread_join(th[i], NULL);
    orderd_histogram_sum_t s = {0};
    for (int i = 0; i < 2; ++i)
        orderd_histogram_add_to(&blocks[i], &s);
    assert_int_equal(s.counts[0] + s.counts[1] + s.counts[2], 2 * WRITES);
    assert_int_equal(s.counts[2], 2 * (WRITES / 200) * 99); /* 101..199 of each 200 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_observe_picks_first_bucket_at_or_above),
        cmocka_unit_test(test_render_histogram_is_cumulative_and_scaled),
        cmocka_unit_test(test_samples_and_growth),
        cmocka_unit_test(test_seconds_buckets_are_ascending),
        cmocka_unit_test(test_concurrent_scrape_sees_monotonic_totals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
