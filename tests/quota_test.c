/* Unit tests for orderd/quota.h (the token bucket, rates as text, the heap
 * probe) and for the store's limits built on it (orderd_store_set_limits):
 * the rate per user, orders per user, orders in all, memory; a refusal
 * journals nothing and keeps no Idempotency-Key. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "orderd/quota.h"
#include "orderd/store.h"

/* ---- the bucket ---- */

static void test_rate_parse_and_format(void **state)
{
    static const struct {
        const char *text;
        uint32_t per, period_ms;
    } good[] = {{"10/s", 10, 1000}, {"7/m", 7, 60000}, {"1/h", 1, 3600000}, {"1000000/s", 1000000, 1000}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        orderd_rate_limit_t lim = {0};
        char back[32];
        assert_int_equal(orderd_rate_parse(good[i].text, &lim), 0);
        assert_int_equal(lim.per, good[i].per);
        assert_int_equal(lim.period_ms, good[i].period_ms);
        assert_int_equal(lim.burst, good[i].per); /* a burst of one period's worth */
        assert_string_equal(orderd_rate_format(&lim, back, sizeof(back)), good[i].text);
    }
    static const char *const bad[] = {"",     "0/s",   "10",   "10/",   "10/x", "10/ss", "1000001/s",
                                      "-1/s", " 1/s",  "1/s ", "1.5/s", "/s",   "10/S",  "99999999999999999999/s",
                                      "on",   "off/s", "1/d",  "+1/s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        orderd_rate_limit_t lim = {5, 1000, 5};
        if (orderd_rate_parse(bad[i], &lim) == 0)
            fail_msg("'%s' parsed as a rate", bad[i]);
        assert_int_equal(lim.per, 5); /* untouched */
    }
    orderd_rate_limit_t off = {5, 1000, 5};
    char text[32];
    assert_int_equal(orderd_rate_parse("off", &off), 0);
    assert_int_equal(off.per, 0);
    assert_string_equal(orderd_rate_format(&off, text, sizeof(text)), "off");
}

static void test_bucket_burst_then_rate(void **state)
{
    orderd_rate_limit_t lim = {10, 1000, 5};
    orderd_rate_t b = {0};
    int64_t wait = -1;
    /* a zeroed bucket is full: the burst at once, then one token every 100 ms */
    for (int i = 0; i < 5; i++)
        assert_int_equal(orderd_rate_take(&b, &lim, 1000, &wait), 1);
    assert_int_equal(orderd_rate_take(&b, &lim, 1000, &wait), 0);
    assert_int_equal(wait, 100);
    assert_int_equal(orderd_rate_wait_ms(&b, &lim, 1000), 100);
    assert_int_equal(orderd_rate_take(&b, &lim, 1099, &wait), 0);
    assert_int_equal(wait, 1);
    assert_int_equal(orderd_rate_wait_ms(&b, &lim, 1100), 0);
    assert_int_equal(orderd_rate_take(&b, &lim, 1100, &wait), 1);
    assert_int_equal(orderd_rate_take(&b, &lim, 1100, &wait), 0);
    /* a refusal takes nothing: the next token still comes 100 ms after the last */
    assert_int_equal(orderd_rate_take(&b, &lim, 1150, &wait), 0);
    assert_int_equal(wait, 50);
    assert_int_equal(orderd_rate_take(&b, &lim, 1200, NULL), 1);
    /* idle for long: full again, never more than the burst */
    int taken = 0;
    while (orderd_rate_take(&b, &lim, 1000000, NULL))
        taken++;
    assert_int_equal(taken, 5);
    /* a time before the last one counts as the last one */
    assert_int_equal(orderd_rate_take(&b, &lim, 500, &wait), 0);
    assert_int_equal(wait, 100);
    assert_int_equal(b.at_ms, 1000000);
}

/* Tries a take every millisecond for `ms` milliseconds; returns how many were allowed. */
static long run_every_ms(const orderd_rate_limit_t *lim, int64_t start, int64_t ms)
{
    orderd_rate_t b = {0};
    long allowed = 0;
    for (int64_t t = start; t < start + ms; t++)
        allowed += orderd_rate_take(&b, lim, t, NULL);
    return allowed;
}

static void test_bucket_does_not_drift(void **state)
{
    /* 3/s: a token every 333.33 ms, which no whole number of milliseconds or
     * nanoseconds between tokens states exactly; over 1000 s exactly 3000
     * tokens come on top of the burst */
    orderd_rate_limit_t three = {3, 1000, 4};
    assert_int_equal(run_every_ms(&three, 1, 1000 * 1000), 4 + 3 * 1000 - 1);
    /* 7/m over an hour: 7 * 60 after the burst */
    orderd_rate_limit_t seven = {7, 60000, 7};
    assert_int_equal(run_every_ms(&seven, 1, 3600 * 1000), 7 + 7 * 60 - 1);
    /* the rate's own numbers at the top of the range */
    orderd_rate_limit_t big = {ORDERD_RATE_MAX, 1000, ORDERD_RATE_MAX};
    orderd_rate_t b = {0};
    long n = 0;
    while (orderd_rate_take(&b, &big, 5, NULL))
        n++;
    assert_int_equal(n, ORDERD_RATE_MAX);
    assert_int_equal(orderd_rate_wait_ms(&b, &big, 5), 1);
    /* a clock far from zero does not overflow the refill */
    orderd_rate_limit_t hourly = {1, 3600000, ORDERD_RATE_MAX};
    orderd_rate_t h = {0};
    assert_int_equal(orderd_rate_take(&h, &hourly, INT64_MAX / 4, NULL), 1);
    assert_int_equal(orderd_rate_take(&h, &hourly, INT64_MAX / 2, NULL), 1);
    assert_int_equal(orderd_rate_wait_ms(&h, &hourly, INT64_MAX / 2), 0);
}

static void test_bucket_off_and_retry_after(void **state)
{
    orderd_rate_limit_t off = {0, 0, 0};
    orderd_rate_t b = {0};
    for (int i = 0; i < 1000; i++)
        assert_int_equal(orderd_rate_take(&b, &off, 1, NULL), 1);
    assert_int_equal(orderd_rate_wait_ms(&b, &off, 1), 0);
    /* RFC 9110: whole seconds, rounded up, and never 0 */
    static const int64_t ms[] = {0, 1, 999, 1000, 1001, 3600000};
    static const int64_t s[] = {1, 1, 1, 1, 2, 3600};
    for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
        assert_int_equal(orderd_retry_after_seconds(ms[i]), s[i]);
    int64_t t0 = orderd_quota_clock_ms();
    assert_true(orderd_quota_clock_ms() >= t0);
}

static void test_memory_probe_sees_the_heap(void **state)
{
    uint64_t before = orderd_quota_memory_in_use();
    size_t big = 16u << 20;
    char *p = malloc(big);
    assert_non_null(p);
    memset(p, 1, big);
    uint64_t during = orderd_quota_memory_in_use();
    free(p);
    assert_true(before > 0);
    assert_true(during >= before + big / 2);
}

/* ---- the store's limits ---- */

static int64_t fake_now;
static int64_t fake_clock(void) { return fake_now; }

static uint64_t fake_memory;
static unsigned probe_calls;
static uint64_t fake_probe(void)
{
    probe_calls++;
    return fake_memory;
}

/* Every change the store hands the journal, counted. */
typedef struct count_journal {
    unsigned appended, barriers, refuse_next;
} count_journal_t;

static int count_append(void *ctx, unsigned shard, const orderd_change_t *ev, void *waiter)
{
    count_journal_t *j = ctx;
    if (j->refuse_next) {
        j->refuse_next = 0;
        return -1;
    }
    j->appended++;
    return 0;
}

static int count_barrier(void *ctx, unsigned shard, void *waiter)
{
    ((count_journal_t *)ctx)->barriers++;
    return 0;
}

typedef struct fixture {
    orderd_store_t *st;
    count_journal_t j;
    orderd_store_journal_t hooks;
} fixture_t;

static fixture_t *fixture_new(unsigned shards, const orderd_store_limits_t *lim)
{
    fixture_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_non_null(f->st = orderd_store_new(shards));
    f->hooks = (orderd_store_journal_t){count_append, count_barrier, &f->j};
    orderd_store_set_journal(f->st, &f->hooks);
    orderd_store_limits_t l = *lim;
    l.clock_ms = fake_clock;
    l.memory_in_use = fake_probe;
    orderd_store_set_limits(f->st, &l);
    return f;
}

static void fixture_free(fixture_t *f)
{
    orderd_store_free(f->st);
    free(f);
}

/* orderd_store_create of a fresh order of `user`, with key `key` (NULL: none); *id gets its id on OK. */
static int create(fixture_t *f, const char *user, const orderd_idem_key_t *key, uint64_t *id)
{
    orderd_order_t *o = make_order(user, 1767225600000LL, 1), *out = NULL;
    int status = 0;
    test_arena_t ar = {0};
    orderd_alloc_t a = test_arena_allocator(&ar);
    int ret = orderd_store_create(f->st, o, key, &a, &out, &status, NULL);
    if (ret == ORDERD_STORE_OK && key != NULL)
        assert_int_equal(status, 201);
    if (id != NULL)
        *id = o->id;
    test_arena_reset(&ar);
    free(o);
    return ret;
}

/* orderd_store_set_status by `user` (NULL: the operator); *status_out gets the order's status when there is one. */
static int set_status(fixture_t *f, const char *user, uint64_t id, orderd_status_t to, const orderd_idem_key_t *key)
{
    test_arena_t ar = {0};
    orderd_alloc_t a = test_arena_allocator(&ar);
    orderd_order_t *out = NULL;
    orderd_str_t who = user != NULL ? S(user) : OPERATOR;
    int ret = orderd_store_set_status(f->st, who, id, to, 1767225700000LL, NULL, key, &a, &out, NULL);
    test_arena_reset(&ar);
    return ret;
}

static orderd_status_t status_of(fixture_t *f, const char *user, uint64_t id)
{
    test_arena_t ar = {0};
    orderd_alloc_t a = test_arena_allocator(&ar);
    orderd_order_t *o = NULL;
    assert_int_equal(orderd_store_get(f->st, S(user), id, &a, &o), ORDERD_STORE_OK);
    orderd_status_t s = (orderd_status_t)o->status;
    test_arena_reset(&ar);
    return s;
}

static orderd_idem_key_t key_of(const char *k, int fp)
{
    orderd_idem_key_t key = {S(k), {0}};
    memset(key.fingerprint, fp, sizeof(key.fingerprint));
    return key;
}

static void test_store_rate_limit(void **state)
{
    fake_now = 5000;
    fixture_t *f = fixture_new(4, &(orderd_store_limits_t){.rate = {2, 1000, 2}});
    uint64_t a1, a2, b1, c1;
    /* a new user's first create takes a token of the record it makes */
    assert_int_equal(create(f, "ann", NULL, &a1), ORDERD_STORE_OK);
    assert_int_equal(create(f, "ann", NULL, &a2), ORDERD_STORE_OK);
    unsigned journaled = f->j.appended;
    assert_int_equal(create(f, "ann", NULL, NULL), ORDERD_STORE_ERATELIMIT);
    assert_int_equal(f->j.appended, journaled); /* nothing journaled */
    assert_int_equal(orderd_store_count(f->st), 2);
    assert_int_equal(orderd_store_rate_wait_ms(f->st, S("ann")), 500);
    /* a cancel takes a token too, and a refused one changes nothing */
    assert_int_equal(set_status(f, "ann", a1, ORDERD_STATUS_CANCELLED, NULL), ORDERD_STORE_ERATELIMIT);
    assert_int_equal(status_of(f, "ann", a1), ORDERD_STATUS_PENDING);
    /* others are not held back: another user, the operator */
    assert_int_equal(create(f, "bob", NULL, &b1), ORDERD_STORE_OK);
    assert_int_equal(set_status(f, NULL, a2, ORDERD_STATUS_PROCESSING, NULL), ORDERD_STORE_OK);
    /* a create with a key refused by the rate keeps no key: once a token is
     * there, the same key makes the order (OK, not REPLAYED) */
    orderd_idem_key_t k = key_of("retry-me", 7);
    size_t keys = orderd_store_idem_count(f->st);
    assert_int_equal(create(f, "ann", &k, NULL), ORDERD_STORE_ERATELIMIT);
    assert_int_equal(orderd_store_idem_count(f->st), keys);
    fake_now += orderd_store_rate_wait_ms(f->st, S("ann"));
    assert_int_equal(create(f, "ann", &k, &c1), ORDERD_STORE_OK);
    assert_int_equal(orderd_store_idem_count(f->st), keys + 1);
    /* the replay of that key takes a token as well */
    fake_now += 500;
    assert_int_equal(create(f, "ann", &k, NULL), ORDERD_STORE_REPLAYED);
    assert_int_equal(create(f, "ann", &k, NULL), ORDERD_STORE_ERATELIMIT);
    /* after a quiet second the bucket is full: two cancels */
    fake_now += 1000;
    assert_int_equal(set_status(f, "ann", a1, ORDERD_STATUS_CANCELLED, NULL), ORDERD_STORE_OK);
    assert_int_equal(set_status(f, "ann", c1, ORDERD_STATUS_CANCELLED, NULL), ORDERD_STORE_OK);
    assert_int_equal(set_status(f, "ann", c1, ORDERD_STATUS_CANCELLED, NULL), ORDERD_STORE_ERATELIMIT);
    /* a cancel of no order of hers is 404 and takes nothing */
    assert_int_equal(set_status(f, "ann", b1, ORDERD_STATUS_CANCELLED, NULL), ORDERD_STORE_ENOTFOUND);
    orderd_store_refusals_t r;
    orderd_store_refusals(f->st, &r);
    assert_int_equal(r.rate, 5);
    assert_int_equal(r.orders_per_user + r.orders + r.memory, 0);
    assert_int_equal(orderd_store_rate_wait_ms(f->st, S("nobody")), 0);
    fixture_free(f);
}

static void test_store_orders_per_user(void **state)
{
    fake_now = 1;
    fixture_t *f = fixture_new(4, &(orderd_store_limits_t){.max_orders_per_user = 3});
    orderd_idem_key_t k1 = key_of("k1", 1), k2 = key_of("k2", 2);
    uint64_t id[3];
    assert_int_equal(create(f, "dan", &k1, &id[0]), ORDERD_STORE_OK);
    assert_int_equal(create(f, "dan", NULL, &id[1]), ORDERD_STORE_OK);
    assert_int_equal(create(f, "dan", NULL, &id[2]), ORDERD_STORE_OK);
    unsigned journaled = f->j.appended;
    size_t keys = orderd_store_idem_count(f->st);
    assert_int_equal(create(f, "dan", &k2, NULL), ORDERD_STORE_EUSERLIMIT);
    assert_int_equal(f->j.appended, journaled);
    assert_int_equal(orderd_store_idem_count(f->st), keys);
    /* every status counts: a cancelled order is still held */
    assert_int_equal(set_status(f, "dan", id[0], ORDERD_STATUS_CANCELLED, NULL), ORDERD_STORE_OK);
    assert_int_equal(create(f, "dan", NULL, NULL), ORDERD_STORE_EUSERLIMIT);
    /* a key already answered is replayed at the limit: it adds nothing */
    assert_int_equal(create(f, "dan", &k1, NULL), ORDERD_STORE_REPLAYED);
    /* another user has room of their own */
    assert_int_equal(create(f, "eve", &k2, NULL), ORDERD_STORE_OK);
    assert_int_equal(orderd_store_count(f->st), 4);
    orderd_store_refusals_t r;
    orderd_store_refusals(f->st, &r);
    assert_int_equal(r.orders_per_user, 2);
    fixture_free(f);
}

/* Records every change the store journals, to apply them to another table. */
typedef struct keep_journal {
    orderd_order_t *created[16];
    size_t n;
} keep_journal_t;

static int keep_append(void *ctx, unsigned shard, const orderd_change_t *ev, void *waiter)
{
    keep_journal_t *j = ctx;
    if (ev->type == ORDERD_CHANGE_CREATED && j->n < 16) {
        orderd_order_t *c = aligned_alloc(8, (ev->u.created.order->size + 7) & ~(size_t)7);
        memcpy(c, ev->u.created.order, ev->u.created.order->size);
        j->created[j->n++] = c;
    }
    return 0;
}

static void test_store_max_orders(void **state)
{
    fake_now = 1;
    fixture_t *f = fixture_new(64, &(orderd_store_limits_t){.max_orders = 5});
    keep_journal_t kept = {{0}, 0};
    orderd_store_journal_t keep = {keep_append, count_barrier, &kept};
    orderd_store_set_journal(f->st, &keep);
    char user[32];
    for (int i = 0; i < 5; i++) {
        snprintf(user, sizeof(user), "user-%d", i);
        assert_int_equal(create(f, user, NULL, NULL), ORDERD_STORE_OK);
    }
    assert_int_equal(create(f, "user-0", NULL, NULL), ORDERD_STORE_EORDERLIMIT);
    assert_int_equal(create(f, "someone-new", NULL, NULL), ORDERD_STORE_EORDERLIMIT);
    assert_int_equal(kept.n, 5);
    /* an order undone (its write failed) gives its place back */
    orderd_change_t undo = {.type = ORDERD_CHANGE_CREATED, .u.created.order = kept.created[4]};
    assert_int_equal(orderd_store_undo(f->st, &undo), ORDERD_STORE_OK);
    assert_int_equal(create(f, "someone-new", NULL, NULL), ORDERD_STORE_OK);
    assert_int_equal(create(f, "someone-new", NULL, NULL), ORDERD_STORE_EORDERLIMIT);
    /* a create the journal refuses gives its place back too */
    undo.u.created.order = kept.created[3];
    assert_int_equal(orderd_store_undo(f->st, &undo), ORDERD_STORE_OK);
    orderd_store_set_journal(f->st, &f->hooks);
    f->j.refuse_next = 1;
    assert_int_equal(create(f, "user-1", NULL, NULL), ORDERD_STORE_EUNAVAILABLE);
    assert_int_equal(create(f, "user-1", NULL, NULL), ORDERD_STORE_OK);
    assert_int_equal(create(f, "user-1", NULL, NULL), ORDERD_STORE_EORDERLIMIT);
    assert_int_equal(orderd_store_count(f->st), 5);
    orderd_store_refusals_t r;
    orderd_store_refusals(f->st, &r);
    assert_int_equal(r.orders, 4);
    fixture_free(f);

    /* replay counts what it loads: a table replayed with five orders is full */
    fixture_t *g = fixture_new(64, &(orderd_store_limits_t){.max_orders = 5});
    for (size_t i = 0; i < 5; i++) {
        orderd_change_t ev = {.type = ORDERD_CHANGE_CREATED, .u.created.order = kept.created[i]};
        assert_int_equal(i < 3 ? orderd_store_replay(g->st, &ev) : orderd_store_apply(g->st, &ev), ORDERD_STORE_OK);
    }
    orderd_change_t again = {.type = ORDERD_CHANGE_CREATED, .u.created.order = kept.created[0]};
    assert_int_equal(orderd_store_replay(g->st, &again), ORDERD_STORE_OK); /* already there: not counted twice */
    assert_int_equal(create(g, "user-9", NULL, NULL), ORDERD_STORE_EORDERLIMIT);
    for (size_t i = 0; i < kept.n; i++)
        free(kept.created[i]);
    fixture_free(g);
}

/* Threads creating at once in many shards never pass --max-orders together. */
#define RACE_THREADS 8
#define RACE_CREATES 200
#define RACE_MAX 700

static void *race_main(void *arg)
{
    fixture_t *f = ((void **)arg)[0];
    long t = (long)((void **)arg)[1], ok = 0;
    char user[32];
    for (int i = 0; i < RACE_CREATES; i++) {
        snprintf(user, sizeof(user), "racer-%ld-%d", t, i % 37);
        orderd_order_t *o = make_order(user, 1767225600000LL, (unsigned)i);
        int ret = orderd_store_create(f->st, o, NULL, NULL, NULL, NULL, NULL);
        free(o);
        if (ret == ORDERD_STORE_OK)
            ok++;
        else if (ret != ORDERD_STORE_EORDERLIMIT)
            return (void *)-1L;
    }
    return (void *)ok;
}

static void test_store_max_orders_concurrent(void **state)
{
    fixture_t *f = fixture_new(16, &(orderd_store_limits_t){.max_orders = RACE_MAX});
    orderd_store_set_journal(f->st, NULL); /* the counting journal is for one thread */
    pthread_t th[RACE_THREADS];
    void *args[RACE_THREADS][2];
    for (long t = 0; t < RACE_THREADS; t++) {
        args[t][0] = f;
        args[t][1] = (void *)t;
        assert_int_equal(pthread_create(&th[t], NULL, race_main, args[t]), 0);
    }
    long total = 0;
    for (int t = 0; t < RACE_THREADS; t++) {
        void *ok;
        assert_int_equal(pthread_join(th[t], &ok), 0);
        assert_true((long)ok >= 0);
        total += (long)ok;
    }
    assert_int_equal(total, RACE_MAX);
    assert_int_equal(orderd_store_count(f->st), RACE_MAX);
    orderd_store_refusals_t r;
    orderd_store_refusals(f->st, &r);
    assert_int_equal(r.orders, RACE_THREADS * RACE_CREATES - RACE_MAX);
    fixture_free(f);
}

static void test_store_memory_limit(void **state)
{
    fake_now = 100;
    fake_memory = 1000;
    probe_calls = 0;
    fixture_t *f = fixture_new(4, &(orderd_store_limits_t){.memory_bytes = 2000});
    assert_int_equal(probe_calls, 1); /* asked once when the limit is set */
    uint64_t id1, id2;
    assert_int_equal(create(f, "fay", NULL, &id1), ORDERD_STORE_OK);
    assert_int_equal(create(f, "fay", NULL, &id2), ORDERD_STORE_OK);
    assert_int_equal(set_status(f, "fay", id2, ORDERD_STATUS_CANCELLED, NULL), ORDERD_STORE_OK);
    fake_memory = 2000; /* at the limit: past it */
    unsigned journaled = f->j.appended;
    size_t keys = orderd_store_idem_count(f->st);
    orderd_idem_key_t k = key_of("cancel-key", 3);
    assert_int_equal(create(f, "fay", NULL, NULL), ORDERD_STORE_EMEMLIMIT);
    assert_int_equal(create(f, "newcomer", NULL, NULL), ORDERD_STORE_EMEMLIMIT);
    assert_int_equal(set_status(f, "fay", id1, ORDERD_STATUS_CANCELLED, NULL), ORDERD_STORE_EMEMLIMIT);
    assert_int_equal(set_status(f, "fay", id2, ORDERD_STATUS_CANCELLED, &k), ORDERD_STORE_EMEMLIMIT);
    assert_int_equal(f->j.appended, journaled);
    assert_int_equal(orderd_store_idem_count(f->st), keys);
    assert_int_equal(status_of(f, "fay", id1), ORDERD_STATUS_PENDING);
    /* a repeat cancel stores nothing, the operator passes, reads work */
    assert_int_equal(set_status(f, "fay", id2, ORDERD_STATUS_CANCELLED, NULL), ORDERD_STORE_OK);
    assert_int_equal(set_status(f, NULL, id1, ORDERD_STATUS_PROCESSING, NULL), ORDERD_STORE_OK);
    assert_int_equal(status_of(f, "fay", id1), ORDERD_STATUS_PROCESSING);
    assert_int_equal(orderd_store_count(f->st), 2);
    orderd_store_refusals_t r;
    orderd_store_refusals(f->st, &r);
    assert_int_equal(r.memory, 4);
    fixture_free(f);

    /* the probe is asked at most once per memory_sample_ms; its answer is used meanwhile */
    fake_memory = 1000;
    probe_calls = 0;
    f = fixture_new(4, &(orderd_store_limits_t){.memory_bytes = 2000, .memory_sample_ms = 10});
    for (int i = 0; i < 5; i++)
        assert_int_equal(create(f, "gus", NULL, NULL), ORDERD_STORE_OK);
    assert_int_equal(probe_calls, 1);
    fake_memory = 5000;
    fake_now += 9;
    assert_int_equal(create(f, "gus", NULL, NULL), ORDERD_STORE_OK); /* the sample is 9 ms old */
    fake_now += 1;
    assert_int_equal(create(f, "gus", NULL, NULL), ORDERD_STORE_EMEMLIMIT);
    assert_int_equal(create(f, "gus", NULL, NULL), ORDERD_STORE_EMEMLIMIT);
    assert_int_equal(probe_calls, 2);
    assert_int_equal(orderd_store_memory_in_use(f->st), 5000);
    fixture_free(f);
}

static void test_store_without_limits(void **state)
{
    fixture_t *f = fixture_new(4, &(orderd_store_limits_t){0});
    probe_calls = 0;
    for (int i = 0; i < 50; i++)
        assert_int_equal(create(f, "hal", NULL, NULL), ORDERD_STORE_OK);
    assert_int_equal(probe_calls, 0); /* no memory limit: the probe is never asked */
    assert_int_equal(orderd_store_memory_in_use(f->st), 0);
    orderd_store_refusals_t r;
    orderd_store_refusals(f->st, &r);
    assert_int_equal(r.rate + r.orders_per_user + r.orders + r.memory, 0);
    assert_true(orderd_store_err_is_limit(ORDERD_STORE_ERATELIMIT) &&
                orderd_store_err_is_limit(ORDERD_STORE_EMEMLIMIT));
    assert_false(orderd_store_err_is_limit(ORDERD_STORE_EKEYMISMATCH) || orderd_store_err_is_limit(ORDERD_STORE_OK));
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_parse_and_format),       cmocka_unit_test(test_bucket_burst_then_rate),
        cmocka_unit_test(test_bucket_does_not_drift),       cmocka_unit_test(test_bucket_off_and_retry_after),
        cmocka_unit_test(test_memory_probe_sees_the_heap),  cmocka_unit_test(test_store_rate_limit),
        cmocka_unit_test(test_store_orders_per_user),       cmocka_unit_test(test_store_max_orders),
        cmocka_unit_test(test_store_max_orders_concurrent), cmocka_unit_test(test_store_memory_limit),
        cmocka_unit_test(test_store_without_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
