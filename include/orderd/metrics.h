#ifndef ORDERD_METRICS_H
#define ORDERD_METRICS_H

/*
 * Prometheus metrics, below every layer that counts: fixed-bucket histograms
 * and the text exposition format (version 0.0.4). Defined in src/metrics.c.
 *
 * A histogram or counter has one writer at a time: the thread that owns it
 * (a worker's block) or whoever holds the lock that guards it (the journal
 * writer's). Scrapes read it from another thread without any lock, so every
 * field is an atomic written and read with relaxed order: nothing shared is
 * contended on the request path, and ThreadSanitizer stays quiet.
 */

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/** Most finite buckets a histogram has (+Inf comes on top). */
#define ORDERD_HISTOGRAM_MAX_BUCKETS 16

/** Bucket upper bounds, ascending, in the histogram's integer unit; `scale` turns a unit into the exposed one. */
typedef struct orderd_histogram_bounds {
    const uint64_t *le;
    unsigned n; /* at most ORDERD_HISTOGRAM_MAX_BUCKETS */
    double scale;
} orderd_histogram_bounds_t;

/** Durations in nanoseconds, exposed in seconds: 100 us to 10 s. */
extern const orderd_histogram_bounds_t orderd_buckets_seconds;
/** Counts (records in a group commit): 1, 2, 4, ... 4096. */
extern const orderd_histogram_bounds_t orderd_buckets_count;

/** A histogram with one writer at a time (see above). Zero it, then orderd_histogram_init. */
typedef struct orderd_histogram {
    const orderd_histogram_bounds_t *bounds;
    _Atomic uint64_t counts[ORDERD_HISTOGRAM_MAX_BUCKETS + 1]; /* per bucket, not cumulative; the last: +Inf */
    _Atomic uint64_t sum;                                      /* in the bounds' unit */
} orderd_histogram_t;

/** Plain totals of one or more histograms with the same bounds, for rendering. */
typedef struct orderd_histogram_sum {
    const orderd_histogram_bounds_t *bounds;
    uint64_t counts[ORDERD_HISTOGRAM_MAX_BUCKETS + 1];
    uint64_t sum;
} orderd_histogram_sum_t;

/** Sets `h`'s bounds; the counts stay as they are (zero them first). Cannot fail. */
void orderd_histogram_init(orderd_histogram_t *h, const orderd_histogram_bounds_t *bounds);

/** Counts `v` (in the bounds' unit) into the first bucket whose bound is >= v. Only `h`'s one writer calls it. */
void orderd_histogram_observe(orderd_histogram_t *h, uint64_t v);

/** Adds `h`'s counts to `acc` (whose bounds it sets when NULL); safe from any thread. */
void orderd_histogram_add_to(const orderd_histogram_t *h, orderd_histogram_sum_t *acc);

/** Adds `n` to a counter that has one writer (relaxed load and store, no read-modify-write). */
static inline void orderd_counter_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

/** A counter's value, from any thread. */
static inline uint64_t orderd_counter_get(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/** Exposition text being written: a heap buffer; `failed` once memory ran out (the text is then incomplete). */
typedef struct orderd_metrics_text {
    char *buf;
    size_t len, cap;
    int failed;
} orderd_metrics_text_t;

/**
 * Starts a metric family: its `# HELP` and `# TYPE` lines. `type` is
 * "counter", "gauge" or "histogram"; `help` must not hold a newline or a
 * backslash. Out of memory sets t->failed.
 */
void orderd_metrics_family(orderd_metrics_text_t *t, const char *name, const char *type, const char *help);

/** One sample line `name{labels} value`; `labels` is the inside of the braces ("" or NULL: none). */
void orderd_metrics_sample(orderd_metrics_text_t *t, const char *name, const char *labels, double value);

/**
 * The lines of one histogram: cumulative `name_bucket{labels,le="..."}`
 * ending with le="+Inf", then `name_sum` (scaled) and `name_count`.
 */
void orderd_metrics_histogram(orderd_metrics_text_t *t, const char *name, const char *labels,
                              const orderd_histogram_sum_t *h);

/** Frees the text's buffer and empties it. */
void orderd_metrics_text_free(orderd_metrics_text_t *t);

#endif
