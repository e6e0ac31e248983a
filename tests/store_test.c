/* Unit tests for orderd/store.h: the sharded order table, its events, and
 * 8 threads of concurrent create / cancel / list / get with invariants. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/internal/idvec.h"
#include "alloc_fail.h"
#include "orderd/order.h"
#include "orderd/store.h"
#include "fixture.h"


/* Builds (does not add) an order for `user` with id `id`. */
static orderd_order_t *build_order_id(const orderd_alloc_t *a, uint64_t id, orderd_str_t user, int64_t now,
                                      uint32_t qty)
{
    orderd_item_draft_t *it = orderd_alloc(a, sizeof(*it));
    it->product_id = S("sku-1");
    it->quantity = qty;
    it->price = 199;
    orderd_order_draft_t d = {it, 1, S("1 Long Road"), S("card"), {'U', 'S', 'D'}, 199 * (int64_t)qty};
    size_t n = orderd_order_size(&d, user.len);
    orderd_order_t *o = orderd_alloc(a, n);
    orderd_order_build(o, id, user, &d, now);
    return o;
}

/* Builds an order for orderd_store_create, which ignores the id it is given. */
static orderd_order_t *build_order(const orderd_alloc_t *a, orderd_str_t user, int64_t now, uint32_t qty)
{
    return build_order_id(a, 0, user, now, qty);
}

/* Adds an order through orderd_store_create; returns the id the store gave it. */
static uint64_t add_order(orderd_store_t *st, const orderd_alloc_t *a, orderd_str_t user, int64_t now)
{
    orderd_order_t *o = build_order(a, user, now, 1);
    assert_int_equal(orderd_store_create(st, o, NULL, NULL, NULL, NULL, NULL), ORDERD_STORE_OK);
    assert_int_equal(orderd_store_shard_of_id(st, o->id), orderd_store_shard_of_user(st, user));
    return o->id;
}

static int user_is(const orderd_order_t *o, orderd_str_t user)
{
    orderd_str_t u = orderd_order_user(o);
    return u.len == user.len && memcmp(u.base, user.base, u.len) == 0;
}

/* A user name other than `not` that lives in the same shard as `like`. */
static void same_shard_user(orderd_store_t *st, const char *like, char *out, size_t cap)
{
    unsigned want = orderd_store_shard_of_user(st, S(like));
    for (int i = 0; i < 1000000; i++) {
        snprintf(out, cap, "neighbour-%d", i);
        if (strcmp(out, like) != 0 && orderd_store_shard_of_user(st, S(out)) == want)
            return;
    }
    fail_msg("no user found in the shard of %s", like);
}

/* ---- basic API ---- */

static void test_new_checks_shard_count(void **state)
{
    static const unsigned bad[] = {0, 3, 6, 12, 100, ORDERD_STORE_MAX_SHARDS + 1, ORDERD_STORE_MAX_SHARDS * 2};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        orderd_store_t *st = orderd_store_new(bad[i]);
        if (st != NULL) {
            orderd_store_free(st);
            fail_msg("orderd_store_new(%u) accepted a bad shard count", bad[i]);
        }
    }
    static const unsigned good[] = {4, 16, 64, ORDERD_STORE_MAX_SHARDS};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        orderd_store_t *st = orderd_store_new(good[i]);
        assert_non_null(st);
        assert_int_equal(orderd_store_count(st), 0);
        assert_true(orderd_store_shard_of_user(st, S("alice")) < good[i]);
        orderd_store_free(st);
    }
}

static void test_create_get_and_isolation(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_store_t *st = orderd_store_new(64);
    assert_non_null(st);

    orderd_order_t *o = build_order(&a, S("alice"), 1700000000123, 3);
    size_t size = o->size;
    assert_int_equal(orderd_store_create(st, o, NULL, NULL, NULL, NULL, NULL), ORDERD_STORE_OK);
    /* the store wrote the id it gave the order into the caller's copy */
    assert_int_equal(orderd_store_shard_of_id(st, o->id), orderd_store_shard_of_user(st, S("alice")));
    orderd_order_t *keep = orderd_alloc(&a, size);
    memcpy(keep, o, size);
    memset(o, 0x5c, size); /* the store holds its own copy */
    assert_int_equal(orderd_store_count(st), 1);

    orderd_order_t *got = NULL;
    assert_int_equal(orderd_store_get(st, S("alice"), keep->id, &a, &got), ORDERD_STORE_OK);
    assert_non_null(got);
    assert_int_equal(got->size, size);
    assert_memory_equal(got, keep, size);
    assert_int_equal(orderd_order_check(got, got->size), 0);

    /* the copy is the caller's: changing it changes nothing in the store */
    got->status = ORDERD_STATUS_DELIVERED;
    orderd_order_t *again = NULL;
    assert_int_equal(orderd_store_get(st, S("alice"), keep->id, &a, &again), ORDERD_STORE_OK);
    assert_int_equal(again->status, ORDERD_STATUS_PENDING);

    /* another user, one in the same shard, a prefix of the name, an unknown id */
    char nb[64];
    same_shard_user(st, "alice", nb, sizeof(nb));
    got = NULL;
    assert_int_equal(orderd_store_get(st, S("bob"), keep->id, &a, &got), ORDERD_STORE_ENOTFOUND);
    assert_int_equal(orderd_store_get(st, S(nb), keep->id, &a, &got), ORDERD_STORE_ENOTFOUND);
    assert_int_equal(orderd_store_get(st, S("alic"), keep->id, &a, &got), ORDERD_STORE_ENOTFOUND);
    assert_int_equal(orderd_store_get(st, S("alice2"), keep->id, &a, &got), ORDERD_STORE_ENOTFOUND);
    uint64_t unused = orderd_store_next_id(st, S("alice"));
    assert_int_equal(orderd_store_get(st, S("alice"), unused, &a, &got), ORDERD_STORE_ENOTFOUND);
    assert_int_equal(orderd_store_get(st, S("alice"), 0, &a, &got), ORDERD_STORE_ENOTFOUND);
    assert_int_equal(orderd_store_get(st, S("alice"), UINT64_MAX, &a, &got), ORDERD_STORE_ENOTFOUND);

    /* set_status by another user: not found, and nothing changes */
    assert_int_equal(
        orderd_store_set_status(st, S(nb), keep->id, ORDERD_STATUS_CANCELLED, 1, NULL, NULL, &a, &got, NULL),
        ORDERD_STORE_ENOTFOUND);
    assert_int_equal(
        orderd_store_set_status(st, S("bob"), keep->id, ORDERD_STATUS_CANCELLED, 1, NULL, NULL, &a, &got, NULL),
        ORDERD_STORE_ENOTFOUND);
    assert_int_equal(
        orderd_store_set_status(st, S("alice"), unused, ORDERD_STATUS_CANCELLED, 1, NULL, NULL, &a, &got, NULL),
        ORDERD_STORE_ENOTFOUND);
    assert_int_equal(orderd_store_get(st, S("alice"), keep->id, &a, &again), ORDERD_STORE_OK);
    assert_memory_equal(again, keep, size);

    /* the other users see no orders */
    orderd_store_page_t pg;
    assert_int_equal(
        orderd_store_list(st, S(nb), &(orderd_page_req_t){.offset = 0, .limit = 10, .status_mask = 0}, &a, &pg),
        ORDERD_STORE_OK);
    assert_int_equal(pg.n, 0);
    assert_int_equal(pg.total, 0);
    assert_int_equal(
        orderd_store_list(st, S("alice"), &(orderd_page_req_t){.offset = 0, .limit = 10, .status_mask = 0}, &a, &pg),
        ORDERD_STORE_OK);
    assert_int_equal(pg.n, 1);
    assert_int_equal(pg.total, 1);
    assert_memory_equal(pg.orders[0], keep, size);

    orderd_store_free(st);
}

static void test_create_ignores_given_id(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_store_t *st = orderd_store_new(64);
    assert_non_null(st);
    uint64_t first = add_order(st, &a, S("alice"), 1000);
    /* an order built with a taken id (and one with another user's shard bits) gets a fresh id */
    orderd_order_t *o = build_order_id(&a, first, S("alice"), 2000, 1);
    assert_int_equal(orderd_store_create(st, o, NULL, NULL, NULL, NULL, NULL), ORDERD_STORE_OK);
    assert_true(o->id != first);
    assert_true(o->id > first);
    uint64_t second = o->id;
    uint64_t bob_id = add_order(st, &a, S("bob"), 2500);
    o = build_order_id(&a, bob_id, S("alice"), 3000, 1);
    assert_int_equal(orderd_store_create(st, o, NULL, NULL, NULL, NULL, NULL), ORDERD_STORE_OK);
    assert_true(o->id != bob_id && o->id > second);
    assert_int_equal(orderd_store_shard_of_id(st, o->id), orderd_store_shard_of_user(st, S("alice")));
    assert_int_equal(orderd_store_count(st), 4);

    orderd_order_t *got = NULL;
    assert_int_equal(orderd_store_get(st, S("alice"), first, &a, &got), ORDERD_STORE_OK);
    assert_true(got->created_ms == 1000);
    assert_int_equal(orderd_store_get(st, S("alice"), second, &a, &got), ORDERD_STORE_OK);
    assert_true(got->created_ms == 2000);
    assert_int_equal(orderd_store_get(st, S("alice"), o->id, &a, &got), ORDERD_STORE_OK);
    assert_true(got->created_ms == 3000);
    assert_int_equal(orderd_store_get(st, S("bob"), bob_id, &a, &got), ORDERD_STORE_OK);
    assert_true(got->created_ms == 2500);
    orderd_store_free(st);
}

static void test_ids(void **state)
{
    orderd_store_t *st = orderd_store_new(64);
    assert_non_null(st);
    char names[200][16];
    unsigned shard_of[200];
    int seen[64] = {0};
    int distinct = 0;
    for (int u = 0; u < 200; u++) {
        snprintf(names[u], sizeof(names[u]), "user-%03d", u);
        shard_of[u] = orderd_store_shard_of_user(st, S(names[u]));
        assert_true(shard_of[u] < 64);
        assert_int_equal(shard_of[u], orderd_store_shard_of_user(st, S(names[u]))); /* stable */
        if (!seen[shard_of[u]]++)
            distinct++;
    }
    /* a hash spreads 200 users over most of 64 shards */
    assert_true(distinct >= 32);

    uint64_t prev = 0;
    uint64_t low[200];
    for (int i = 0; i < 20000; i++) {
        int u = (i * 7919) % 200;
        uint64_t id = orderd_store_next_id(st, S(names[u]));
        if (i > 0 && id <= prev)
            fail_msg("id %d (%" PRIx64 ") is not above the one before (%" PRIx64 ")", i, id, prev);
        prev = id;
        assert_int_equal(orderd_store_shard_of_id(st, id), shard_of[u]);
        /* the low bits carry the user's hash: the same for every id of a user */
        uint64_t l = id & (ORDERD_STORE_MAX_SHARDS - 1);
        if (i < 200)
            low[u] = l;
        else
            assert_true(low[u] == l);
        char txt[ORDERD_ID_LEN];
        orderd_id_format(id, txt);
        uint64_t back;
        assert_int_equal(orderd_id_parse(txt, ORDERD_ID_LEN, &back), 0);
        assert_true(back == id);
    }
    orderd_store_free(st);

    /* the same holds with few shards */
    st = orderd_store_new(4);
    assert_non_null(st);
    for (int u = 0; u < 200; u++) {
        uint64_t id = orderd_store_next_id(st, S(names[u]));
        unsigned sh = orderd_store_shard_of_user(st, S(names[u]));
        assert_true(sh < 4);
        assert_int_equal(orderd_store_shard_of_id(st, id), sh);
    }
    orderd_store_free(st);
}

/* ---- node ids ---- */

#define NODE_THREADS 8
#define NODE_IDS_PER_THREAD 20000

typedef struct {
    orderd_store_t *st;
    uint64_t *ids; /* NODE_IDS_PER_THREAD, in the order this thread got them */
} node_worker_t;

static void *node_worker_main(void *arg)
{
    node_worker_t *w = arg;
    for (int i = 0; i < NODE_IDS_PER_THREAD; i++)
        w->ids[i] = orderd_store_next_id(w->st, S("nora"));
    return NULL;
}

/* Ids from NODE_THREADS threads of one store of node `node`, sorted: each
 * carries the node, each thread's increase, none repeats. */
static uint64_t *node_ids_from_threads(unsigned node)
{
    orderd_store_t *st = orderd_store_new(64);
    assert_non_null(st);
    assert_int_equal(orderd_store_set_node_id(st, node), 0);
    size_t n = (size_t)NODE_THREADS * NODE_IDS_PER_THREAD;
    uint64_t *all = calloc(n, sizeof(*all));
    assert_non_null(all);
    pthread_t th[NODE_THREADS];
    node_worker_t ws[NODE_THREADS];
    for (int t = 0; t < NODE_THREADS; t++) {
        ws[t] = (node_worker_t){.st = st, .ids = all + (size_t)t * NODE_IDS_PER_THREAD};
        assert_int_equal(pthread_create(&th[t], NULL, node_worker_main, &ws[t]), 0);
    }
    for (int t = 0; t < NODE_THREADS; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < NODE_THREADS; t++)
        for (int i = 1; i < NODE_IDS_PER_THREAD; i++)
            if (ws[t].ids[i] <= ws[t].ids[i - 1])
                fail_msg("thread %d: id %d (%" PRIx64 ") not above the one before", t, i, ws[t].ids[i]);
    qsort(all, n, sizeof(*all), cmp_u64);
    for (size_t i = 0; i < n; i++) {
        if (orderd_id_node(all[i]) != node)
            fail_msg("id %" PRIx64 " carries node %" PRIu64 ", want %u", all[i], orderd_id_node(all[i]), node);
        if (i > 0 && all[i] == all[i - 1])
            fail_msg("id %" PRIx64 " handed out twice", all[i]);
        assert_int_equal(orderd_store_shard_of_id(st, all[i]), orderd_store_shard_of_user(st, S("nora")));
    }
    orderd_store_free(st);
    return all;
}

static void test_node_ids(void **state)
{
    orderd_store_t *st = orderd_store_new(64);
    assert_non_null(st);
    assert_int_equal(orderd_id_node(orderd_store_next_id(st, S("nora"))), 0); /* the default */
    assert_int_equal(orderd_store_set_node_id(st, ORDERD_ID_NODE_MAX + 1), ORDERD_STORE_EINVAL);
    assert_int_equal(orderd_id_node(orderd_store_next_id(st, S("nora"))), 0); /* unchanged */
    assert_int_equal(orderd_store_set_node_id(st, ORDERD_ID_NODE_MAX), 0);
    assert_int_equal(orderd_id_node(orderd_store_next_id(st, S("nora"))), ORDERD_ID_NODE_MAX);
    orderd_store_free(st);

    /* 160000 ids, far more than 64 a millisecond: the counter carries into
     * later milliseconds and the node bits stay */
    uint64_t *three = node_ids_from_threads(3), *five = node_ids_from_threads(5);
    size_t n = (size_t)NODE_THREADS * NODE_IDS_PER_THREAD, i = 0, j = 0;
    while (i < n && j < n) { /* two nodes, the same user, the same time: no id in common */
        if (three[i] == five[j])
            fail_msg("nodes 3 and 5 both made id %" PRIx64, three[i]);
        if (three[i] < five[j])
            i++;
        else
            j++;
    }
    free(three);
    free(five);
}

/* Replay brings ids of earlier runs, made with another node id, or ahead of
 * the clock: later ids are above them and keep this store's node. */
static void test_node_ids_after_replay(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_store_t *old = orderd_store_new(64), *st = orderd_store_new(64);
    assert_non_null(old);
    assert_non_null(st);
    assert_int_equal(orderd_store_set_node_id(old, 9), 0);
    assert_int_equal(orderd_store_set_node_id(st, 2), 0);
    uint64_t ahead = 0;
    for (int i = 0; i < 5000; i++) /* runs ahead of the clock: 64 a millisecond */
        ahead = orderd_store_next_id(old, S("olga"));
    assert_int_equal(orderd_id_node(ahead), 9);
    orderd_order_t *o = build_order_id(&a, ahead, S("olga"), 1000, 1);
    orderd_change_t ev = {.type = ORDERD_CHANGE_CREATED};
    ev.u.created.order = o;
    assert_int_equal(orderd_store_apply(st, &ev), ORDERD_STORE_OK);
    uint64_t prev = ahead;
    for (int i = 0; i < 1000; i++) {
        uint64_t id = orderd_store_next_id(st, S("olga"));
        if (id <= prev)
            fail_msg("id %" PRIx64 " not above %" PRIx64, id, prev);
        assert_int_equal(orderd_id_node(id), 2);
        prev = id;
    }
    orderd_store_free(old);
    orderd_store_free(st);
}

/* ---- lists ---- */

/* Pages through user's orders with `mask`, `step` at a time; checks every page's
 * total and returns the ids in page order. */
static size_t collect(orderd_store_t *st, const orderd_alloc_t *a, orderd_str_t user, unsigned mask, size_t step,
                      uint64_t *ids, size_t cap, size_t want_total)
{
    size_t n = 0;
    for (size_t off = 0;; off += step) {
        orderd_store_page_t pg;
        memset(&pg, 0, sizeof(pg));
        assert_int_equal(orderd_store_list(
                             st, user, &(orderd_page_req_t){.offset = off, .limit = step, .status_mask = mask}, a, &pg),
                         ORDERD_STORE_OK);
        assert_int_equal(pg.total, want_total);
        assert_true(pg.n <= step);
        size_t expect_n = off >= want_total ? 0 : (want_total - off < step ? want_total - off : step);
        assert_int_equal(pg.n, expect_n);
        for (size_t i = 0; i < pg.n; i++) {
            const orderd_order_t *o = pg.orders[i];
            assert_int_equal(orderd_order_check(o, o->size), 0);
            assert_true(user_is(o, user));
            if (mask)
                assert_true(mask & (1u << o->status));
            assert_true(n < cap);
            ids[n++] = o->id;
        }
        if (pg.n == 0)
            break;
    }
    return n;
}

static void test_list_newest_first_paging(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_store_t *st = orderd_store_new(16);
    assert_non_null(st);
    uint64_t alice[25], bob[5];
    int b = 0;
    for (int i = 0; i < 25; i++) {
        alice[i] = add_order(st, &a, S("alice"), 1000 + i);
        if (i % 5 == 0)
            bob[b++] = add_order(st, &a, S("bob"), 1000 + i);
    }
    assert_int_equal(orderd_store_count(st), 30);

    static const struct {
        size_t offset, limit, first, n;
    } pages[] = {
        {0, 10, 24, 10}, {10, 10, 14, 10}, {20, 10, 4, 5}, {25, 10, 0, 0},  {1000, 10, 0, 0},
        {0, 100, 24, 25}, {3, 1, 21, 1},   {24, 5, 0, 1},  {0, 25, 24, 25}, {1, 24, 23, 24},
    };
    for (size_t p = 0; p < sizeof(pages) / sizeof(pages[0]); p++) {
        orderd_store_page_t pg;
        assert_int_equal(orderd_store_list(
                             st, S("alice"),
                             &(orderd_page_req_t){.offset = pages[p].offset, .limit = pages[p].limit, .status_mask = 0},
                             &a, &pg),
                         ORDERD_STORE_OK);
        assert_int_equal(pg.total, 25);
        assert_int_equal(pg.n, pages[p].n);
        for (size_t i = 0; i < pg.n; i++) {
            /* newest first: the i-th is alice[first - i] */
            assert_true(pg.orders[i]->id == alice[pages[p].first - i]);
            assert_true(pg.orders[i]->created_ms == (int64_t)(1000 + pages[p].first - i));
            assert_true(user_is(pg.orders[i], S("alice")));
        }
    }
    orderd_store_page_t pg;
    assert_int_equal(
        orderd_store_list(st, S("bob"), &(orderd_page_req_t){.offset = 0, .limit = 10, .status_mask = 0}, &a, &pg),
        ORDERD_STORE_OK);
    assert_int_equal(pg.n, 5);
    assert_int_equal(pg.total, 5);
    for (int i = 0; i < 5; i++)
        assert_true(pg.orders[i]->id == bob[4 - i]);
    assert_int_equal(
        orderd_store_list(st, S("carol"), &(orderd_page_req_t){.offset = 0, .limit = 10, .status_mask = 0}, &a, &pg),
        ORDERD_STORE_OK);
    assert_int_equal(pg.n, 0);
    assert_int_equal(pg.total, 0);
    orderd_store_free(st);
}

static void test_list_status_filter(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_store_t *st = orderd_store_new(64);
    assert_non_null(st);
    enum { N = 40 };
    uint64_t ids[N];
    int status[N];
    for (int i = 0; i < N; i++) {
        ids[i] = add_order(st, &a, S("dora"), 5000 + i);
        status[i] = ORDERD_STATUS_PENDING;
    }
    add_order(st, &a, S("ed"), 9999); /* someone else's order in the table */
    /* a mix of statuses: cancel some, move others along the fulfilment path */
    for (int i = 0; i < N; i++) {
        orderd_order_t *out = NULL;
        int steps = i % 5; /* 0: pending, 1: cancelled, 2: processing, 3: shipped, 4: delivered */
        if (steps == 1) {
            assert_int_equal(orderd_store_set_status(st, S("dora"), ids[i], ORDERD_STATUS_CANCELLED, 6000, NULL, NULL,
                                                     &a, &out, NULL),
                             ORDERD_STORE_OK);
            status[i] = ORDERD_STATUS_CANCELLED;
        }
        for (int s = 1; s <= steps - 1; s++) {
            assert_int_equal(orderd_store_set_status(st, S("dora"), ids[i], (orderd_status_t)s, 6000 + s, NULL, NULL,
                                                     &a, &out, NULL),
                             ORDERD_STORE_OK);
            status[i] = s;
        }
    }
    static const unsigned masks[] = {
        0,
        1u << ORDERD_STATUS_PENDING,
        1u << ORDERD_STATUS_PROCESSING,
        1u << ORDERD_STATUS_SHIPPED,
        1u << ORDERD_STATUS_DELIVERED,
        1u << ORDERD_STATUS_CANCELLED,
        (1u << ORDERD_STATUS_PENDING) | (1u << ORDERD_STATUS_CANCELLED),
        (1u << ORDERD_STATUS_SHIPPED) | (1u << ORDERD_STATUS_DELIVERED) | (1u << ORDERD_STATUS_PROCESSING),
        (1u << ORDERD_STATUS_COUNT) - 1,
    };
    for (size_t m = 0; m < sizeof(masks) / sizeof(masks[0]); m++) {
        uint64_t want[N];
        size_t nw = 0;
        for (int i = N - 1; i >= 0; i--)
            if (masks[m] == 0 || (masks[m] & (1u << status[i])))
                want[nw++] = ids[i];
        for (size_t step = 1; step <= 9; step += 4) {
            uint64_t got[N];
            size_t ng = collect(st, &a, S("dora"), masks[m], step, got, N, nw);
            assert_int_equal(ng, nw);
            for (size_t i = 0; i < nw; i++)
                if (got[i] != want[i])
                    fail_msg("mask 0x%x step %zu: entry %zu is %" PRIx64 ", want %" PRIx64, masks[m], step, i,
                             got[i], want[i]);
        }
    }
    /* a status with no orders */
    orderd_alloc_t *ap = &a;
    orderd_store_page_t pg;
    assert_int_equal(
        orderd_store_list(st, S("ed"),
                          &(orderd_page_req_t){.offset = 0, .limit = 10, .status_mask = 1u << ORDERD_STATUS_CANCELLED},
                          ap, &pg),
        ORDERD_STORE_OK);
    assert_int_equal(pg.n, 0);
    assert_int_equal(pg.total, 0);
    assert_int_equal(
        orderd_store_list(st, S("ed"),
                          &(orderd_page_req_t){.offset = 0, .limit = 10, .status_mask = 1u << ORDERD_STATUS_PENDING},
                          ap, &pg),
        ORDERD_STORE_OK);
    assert_int_equal(pg.n, 1);
    assert_int_equal(pg.total, 1);
    orderd_store_free(st);
}

static void test_list_many_orders(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_store_t *st = orderd_store_new(4);
    assert_non_null(st);
    enum { N = 5000 };
    uint64_t *ids = malloc(N * sizeof(*ids)), *got = malloc(N * sizeof(*got));
    for (int i = 0; i < N; i++) {
        ids[i] = add_order(st, &a, S("frank"), 10000 + i);
        if (i % 100 == 99)
            test_arena_reset((test_arena_t *)*state);
    }
    size_t n = collect(st, &a, S("frank"), 0, 100, got, N, N);
    assert_int_equal(n, N);
    for (int i = 0; i < N; i++)
        assert_true(got[i] == ids[N - 1 - i]);
    free(ids);
    free(got);
    orderd_store_free(st);
}

/* ---- status changes ---- */

/* user NULL: the operator */
static orderd_order_t *set_status(orderd_store_t *st, const orderd_alloc_t *a, const char *user, uint64_t id,
                                  orderd_status_t to, int64_t now, int want_rc)
{
    orderd_order_t *out = NULL;
    orderd_str_t u = user ? S(user) : (orderd_str_t){NULL, 0};
    int rc = orderd_store_set_status(st, u, id, to, now, NULL, NULL, a, &out, NULL);
    if (rc != want_rc)
        fail_msg("set_status(%s -> %s) = %d, want %d", user ? user : "(operator)", orderd_status_name(to), rc,
                 want_rc);
    if (rc == ORDERD_STORE_OK || rc == ORDERD_STORE_ECONFLICT) {
        assert_non_null(out);
        assert_true(out->id == id);
        assert_int_equal(orderd_order_check(out, out->size), 0);
    }
    return out;
}

static void expect_state(orderd_store_t *st, const orderd_alloc_t *a, const char *user, uint64_t id, int status,
                         uint32_t version, int64_t created, int64_t updated)
{
    orderd_order_t *o = NULL;
    assert_int_equal(orderd_store_get(st, S(user), id, a, &o), ORDERD_STORE_OK);
    assert_int_equal(o->status, status);
    assert_int_equal(o->version, version);
    assert_true(o->created_ms == created);
    assert_true(o->updated_ms == updated);
}

static void test_cancel(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_store_t *st = orderd_store_new(64);
    assert_non_null(st);
    uint64_t id = add_order(st, &a, S("gina"), 1000);

    orderd_order_t *o = set_status(st, &a, "gina", id, ORDERD_STATUS_CANCELLED, 2000, ORDERD_STORE_OK);
    assert_int_equal(o->status, ORDERD_STATUS_CANCELLED);
    assert_int_equal(o->version, 2);
    assert_true(o->created_ms == 1000);
    assert_true(o->updated_ms == 2000);
    expect_state(st, &a, "gina", id, ORDERD_STATUS_CANCELLED, 2, 1000, 2000);

    /* a repeat is OK and changes nothing: version stays 2, updated stays 2000 */
    for (int i = 0; i < 3; i++) {
        o = set_status(st, &a, "gina", id, ORDERD_STATUS_CANCELLED, 3000 + i, ORDERD_STORE_OK);
        assert_int_equal(o->status, ORDERD_STATUS_CANCELLED);
        assert_int_equal(o->version, 2);
        assert_true(o->updated_ms == 2000);
    }
    expect_state(st, &a, "gina", id, ORDERD_STATUS_CANCELLED, 2, 1000, 2000);

    /* nothing leaves cancelled */
    for (int s = 0; s < ORDERD_STATUS_CANCELLED; s++) {
        o = set_status(st, &a, "gina", id, (orderd_status_t)s, 4000, ORDERD_STORE_ECONFLICT);
        assert_int_equal(o->status, ORDERD_STATUS_CANCELLED);
        assert_int_equal(o->version, 2);
    }
    expect_state(st, &a, "gina", id, ORDERD_STATUS_CANCELLED, 2, 1000, 2000);
    assert_int_equal(orderd_store_count(st), 1);
    orderd_store_free(st);
}

static void test_fulfilment_and_conflicts(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_store_t *st = orderd_store_new(64);
    assert_non_null(st);
    uint64_t id = add_order(st, &a, S("hank"), 100);
    orderd_order_t *o;

    /* pending -> pending, shipped, delivered: conflicts; the copy shows pending */
    static const orderd_status_t bad_from_pending[] = {ORDERD_STATUS_PENDING, ORDERD_STATUS_SHIPPED,
                                                       ORDERD_STATUS_DELIVERED};
    for (size_t i = 0; i < 3; i++) {
        o = set_status(st, &a, "hank", id, bad_from_pending[i], 150, ORDERD_STORE_ECONFLICT);
        assert_int_equal(o->status, ORDERD_STATUS_PENDING);
        assert_int_equal(o->version, 1);
    }
    expect_state(st, &a, "hank", id, ORDERD_STATUS_PENDING, 1, 100, 100);

    o = set_status(st, &a, "hank", id, ORDERD_STATUS_PROCESSING, 200, ORDERD_STORE_OK);
    assert_int_equal(o->status, ORDERD_STATUS_PROCESSING);
    assert_int_equal(o->version, 2);
    assert_true(o->updated_ms == 200);

    /* the customer can no longer cancel: 409 with the current status */
    o = set_status(st, &a, "hank", id, ORDERD_STATUS_CANCELLED, 250, ORDERD_STORE_ECONFLICT);
    assert_int_equal(o->status, ORDERD_STATUS_PROCESSING);
    assert_int_equal(o->version, 2);
    assert_true(o->updated_ms == 200);
    set_status(st, &a, "hank", id, ORDERD_STATUS_PENDING, 250, ORDERD_STORE_ECONFLICT);
    set_status(st, &a, "hank", id, ORDERD_STATUS_PROCESSING, 250, ORDERD_STORE_ECONFLICT);
    set_status(st, &a, "hank", id, ORDERD_STATUS_DELIVERED, 250, ORDERD_STORE_ECONFLICT);

    o = set_status(st, &a, "hank", id, ORDERD_STATUS_SHIPPED, 300, ORDERD_STORE_OK);
    assert_int_equal(o->status, ORDERD_STATUS_SHIPPED);
    assert_int_equal(o->version, 3);
    o = set_status(st, &a, "hank", id, ORDERD_STATUS_CANCELLED, 350, ORDERD_STORE_ECONFLICT);
    assert_int_equal(o->status, ORDERD_STATUS_SHIPPED);
    o = set_status(st, &a, "hank", id, ORDERD_STATUS_DELIVERED, 400, ORDERD_STORE_OK);
    assert_int_equal(o->status, ORDERD_STATUS_DELIVERED);
    assert_int_equal(o->version, 4);
    assert_true(o->updated_ms == 400);
    for (int s = 0; s < ORDERD_STATUS_COUNT; s++) {
        o = set_status(st, &a, "hank", id, (orderd_status_t)s, 500, ORDERD_STORE_ECONFLICT);
        assert_int_equal(o->status, ORDERD_STATUS_DELIVERED);
        assert_int_equal(o->version, 4);
    }
    expect_state(st, &a, "hank", id, ORDERD_STATUS_DELIVERED, 4, 100, 400);

    /* other orders are untouched */
    uint64_t id2 = add_order(st, &a, S("hank"), 600);
    expect_state(st, &a, "hank", id2, ORDERD_STATUS_PENDING, 1, 600, 600);

    /* the operator (NULL user) may move any user's order, by the same rules */
    o = set_status(st, &a, NULL, id2, ORDERD_STATUS_PROCESSING, 700, ORDERD_STORE_OK);
    assert_int_equal(o->status, ORDERD_STATUS_PROCESSING);
    assert_int_equal(o->version, 2);
    assert_true(user_is(o, S("hank")));
    o = set_status(st, &a, NULL, id2, ORDERD_STATUS_DELIVERED, 710, ORDERD_STORE_ECONFLICT);
    assert_int_equal(o->status, ORDERD_STATUS_PROCESSING);
    o = set_status(st, &a, NULL, id2, ORDERD_STATUS_SHIPPED, 720, ORDERD_STORE_OK);
    assert_int_equal(o->version, 3);
    expect_state(st, &a, "hank", id2, ORDERD_STATUS_SHIPPED, 3, 600, 720);
    uint64_t id3 = add_order(st, &a, S("iris"), 800);
    o = set_status(st, &a, NULL, id3, ORDERD_STATUS_CANCELLED, 810, ORDERD_STORE_OK);
    assert_int_equal(o->status, ORDERD_STATUS_CANCELLED);
    expect_state(st, &a, "iris", id3, ORDERD_STATUS_CANCELLED, 2, 800, 810);
    set_status(st, &a, NULL, orderd_store_next_id(st, S("iris")), ORDERD_STATUS_CANCELLED, 820,
               ORDERD_STORE_ENOTFOUND);
    orderd_store_free(st);
}

/* ---- events ---- */

static void test_apply_events(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_store_t *st = orderd_store_new(64);
    assert_non_null(st);
    orderd_order_t *o = build_order_id(&a, orderd_store_next_id(st, S("ivy")), S("ivy"), 1000, 2);
    orderd_change_t ev = {.type = ORDERD_CHANGE_CREATED};
    ev.u.created.order = o;
    assert_int_equal(orderd_store_apply(st, &ev), ORDERD_STORE_OK);
    assert_int_equal(orderd_store_count(st), 1);
    expect_state(st, &a, "ivy", o->id, ORDERD_STATUS_PENDING, 1, 1000, 1000);

    /* the same id again: EINVAL, nothing changes */
    assert_int_equal(orderd_store_apply(st, &ev), ORDERD_STORE_EINVAL);
    uint64_t other_id = orderd_store_next_id(st, S("ivy"));
    orderd_order_t *other = build_order_id(&a, other_id, S("ivy"), 2000, 5);
    other->id = o->id; /* a different order under a taken id */
    ev.u.created.order = other;
    assert_int_equal(orderd_store_apply(st, &ev), ORDERD_STORE_EINVAL);
    assert_int_equal(orderd_store_count(st), 1);
    orderd_order_t *got = NULL;
    assert_int_equal(orderd_store_get(st, S("ivy"), o->id, &a, &got), ORDERD_STORE_OK);
    assert_memory_equal(got, o, o->size);
    orderd_store_page_t pg;
    assert_int_equal(
        orderd_store_list(st, S("ivy"), &(orderd_page_req_t){.offset = 0, .limit = 10, .status_mask = 0}, &a, &pg),
        ORDERD_STORE_OK);
    assert_int_equal(pg.total, 1);

    /* a status change of an unknown order: EINVAL */
    orderd_change_t sc = {.type = ORDERD_CHANGE_STATUS};
    sc.u.status_changed.order_id = other_id;
    sc.u.status_changed.status = ORDERD_STATUS_CANCELLED;
    sc.u.status_changed.prev_status = ORDERD_STATUS_PENDING;
    sc.u.status_changed.actor = ORDERD_ACTOR_USER;
    sc.u.status_changed.version = 2;
    sc.u.status_changed.at_ms = 1500;
    sc.u.status_changed.prev_updated_ms = 1000;
    assert_int_equal(orderd_store_apply(st, &sc), ORDERD_STORE_EINVAL);
    assert_int_equal(orderd_store_count(st), 1);

    /* a status change of a known order applies as given */
    sc.u.status_changed.order_id = o->id;
    assert_int_equal(orderd_store_apply(st, &sc), ORDERD_STORE_OK);
    expect_state(st, &a, "ivy", o->id, ORDERD_STATUS_CANCELLED, 2, 1000, 1500);
    assert_int_equal(
        orderd_store_list(st, S("ivy"),
                          &(orderd_page_req_t){.offset = 0, .limit = 10, .status_mask = 1u << ORDERD_STATUS_CANCELLED},
                          &a, &pg),
        ORDERD_STORE_OK);
    assert_int_equal(pg.total, 1);
    assert_true(pg.orders[0]->id == o->id);
    assert_int_equal(
        orderd_store_list(st, S("ivy"),
                          &(orderd_page_req_t){.offset = 0, .limit = 10, .status_mask = 1u << ORDERD_STATUS_PENDING},
                          &a, &pg),
        ORDERD_STORE_OK);
    assert_int_equal(pg.total, 0);
    /* and the live path sees it as cancelled: a repeat is a no-op */
    orderd_order_t *out = set_status(st, &a, "ivy", o->id, ORDERD_STATUS_CANCELLED, 9000, ORDERD_STORE_OK);
    assert_int_equal(out->version, 2);
    assert_true(out->updated_ms == 1500);

    /* replay into a fresh store: the same events give the same table */
    orderd_store_t *st2 = orderd_store_new(64);
    assert_non_null(st2);
    ev.u.created.order = o;
    assert_int_equal(orderd_store_apply(st2, &ev), ORDERD_STORE_OK);
    assert_int_equal(orderd_store_apply(st2, &sc), ORDERD_STORE_OK);
    expect_state(st2, &a, "ivy", o->id, ORDERD_STATUS_CANCELLED, 2, 1000, 1500);
    orderd_store_free(st2);
    orderd_store_free(st);
}

/* ---- concurrency ---- */

#define NTHREADS 8
#define NUSERS 50
#define NHOT 200
#define OPS 15000
#define MAX_SLOTS (NHOT + NTHREADS * OPS)

typedef struct slot {
    uint64_t id;
    int user;
    _Atomic int ready;
    _Atomic int64_t applied_at; /* now_ms of the one cancel that applied */
} slot_t;

static struct {
    orderd_store_t *st;
    char users[NUSERS][24];
    slot_t *slots;
    _Atomic size_t nslots;
    _Atomic int64_t clock;
    pthread_barrier_t start;
} W;

typedef struct worker {
    int index;
    test_rng_t rng;
    size_t creates, applied, noops, lists, gets, foreign;
    size_t errors;
    char msg[256];
} worker_t;

#define WFAIL(w, ...)                                                                                                \
    do {                                                                                                             \
        if ((w)->errors++ == 0)                                                                                      \
            snprintf((w)->msg, sizeof((w)->msg), __VA_ARGS__);                                                       \
    } while (0)

static int64_t tick(void)
{
    return atomic_fetch_add(&W.clock, 1) + 1;
}

static void w_create(worker_t *w, const orderd_alloc_t *a, int user)
{
    orderd_str_t u = S(W.users[user]);
    orderd_order_t *o = build_order(a, u, tick(), 1 + test_rng_below(&w->rng, 5));
    int rc = orderd_store_create(W.st, o, NULL, NULL, NULL, NULL, NULL);
    if (rc != ORDERD_STORE_OK) {
        WFAIL(w, "create for %s: %d", W.users[user], rc);
        return;
    }
    size_t i = atomic_fetch_add(&W.nslots, 1);
    if (i >= MAX_SLOTS) {
        WFAIL(w, "slot table full");
        return;
    }
    W.slots[i].id = o->id;
    W.slots[i].user = user;
    atomic_store_explicit(&W.slots[i].ready, 1, memory_order_release);
    w->creates++;
}

static slot_t *w_pick(worker_t *w)
{
    size_t n = atomic_load(&W.nslots);
    if (n == 0)
        return NULL;
    size_t i = test_rng_below(&w->rng, 2) ? test_rng_below(&w->rng, NHOT) : test_rng_below(&w->rng, (unsigned)n);
    if (i >= n || !atomic_load_explicit(&W.slots[i].ready, memory_order_acquire))
        return NULL;
    return &W.slots[i];
}

static void w_cancel(worker_t *w, const orderd_alloc_t *a, slot_t *s)
{
    int64_t now = tick();
    orderd_order_t *out = NULL;
    int rc = orderd_store_set_status(W.st, S(W.users[s->user]), s->id, ORDERD_STATUS_CANCELLED, now, NULL, NULL, a,
                                     &out, NULL);
    if (rc != ORDERD_STORE_OK || out == NULL) {
        WFAIL(w, "cancel of %" PRIx64 " by its owner: rc %d", s->id, rc);
        return;
    }
    if (out->id != s->id || out->status != ORDERD_STATUS_CANCELLED || out->version != 2) {
        WFAIL(w, "cancel of %" PRIx64 " returned id %" PRIx64 " status %d version %u", s->id, out->id, out->status,
              out->version);
        return;
    }
    if (out->updated_ms == now) { /* this call applied the change */
        int64_t zero = 0;
        if (!atomic_compare_exchange_strong(&s->applied_at, &zero, now))
            WFAIL(w, "order %" PRIx64 " cancelled twice (at %" PRId64 " and %" PRId64 ")", s->id, zero, now);
        w->applied++;
    } else {
        w->noops++;
    }
}

static void w_foreign(worker_t *w, const orderd_alloc_t *a, slot_t *s)
{
    int other = (s->user + 1 + (int)test_rng_below(&w->rng, NUSERS - 1)) % NUSERS;
    orderd_order_t *out = NULL;
    int rc = orderd_store_get(W.st, S(W.users[other]), s->id, a, &out);
    if (rc != ORDERD_STORE_ENOTFOUND)
        WFAIL(w, "get of %s's order by %s: rc %d", W.users[s->user], W.users[other], rc);
    rc = orderd_store_set_status(W.st, S(W.users[other]), s->id, ORDERD_STATUS_CANCELLED, tick(), NULL, NULL, a, &out,
                                 NULL);
    if (rc != ORDERD_STORE_ENOTFOUND)
        WFAIL(w, "cancel of %s's order by %s: rc %d", W.users[s->user], W.users[other], rc);
    w->foreign++;
}

static void w_get(worker_t *w, const orderd_alloc_t *a, slot_t *s)
{
    orderd_order_t *o = NULL;
    int rc = orderd_store_get(W.st, S(W.users[s->user]), s->id, a, &o);
    if (rc != ORDERD_STORE_OK || o == NULL) {
        WFAIL(w, "get of %" PRIx64 " by its owner: rc %d", s->id, rc);
        return;
    }
    int pend = o->status == ORDERD_STATUS_PENDING && o->version == 1;
    int canc = o->status == ORDERD_STATUS_CANCELLED && o->version == 2;
    if (o->id != s->id || !user_is(o, S(W.users[s->user])) || !(pend || canc) || orderd_order_check(o, o->size))
        WFAIL(w, "get of %" PRIx64 ": bad copy (status %d version %u)", s->id, o->status, o->version);
    w->gets++;
}

static void w_list(worker_t *w, const orderd_alloc_t *a)
{
    int user = (int)test_rng_below(&w->rng, NUSERS);
    static const unsigned masks[] = {0, 1u << ORDERD_STATUS_PENDING, 1u << ORDERD_STATUS_CANCELLED};
    unsigned mask = masks[test_rng_below(&w->rng, 3)];
    size_t off = test_rng_below(&w->rng, 6), lim = 1 + test_rng_below(&w->rng, 10);
    orderd_store_page_t pg;
    memset(&pg, 0, sizeof(pg));
    int rc = orderd_store_list(W.st, S(W.users[user]),
                               &(orderd_page_req_t){.offset = off, .limit = lim, .status_mask = mask}, a, &pg);
    if (rc != ORDERD_STORE_OK) {
        WFAIL(w, "list: rc %d", rc);
        return;
    }
    size_t want_n = pg.total > off ? (pg.total - off < lim ? pg.total - off : lim) : 0;
    if (pg.n != want_n)
        WFAIL(w, "list %s off %zu lim %zu: n %zu with total %zu", W.users[user], off, lim, pg.n, pg.total);
    for (size_t i = 0; i < pg.n; i++) {
        const orderd_order_t *o = pg.orders[i];
        int pend = o->status == ORDERD_STATUS_PENDING && o->version == 1;
        int canc = o->status == ORDERD_STATUS_CANCELLED && o->version == 2;
        if (!user_is(o, S(W.users[user])) || !(pend || canc) || (mask && !(mask & (1u << o->status))))
            WFAIL(w, "list %s: bad entry %" PRIx64 " (status %d version %u)", W.users[user], o->id, o->status,
                  o->version);
        if (i > 0 && !(pg.orders[i - 1]->id > o->id))
            WFAIL(w, "list %s: not newest first at %zu", W.users[user], i);
    }
    w->lists++;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    test_arena_t ar = {0};
    orderd_alloc_t a = test_arena_allocator(&ar);

    /* phase 1: everyone cancels every hot order, in its own order, at once */
    int perm[NHOT];
    for (int i = 0; i < NHOT; i++)
        perm[i] = i;
    for (int i = NHOT - 1; i > 0; i--) {
        int j = (int)test_rng_below(&w->rng, (unsigned)i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    pthread_barrier_wait(&W.start);
    for (int i = 0; i < NHOT; i++) {
        w_cancel(w, &a, &W.slots[perm[i]]);
        test_arena_reset(&ar);
    }

    /* phase 2: a random mix over shared users */
    for (int op = 0; op < OPS; op++) {
        unsigned r = test_rng_below(&w->rng, 100);
        slot_t *s = r >= 35 && r < 60 ? w_pick(w) : NULL;
        if (r < 35)
            w_create(w, &a, (int)test_rng_below(&w->rng, NUSERS));
        else if (r < 50 && s)
            w_cancel(w, &a, s);
        else if (r < 60 && s)
            w_foreign(w, &a, s);
        else if (r < 85)
            w_list(w, &a);
        else if ((s = w_pick(w)) != NULL)
            w_get(w, &a, s);
        test_arena_reset(&ar);
    }
    test_arena_reset(&ar);
    return NULL;
}

static int cmp_slot_id(const void *x, const void *y)
{
    uint64_t a = (*(slot_t *const *)x)->id, b = (*(slot_t *const *)y)->id;
    return a < b ? -1 : a > b;
}

static const slot_t *find_slot(slot_t **by_id, size_t n, uint64_t id)
{
    slot_t key = {.id = id}, *kp = &key;
    slot_t **hit = bsearch(&kp, by_id, n, sizeof(*by_id), cmp_slot_id);
    return hit ? *hit : NULL;
}

static int cmp_desc(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a > b ? -1 : a < b;
}

static void test_concurrent_create_cancel_list(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    memset(&W, 0, sizeof(W));
    /* 16 shards for 50 users: users share shards, threads collide on both */
    W.st = orderd_store_new(16);
    assert_non_null(W.st);
    W.slots = calloc(MAX_SLOTS, sizeof(slot_t));
    assert_non_null(W.slots);
    atomic_store(&W.clock, 1700000000000);
    int shared_shard = 0;
    unsigned sh[NUSERS];
    for (int u = 0; u < NUSERS; u++) {
        snprintf(W.users[u], sizeof(W.users[u]), "user-%02d@example", u);
        sh[u] = orderd_store_shard_of_user(W.st, S(W.users[u]));
        for (int v = 0; v < u; v++)
            shared_shard |= sh[u] == sh[v];
    }
    assert_true(shared_shard);

    /* the hot orders, created before the threads start */
    worker_t setup = {.index = -1, .rng = {1}};
    for (int i = 0; i < NHOT; i++) {
        w_create(&setup, &a, i % NUSERS);
        test_arena_reset((test_arena_t *)*state);
    }
    assert_int_equal(setup.errors, 0);

    pthread_t th[NTHREADS];
    worker_t *ws = calloc(NTHREADS, sizeof(worker_t));
    assert_non_null(ws);
    assert_int_equal(pthread_barrier_init(&W.start, NULL, NTHREADS), 0);
    for (int t = 0; t < NTHREADS; t++) {
        ws[t].index = t;
        ws[t].rng.s = 1000 + (unsigned long long)t;
        assert_int_equal(pthread_create(&th[t], NULL, worker_main, &ws[t]), 0);
    }
    for (int t = 0; t < NTHREADS; t++)
        pthread_join(th[t], NULL);
    pthread_barrier_destroy(&W.start);

    size_t creates = setup.creates, applied = 0, noops = 0, lists = 0, gets = 0, foreign = 0;
    for (int t = 0; t < NTHREADS; t++) {
        if (ws[t].errors)
            fail_msg("thread %d: %zu errors, first: %s", t, ws[t].errors, ws[t].msg);
        creates += ws[t].creates;
        applied += ws[t].applied;
        noops += ws[t].noops;
        lists += ws[t].lists;
        gets += ws[t].gets;
        foreign += ws[t].foreign;
    }
    print_message("creates %zu, cancels applied %zu / repeated %zu, lists %zu, gets %zu, foreign %zu\n", creates,
                  applied, noops, lists, gets, foreign);
    size_t nslots = atomic_load(&W.nslots);
    assert_int_equal(nslots, creates);
    assert_int_equal(orderd_store_count(W.st), creates);
    /* every hot order was cancelled by exactly one of the 8 racing cancels */
    for (int i = 0; i < NHOT; i++)
        assert_true(atomic_load(&W.slots[i].applied_at) != 0);
    assert_true(noops >= (size_t)NHOT * (NTHREADS - 1));
    assert_true(lists > 0 && gets > 0 && foreign > 0);

    /* per user: the list is exactly the user's orders, newest first, statuses as the cancels left them */
    size_t cancelled_total = 0, seen_total = 0;
    uint64_t *want = malloc(nslots * sizeof(*want)), *got = malloc(nslots * sizeof(*got));
    slot_t **by_id = malloc(nslots * sizeof(*by_id));
    assert_non_null(want);
    assert_non_null(got);
    assert_non_null(by_id);
    for (size_t i = 0; i < nslots; i++)
        by_id[i] = &W.slots[i];
    qsort(by_id, nslots, sizeof(*by_id), cmp_slot_id);
    for (size_t i = 1; i < nslots; i++)
        if (by_id[i - 1]->id == by_id[i]->id)
            fail_msg("id %" PRIx64 " was handed out twice", by_id[i]->id);
    for (int u = 0; u < NUSERS; u++) {
        orderd_str_t user = S(W.users[u]);
        size_t nw = 0, ncanc = 0;
        for (size_t i = 0; i < nslots; i++) {
            if (W.slots[i].user != u)
                continue;
            want[nw++] = W.slots[i].id;
            ncanc += atomic_load(&W.slots[i].applied_at) != 0;
        }
        qsort(want, nw, sizeof(*want), cmp_desc);

        size_t ng = collect(W.st, &a, user, 0, 7, got, nslots, nw);
        assert_int_equal(ng, nw);
        for (size_t i = 0; i < nw; i++)
            if (got[i] != want[i])
                fail_msg("%s: list entry %zu is %" PRIx64 ", want %" PRIx64 " (newest first, no duplicates)",
                         W.users[u], i, got[i], want[i]);

        /* totals per status sum to the user's total */
        size_t sum = 0;
        for (int s = 0; s < ORDERD_STATUS_COUNT; s++) {
            orderd_store_page_t pg;
            assert_int_equal(orderd_store_list(W.st, user,
                                               &(orderd_page_req_t){.offset = 0, .limit = 1, .status_mask = 1u << s},
                                               &a, &pg),
                             ORDERD_STORE_OK);
            sum += pg.total;
            if (s == ORDERD_STATUS_CANCELLED)
                assert_int_equal(pg.total, ncanc);
            else if (s == ORDERD_STATUS_PENDING)
                assert_int_equal(pg.total, nw - ncanc);
            else
                assert_int_equal(pg.total, 0);
        }
        assert_int_equal(sum, nw);

        /* every order: cancelled ones have version 2 and the applier's time, pending ones version 1 */
        orderd_store_page_t all;
        assert_int_equal(orderd_store_list(W.st, user,
                                           &(orderd_page_req_t){.offset = 0, .limit = nw + 1, .status_mask = 0}, &a,
                                           &all),
                         ORDERD_STORE_OK);
        assert_int_equal(all.n, nw);
        for (size_t i = 0; i < all.n; i++) {
            const orderd_order_t *o = all.orders[i];
            const slot_t *s = find_slot(by_id, nslots, o->id);
            assert_non_null(s);
            assert_int_equal(s->user, u);
            int64_t at = atomic_load(&s->applied_at);
            if (o->status == ORDERD_STATUS_CANCELLED) {
                assert_int_equal(o->version, 2);
                assert_true(at != 0 && o->updated_ms == at);
                cancelled_total++;
            } else {
                assert_int_equal(o->status, ORDERD_STATUS_PENDING);
                assert_int_equal(o->version, 1);
                assert_true(at == 0);
                assert_true(o->updated_ms == o->created_ms);
            }
        }
        seen_total += nw;
        test_arena_reset((test_arena_t *)*state);
    }
    assert_int_equal(seen_total, creates);
    /* a repeated cancel never counts: successful applies == cancelled orders */
    assert_int_equal(cancelled_total, applied);

    free(want);
    free(got);
    free(by_id);
    free(ws);
    free(W.slots);
    orderd_store_free(W.st);
}


/* ---- pages by cursor, the operator's queue ---- */

static void ids_of(const orderd_store_page_t *p, uint64_t *out)
{
    for (size_t i = 0; i < p->n; i++)
        out[i] = p->orders[i]->id;
}

static void test_list_cursors(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_store_t *st = orderd_store_new(8);
    uint64_t id[6], got[6];
    for (int i = 0; i < 6; i++)
        id[i] = add_order(st, &a, S("cur"), 1000 + i);
    orderd_order_t *o;
    assert_int_equal(
        orderd_store_set_status(st, S("cur"), id[2], ORDERD_STATUS_CANCELLED, 2000, NULL, NULL, &a, &o, NULL),
        ORDERD_STORE_OK);
    orderd_store_page_t p;
    /* newest first: after id[4] come id[3], id[2] */
    orderd_page_req_t r = {.mode = ORDERD_PAGE_AFTER, .cursor = id[4], .limit = 2};
    assert_int_equal(orderd_store_list(st, S("cur"), &r, &a, &p), ORDERD_STORE_OK);
    assert_int_equal(p.n, 2);
    ids_of(&p, got);
    assert_true(got[0] == id[3] && got[1] == id[2]);
    assert_int_equal(p.offset, 2);
    assert_int_equal(p.total, 6);
    /* before id[1]: the two nearest newer ones, newest first */
    r = (orderd_page_req_t){.mode = ORDERD_PAGE_BEFORE, .cursor = id[1], .limit = 2};
    assert_int_equal(orderd_store_list(st, S("cur"), &r, &a, &p), ORDERD_STORE_OK);
    ids_of(&p, got);
    assert_int_equal(p.n, 2);
    assert_true(got[0] == id[3] && got[1] == id[2]);
    assert_int_equal(p.offset, 2);
    /* status list: pending + cancelled, after a cursor that is not in the filter */
    r = (orderd_page_req_t){.mode = ORDERD_PAGE_AFTER, .cursor = id[3], .limit = 10,
                            .status_mask = 1u << ORDERD_STATUS_CANCELLED | 1u << ORDERD_STATUS_PENDING};
    assert_int_equal(orderd_store_list(st, S("cur"), &r, &a, &p), ORDERD_STORE_OK);
    ids_of(&p, got);
    assert_int_equal(p.n, 3);
    assert_true(got[0] == id[2] && got[1] == id[1] && got[2] == id[0]);
    /* only cancelled, after its only order: empty, but it says where it is */
    r = (orderd_page_req_t){.mode = ORDERD_PAGE_AFTER, .cursor = id[2], .limit = 10,
                            .status_mask = 1u << ORDERD_STATUS_CANCELLED};
    assert_int_equal(orderd_store_list(st, S("cur"), &r, &a, &p), ORDERD_STORE_OK);
    assert_int_equal(p.n, 0);
    assert_int_equal(p.offset, 1);
    /* the largest and smallest cursors there are */
    r = (orderd_page_req_t){.mode = ORDERD_PAGE_BEFORE, .cursor = UINT64_MAX, .limit = 2};
    assert_int_equal(orderd_store_list(st, S("cur"), &r, &a, &p), ORDERD_STORE_OK);
    assert_int_equal(p.n, 0);
    r = (orderd_page_req_t){.mode = ORDERD_PAGE_AFTER, .cursor = UINT64_MAX, .limit = 2};
    assert_int_equal(orderd_store_list(st, S("cur"), &r, &a, &p), ORDERD_STORE_OK);
    ids_of(&p, got);
    assert_true(p.n == 2 && got[0] == id[5] && p.offset == 0);
    r = (orderd_page_req_t){.mode = ORDERD_PAGE_AFTER, .cursor = 0, .limit = 2};
    assert_int_equal(orderd_store_list(st, S("cur"), &r, &a, &p), ORDERD_STORE_OK);
    assert_true(p.n == 0 && p.offset == 6);
    /* a cursor page does not move when a newer order arrives */
    r = (orderd_page_req_t){.mode = ORDERD_PAGE_AFTER, .cursor = id[4], .limit = 2};
    add_order(st, &a, S("cur"), 3000);
    assert_int_equal(orderd_store_list(st, S("cur"), &r, &a, &p), ORDERD_STORE_OK);
    ids_of(&p, got);
    assert_true(got[0] == id[3] && got[1] == id[2]);
    orderd_store_free(st);
}

static void test_admin_page_oldest_first(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_store_t *st = orderd_store_new(16);
    uint64_t id[12], got[12];
    char name[16];
    for (int i = 0; i < 12; i++) {
        snprintf(name, sizeof(name), "u%d", i % 5);
        id[i] = add_order(st, &a, S(name), 1000 + i);
    }
    orderd_order_t *o;
    assert_int_equal(orderd_store_set_status(st, (orderd_str_t){NULL, 0}, id[0], ORDERD_STATUS_PROCESSING, 2000, NULL,
                                             NULL, &a, &o, NULL),
                     ORDERD_STORE_OK);
    orderd_store_page_t p;
    orderd_page_req_t r = {.mode = ORDERD_PAGE_OFFSET, .offset = 2, .limit = 3,
                           .status_mask = 1u << ORDERD_STATUS_PENDING};
    assert_int_equal(orderd_store_queue(st, &r, &a, &p), ORDERD_STORE_OK);
    ids_of(&p, got);
    assert_int_equal(p.total, 11);
    assert_int_equal(p.n, 3);
    assert_true(got[0] == id[3] && got[1] == id[4] && got[2] == id[5]);
    r = (orderd_page_req_t){.mode = ORDERD_PAGE_AFTER, .cursor = id[9], .limit = 5,
                            .status_mask = 1u << ORDERD_STATUS_PENDING};
    assert_int_equal(orderd_store_queue(st, &r, &a, &p), ORDERD_STORE_OK);
    ids_of(&p, got);
    assert_int_equal(p.n, 2);
    assert_true(got[0] == id[10] && got[1] == id[11]);
    assert_int_equal(p.offset, 9); /* id[1] to id[9] are pending */
    r = (orderd_page_req_t){.mode = ORDERD_PAGE_BEFORE, .cursor = id[4], .limit = 2};
    assert_int_equal(orderd_store_queue(st, &r, &a, &p), ORDERD_STORE_OK);
    ids_of(&p, got);
    assert_int_equal(p.n, 2);
    assert_true(got[0] == id[2] && got[1] == id[3]);
    assert_int_equal(p.offset, 2);
    r = (orderd_page_req_t){.mode = ORDERD_PAGE_AFTER, .cursor = UINT64_MAX, .limit = 2};
    assert_int_equal(orderd_store_queue(st, &r, &a, &p), ORDERD_STORE_OK);
    assert_true(p.n == 0 && p.offset == 12);
    orderd_store_free(st);
}

/* ---- audit trail, If-Match, idempotency keys ---- */

static void test_history_and_events(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_store_t *st = orderd_store_new(4);
    uint64_t id = add_order(st, &a, S("hist"), 1000);
    orderd_order_t *o;
    orderd_str_t op = {NULL, 0};
    assert_int_equal(orderd_store_set_status(st, op, id, ORDERD_STATUS_PROCESSING, 2000, NULL, NULL, &a, &o, NULL),
                     ORDERD_STORE_OK);
    assert_int_equal(orderd_store_set_status(st, op, id, ORDERD_STATUS_SHIPPED, 3000, NULL, NULL, &a, &o, NULL),
                     ORDERD_STORE_OK);
    orderd_audit_entry_t *ev;
    size_t n;
    assert_int_equal(orderd_store_audit_trail(st, S("hist"), id, &a, &o, &ev, &n), ORDERD_STORE_OK);
    assert_int_equal(n, 3);
    assert_true(ev[0].version == 1 && ev[0].status == ORDERD_STATUS_PENDING && ev[0].actor == ORDERD_ACTOR_USER &&
                ev[0].at_ms == 1000);
    assert_true(ev[1].version == 2 && ev[1].status == ORDERD_STATUS_PROCESSING && ev[1].actor == ORDERD_ACTOR_OPERATOR &&
                ev[1].at_ms == 2000);
    assert_true(ev[2].version == 3 && ev[2].status == ORDERD_STATUS_SHIPPED && ev[2].at_ms == 3000);
    assert_int_equal(orderd_store_audit_trail(st, S("other"), id, &a, &o, &ev, &n), ORDERD_STORE_ENOTFOUND);
    /* undo drops the newest change from the trail */
    orderd_change_t undo = {.type = ORDERD_CHANGE_STATUS,
                           .u.status_changed = {.order_id = id, .status = ORDERD_STATUS_SHIPPED,
                                                .prev_status = ORDERD_STATUS_PROCESSING, .version = 3, .at_ms = 3000,
                                                .prev_updated_ms = 2000}};
    assert_int_equal(orderd_store_undo(st, &undo), ORDERD_STORE_OK);
    assert_int_equal(orderd_store_audit_trail(st, S("hist"), id, &a, &o, &ev, &n), ORDERD_STORE_OK);
    assert_int_equal(n, 2);
    /* restore (as from a snapshot) puts entries back; a bad one is refused */
    orderd_audit_entry_t back = {.version = 3, .status = ORDERD_STATUS_SHIPPED, .actor = ORDERD_ACTOR_OPERATOR, .at_ms = 3000};
    assert_int_equal(orderd_store_restore_history(st, id, &back, 1), ORDERD_STORE_EINVAL); /* version is 2 now */
    back.version = 2;
    /* the trail holds version 2 already: a snapshot's entries only follow what it holds */
    assert_int_equal(orderd_store_restore_history(st, id, &back, 1), ORDERD_STORE_EINVAL);
    /* an order loaded at version 2 (as a snapshot holds it) without its trail takes it */
    o->id = id + ((uint64_t)1 << ORDERD_ID_SHARD_BITS);
    orderd_change_t loaded = {.type = ORDERD_CHANGE_CREATED, .u.created.order = o};
    assert_int_equal(orderd_store_apply(st, &loaded), ORDERD_STORE_OK);
    assert_int_equal(orderd_store_restore_history(st, o->id, &back, 1), ORDERD_STORE_OK);
    assert_int_equal(orderd_store_audit_trail(st, S("hist"), o->id, &a, &o, &ev, &n), ORDERD_STORE_OK);
    assert_true(n == 2 && ev[1].version == 2 && ev[1].status == ORDERD_STATUS_SHIPPED && ev[1].at_ms == 3000);
    assert_int_equal(orderd_store_restore_history(st, id + 1, &back, 1), ORDERD_STORE_EINVAL);
    orderd_store_free(st);
}

static void test_if_match(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_store_t *st = orderd_store_new(4);
    uint64_t id = add_order(st, &a, S("ifm"), 1000);
    orderd_order_t *o;
    orderd_precondition_t pre = {.active = 1, .n = 2, .versions = {2, 3}};
    assert_int_equal(orderd_store_set_status(st, S("ifm"), id, ORDERD_STATUS_CANCELLED, 2000, &pre, NULL, &a, &o, NULL),
                     ORDERD_STORE_EPRECONDITION);
    assert_int_equal(o->status, ORDERD_STATUS_PENDING);
    assert_int_equal(o->version, 1);
    pre.versions[1] = 1;
    assert_int_equal(orderd_store_set_status(st, S("ifm"), id, ORDERD_STATUS_CANCELLED, 2000, &pre, NULL, &a, &o, NULL),
                     ORDERD_STORE_OK);
    assert_int_equal(o->version, 2);
    pre = (orderd_precondition_t){.active = 1, .any = 1};
    assert_int_equal(orderd_store_set_status(st, S("ifm"), id, ORDERD_STATUS_CANCELLED, 2000, &pre, NULL, &a, &o, NULL),
                     ORDERD_STORE_OK);
    orderd_store_free(st);
}

/* A journal that records the event types it is given, and can refuse. */
typedef struct rec_journal {
    int types[16];
    int n;
    int refuse_at; /* refuse the append with this index (0: never) */
} rec_journal_t;

static int rec_append(void *ctx, unsigned shard, const orderd_change_t *ev, void *waiter)
{
    rec_journal_t *j = ctx;
    if (j->n + 1 == j->refuse_at)
        return -1;
    j->types[j->n++] = ev->type;
    return 0;
}

static int rec_barrier(void *ctx, unsigned shard, void *waiter)
{
    rec_journal_t *j = ctx;
    j->types[j->n++] = 99;
    return 0;
}

static orderd_idem_key_t make_key(const char *key, int fp)
{
    orderd_idem_key_t k = {S(key), {0}};
    memset(k.fingerprint, fp, sizeof(k.fingerprint));
    return k;
}

static void test_idempotent_create(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_store_t *st = orderd_store_new(4);
    rec_journal_t j = {0};
    orderd_store_journal_t hooks = {rec_append, rec_barrier, &j};
    orderd_store_set_journal(st, &hooks);
    orderd_idem_key_t k = make_key("key-1", 1), other = make_key("key-1", 2);
    orderd_order_t *o = build_order(&a, S("idem"), 1000, 1), *out;
    int status = 0;
    assert_int_equal(orderd_store_create(st, o, &k, &a, &out, &status, NULL), ORDERD_STORE_OK);
    assert_int_equal(status, 201);
    uint64_t id = o->id;
    /* the key's record goes first, then the order's */
    assert_int_equal(j.n, 2);
    assert_true(j.types[0] == ORDERD_CHANGE_IDEM_KEY && j.types[1] == ORDERD_CHANGE_CREATED);
    /* same key, same request: the first answer, behind a barrier, nothing new */
    o = build_order(&a, S("idem"), 1001, 1);
    assert_int_equal(orderd_store_create(st, o, &k, &a, &out, &status, NULL), ORDERD_STORE_REPLAYED);
    assert_int_equal(out->id, id);
    assert_int_equal(status, 201);
    assert_int_equal(j.types[j.n - 1], 99);
    assert_int_equal(orderd_store_count(st), 1);
    /* after a change the replay still shows version 1 */
    assert_int_equal(
        orderd_store_set_status(st, S("idem"), id, ORDERD_STATUS_CANCELLED, 5000, NULL, NULL, &a, &out, NULL),
        ORDERD_STORE_OK);
    assert_int_equal(orderd_store_create(st, o, &k, &a, &out, &status, NULL), ORDERD_STORE_REPLAYED);
    assert_true(out->version == 1 && out->status == ORDERD_STATUS_PENDING && out->updated_ms == 1000);
    assert_int_equal(orderd_store_create(st, o, &other, &a, &out, &status, NULL), ORDERD_STORE_EKEYMISMATCH);
    /* another user's same key is theirs */
    orderd_order_t *o2 = build_order(&a, S("idem2"), 1000, 1);
    assert_int_equal(orderd_store_create(st, o2, &k, &a, &out, &status, NULL), ORDERD_STORE_OK);
    assert_int_equal(orderd_store_idem_count(st), 2);
    /* the journal refuses the order after taking the key: nothing stays */
    j.refuse_at = j.n + 2;
    orderd_idem_key_t k3 = make_key("key-3", 3);
    o = build_order(&a, S("idem"), 7000, 1);
    assert_int_equal(orderd_store_create(st, o, &k3, &a, &out, &status, NULL), ORDERD_STORE_EUNAVAILABLE);
    assert_int_equal(orderd_store_count(st), 2);
    assert_int_equal(orderd_store_idem_count(st), 2);
    /* expired: the key is forgotten, a new order is made */
    orderd_store_set_idem_ttl(st, 1000);
    j.refuse_at = 0;
    o = build_order(&a, S("idem"), 9000, 1);
    assert_int_equal(orderd_store_create(st, o, &k, &a, &out, &status, NULL), ORDERD_STORE_OK);
    assert_true(o->id != id);
    orderd_store_free(st);
}

static void test_idempotent_cancel_and_stale_key(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_store_t *st = orderd_store_new(4);
    uint64_t id = add_order(st, &a, S("idc"), 1000), id2 = add_order(st, &a, S("idc"), 1001);
    orderd_idem_key_t k = make_key("c", 7);
    orderd_order_t *o;
    assert_int_equal(orderd_store_set_status(st, S("idc"), id, ORDERD_STATUS_CANCELLED, 2000, NULL, &k, &a, &o, NULL),
                     ORDERD_STORE_OK);
    assert_int_equal(o->version, 2);
    assert_int_equal(orderd_store_set_status(st, S("idc"), id, ORDERD_STATUS_CANCELLED, 2000, NULL, &k, &a, &o, NULL),
                     ORDERD_STORE_REPLAYED);
    assert_int_equal(o->version, 2);
    /* the same key for another order's cancel is another request */
    orderd_idem_key_t k_other = make_key("c", 8);
    assert_int_equal(
        orderd_store_set_status(st, S("idc"), id2, ORDERD_STATUS_CANCELLED, 2000, NULL, &k_other, &a, &o, NULL),
        ORDERD_STORE_EKEYMISMATCH);
    /* a key whose change was cut off (the order is older than the key says) is stale */
    size_t size = orderd_idem_entry_size(3, 5);
    orderd_idem_entry_t *e = orderd_alloc(&a, size);
    unsigned char fp[ORDERD_IDEM_FP_LEN] = {9};
    orderd_idem_entry_build(e, S("idc"), S("stale"), id2, 2, 200, fp, orderd_now_ms());
    orderd_change_t ev = {.type = ORDERD_CHANGE_IDEM_KEY, .u.idem.entry = e};
    assert_int_equal(orderd_store_replay(st, &ev), ORDERD_STORE_OK);
    orderd_idem_key_t ks = {S("stale"), {9}};
    assert_int_equal(orderd_store_set_status(st, S("idc"), id2, ORDERD_STATUS_CANCELLED, 3000, NULL, &ks, &a, &o, NULL),
                     ORDERD_STORE_OK);
    /* replay of an expired key loads nothing */
    orderd_idem_entry_build(e, S("idc"), S("old"), id2, 1, 201, fp, 1000);
    size_t before = orderd_store_idem_count(st);
    assert_int_equal(orderd_store_replay(st, &ev), ORDERD_STORE_OK);
    assert_int_equal(orderd_store_idem_count(st), before);
    /* undo takes a key back */
    orderd_idem_entry_build(e, S("idc"), S("u"), id2, 2, 200, fp, orderd_now_ms());
    assert_int_equal(orderd_store_apply(st, &ev), ORDERD_STORE_OK);
    assert_int_equal(orderd_store_idem_count(st), before + 1);
    assert_int_equal(orderd_store_undo(st, &ev), ORDERD_STORE_OK);
    assert_int_equal(orderd_store_idem_count(st), before);
    /* a key dated at the end of time (a damaged record whose CRC still held) is
     * not wrapped into the past by created + TTL, a signed overflow (UBSan on
     * tests/fuzz/regressions/journal/idem-key-created-at-int64-max): it is
     * loaded and answers */
    orderd_idem_entry_build(e, S("idc"), S("later"), id2, 2, 200, fp, INT64_MAX);
    assert_int_equal(orderd_store_replay(st, &ev), ORDERD_STORE_OK);
    assert_int_equal(orderd_store_idem_count(st), before + 1);
    orderd_idem_key_t kl = {S("later"), {9}};
    assert_int_equal(orderd_store_set_status(st, S("idc"), id2, ORDERD_STATUS_CANCELLED, 4000, NULL, &kl, &a, &o, NULL),
                     ORDERD_STORE_REPLAYED);
    orderd_store_free(st);
}

/* 8 threads send the same 200 keys (each key from every thread) for one
 * user, while they also cancel with keys: one order per key, whatever the
 * interleaving, and every answer for a key names that one order. */
typedef struct key_race {
    orderd_store_t *st;
    uint64_t ids[8][200];
} key_race_t;

typedef struct key_race_arg {
    key_race_t *race;
    int t;
} key_race_arg_t;

static void *key_race_thread(void *p)
{
    key_race_arg_t *arg = p;
    test_arena_t ar = {0};
    orderd_alloc_t a = test_arena_allocator(&ar);
    char key[16];
    for (int i = 0; i < 200; i++) {
        int k = (i + arg->t * 25) % 200; /* threads start at different keys */
        snprintf(key, sizeof(key), "k%d", k);
        orderd_idem_key_t ik = make_key(key, 1);
        /* keys are stamped with the order's creation time: a real one, or they expire at once */
        orderd_order_t *o = build_order(&a, S("racer"), orderd_now_ms(), 1), *out;
        int status;
        int rc = orderd_store_create(arg->race->st, o, &ik, &a, &out, &status, NULL);
        assert_true(rc == ORDERD_STORE_OK || rc == ORDERD_STORE_REPLAYED);
        arg->race->ids[arg->t][k] = out->id;
        if (k % 5 == 0) {
            snprintf(key, sizeof(key), "c%d", k);
            orderd_idem_key_t ck = make_key(key, 2);
            rc = orderd_store_set_status(arg->race->st, S("racer"), out->id, ORDERD_STATUS_CANCELLED, orderd_now_ms(),
                                         NULL, &ck, &a, &out, NULL);
            assert_true(rc == ORDERD_STORE_OK || rc == ORDERD_STORE_REPLAYED);
            assert_int_equal(out->status, ORDERD_STATUS_CANCELLED);
        }
        test_arena_reset(&ar);
        a = test_arena_allocator(&ar);
    }
    return NULL;
}

static void test_concurrent_keys(void **state)
{
    key_race_t *race = calloc(1, sizeof(*race));
    race->st = orderd_store_new(16);
    pthread_t th[8];
    key_race_arg_t args[8];
    for (int t = 0; t < 8; t++) {
        args[t] = (key_race_arg_t){race, t};
        assert_int_equal(pthread_create(&th[t], NULL, key_race_thread, &args[t]), 0);
    }
    for (int t = 0; t < 8; t++)
        pthread_join(th[t], NULL);
    assert_int_equal(orderd_store_count(race->st), 200);
    assert_int_equal(orderd_store_idem_count(race->st), 240);
    for (int k = 0; k < 200; k++)
        for (int t = 1; t < 8; t++)
            assert_int_equal(race->ids[t][k], race->ids[0][k]);
    orderd_store_free(race->st);
    free(race);
}

static void note_id(void *ctx, const orderd_order_t *o)
{
    uint64_t **p = ctx;
    *(*p)++ = o->id;
}

/* orderd_store_each gives a shard's orders in ascending id order, whatever
 * order they were added in: a snapshot written that way loads with appends
 * only (in hash order, loading was quadratic in the orders of a user). */
static void test_each_in_id_order(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_store_t *st = orderd_store_new(16);
    test_rng_t r = {7};
    const char *users[3] = {"ann", "bob", "cy"};
    size_t added = 0;
    for (int i = 0; i < 3000; ++i) {
        orderd_str_t u = S(users[test_rng_below(&r, 3)]);
        /* ids carry their user's hash bits, as the store's own do */
        uint64_t id = ((uint64_t)(1 + test_rng_below(&r, 1u << 30)) << 12) |
                      (orderd_store_next_id(st, u) & 0xfff);
        orderd_change_t ev = {.type = ORDERD_CHANGE_CREATED};
        ev.u.created.order = build_order_id(&a, id, u, 1000 + i, 1);
        if (orderd_store_apply(st, &ev) == ORDERD_STORE_OK)
            ++added;
    }
    size_t seen = 0;
    uint64_t *all = malloc(added * sizeof(*all));
    for (unsigned sh = 0; sh < orderd_store_shards(st); ++sh) {
        uint64_t *start = all + seen, *p = start;
        orderd_store_each(st, sh, note_id, &p);
        for (uint64_t *q = start + 1; q < p; ++q)
            if (q[-1] >= q[0])
                fail_msg("shard %u: id %" PRIu64 " after %" PRIu64, sh, q[0], q[-1]);
        seen += (size_t)(p - start);
    }
    assert_int_equal(seen, added);
    free(all);
    orderd_store_free(st);
}

/* The sorted id vector against a plain sorted array: inserts and removals
 * anywhere, oldest first above all (they move the front), and growth. */
static void test_idvec_against_reference(void **state)
{
    (void)state;
    test_rng_t r = {42};
    orderd_idvec_t v = {0};
    uint64_t ref[4096];
    size_t n = 0;
    uint64_t next = 1000;
    for (int step = 0; step < 200000; ++step) {
        unsigned op = test_rng_below(&r, 10);
        if (op < 4 && n < 4096) { /* mostly new, larger ids; sometimes an old one */
            uint64_t id = test_rng_below(&r, 4) == 0 ? test_rng_below(&r, (unsigned)next) : next++;
            size_t at = 0;
            while (at < n && ref[at] < id)
                ++at;
            if (at < n && ref[at] == id)
                continue;
            memmove(&ref[at + 1], &ref[at], (n - at) * sizeof(*ref));
            ref[at] = id;
            ++n;
            assert_int_equal(orderd_idvec_reserve(&v, 1), 0);
            orderd_idvec_insert(&v, id);
        } else if (n > 0) { /* the oldest, usually; else any */
            size_t at = op < 8 ? 0 : test_rng_below(&r, (unsigned)n);
            uint64_t id = ref[at];
            memmove(&ref[at], &ref[at + 1], (n - at - 1) * sizeof(*ref));
            --n;
            orderd_idvec_remove(&v, id);
        }
        if (v.n != n || (n > 0 && memcmp(v.ids, ref, n * sizeof(*ref)) != 0))
            fail_msg("step %d: the vector (%zu ids) differs from the reference (%zu)", step, v.n, n);
        if (n > 0)
            assert_int_equal(orderd_idvec_lower_bound(&v, ref[n / 2]), n / 2);
    }
    orderd_idvec_remove(&v, 1); /* absent: nothing happens */
    assert_int_equal(v.n, n);
    orderd_idvec_free(&v);
}

/* ---- out of memory: a refused change changes nothing ---- */

/* A journal that only counts what it is handed. */
static int count_append(void *ctx, unsigned shard, const orderd_change_t *ev, void *waiter)
{
    ++*(int *)ctx;
    return 0;
}

static int count_barrier(void *ctx, unsigned shard, void *waiter)
{
    return 0;
}

/* Everything a request could see of the table, as text: the counts, each
 * of `user`'s orders (id, version, status, time) newest first, the totals
 * per status, and the operator's queue totals. */
static char *table_state(orderd_store_t *st, const char *user)
{
    test_arena_t ar = {0};
    orderd_alloc_t a = test_arena_allocator(&ar);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    len += (size_t)snprintf(out + len, cap - len, "orders=%zu keys=%zu |", orderd_store_count(st),
                            orderd_store_idem_count(st));
    orderd_store_page_t pg;
    assert_int_equal(orderd_store_list(st, S(user), &(orderd_page_req_t){.limit = 1000}, &a, &pg), ORDERD_STORE_OK);
    for (size_t i = 0; i < pg.n && len < cap - 64; i++)
        len += (size_t)snprintf(out + len, cap - len, " %llx:%u:%u:%lld", (unsigned long long)pg.orders[i]->id,
                                pg.orders[i]->version, pg.orders[i]->status, (long long)pg.orders[i]->updated_ms);
    for (int k = 0; k < ORDERD_STATUS_COUNT; k++) {
        orderd_page_req_t r = {.limit = 1, .status_mask = 1u << k};
        assert_int_equal(orderd_store_list(st, S(user), &r, &a, &pg), ORDERD_STORE_OK);
        len += (size_t)snprintf(out + len, cap - len, " | %s=%zu", orderd_status_name((orderd_status_t)k), pg.total);
        assert_int_equal(orderd_store_queue(st, &r, &a, &pg), ORDERD_STORE_OK);
        len += (size_t)snprintf(out + len, cap - len, " queue=%zu", pg.total);
    }
    test_arena_reset(&ar);
    return out;
}

/*
 * Runs `verb` on a table that `setup` builds afresh, once with each of its
 * allocations failing in turn (the 1st, the 2nd, ...) until a run reaches no
 * armed allocation. Each failed run must answer ENOMEM, leave the table as
 * it was and hand the journal nothing; the last run must succeed. Returns
 * how many allocations the verb made, that is how many failures it met.
 */
typedef struct oom_case {
    void (*setup)(orderd_store_t *st, const orderd_alloc_t *a, struct oom_case *c);
    int (*verb)(orderd_store_t *st, const orderd_alloc_t *a, struct oom_case *c);
    const char *user;   /* whose orders the table state lists */
    int orders;         /* setup: how many orders */
    uint64_t ids[128];  /* setup: their ids */
    const orderd_idem_key_t *key;
    orderd_status_t to;
    int target;         /* the verb changes ids[target] */
    int operator;       /* the verb acts for the operator */
    size_t limit;       /* pages: the page size */
} oom_case_t;

static long walk_oom(const orderd_alloc_t *a, oom_case_t *c)
{
    for (long n = 1;; n++) {
        orderd_store_t *st = orderd_store_new(4);
        c->setup(st, a, c);
        int records = 0;
        orderd_store_journal_t hooks = {count_append, count_barrier, &records};
        orderd_store_set_journal(st, &hooks);
        char *before = table_state(st, c->user);
        alloc_fail_arm(n);
        int ret = c->verb(st, a, c);
        int hit = alloc_fail_disarm();
        char *after = table_state(st, c->user);
        orderd_store_free(st);
        if (!hit) {
            assert_int_equal(ret, ORDERD_STORE_OK);
            assert_string_not_equal(before, after); /* the change was made */
            free(before);
            free(after);
            return n - 1;
        }
        if (ret != ORDERD_STORE_ENOMEM)
            fail_msg("allocation %ld failed: expected ENOMEM, got %d", n, ret);
        if (strcmp(before, after) != 0)
            fail_msg("allocation %ld failed and the table changed:\n  before %s\n  after  %s", n, before, after);
        /* a key's record goes first: when the change after it fails, it may
         * stay queued, a stale key that replay finds no change for */
        if (records > (c->key != NULL))
            fail_msg("allocation %ld failed and the journal was handed %d records", n, records);
        free(before);
        free(after);
    }
}

static void oom_setup_orders(orderd_store_t *st, const orderd_alloc_t *a, oom_case_t *c)
{
    char name[16];
    for (int i = 0; i < c->orders; i++) {
        snprintf(name, sizeof(name), "u%d", i % 3);
        orderd_order_t *o = build_order(a, i % 3 ? S(name) : S(c->user), orderd_now_ms(), 1);
        assert_int_equal(orderd_store_create(st, o, NULL, NULL, NULL, NULL, NULL), ORDERD_STORE_OK);
        c->ids[i] = o->id;
    }
}

static int oom_create(orderd_store_t *st, const orderd_alloc_t *a, oom_case_t *c)
{
    /* keys are stamped with the order's time: a real one, or they expire at once */
    orderd_order_t *o = build_order(a, S(c->user), orderd_now_ms(), 1), *out;
    int status;
    return orderd_store_create(st, o, c->key, a, &out, &status, NULL);
}

static void test_out_of_memory_create(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    /* the first order of a new table: the id map, the user map, the user,
     * its order list, its pending index and the shard's, the copy */
    oom_case_t c = {.setup = oom_setup_orders, .verb = oom_create, .user = "alice"};
    assert_int_equal(walk_oom(&a, &c), 7);
    /* with a key: the key table and the key's entry too */
    orderd_idem_key_t k = make_key("key-1", 1);
    c.key = &k;
    assert_int_equal(walk_oom(&a, &c), 9);
    /* tables of every size up to a few growths: each growth fails cleanly */
    long most = 0;
    for (c.orders = 1; c.orders < 100; c.orders++) {
        c.key = c.orders % 2 ? &k : NULL;
        long n = walk_oom(&a, &c);
        assert_true(n >= 1); /* the copy at least */
        most = n > most ? n : most;
    }
    assert_true(most >= 4);
}

static int oom_status(orderd_store_t *st, const orderd_alloc_t *a, oom_case_t *c)
{
    orderd_order_t *out;
    orderd_str_t user = c->operator ? (orderd_str_t){NULL, 0} : S(c->user);
    return orderd_store_set_status(st, user, c->ids[c->target], c->to, orderd_now_ms(), NULL, c->key, a, &out, NULL);
}

static void test_out_of_memory_status_change(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    /* the first cancel in a table makes the user's and the shard's index */
    oom_case_t c = {.setup = oom_setup_orders, .verb = oom_status, .user = "carol", .orders = 1,
                    .to = ORDERD_STATUS_CANCELLED};
    /* and the order's audit trail */
    assert_int_equal(walk_oom(&a, &c), 3);
    /* with a key: the key table and the entry, taken back when the change cannot be made */
    orderd_idem_key_t k = make_key("cancel-1", 2);
    c.key = &k;
    assert_int_equal(walk_oom(&a, &c), 5);
    /* the operator's first move to processing */
    c = (oom_case_t){.setup = oom_setup_orders, .verb = oom_status, .user = "carol", .orders = 1,
                     .to = ORDERD_STATUS_PROCESSING, .operator = 1};
    assert_int_equal(walk_oom(&a, &c), 3);
    /* later changes: only the growth of an index allocates */
    for (c.orders = 2; c.orders < 60; c.orders += 3) {
        c.target = c.orders - 1 - (c.orders - 1) % 3; /* one of carol's */
        walk_oom(&a, &c);
    }
}

/* A setup that also moves every order but the last to processing. */
static void oom_setup_processing(orderd_store_t *st, const orderd_alloc_t *a, oom_case_t *c)
{
    oom_setup_orders(st, a, c);
    for (int i = 0; i + 1 < c->orders; i++) {
        orderd_order_t *out;
        assert_int_equal(orderd_store_set_status(st, (orderd_str_t){NULL, 0}, c->ids[i], ORDERD_STATUS_PROCESSING,
                                                 orderd_now_ms(), NULL, NULL, a, &out, NULL),
                         ORDERD_STORE_OK);
    }
}

static int oom_queue(orderd_store_t *st, const orderd_alloc_t *a, oom_case_t *c)
{
    orderd_store_page_t page = {0};
    int ret = orderd_store_queue(st, &(orderd_page_req_t){.limit = c->limit}, a, &page);
    if (ret != ORDERD_STORE_OK) {
        assert_int_equal(page.n, 0);
        return ret;
    }
    assert_int_equal(page.n, (size_t)c->orders);
    /* a page changes nothing: this change shows the walk that the verb ran */
    orderd_order_t *out;
    return orderd_store_set_status(st, (orderd_str_t){NULL, 0}, c->ids[c->orders - 1], ORDERD_STATUS_PROCESSING,
                                   orderd_now_ms(), NULL, NULL, a, &out, NULL);
}

static void test_out_of_memory_pages(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    /* the operator's queue gathers every shard's first ids on the heap */
    oom_case_t c = {.setup = oom_setup_processing, .verb = oom_queue, .user = "u0", .orders = 128, .limit = 128};
    assert_true(walk_oom(&a, &c) >= 1);
    /* a user's page takes nothing from the heap: request memory only */
    orderd_store_t *st = orderd_store_new(4);
    oom_setup_orders(st, &a, &c);
    alloc_fail_arm(1);
    orderd_store_page_t pg;
    assert_int_equal(orderd_store_list(st, S("u0"), &(orderd_page_req_t){.limit = 100}, &a, &pg), ORDERD_STORE_OK);
    assert_false(alloc_fail_disarm());
    assert_int_equal(pg.n, 43);
    orderd_store_free(st);
}

/* ---- the id map: removals keep every other order reachable ---- */

static void count_each(void *ctx, const orderd_order_t *o)
{
    ++*(size_t *)ctx;
}

/* Undoing creates removes ids from the open-addressing map (backward-shift
 * deletion); every id left must still be found, whichever entries moved. */
static void test_undo_keeps_probe_chains(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_store_t *st = orderd_store_new(1); /* one shard: one map, dense */
    test_rng_t r = {7};
    uint64_t ids[2000];
    int gone[2000] = {0};
    char name[16];
    size_t n = 0;
    for (int round = 0; round < 20; round++) {
        /* fill to just under the next growth, so probe chains are long */
        for (int i = 0; i < 100; i++) {
            snprintf(name, sizeof(name), "p%d", i % 9);
            orderd_order_t *o = build_order(&a, S(name), 1000 + (int64_t)n, 1);
            assert_int_equal(orderd_store_create(st, o, NULL, NULL, NULL, NULL, NULL), ORDERD_STORE_OK);
            ids[n++] = o->id;
        }
        for (int i = 0; i < 40; i++) {
            size_t k = test_rng_below(&r, (unsigned)n);
            if (gone[k])
                continue;
            orderd_order_t *o;
            assert_int_equal(orderd_store_get(st, (orderd_str_t){NULL, 0}, ids[k], &a, &o), ORDERD_STORE_OK);
            orderd_change_t ev = {.type = ORDERD_CHANGE_CREATED, .u.created.order = o};
            assert_int_equal(orderd_store_undo(st, &ev), ORDERD_STORE_OK);
            gone[k] = 1;
        }
        size_t left = 0;
        for (size_t k = 0; k < n; k++) {
            orderd_order_t *o;
            int ret = orderd_store_get(st, (orderd_str_t){NULL, 0}, ids[k], &a, &o);
            if (ret != (gone[k] ? ORDERD_STORE_ENOTFOUND : ORDERD_STORE_OK))
                fail_msg("round %d: order %zu (%s) is %s", round, k, gone[k] ? "removed" : "kept",
                         ret == ORDERD_STORE_OK ? "found" : "not found");
            left += !gone[k];
        }
        size_t walked = 0;
        orderd_store_each(st, 0, count_each, &walked);
        assert_int_equal(walked, left);
        assert_int_equal(orderd_store_count(st), left);
    }
    orderd_store_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_checks_shard_count),
        TEST_ARENA_TEST(test_create_get_and_isolation),
        TEST_ARENA_TEST(test_create_ignores_given_id),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_node_ids),
        TEST_ARENA_TEST(test_node_ids_after_replay),
        cmocka_unit_test(test_idvec_against_reference),
        cmocka_unit_test_setup_teardown(test_each_in_id_order, test_arena_setup, test_arena_teardown),
        TEST_ARENA_TEST(test_list_newest_first_paging),
        TEST_ARENA_TEST(test_list_status_filter),
        TEST_ARENA_TEST(test_list_many_orders),
        TEST_ARENA_TEST(test_cancel),
        TEST_ARENA_TEST(test_fulfilment_and_conflicts),
        TEST_ARENA_TEST(test_apply_events),
        TEST_ARENA_TEST(test_concurrent_create_cancel_list),
        TEST_ARENA_TEST(test_list_cursors),
        TEST_ARENA_TEST(test_admin_page_oldest_first),
        TEST_ARENA_TEST(test_history_and_events),
        TEST_ARENA_TEST(test_if_match),
        TEST_ARENA_TEST(test_idempotent_create),
        TEST_ARENA_TEST(test_idempotent_cancel_and_stale_key),
        cmocka_unit_test(test_concurrent_keys),
        TEST_ARENA_TEST(test_out_of_memory_create),
        TEST_ARENA_TEST(test_out_of_memory_status_change),
        TEST_ARENA_TEST(test_out_of_memory_pages),
        TEST_ARENA_TEST(test_undo_keeps_probe_chains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
