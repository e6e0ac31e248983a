/*
 * The parts of the store's limits that know nothing of the store: the
 * per-user token bucket, in whole milliseconds and integer credit units
 * (orderd/quota.h says why no rounding accumulates), and the heap probe
 * behind --memory-limit.
 */
#include "orderd/quota.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int orderd_rate_parse(const char *s, orderd_rate_limit_t *lim)
{
    if (strcmp(s, "off") == 0) {
        *lim = (orderd_rate_limit_t){0, 0, 0};
        return 0;
    }
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long n = strtoul(s, &end, 10);
    if (errno != 0 || n == 0 || n > ORDERD_RATE_MAX || end[0] != '/' || end[1] == '\0' || end[2] != '\0')
        return -1;
    uint32_t period;
    switch (end[1]) {
    case 's':
        period = 1000;
        break;
    case 'm':
        period = 60 * 1000;
        break;
    case 'h':
        period = 3600 * 1000;
        break;
    default:
        return -1;
    }
    *lim = (orderd_rate_limit_t){(uint32_t)n, period, (uint32_t)n};
    return 0;
}

const char *orderd_rate_format(const orderd_rate_limit_t *lim, char *out, size_t len)
{
    if (lim->per == 0)
        snprintf(out, len, "off");
    else
        snprintf(out, len, "%u/%c", lim->per, lim->period_ms == 1000 ? 's' : lim->period_ms == 60 * 1000 ? 'm' : 'h');
    return out;
}

/* The bucket as it stands at `now_ms`: the debt paid down by `per` units a
 * millisecond since b->at_ms, never below zero. The product is only formed
 * when it is smaller than the debt, so it cannot overflow. */
static int64_t debt_at(const orderd_rate_t *b, const orderd_rate_limit_t *lim, int64_t now_ms)
{
    int64_t elapsed = now_ms - b->at_ms;
    if (elapsed <= 0)
        return b->debt;
    if (elapsed >= (b->debt + lim->per - 1) / lim->per)
        return 0;
    return b->debt - elapsed * (int64_t)lim->per;
}

/* Milliseconds until `debt` leaves room for one token (a token costs
 * period_ms units, the bucket holds burst * period_ms). */
static int64_t wait_for(int64_t debt, const orderd_rate_limit_t *lim)
{
    int64_t over = debt + lim->period_ms - (int64_t)lim->burst * lim->period_ms;
    return over <= 0 ? 0 : (over + lim->per - 1) / lim->per;
}

int orderd_rate_take(orderd_rate_t *b, const orderd_rate_limit_t *lim, int64_t now_ms, int64_t *wait_ms)
{
    if (lim->per == 0)
        return 1;
    b->debt = debt_at(b, lim, now_ms);
    if (now_ms > b->at_ms)
        b->at_ms = now_ms;
    int64_t wait = wait_for(b->debt, lim);
    if (wait > 0) {
        if (wait_ms != NULL)
            *wait_ms = wait;
        return 0;
    }
    b->debt += lim->period_ms;
    return 1;
}

int64_t orderd_rate_wait_ms(const orderd_rate_t *b, const orderd_rate_limit_t *lim, int64_t now_ms)
{
    return lim->per == 0 ? 0 : wait_for(debt_at(b, lim, now_ms), lim);
}

int64_t orderd_retry_after_seconds(int64_t wait_ms)
{
    int64_t s = (wait_ms + 999) / 1000;
    return s < 1 ? 1 : s;
}

int64_t orderd_quota_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- how much heap is in use --- */

/* Weak: the server links jemalloc, the sanitizer builds their runtime, the
 * unit tests neither; whichever is there answers. */
extern int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen) __attribute__((weak));
extern size_t __sanitizer_get_current_allocated_bytes(void) __attribute__((weak));

uint64_t orderd_quota_memory_in_use(void)
{
    if (mallctl != NULL) {
        /* jemalloc's statistics are a snapshot taken at the last epoch */
        uint64_t epoch = 1;
        size_t allocated = 0, len = sizeof(epoch);
        if (mallctl("epoch", &epoch, &len, &epoch, sizeof(epoch)) == 0) {
            len = sizeof(allocated);
            if (mallctl("stats.allocated", &allocated, &len, NULL, 0) == 0)
                return allocated;
        }
    }
    if (__sanitizer_get_current_allocated_bytes != NULL)
        return __sanitizer_get_current_allocated_bytes();
    struct mallinfo2 mi = mallinfo2();
    return (uint64_t)mi.uordblks + mi.hblkhd;
}
