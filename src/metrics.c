/* Histograms with fixed buckets and the Prometheus text format (metrics.h). */
#include "orderd/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint64_t seconds_le[] = {100000,    250000,    500000,    1000000,    2500000,    5000000,
                                      10000000,  25000000,  50000000,  100000000,  250000000,  500000000,
                                      1000000000, 2500000000, 5000000000, 10000000000};
const orderd_histogram_bounds_t orderd_buckets_seconds = {seconds_le, sizeof(seconds_le) / sizeof(seconds_le[0]),
                                                          1e-9};

static const uint64_t count_le[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
const orderd_histogram_bounds_t orderd_buckets_count = {count_le, sizeof(count_le) / sizeof(count_le[0]), 1.0};

void orderd_histogram_init(orderd_histogram_t *h, const orderd_histogram_bounds_t *bounds)
{
    h->bounds = bounds;
}

void orderd_histogram_observe(orderd_histogram_t *h, uint64_t v)
{
    unsigned i = 0;
    while (i < h->bounds->n && v > h->bounds->le[i])
        ++i;
    orderd_counter_add(&h->counts[i], 1);
    orderd_counter_add(&h->sum, v);
}

void orderd_histogram_add_to(const orderd_histogram_t *h, orderd_histogram_sum_t *acc)
{
    if (acc->bounds == NULL)
        acc->bounds = h->bounds;
    for (unsigned i = 0; i <= h->bounds->n; ++i)
        acc->counts[i] += orderd_counter_get(&h->counts[i]);
    acc->sum += orderd_counter_get(&h->sum);
}

static void append(orderd_metrics_text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void append(orderd_metrics_text_t *t, const char *fmt, ...)
{
    for (;;) {
        if (t->failed)
            return;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf == NULL ? NULL : t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if (t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t ncap = t->cap == 0 ? 4096 : t->cap * 2;
        while (ncap <= t->len + (size_t)n)
            ncap *= 2;
        char *b = realloc(t->buf, ncap);
        if (b == NULL) {
            t->failed = 1;
            return;
        }
        t->buf = b;
        t->cap = ncap;
    }
}

void orderd_metrics_family(orderd_metrics_text_t *t, const char *name, const char *type, const char *help)
{
    append(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static const char *comma(const char *labels)
{
    return labels != NULL && labels[0] != '\0' ? "," : "";
}

void orderd_metrics_sample(orderd_metrics_text_t *t, const char *name, const char *labels, double value)
{
    if (labels == NULL || labels[0] == '\0')
        append(t, "%s %.15g\n", name, value);
    else
        append(t, "%s{%s} %.15g\n", name, labels, value);
}

void orderd_metrics_histogram(orderd_metrics_text_t *t, const char *name, const char *labels,
                              const orderd_histogram_sum_t *h)
{
    const char *l = labels != NULL ? labels : "";
    uint64_t cumulative = 0;
    for (unsigned i = 0; i < h->bounds->n; ++i) {
        cumulative += h->counts[i];
        append(t, "%s_bucket{%s%sle=\"%.9g\"} %llu\n", name, l, comma(l), (double)h->bounds->le[i] * h->bounds->scale,
               (unsigned long long)cumulative);
    }
    cumulative += h->counts[h->bounds->n];
    append(t, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, l, comma(l), (unsigned long long)cumulative);
    if (l[0] == '\0') {
        append(t, "%s_sum %.15g\n%s_count %llu\n", name, (double)h->sum * h->bounds->scale, name,
               (unsigned long long)cumulative);
    } else {
        append(t, "%s_sum{%s} %.15g\n%s_count{%s} %llu\n", name, l, (double)h->sum * h->bounds->scale, name, l,
               (unsigned long long)cumulative);
    }
}

void orderd_metrics_text_free(orderd_metrics_text_t *t)
{
    free(t->buf);
    *t = (orderd_metrics_text_t){0};
}
