/* Unit tests for the operator's filters of orderd/store.h's reads
 * (src/store_read.c): orderd_store_queue by user (one shard's lock only),
 * product, creation time (strict bounds) and status, combined, by offset
 * and by cursor, against a reference computed from every order; the user's
 * list ignoring them; out of memory. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc_fail.h"
#include "fixture.h"
#include "orderd/store.h"

#define NPRODUCTS 6

/* What the test knows of each order it made, in id order. */
typedef struct rec {
    uint64_t id;
    char user[24];
    int64_t created;
    unsigned products; /* bit p: a line of product "p<p>" */
    int status;
} rec_t;

typedef struct world {
    orderd_store_t *st;
    rec_t recs[400];
    size_t n;
} world_t;

/* Adds an order of `user` created at `created` with one line per bit of `products`. */
static uint64_t add(world_t *w, const orderd_alloc_t *a, const char *user, int64_t created, unsigned products)
{
    orderd_item_draft_t items[NPRODUCTS];
    static const char *const names[NPRODUCTS] = {"p0", "p1", "p2", "p3", "p4", "p5"};
    size_t n = 0;
    int64_t total = 0;
    for (int p = 0; p < NPRODUCTS; ++p)
        if (products & (1u << p)) {
            items[n] = (orderd_item_draft_t){S(names[p]), 1, 100 + p};
            total += items[n++].price;
        }
    orderd_order_draft_t d = {items, n, S("1 Long Road"), S("card"), {'E', 'U', 'R'}, total};
    orderd_order_t *o = order_from_draft(a, 0, S(user), &d, created);
    assert_int_equal(orderd_store_create(w->st, o, NULL, NULL, NULL, NULL, NULL), ORDERD_STORE_OK);
    rec_t *r = &w->recs[w->n++];
    *r = (rec_t){.id = o->id, .created = created, .products = products, .status = ORDERD_STATUS_PENDING};
    snprintf(r->user, sizeof(r->user), "%s", user);
    if (w->n > 1)
        assert_true(w->recs[w->n - 2].id < r->id); /* ids grow: the records stay in list order */
    return o->id;
}

static void move(world_t *w, const orderd_alloc_t *a, size_t i, orderd_status_t to)
{
    orderd_order_t *o;
    orderd_str_t who = to == ORDERD_STATUS_CANCELLED ? S(w->recs[i].user) : OPERATOR;
    assert_int_equal(orderd_store_set_status(w->st, who, w->recs[i].id, to, 5000, NULL, NULL, a, &o, NULL),
                     ORDERD_STORE_OK);
    w->recs[i].status = to;
}

static int rec_passes(const rec_t *r, const orderd_page_req_t *req, int product)
{
    if (req->status_mask != 0 && !(req->status_mask & (1u << r->status)))
        return 0;
    if (req->user_id.base != NULL && (strlen(r->user) != req->user_id.len ||
                                      memcmp(r->user, req->user_id.base, req->user_id.len) != 0))
        return 0;
    if (product >= 0 && !(r->products & (1u << product)))
        return 0;
    if (req->created_after_ms != 0 && r->created <= req->created_after_ms)
        return 0;
    return req->created_before_ms == 0 || r->created < req->created_before_ms;
}

/* orderd_store_queue's page for `req` must be the reference's: the records
 * that pass (oldest first), then offset or cursor. `product`: the index in
 * req->product_id's name, -1 for none, NPRODUCTS for one no order has. */
static void check_queue(world_t *w, const orderd_alloc_t *a, const orderd_page_req_t *req, int product)
{
    uint64_t pass[400];
    size_t total = 0, from = 0, n, upto = 0;
    for (size_t i = 0; i < w->n; ++i)
        if (rec_passes(&w->recs[i], req, product))
            pass[total++] = w->recs[i].id;
    switch (req->mode) {
    case ORDERD_PAGE_AFTER:
        while (from < total && pass[from] <= req->cursor)
            ++from;
        n = total - from < req->limit ? total - from : req->limit;
        break;
    case ORDERD_PAGE_BEFORE:
        while (upto < total && pass[upto] < req->cursor)
            ++upto;
        n = upto < req->limit ? upto : req->limit;
        from = upto - n;
        break;
    default:
        from = req->offset < total ? req->offset : total;
        n = total - from < req->limit ? total - from : req->limit;
        break;
    }
    orderd_store_page_t page;
    assert_int_equal(orderd_store_queue(w->st, req, a, &page), ORDERD_STORE_OK);
    assert_int_equal(page.total, total);
    assert_int_equal(page.n, n);
    assert_int_equal(page.offset, req->mode == ORDERD_PAGE_OFFSET ? req->offset : from);
    for (size_t i = 0; i < n; ++i)
        assert_true(page.orders[i]->id == pass[from + i]);
}

static orderd_str_t product_name(int p, char buf[16])
{
    if (p < 0)
        return (orderd_str_t){NULL, 0};
    snprintf(buf, 16, "p%d", p);
    return S(buf);
}

static world_t *new_world(unsigned shards)
{
    world_t *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    w->st = orderd_store_new(shards);
    assert_non_null(w->st);
    return w;
}

static void free_world(world_t *w)
{
    orderd_store_free(w->st);
    free(w);
}

static void test_filters_one_by_one(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    world_t *w = new_world(8);
    char user[16], buf[16];
    for (int i = 0; i < 12; ++i) {
        snprintf(user, sizeof(user), "u%d", i % 3);
        add(w, &a, user, T0_MS + 10 * i, 1u << (i % 4) | (i % 5 == 0 ? 1u << 5 : 0));
    }
    move(w, &a, 4, ORDERD_STATUS_PROCESSING);
    move(w, &a, 6, ORDERD_STATUS_CANCELLED);
    orderd_store_page_t page;

    /* one user, oldest first: orders 1, 4, 7, 10 */
    orderd_page_req_t r = {.limit = 10, .user_id = S("u1")};
    assert_int_equal(orderd_store_queue(w->st, &r, &a, &page), ORDERD_STORE_OK);
    assert_int_equal(page.total, 4);
    assert_int_equal(page.n, 4);
    assert_true(page.orders[0]->id == w->recs[1].id && page.orders[3]->id == w->recs[10].id);
    r.status_mask = 1u << ORDERD_STATUS_PROCESSING;
    assert_int_equal(orderd_store_queue(w->st, &r, &a, &page), ORDERD_STORE_OK);
    assert_true(page.total == 1 && page.n == 1 && page.orders[0]->id == w->recs[4].id);
    /* nobody's: empty, total 0 */
    r = (orderd_page_req_t){.limit = 10, .user_id = S("nobody")};
    assert_int_equal(orderd_store_queue(w->st, &r, &a, &page), ORDERD_STORE_OK);
    assert_true(page.total == 0 && page.n == 0);

    /* a product: p5 is on orders 0, 5 and 10; p9 on none */
    r = (orderd_page_req_t){.limit = 10, .product_id = product_name(5, buf)};
    assert_int_equal(orderd_store_queue(w->st, &r, &a, &page), ORDERD_STORE_OK);
    assert_true(page.total == 3 && page.orders[0]->id == w->recs[0].id && page.orders[2]->id == w->recs[10].id);
    r.product_id = S("p9");
    assert_int_equal(orderd_store_queue(w->st, &r, &a, &page), ORDERD_STORE_OK);
    assert_true(page.total == 0 && page.n == 0);
    r.product_id = S("p"); /* a prefix is not the product */
    assert_int_equal(orderd_store_queue(w->st, &r, &a, &page), ORDERD_STORE_OK);
    assert_int_equal(page.total, 0);

    /* strict bounds: after order 3's time and before order 8's: orders 4 to 7 */
    r = (orderd_page_req_t){.limit = 10, .created_after_ms = T0_MS + 30, .created_before_ms = T0_MS + 80};
    assert_int_equal(orderd_store_queue(w->st, &r, &a, &page), ORDERD_STORE_OK);
    assert_int_equal(page.total, 4);
    assert_true(page.orders[0]->id == w->recs[4].id && page.orders[3]->id == w->recs[7].id);
    r = (orderd_page_req_t){.limit = 10, .created_after_ms = T0_MS + 29, .created_before_ms = T0_MS + 81};
    assert_int_equal(orderd_store_queue(w->st, &r, &a, &page), ORDERD_STORE_OK);
    assert_int_equal(page.total, 6);
    /* a reversed range matches nothing */
    r = (orderd_page_req_t){.limit = 10, .created_after_ms = T0_MS + 80, .created_before_ms = T0_MS + 30};
    assert_int_equal(orderd_store_queue(w->st, &r, &a, &page), ORDERD_STORE_OK);
    assert_true(page.total == 0 && page.n == 0);

    /* every filter at once, by offset */
    r = (orderd_page_req_t){.limit = 1, .offset = 1, .user_id = S("u0"), .product_id = S("p1"),
                            .created_after_ms = T0_MS, .status_mask = 1u << ORDERD_STATUS_PENDING};
    check_queue(w, &a, &r, 1);

    /* a user's own list ignores the operator's filters */
    r = (orderd_page_req_t){.limit = 10, .product_id = S("p9"), .created_after_ms = T0_MS + 1000,
                            .user_id = S("u2")};
    assert_int_equal(orderd_store_list(w->st, S("u1"), &r, &a, &page), ORDERD_STORE_OK);
    assert_true(page.total == 4 && page.orders[0]->id == w->recs[10].id);
    free_world(w);
}

/* Random filters, modes and pages over 300 orders of 24 users, each
 * compared with the reference. */
static void test_filters_against_reference(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    test_arena_t *ar = *state;
    world_t *w = new_world(8);
    unsigned seed = 13;
    char user[16], ubuf[16], pbuf[16];
    for (int i = 0; i < 300; ++i) {
        snprintf(user, sizeof(user), "user-%d", rand_r(&seed) % 24);
        /* few distinct times, so bounds land on orders' own times */
        add(w, &a, user, T0_MS + rand_r(&seed) % 60, 1u + (unsigned)rand_r(&seed) % ((1u << NPRODUCTS) - 1));
    }
    for (size_t i = 0; i < w->n; ++i) {
        int roll = rand_r(&seed) % 6;
        if (roll == 0)
            move(w, &a, i, ORDERD_STATUS_CANCELLED);
        else if (roll >= 3)
            move(w, &a, i, ORDERD_STATUS_PROCESSING);
        if (roll >= 4)
            move(w, &a, i, ORDERD_STATUS_SHIPPED);
    }
    for (int k = 0; k < 3000; ++k) {
        orderd_page_req_t r = {.limit = 1 + (size_t)(rand_r(&seed) % 25)};
        int user_roll = rand_r(&seed) % 4, product = rand_r(&seed) % (NPRODUCTS + 3) - 2;
        if (user_roll == 1) {
            snprintf(ubuf, sizeof(ubuf), "user-%d", rand_r(&seed) % 25); /* user-24 has none */
            r.user_id = S(ubuf);
        }
        r.product_id = product_name(product, pbuf);
        if (rand_r(&seed) % 2)
            r.created_after_ms = T0_MS + rand_r(&seed) % 62 - 1;
        if (rand_r(&seed) % 2)
            r.created_before_ms = T0_MS + rand_r(&seed) % 62;
        if (rand_r(&seed) % 2)
            r.status_mask = 1u + (unsigned)rand_r(&seed) % ((1u << ORDERD_STATUS_COUNT) - 1);
        int mode = rand_r(&seed) % 3;
        if (mode == 0) {
            r.offset = (size_t)(rand_r(&seed) % 40);
        } else {
            r.mode = mode == 1 ? ORDERD_PAGE_AFTER : ORDERD_PAGE_BEFORE;
            r.cursor = w->recs[rand_r(&seed) % w->n].id + (uint64_t)(rand_r(&seed) % 3) - 1;
        }
        check_queue(w, &a, &r, product >= 0 ? product : -1);
        test_arena_reset(ar);
    }
    free_world(w);
}

/* --- with user_id, the queue takes the lock of the user's shard only --- */

typedef struct lock_case {
    orderd_store_t *st;
    orderd_page_req_t req;
    int finished_while_held; /* the queue returned while the test held another shard's lock */
    pthread_t thread;        /* joined by while_held when it finished, else by the test */
    size_t total;
} lock_case_t;

static void *run_queue(void *arg)
{
    lock_case_t *c = arg;
    test_arena_t ar = {0};
    orderd_alloc_t a = test_arena_allocator(&ar);
    orderd_store_page_t page;
    if (orderd_store_queue(c->st, &c->req, &a, &page) == ORDERD_STORE_OK)
        c->total = page.total;
    test_arena_reset(&ar);
    return NULL;
}

/* Under shard `shard`'s lock: runs the queue on a thread and waits up to
 * 300 ms for it. */
static void while_held(void *ctx, unsigned shard)
{
    lock_case_t *c = ctx;
    struct timespec until;
    assert_int_equal(pthread_create(&c->thread, NULL, run_queue, c), 0);
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 300 * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec += 1;
        until.tv_nsec -= 1000000000L;
    }
    /* ETIMEDOUT: it waits for this lock, and the test joins it once the lock is let go */
    c->finished_while_held = pthread_timedjoin_np(c->thread, NULL, &until) == 0;
}

static void test_user_filter_locks_one_shard(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    world_t *w = new_world(8);
    add(w, &a, "alice", T0_MS, 1);
    add(w, &a, "alice", T0_MS + 1, 2);
    unsigned mine = orderd_store_shard_of_user(w->st, S("alice")), other = (mine + 1) % 8;
    lock_case_t c = {.st = w->st, .req = {.limit = 10, .user_id = S("alice"), .product_id = S("p1")}};
    orderd_store_with_shard(w->st, other, while_held, &c);
    if (!c.finished_while_held)
        pthread_join(c.thread, NULL); /* it waited for that lock: the failure below */
    assert_true(c.finished_while_held);
    assert_int_equal(c.total, 1);
    /* the control: every user's queue does wait for that shard */
    lock_case_t every = {.st = w->st, .req = {.limit = 10}};
    orderd_store_with_shard(w->st, other, while_held, &every);
    assert_false(every.finished_while_held);
    assert_int_equal(pthread_join(every.thread, NULL), 0); /* it finishes once the lock is free */
    assert_int_equal(every.total, 2);
    free_world(w);
}

/* Each allocation of a filtered queue failing: ENOMEM and an empty page, or
 * the whole right page. */
static void test_filtered_queue_out_of_memory(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    world_t *w = new_world(4);
    char user[16];
    for (int i = 0; i < 40; ++i) {
        snprintf(user, sizeof(user), "u%d", i % 7);
        add(w, &a, user, T0_MS + i, 1u << (i % 3));
    }
    orderd_page_req_t reqs[] = {
        {.limit = 50, .product_id = S("p0")},
        {.limit = 50, .created_after_ms = T0_MS + 9},
        {.limit = 50, .user_id = S("u3"), .product_id = S("p0")},
    };
    for (size_t k = 0; k < sizeof(reqs) / sizeof(reqs[0]); ++k) {
        long nth = 1;
        for (;; ++nth) {
            orderd_store_page_t page = {0};
            alloc_fail_arm(nth);
            int ret = orderd_store_queue(w->st, &reqs[k], &a, &page);
            int hit = alloc_fail_disarm();
            if (!hit) {
                assert_int_equal(ret, ORDERD_STORE_OK);
                check_queue(w, &a, &reqs[k], k == 1 ? -1 : 0);
                break;
            }
            assert_int_equal(ret, ORDERD_STORE_ENOMEM);
            assert_int_equal(page.n, 0);
            assert_int_equal(page.total, 0);
        }
        assert_true(nth > 1); /* a filter takes memory from the heap */
    }
    free_world(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_filters_one_by_one, test_arena_setup, test_arena_teardown),
        cmocka_unit_test_setup_teardown(test_filters_against_reference, test_arena_setup, test_arena_teardown),
        cmocka_unit_test_setup_teardown(test_user_filter_locks_one_shard, test_arena_setup, test_arena_teardown),
        cmocka_unit_test_setup_teardown(test_filtered_queue_out_of_memory, test_arena_setup, test_arena_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
