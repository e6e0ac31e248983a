/*
 * orderd_store_amend (store.h, src/store_write.c): the operations after
 * checkout through the store and the real journal writer. Each operation
 * is one record of its type; replay and snapshots give back the same
 * table, byte for byte, with the same audit trail; a dry run, a refused
 * operation, an If-Match miss and an idempotent retry change nothing; an
 * undo puts the old blob back; an edit racing a cancel is never half-applied.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/journal.h"
#include "orderd/order_ops.h"
#include "orderd/store.h"
#include "orderd/wal.h"
#include "journal_fixture.h"

static orderd_line_qty_t one_line[1] = {{1, 1}};
static orderd_edit_step_t add_step[1] = {{.kind = ORDERD_EDIT_ADD_ITEM, .quantity = 2, .product_id = {"extra", 5},
                                          .price = {"1.25", 4}}};

/* An operation through the store with the writer's waiter; returns the store's result. */
static int w_amend(writer_t *w, orderd_str_t user, uint64_t id, const orderd_op_t *op, int dry_run,
                   const orderd_idem_key_t *key, orderd_op_result_t *res, orderd_order_t **out, test_arena_t *ar)
{
    orderd_alloc_t a = test_arena_allocator(ar);
    orderd_op_result_t local;
    orderd_order_t *o;
    int rc = orderd_store_amend(w->store, user, id, op, w->now++, dry_run, NULL, key, &a, out != NULL ? out : &o,
                                res != NULL ? res : &local, dry_run ? NULL : &waiter_token);
    /* applied, a safe repeat or a replayed key: the waiter rides along */
    if (!dry_run && (rc == ORDERD_STORE_OK || rc == ORDERD_STORE_REPLAYED))
        ++w->submitted;
    return rc;
}

typedef struct trail {
    orderd_audit_entry_t *ev;
    size_t n;
} trail_t;

static trail_t trail_of(orderd_store_t *st, uint64_t id, const char *user, test_arena_t *ar)
{
    orderd_alloc_t a = test_arena_allocator(ar);
    orderd_order_t *o;
    trail_t t;
    assert_int_equal(orderd_store_audit_trail(st, S(user), id, &a, &o, &t.ev, &t.n), ORDERD_STORE_OK);
    return t;
}

static void assert_same_trail(orderd_store_t *x, orderd_store_t *y, uint64_t id, const char *user)
{
    test_arena_t ar = {0};
    trail_t a = trail_of(x, id, user, &ar), b = trail_of(y, id, user, &ar);
    assert_int_equal(a.n, b.n);
    for (size_t i = 0; i < a.n; ++i) {
        assert_true(a.ev[i].version == b.ev[i].version && a.ev[i].kind == b.ev[i].kind &&
                    a.ev[i].status == b.ev[i].status && a.ev[i].actor == b.ev[i].actor &&
                    a.ev[i].at_ms == b.ev[i].at_ms && a.ev[i].detail_len == b.ev[i].detail_len);
        if (a.ev[i].detail_len != 0)
            assert_memory_equal(a.ev[i].detail, b.ev[i].detail, a.ev[i].detail_len);
    }
    test_arena_reset(&ar);
}

/* The whole life of an order through every operation, journaled, replayed and snapshotted. */
static void test_operations_survive_replay_and_snapshots(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    tmpdir(dir, sizeof(dir), "amend");
    writer_t w;
    writer_start(&w, dir, UINT64_MAX);
    test_arena_t ar = {0};
    orderd_op_result_t res;
    orderd_order_t *out;
    uint64_t id = w_create(&w, "amy", 3); /* 4 lines */
    uint64_t other = w_create(&w, "amy", 5);

    orderd_op_t edit = {.type = ORDERD_OP_EDIT, .steps = add_step, .n_steps = 1};
    assert_int_equal(w_amend(&w, S("amy"), id, &edit, 0, NULL, &res, &out, &ar), ORDERD_STORE_OK);
    assert_int_equal(out->version, 2);
    orderd_op_t cancel = {.type = ORDERD_OP_CANCEL_LINES, .lines = one_line, .n_lines = 1};
    assert_int_equal(w_amend(&w, S("amy"), id, &cancel, 0, NULL, &res, &out, &ar), ORDERD_STORE_OK);
    assert_int_equal(w_status(&w, OPERATOR, id, ORDERD_STATUS_PROCESSING), ORDERD_STORE_OK);
    orderd_op_t ship = {.type = ORDERD_OP_SHIP, .lines = one_line, .n_lines = 1, .carrier = {"UPS", 3}};
    assert_int_equal(w_amend(&w, OPERATOR, id, &ship, 0, NULL, &res, &out, &ar), ORDERD_STORE_OK);
    assert_int_equal(out->status, ORDERD_STATUS_PARTIALLY_SHIPPED);
    /* the one-step status endpoint ships the rest in one shipment, and delivers every shipment */
    assert_int_equal(w_status(&w, OPERATOR, id, ORDERD_STATUS_SHIPPED), ORDERD_STORE_OK);
    assert_int_equal(w_status(&w, OPERATOR, id, ORDERD_STATUS_DELIVERED), ORDERD_STORE_OK);
    orderd_op_t ret = {.type = ORDERD_OP_RETURN_REQUEST, .lines = one_line, .n_lines = 1,
                       .return_window_ms = 86400000};
    assert_int_equal(w_amend(&w, S("amy"), id, &ret, 0, NULL, &res, &out, &ar), ORDERD_STORE_OK);
    orderd_op_t approve = {.type = ORDERD_OP_RETURN_APPROVE, .target = 1};
    assert_int_equal(w_amend(&w, OPERATOR, id, &approve, 0, NULL, &res, &out, &ar), ORDERD_STORE_OK);
    orderd_op_t receive = {.type = ORDERD_OP_RETURN_RECEIVE, .target = 1};
    assert_int_equal(w_amend(&w, OPERATOR, id, &receive, 0, NULL, &res, &out, &ar), ORDERD_STORE_OK);
    orderd_op_t refund = {.type = ORDERD_OP_REFUND, .amount = {"0.01", 4}};
    assert_int_equal(w_amend(&w, OPERATOR, id, &refund, 0, NULL, &res, &out, &ar), ORDERD_STORE_OK);
    assert_int_equal(out->version, 11);
    assert_int_equal(orderd_order_ext(out)->n_refunds, 2);
    /* another user's order is not found; a refused operation writes nothing */
    assert_int_equal(w_amend(&w, S("bob"), id, &edit, 0, NULL, &res, &out, &ar), ORDERD_STORE_ENOTFOUND);
    assert_int_equal(w_amend(&w, S("amy"), id, &edit, 0, NULL, &res, &out, &ar), ORDERD_STORE_ECONFLICT);
    assert_int_equal(res.outcome, ORDERD_OP_CONFLICT);
    assert_int_equal(w_amend(&w, S("amy"), other, &edit, 1, NULL, &res, &out, &ar), ORDERD_STORE_OK); /* dry run */
    assert_int_equal(out->version, 2);
    w_wait(&w);
    w_close(&w);

    /* one record per change, each of its operation's type */
    static const uint8_t types[] = {ORDERD_REC_ORDER_CREATED,      ORDERD_REC_ORDER_CREATED,
                                    ORDERD_REC_EDITED,             ORDERD_REC_LINES_CANCELLED,
                                    ORDERD_REC_STATUS_CHANGED,     ORDERD_REC_SHIPMENT_CREATED,
                                    ORDERD_REC_SHIPMENT_CREATED,   ORDERD_REC_SHIPMENT_DELIVERED,
                                    ORDERD_REC_RETURN_REQUESTED,   ORDERD_REC_RETURN_APPROVED,
                                    ORDERD_REC_RETURN_RECEIVED,    ORDERD_REC_REFUNDED};
    char seg[PATH_MAX];
    segment_path(seg, sizeof(seg), dir, 1);
    seg_t s;
    seg_load(&s, seg);
    assert_int_equal(s.n, sizeof(types));
    for (size_t i = 0; i < s.n; ++i) {
        orderd_record_t rec;
        size_t used;
        assert_int_equal(orderd_record_parse(s.data + s.offs[i], s.offs[i + 1] - s.offs[i], &rec, &used), 0);
        assert_int_equal(rec.type, types[i]);
    }
    seg_free(&s);

    /* `orderd journal dump` names each operation and what it changed */
    captured_t c;
    run_tool(&c, "dump", dir);
    static const char *const events[] = {"\"event\":\"edited\"", "\"event\":\"lines_cancelled\"",
                                         "\"event\":\"shipment_created\"", "\"event\":\"shipment_delivered\"",
                                         "\"event\":\"return_requested\"", "\"event\":\"return_approved\"",
                                         "\"event\":\"return_received\"", "\"event\":\"refunded\"",
                                         "{\"kind\":\"add_item\",\"ref\":5,\"quantity\":2,\"amount_minor\":125,\"text\":\"extra\"}",
                                         "{\"kind\":\"cancel_line\",\"ref\":1,\"quantity\":1,\"amount_minor\":0}",
                                         "\"actor\":\"operator\""};
    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); ++i)
        if (strstr(c.out, events[i]) == NULL)
            fail_msg("journal dump lacks %s: %s", events[i], c.out);
    captured_free(&c);

    /* replay: the same table and the same trail */
    orderd_replay_report_t rep;
    orderd_store_t *back = replay_ok(dir, &rep);
    assert_same_orders(back, w.store);
    assert_same_trail(back, w.store, id, "amy");
    assert_same_trail(back, w.store, other, "amy");
    assert_int_equal(trail_of(back, id, "amy", &ar).n, 12 - 1); /* created + 10 changes */

    /* a snapshot of it (every new record past 1 byte of journal triggers one), then replay again */
    writer_t w2;
    writer_attach(&w2, dir, back, &rep, ORDERD_FSYNC_ALWAYS, 1);
    assert_int_equal(w_amend(&w2, OPERATOR, id, &refund, 0, NULL, &res, &out, &ar), ORDERD_STORE_OK);
    w_wait(&w2);
    test_sleep_us(300000); /* the snapshot thread */
    w_close(&w2);
    orderd_replay_report_t rep2;
    orderd_store_t *again = replay_ok(dir, &rep2);
    assert_true(rep2.snapshot_seq > 0);
    assert_same_orders(again, back);
    assert_same_trail(again, back, id, "amy");
    orderd_store_free(again);
    orderd_store_free(back);
    orderd_store_free(w.store);
    test_arena_reset(&ar);
    rmdir_tmp(dir);
}

/* A store with a journal that records and can be told to refuse. */
typedef struct hook {
    int refuse;
    size_t appended;
} hook_t;

static int hook_append(void *ctx, unsigned shard, const orderd_change_t *ev, void *waiter)
{
    (void)shard, (void)ev, (void)waiter;
    hook_t *h = ctx;
    if (h->refuse)
        return -1;
    ++h->appended;
    return 0;
}

static int hook_barrier(void *ctx, unsigned shard, void *waiter)
{
    (void)ctx, (void)shard, (void)waiter;
    return 0;
}

static orderd_order_t *copy_of(orderd_store_t *st, uint64_t id, test_arena_t *ar)
{
    orderd_alloc_t a = test_arena_allocator(ar);
    orderd_order_t *o;
    assert_int_equal(orderd_store_get(st, OPERATOR, id, &a, &o), ORDERD_STORE_OK);
    return o;
}

static void test_refusals_change_nothing(void **state)
{
    (void)state;
    test_arena_t ar = {0};
    orderd_alloc_t a = test_arena_allocator(&ar);
    orderd_store_t *st = orderd_store_new(4);
    hook_t h = {0};
    orderd_store_journal_t hooks = {hook_append, hook_barrier, &h};
    orderd_store_set_journal(st, &hooks);
    orderd_order_t *o = make_order("zed", T0_MS, 2), *out;
    assert_int_equal(orderd_store_create(st, o, NULL, NULL, NULL, NULL, NULL), ORDERD_STORE_OK);
    uint64_t id = o->id;
    free(o);
    orderd_order_t *before = copy_of(st, id, &ar);
    orderd_op_result_t res;
    orderd_op_t edit = {.type = ORDERD_OP_EDIT, .steps = add_step, .n_steps = 1};

    /* the journal refuses: 503, the table as it was */
    h.refuse = 1;
    assert_int_equal(orderd_store_amend(st, S("zed"), id, &edit, T0_MS + 1, 0, NULL, NULL, &a, &out, &res, NULL),
                     ORDERD_STORE_EUNAVAILABLE);
    orderd_order_t *now = copy_of(st, id, &ar);
    assert_int_equal(now->size, before->size);
    assert_memory_equal(now, before, before->size);
    h.refuse = 0;

    /* If-Match naming another version */
    orderd_precondition_t pre = {.active = 1, .n = 1, .versions = {7}};
    assert_int_equal(orderd_store_amend(st, S("zed"), id, &edit, T0_MS + 1, 0, &pre, NULL, &a, &out, &res, NULL),
                     ORDERD_STORE_EPRECONDITION);
    assert_int_equal(out->version, 1);
    /* a dry run */
    assert_int_equal(orderd_store_amend(st, S("zed"), id, &edit, T0_MS + 1, 1, NULL, NULL, &a, &out, &res, NULL),
                     ORDERD_STORE_OK);
    assert_int_equal(out->version, 2);
    now = copy_of(st, id, &ar);
    assert_memory_equal(now, before, before->size);
    assert_int_equal(h.appended, 1); /* the create only */

    /* with a key: applied once; the retry gets the first answer, another body is refused */
    orderd_idem_key_t k = {S("edit-1"), {1}}, k2 = {S("edit-1"), {2}};
    assert_int_equal(orderd_store_amend(st, S("zed"), id, &edit, T0_MS + 2, 0, NULL, &k, &a, &out, &res, NULL),
                     ORDERD_STORE_OK);
    orderd_order_t *first = out;
    assert_int_equal(first->version, 2);
    assert_int_equal(orderd_store_amend(st, S("zed"), id, &edit, T0_MS + 3, 0, NULL, &k, &a, &out, &res, NULL),
                     ORDERD_STORE_REPLAYED);
    assert_int_equal(out->size, first->size);
    assert_memory_equal(out, first, first->size);
    assert_int_equal(orderd_store_amend(st, S("zed"), id, &edit, T0_MS + 3, 0, NULL, &k2, &a, &out, &res, NULL),
                     ORDERD_STORE_EKEYMISMATCH);
    assert_int_equal(copy_of(st, id, &ar)->version, 2);

    /* undo puts the old blob back, the trail loses the entry, the indexes follow */
    orderd_order_t *after = copy_of(st, id, &ar);
    orderd_change_t ev = {.type = ORDERD_CHANGE_AMENDED,
                          .u.amended = {.op = ORDERD_OP_EDIT, .status = after->status, .prev_status = before->status,
                                        .version = 2, .order_id = id, .after = after, .before = before}};
    assert_int_equal(orderd_store_undo(st, &ev), ORDERD_STORE_OK);
    now = copy_of(st, id, &ar);
    assert_memory_equal(now, before, before->size);
    orderd_audit_entry_t *trail;
    size_t n;
    assert_int_equal(orderd_store_audit_trail(st, S("zed"), id, &a, &out, &trail, &n), ORDERD_STORE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(orderd_store_undo(st, &ev), ORDERD_STORE_EINVAL); /* not the table's state any more */
    /* replay applies it again, once */
    assert_int_equal(orderd_store_replay(st, &ev), ORDERD_STORE_OK);
    assert_int_equal(orderd_store_replay(st, &ev), ORDERD_STORE_OK); /* already there: skipped */
    now = copy_of(st, id, &ar);
    assert_memory_equal(now, after, after->size);
    ev.u.amended.version = 4; /* a gap */
    assert_int_equal(orderd_store_replay(st, &ev), ORDERD_STORE_EINVAL);
    orderd_store_free(st);
    test_arena_reset(&ar);
}

/* An edit and a cancel of the same order at once: one wins, the other is
 * refused, and the order is either edited or cancelled as it was. */
typedef struct race {
    orderd_store_t *st;
    uint64_t id;
    int which;
    int rc;
} race_t;

static void *racer(void *arg)
{
    race_t *r = arg;
    test_arena_t ar = {0};
    orderd_alloc_t a = test_arena_allocator(&ar);
    orderd_order_t *out;
    orderd_op_result_t res;
    orderd_precondition_t pre = {.active = 1, .n = 1, .versions = {1}};
    if (r->which == 0) {
        orderd_op_t edit = {.type = ORDERD_OP_EDIT, .steps = add_step, .n_steps = 1};
        r->rc = orderd_store_amend(r->st, S("race"), r->id, &edit, orderd_now_ms(), 0, &pre, NULL, &a, &out, &res, NULL);
    } else {
        r->rc = orderd_store_set_status(r->st, S("race"), r->id, ORDERD_STATUS_CANCELLED, orderd_now_ms(), &pre, NULL,
                                        &a, &out, NULL);
    }
    test_arena_reset(&ar);
    return NULL;
}

static void test_edit_racing_cancel(void **state)
{
    (void)state;
    orderd_store_t *st = orderd_store_new(4);
    test_arena_t ar = {0};
    int edits = 0, cancels = 0;
    for (int round = 0; round < 300; ++round) {
        orderd_order_t *o = make_order("race", T0_MS, (unsigned)round);
        assert_int_equal(orderd_store_create(st, o, NULL, NULL, NULL, NULL, NULL), ORDERD_STORE_OK);
        race_t r[2] = {{st, o->id, 0, 0}, {st, o->id, 1, 0}};
        pthread_t t[2];
        for (int i = 0; i < 2; ++i)
            assert_int_equal(pthread_create(&t[i], NULL, racer, &r[i]), 0);
        for (int i = 0; i < 2; ++i)
            pthread_join(t[i], NULL);
        orderd_order_t *now = copy_of(st, o->id, &ar);
        assert_int_equal(now->version, 2);
        if (r[0].rc == ORDERD_STORE_OK) {
            /* edited: the cancel met version 2 (412) */
            assert_int_equal(r[1].rc, ORDERD_STORE_EPRECONDITION);
            assert_int_equal(now->status, ORDERD_STATUS_PENDING);
            assert_int_equal(now->n_items, o->n_items + 1);
            ++edits;
        } else {
            /* cancelled as it was: the edit met version 2 (412), or cancelled (409) */
            assert_int_equal(r[1].rc, ORDERD_STORE_OK);
            assert_true(r[0].rc == ORDERD_STORE_EPRECONDITION || r[0].rc == ORDERD_STORE_ECONFLICT);
            assert_int_equal(now->status, ORDERD_STATUS_CANCELLED);
            assert_int_equal(now->n_items, o->n_items);
            assert_int_equal(now->total, o->total);
            ++cancels;
        }
        free(o);
        test_arena_reset(&ar);
    }
    assert_int_equal(edits + cancels, 300);
    orderd_store_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST_DIRS(test_operations_survive_replay_and_snapshots),
        cmocka_unit_test(test_refusals_change_nothing),
        cmocka_unit_test(test_edit_racing_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
