/*
 * The event feed (feed.h) over the real journal writer: only durable
 * records, in order, each once across pages, restarts and snapshots; the
 * order after every change; retention, pins and 410 Gone; watchers woken
 * once per arming.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/feed.h"
#include "orderd/journal.h"
#include "orderd/store.h"
#include "orderd/wal.h"
#include "journal_fixture.h"

/* The feed the writer reports to, and the writer. */
typedef struct rig {
    char dir[64];
    orderd_feed_t *feed;
    writer_t w;
} rig_t;

static void on_durable(void *ctx, uint64_t seq)
{
    orderd_feed_durable(ctx, seq);
}

static uint64_t on_pin(void *ctx)
{
    return orderd_feed_lowest_pin(ctx);
}

/* Replays rig->dir (made if empty) and opens a writer reporting to a new feed. */
static void rig_open(rig_t *r, uint64_t snapshot_bytes, orderd_feed_retention_t retention, orderd_fsync_mode_t mode)
{
    orderd_replay_report_t rep;
    orderd_store_t *st = replay_ok(r->dir, &rep);
    r->feed = orderd_feed_new(r->dir, 3, 0);
    assert_non_null(r->feed);
    memset(&r->w, 0, sizeof(r->w));
    r->w.store = st;
    r->w.now = T0_MS;
    orderd_wal_config_t cfg = {.dir = r->dir,
                               .fsync = mode,
                               .snapshot_bytes = snapshot_bytes,
                               .notify = count_notify,
                               .notify_ctx = &r->w,
                               .durable = on_durable,
                               .durable_ctx = r->feed,
                               .feed_retention = retention,
                               .feed_pin = on_pin,
                               .feed_pin_ctx = r->feed};
    char err[256] = "";
    r->w.wal = orderd_wal_open(&cfg, st, &rep, err, sizeof(err));
    if (r->w.wal == NULL)
        fail_msg("orderd_wal_open: %s", err);
    orderd_feed_durable(r->feed, rep.last_seq); /* as the server does once the writer is open */
}

static void rig_close(rig_t *r)
{
    w_close(&r->w);
    orderd_store_free(r->w.store);
    orderd_feed_free(r->feed);
}

/* What a read collected. */
typedef struct got {
    uint64_t seq[4096];
    char *json[4096];
    size_t n;
    unsigned stop_after; /* emit says stop after this many; 0: never */
} got_t;

static int collect_event(void *ctx, const orderd_feed_event_t *ev)
{
    got_t *g = ctx;
    assert_true(g->n < 4096);
    g->seq[g->n] = ev->seq;
    g->json[g->n] = strndup(ev->json, ev->len);
    ++g->n;
    return g->stop_after != 0 && g->n >= g->stop_after;
}

static void got_free(got_t *g)
{
    for (size_t i = 0; i < g->n; ++i)
        free(g->json[i]);
    g->n = 0;
}

/* Reads everything from `after` on in pages of `limit`; returns the last read's result. */
static orderd_feed_read_result_t read_all(orderd_feed_t *f, uint64_t after, unsigned limit, got_t *g)
{
    orderd_feed_read_result_t res;
    for (;;) {
        size_t before = g->n;
        assert_int_equal(orderd_feed_read(f, after, limit, collect_event, g, &res), ORDERD_FEED_OK);
        assert_true(res.events <= limit);
        assert_int_equal(g->n - before, res.events);
        assert_true(res.last_seq >= after);
        if (res.events == 0)
            return res;
        after = res.last_seq;
    }
}

static void test_events_in_order_with_the_order_after(void **state)
{
    rig_t r;
    test_tmpdir(r.dir, sizeof(r.dir), "feed");
    rig_open(&r, 64u << 20, (orderd_feed_retention_t){0}, ORDERD_FSYNC_ALWAYS);
    uint64_t ids[40];
    for (int i = 0; i < 40; ++i)
        ids[i] = w_create(&r.w, i % 2 ? "alice" : "bob", (unsigned)i);
    for (int i = 0; i < 10; ++i)
        assert_int_equal(w_status(&r.w, S(i % 2 ? "alice" : "bob"), ids[i], ORDERD_STATUS_CANCELLED), ORDERD_STORE_OK);
    w_wait(&r.w);
    assert_int_equal(orderd_feed_durable_seq(r.feed), 50);

    got_t *all = calloc(1, sizeof(*all)), *paged = calloc(1, sizeof(*paged));
    orderd_feed_read_result_t res = read_all(r.feed, 0, ORDERD_FEED_LIMIT_MAX, all);
    assert_int_equal(res.last_seq, 50);
    assert_int_equal(res.durable_seq, 50);
    assert_int_equal(res.oldest_seq, 1);
    assert_int_equal(all->n, 50);
    /* one batch stamps shard after shard: users' changes interleave, each user's keep their order */
    int created[40] = {0}, cancelled[40] = {0};
    for (size_t i = 0; i < all->n; ++i) {
        assert_int_equal(all->seq[i], i + 1);
        char want[128];
        snprintf(want, sizeof(want), "{\"id\":\"3-%zu\",\"seq\":%zu,\"node\":3,\"type\":\"order.", i + 1, i + 1);
        assert_true(strncmp(all->json[i], want, strlen(want)) == 0);
        int k = -1;
        for (int j = 0; j < 40; ++j) {
            char id[ORDERD_ID_LEN + 1] = "", key[64];
            orderd_id_format(ids[j], id);
            snprintf(key, sizeof(key), "\"order_id\":\"%s\"", id);
            if (strstr(all->json[i], key) != NULL)
                k = j;
        }
        if (k < 0)
            fail_msg("%s", all->json[i]);
        char *order = strstr(all->json[i], "\"order\":{\"id\":");
        assert_non_null(order); /* the order after the change, as GET shows it */
        if (strstr(all->json[i], "\"type\":\"order.created\"") != NULL) {
            assert_int_equal(created[k]++, 0);
            assert_non_null(strstr(order, "\"status\":\"pending\""));
        } else {
            assert_non_null(strstr(all->json[i], "\"type\":\"order.status_changed\",\"order_id\""));
            assert_int_equal(created[k], 1); /* after its creation */
            assert_int_equal(cancelled[k]++, 0);
            assert_non_null(strstr(all->json[i], "\"status\":\"cancelled\",\"version\":2,\"actor\":\"user\""));
            assert_non_null(strstr(order, "\"status\":\"cancelled\""));
            assert_non_null(strstr(order, "\"version\":2"));
        }
    }
    for (int j = 0; j < 40; ++j)
        assert_int_equal(cancelled[j], j < 10);
    /* in pages of 7: the same events, each once */
    read_all(r.feed, 0, 7, paged);
    assert_int_equal(paged->n, all->n);
    for (size_t i = 0; i < all->n; ++i) {
        assert_int_equal(paged->seq[i], all->seq[i]);
        assert_string_equal(paged->json[i], all->json[i]);
    }
    /* emit may stop a read: last_seq is the last event handed out */
    got_free(paged);
    paged->stop_after = 3;
    assert_int_equal(orderd_feed_read(r.feed, 10, 100, collect_event, paged, &res), ORDERD_FEED_OK);
    assert_int_equal(res.events, 3);
    assert_int_equal(res.last_seq, 13);
    got_free(paged);
    got_free(all);
    rig_close(&r);

    /* after a restart: the same events, and the next ones follow with no gap */
    rig_open(&r, 64u << 20, (orderd_feed_retention_t){0}, ORDERD_FSYNC_ALWAYS);
    w_create(&r.w, "carol", 1);
    w_wait(&r.w);
    res = read_all(r.feed, 49, 100, all);
    assert_int_equal(all->n, 2);
    assert_int_equal(all->seq[0], 50);
    assert_int_equal(all->seq[1], 51);
    assert_int_equal(res.last_seq, 51);
    got_free(all);
    rig_close(&r);
    free(all);
    free(paged);
    test_rmtree(r.dir);
}

static void test_only_durable_records(void **state)
{
    rig_t r;
    test_tmpdir(r.dir, sizeof(r.dir), "feed");
    rig_open(&r, 64u << 20, (orderd_feed_retention_t){0}, ORDERD_FSYNC_ALWAYS);
    for (int i = 0; i < 20; ++i)
        w_create(&r.w, "dave", (unsigned)i);
    w_wait(&r.w);
    rig_close(&r);
    /* a feed that was told less is durable reads no further, whatever the files hold */
    orderd_feed_t *f = orderd_feed_new(r.dir, 0, 12);
    got_t *g = calloc(1, sizeof(*g));
    orderd_feed_read_result_t res = read_all(f, 5, 100, g);
    assert_int_equal(g->n, 7);
    assert_int_equal(g->seq[6], 12);
    assert_int_equal(res.last_seq, 12);
    assert_int_equal(res.durable_seq, 12);
    got_free(g);
    /* nothing after the durable end: no event, last_seq stays where it was asked */
    assert_int_equal(orderd_feed_read(f, 12, 100, collect_event, g, &res), ORDERD_FEED_OK);
    assert_int_equal(res.events, 0);
    assert_int_equal(res.last_seq, 12);
    orderd_feed_durable(f, 20);
    orderd_feed_durable(f, 15); /* never goes back */
    assert_int_equal(orderd_feed_durable_seq(f), 20);
    read_all(f, 12, 3, g);
    assert_int_equal(g->n, 8);
    got_free(g);
    free(g);
    orderd_feed_free(f);
    test_rmtree(r.dir);
}

/* A watcher that counts its wake-ups. */
static atomic_int woken;
static _Atomic uint64_t woken_at;

static void count_wake(void *ctx, uint64_t durable)
{
    (void)ctx;
    atomic_store(&woken_at, durable);
    atomic_fetch_add(&woken, 1);
}

static void test_watchers_woken_once_per_arming(void **state)
{
    orderd_feed_t *f = orderd_feed_new("/nonexistent", 0, 10);
    int id = orderd_feed_watch(f, &(orderd_feed_watcher_t){count_wake, NULL});
    assert_int_equal(id, 0);
    atomic_store(&woken, 0);
    orderd_feed_durable(f, 11); /* not armed: nobody hears */
    assert_int_equal(atomic_load(&woken), 0);
    orderd_feed_arm(f, id, 11);
    assert_int_equal(atomic_load(&woken), 0);
    orderd_feed_durable(f, 11); /* no progress past what it waits after */
    assert_int_equal(atomic_load(&woken), 0);
    orderd_feed_durable(f, 14);
    assert_int_equal(atomic_load(&woken), 1);
    assert_int_equal(atomic_load(&woken_at), 14);
    orderd_feed_durable(f, 15); /* disarmed by the wake-up */
    assert_int_equal(atomic_load(&woken), 1);
    orderd_feed_arm(f, id, 3); /* already passed: woken by the arming itself */
    assert_int_equal(atomic_load(&woken), 2);
    assert_int_equal(atomic_load(&woken_at), 15);
    orderd_feed_arm(f, 7, 1); /* no such watcher: nothing */
    assert_int_equal(atomic_load(&woken), 2);
    for (int i = 1; i < ORDERD_FEED_WATCHERS_MAX; ++i)
        assert_int_equal(orderd_feed_watch(f, &(orderd_feed_watcher_t){count_wake, NULL}), i);
    assert_int_equal(orderd_feed_watch(f, &(orderd_feed_watcher_t){count_wake, NULL}), -1);
    /* pins: the lowest one counts, UINT64_MAX releases */
    assert_int_equal(orderd_feed_lowest_pin(f), UINT64_MAX);
    orderd_feed_pin(f, 5, 40);
    orderd_feed_pin(f, 9, 30);
    assert_int_equal(orderd_feed_lowest_pin(f), 30);
    orderd_feed_pin(f, 9, UINT64_MAX);
    assert_int_equal(orderd_feed_lowest_pin(f), 40);
    orderd_feed_free(f);
}

/* Writes until `n` snapshots happened (small segments). */
static void churn(rig_t *r, uint64_t n)
{
    orderd_wal_stats_t st;
    for (unsigned i = 0;; ++i) {
        w_create(&r->w, "erin", i);
        if (i % 16 == 15) {
            w_wait(&r->w);
            orderd_wal_stats(r->w.wal, &st);
            if (st.snapshots >= n)
                break;
        }
    }
    w_wait(&r->w);
}

static void test_retention_and_gone(void **state)
{
    /* nothing kept past a snapshot: old events are 410 Gone, with the oldest kept named */
    rig_t r;
    test_tmpdir(r.dir, sizeof(r.dir), "feed");
    rig_open(&r, 8192, (orderd_feed_retention_t){0}, ORDERD_FSYNC_ALWAYS);
    churn(&r, 3);
    got_t *g = calloc(1, sizeof(*g));
    orderd_feed_read_result_t res;
    assert_int_equal(orderd_feed_read(r.feed, 0, 10, collect_event, g, &res), ORDERD_FEED_GONE);
    assert_true(res.oldest_seq > 1);
    assert_int_equal(g->n, 0);
    assert_int_equal(orderd_feed_read(r.feed, res.oldest_seq - 2, 10, collect_event, g, &res), ORDERD_FEED_GONE);
    uint64_t oldest = res.oldest_seq;
    res = read_all(r.feed, oldest - 1, 100, g);
    assert_int_equal(g->seq[0], oldest);
    assert_int_equal(res.last_seq, orderd_feed_durable_seq(r.feed));
    for (size_t i = 1; i < g->n; ++i)
        assert_int_equal(g->seq[i], g->seq[i - 1] + 1);
    got_free(g);
    rig_close(&r);
    test_rmtree(r.dir);

    /* kept by size: every event from the first on, across segments and snapshots */
    test_tmpdir(r.dir, sizeof(r.dir), "feed");
    rig_open(&r, 8192, (orderd_feed_retention_t){.bytes = 1u << 30}, ORDERD_FSYNC_ALWAYS);
    churn(&r, 3);
    res = read_all(r.feed, 0, 1000, g);
    assert_int_equal(res.oldest_seq, 1);
    assert_int_equal(g->n, orderd_feed_durable_seq(r.feed));
    for (size_t i = 0; i < g->n; ++i)
        assert_int_equal(g->seq[i], i + 1);
    got_free(g);
    rig_close(&r);
    test_rmtree(r.dir);

    /* kept by time, and by a pin while retention would let them go */
    test_tmpdir(r.dir, sizeof(r.dir), "feed");
    rig_open(&r, 8192, (orderd_feed_retention_t){.ms = 3600 * 1000}, ORDERD_FSYNC_ALWAYS);
    churn(&r, 2);
    assert_int_equal(orderd_feed_read(r.feed, 0, 5, collect_event, g, &res), ORDERD_FEED_OK);
    assert_int_equal(g->seq[0], 1);
    got_free(g);
    rig_close(&r);
    test_rmtree(r.dir);

    test_tmpdir(r.dir, sizeof(r.dir), "feed");
    rig_open(&r, 8192, (orderd_feed_retention_t){0}, ORDERD_FSYNC_ALWAYS);
    int id = orderd_feed_watch(r.feed, &(orderd_feed_watcher_t){count_wake, NULL});
    orderd_feed_pin(r.feed, id, 5);
    churn(&r, 2);
    assert_int_equal(orderd_feed_read(r.feed, 4, 5, collect_event, g, &res), ORDERD_FEED_OK);
    assert_int_equal(g->seq[0], 5);
    assert_true(res.oldest_seq <= 5);
    got_free(g);
    orderd_feed_pin(r.feed, id, UINT64_MAX); /* released: the next snapshot's clean-up removes them */
    churn(&r, 3);
    assert_int_equal(orderd_feed_read(r.feed, 4, 5, collect_event, g, &res), ORDERD_FEED_GONE);
    rig_close(&r);
    free(g);
    test_rmtree(r.dir);
}

static void test_fsync_everysec_reports_after_the_sync(void **state)
{
    rig_t r;
    test_tmpdir(r.dir, sizeof(r.dir), "feed");
    rig_open(&r, 64u << 20, (orderd_feed_retention_t){0}, ORDERD_FSYNC_EVERYSEC);
    for (int i = 0; i < 5; ++i)
        w_create(&r.w, "frank", (unsigned)i);
    w_wait(&r.w); /* acknowledged after the write: not yet durable */
    int64_t t0 = test_mono_ms();
    while (orderd_feed_durable_seq(r.feed) < 5 && test_mono_ms() - t0 < 3000)
        test_sleep_us(10000);
    assert_int_equal(orderd_feed_durable_seq(r.feed), 5); /* the once-a-second fdatasync reported it */
    rig_close(&r);
    test_rmtree(r.dir);
}

static void test_render_refuses_what_is_no_event(void **state)
{
    test_arena_t ar = {0};
    orderd_alloc_t a = test_arena_allocator(&ar);
    orderd_str_t out;
    uint64_t id;
    int64_t at;
    unsigned char rec[ORDERD_RECORD_HEADER_SIZE + 32] = {0};
    assert_int_equal(orderd_feed_render(rec, sizeof(rec), 0, &a, &out, &id, &at), -1); /* bad CRC */
    orderd_record_frame(rec, ORDERD_REC_STATUS_CHANGED, 9, rec + ORDERD_RECORD_HEADER_SIZE, 32);
    /* a status record of the old format (no order after it): the event says null */
    rec[ORDERD_RECORD_HEADER_SIZE + 28] = ORDERD_STATUS_CANCELLED;
    rec[ORDERD_RECORD_HEADER_SIZE + 24] = 2;
    orderd_record_frame(rec, ORDERD_REC_STATUS_CHANGED, 9, rec + ORDERD_RECORD_HEADER_SIZE, 32);
    assert_int_equal(orderd_feed_render(rec, sizeof(rec), 0, &a, &out, &id, &at), 0);
    assert_non_null(strstr(out.base, "\"type\":\"order.status_changed\""));
    assert_non_null(strstr(out.base, "\"status\":\"cancelled\",\"version\":2,"));
    assert_non_null(strstr(out.base, "\"user_id\":null"));
    assert_true(out.len > 13 && memcmp(out.base + out.len - 13, "\"order\":null}", 13) == 0);
    orderd_record_frame(rec, ORDERD_REC_IDEM_KEY, 9, rec + ORDERD_RECORD_HEADER_SIZE, 32);
    assert_int_equal(orderd_feed_render(rec, sizeof(rec), 0, &a, &out, &id, &at), 1);
    test_arena_reset(&ar);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_in_order_with_the_order_after),
        cmocka_unit_test(test_only_durable_records),
        cmocka_unit_test(test_watchers_woken_once_per_arming),
        cmocka_unit_test(test_retention_and_gone),
        cmocka_unit_test(test_fsync_everysec_reports_after_the_sync),
        cmocka_unit_test(test_render_refuses_what_is_no_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
