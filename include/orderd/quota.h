#ifndef ORDERD_QUOTA_H
#define ORDERD_QUOTA_H

/*
 * What the store's limits are made of, below the store: the per-user token
 * bucket (--rate-limit-per-user, --rate-limit-burst), its text form, and the
 * probe that says how much heap the process holds (--memory-limit). Defined
 * in src/quota.c. The store keeps one bucket in each user's record and calls
 * these under the user's shard lock (src/store_write.c); nothing here locks.
 *
 * The bucket is integer arithmetic on whole milliseconds, with no division
 * on the refill: a rate of `per` tokens every `period_ms` milliseconds adds
 * `per` credit units each millisecond, and a token costs `period_ms` units.
 * So 10/s is exactly 10 tokens in every 1000 ms, 7/m exactly 7 in every
 * 60000 ms, and no rounding accumulates however long a bucket lives.
 */

#include <stddef.h>
#include <stdint.h>

/** Largest N of a rate, and largest burst. */
#define ORDERD_RATE_MAX 1000000u

/** A rate: `per` tokens every `period_ms` milliseconds, at most `burst` held. per == 0: no limit. */
typedef struct orderd_rate_limit {
    uint32_t per;       /* 1 to ORDERD_RATE_MAX; 0: off */
    uint32_t period_ms; /* 1000 (/s), 60000 (/m) or 3600000 (/h) */
    uint32_t burst;     /* 1 to ORDERD_RATE_MAX: tokens a full bucket holds */
} orderd_rate_limit_t;

/**
 * One bucket. All zero is a full bucket, so a user's record, zeroed when it
 * is made (and made again by replay after a restart), starts full.
 */
typedef struct orderd_rate {
    int64_t at_ms; /* when `debt` was last brought up to date (the caller's clock) */
    int64_t debt;  /* credit units missing from a full bucket: 0 to burst * period_ms */
} orderd_rate_t;

/**
 * Parses "N/s", "N/m" or "N/h" (N from 1 to ORDERD_RATE_MAX) into
 * lim->per and lim->period_ms, and sets lim->burst to N; "off" sets per to 0.
 * Returns 0, or -1 on anything else (lim untouched).
 */
int orderd_rate_parse(const char *s, orderd_rate_limit_t *lim);

/** Writes "N/s" (m, h), or "off", into out (cut at len); returns out. */
const char *orderd_rate_format(const orderd_rate_limit_t *lim, char *out, size_t len);

/**
 * Takes one token from `b` at `now_ms` (any clock that never goes back; a
 * `now_ms` before b->at_ms counts as b->at_ms). Returns 1 when there was
 * one, else 0 with *wait_ms (may be NULL) set to the milliseconds until
 * there is, at least 1; a refusal changes nothing but bringing `b` up to
 * date. With lim->per == 0 it always returns 1.
 */
int orderd_rate_take(orderd_rate_t *b, const orderd_rate_limit_t *lim, int64_t now_ms, int64_t *wait_ms);

/** Milliseconds from `now_ms` until `b` holds a token (0: it does now). Changes nothing. */
int64_t orderd_rate_wait_ms(const orderd_rate_t *b, const orderd_rate_limit_t *lim, int64_t now_ms);

/** A wait in milliseconds as Retry-After's whole seconds (RFC 9110 10.2.3): rounded up, at least 1. */
int64_t orderd_retry_after_seconds(int64_t wait_ms);

/** Milliseconds on CLOCK_MONOTONIC: the buckets' clock in the server. */
int64_t orderd_quota_clock_ms(void);

/**
 * Heap bytes the process holds, as --memory-limit measures them: jemalloc's
 * "stats.allocated" after an "epoch" refresh where jemalloc is the
 * allocator (the server), the sanitizer's count of allocated bytes in a
 * sanitizer build, else glibc's mallinfo2 (in use, mmapped included).
 * The jemalloc refresh merges every arena's statistics: about 35 us on the
 * 2-core development machine, so the store samples it at most every
 * ORDERD_STORE_MEMORY_SAMPLE_MS, never per request. Thread-safe; cannot
 * fail (0 when nothing can say).
 */
uint64_t orderd_quota_memory_in_use(void);

#endif
