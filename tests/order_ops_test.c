/*
 * The operations after checkout (order_ops.h) and the order blob's
 * extension (order.h, src/order_ext.c): each operation against each state,
 * the exact money, what the detail records, and the blob's shape.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"
#include "orderd/money.h"
#include "orderd/order_ops.h"
#include "test_util.h"

/* An order of `user` with the given lines (price in minor units, quantity), pending, at T0_MS. */
static orderd_order_t *order_of(const orderd_alloc_t *a, const int64_t (*lines)[2], size_t n)
{
    orderd_item_draft_t *items = orderd_alloc(a, n * sizeof(*items));
    int64_t total = 0;
    for (size_t i = 0; i < n; ++i) {
        char *p = orderd_alloc(a, 32);
        snprintf(p, 32, "sku-%zu", i);
        items[i] = (orderd_item_draft_t){S(p), (uint32_t)lines[i][1], lines[i][0]};
        total += lines[i][0] * lines[i][1];
    }
    orderd_order_draft_t d = {items, n, S("1 Main St"), S("card"), {'U', 'S', 'D'}, total};
    return order_from_draft(a, 0x0123456789abcULL << 12, S("ann"), &d, T0_MS);
}

static const orderd_line_qty_t *lq(const orderd_alloc_t *a, size_t n, ...)
{
    orderd_line_qty_t *v = orderd_alloc(a, (n + 1) * sizeof(*v));
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; ++i) {
        v[i].line_no = (uint16_t)va_arg(ap, int);
        v[i].quantity = (uint32_t)va_arg(ap, int);
    }
    va_end(ap);
    return v;
}

/* Runs `op` and checks its outcome; returns the order after it (or `o` when it changed nothing). */
static orderd_order_t *run(orderd_order_t *o, const orderd_op_t *op, orderd_actor_t actor, int64_t now,
                           const orderd_alloc_t *a, orderd_op_outcome_t want, orderd_op_result_t *res)
{
    size_t size = o->size;
    unsigned char *before = orderd_alloc(a, size);
    memcpy(before, o, size);
    orderd_op_result_t local;
    if (res == NULL)
        res = &local;
    orderd_op_outcome_t got = orderd_op_apply(o, op, actor, now, a, res);
    if (got != want)
        fail_msg("operation %d: outcome %d, want %d (%s; %s)", op->type, got, want,
                 res->message != NULL ? res->message : "-",
                 res->n_errors != 0 ? res->errors[0].message : "-");
    assert_memory_equal(o, before, size); /* the order passed in never changes */
    if (got != ORDERD_OP_OK)
        return o;
    orderd_order_t *after = res->after;
    assert_int_equal(orderd_order_check(after, after->size), 0);
    assert_int_equal(after->version, o->version + 1);
    assert_true(after->updated_ms >= o->updated_ms);
    assert_int_equal(after->id, o->id);
    assert_true(orderd_detail_check(res->detail, res->detail_len));
    return after;
}

static int64_t expect_total(const orderd_order_t *o)
{
    int64_t t = 0;
    for (size_t i = 0; i < o->n_items; ++i) {
        orderd_line_t l;
        orderd_order_line(o, i, &l);
        t += o->items[i].price * (int64_t)(o->items[i].quantity - l.cancelled);
    }
    return t;
}

static orderd_line_t line_at(const orderd_order_t *o, size_t i)
{
    orderd_line_t l;
    orderd_order_line(o, i, &l);
    return l;
}

/* --- the blob's extension --- */

static void test_pack_round_trip(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    static const int64_t lines[][2] = {{1099, 2}, {5, 7}, {0, 1}};
    orderd_order_t *o = order_of(&a, lines, 3);
    assert_null(orderd_order_ext(o));
    for (size_t i = 0; i < 3; ++i)
        assert_int_equal(line_at(o, i).line_no, i + 1); /* an order as created: lines by position */
    orderd_order_doc_t doc;
    orderd_order_unpack(o, &a, &doc);
    orderd_order_t *p = orderd_order_pack(&doc, &a);
    assert_non_null(p);
    assert_int_equal(orderd_order_check(p, p->size), 0);
    assert_non_null(orderd_order_ext(p));
    assert_int_equal(p->n_items, 3);
    assert_int_equal(p->total, o->total);
    assert_int_equal(orderd_order_ext(p)->next_line, 3);
    for (size_t i = 0; i < 3; ++i) {
        assert_int_equal(line_at(p, i).line_no, i + 1);
        orderd_str_t x = orderd_order_product(o, i), y = orderd_order_product(p, i);
        assert_true(x.len == y.len && memcmp(x.base, y.base, x.len) == 0);
    }
    orderd_str_t u = orderd_order_user(p), ad = orderd_order_address(p), pay = orderd_order_payment(p);
    assert_true(u.len == 3 && memcmp(u.base, "ann", 3) == 0);
    assert_true(ad.len == 9 && memcmp(ad.base, "1 Main St", 9) == 0);
    assert_true(pay.len == 4 && memcmp(pay.base, "card", 4) == 0);
    /* packing is a function of the doc: the same doc gives the same bytes, padding included */
    orderd_order_unpack(p, &a, &doc);
    orderd_order_t *q = orderd_order_pack(&doc, &a);
    assert_int_equal(q->size, p->size);
    assert_memory_equal(q, p, p->size);
}

static void test_ext_check_refuses_damage(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    static const int64_t lines[][2] = {{100, 2}, {200, 1}};
    orderd_order_t *o = order_of(&a, lines, 2);
    o->status = ORDERD_STATUS_PROCESSING;
    orderd_op_t ship = {.type = ORDERD_OP_SHIP, .lines = lq(&a, 1, 1, 1), .n_lines = 1, .carrier = S("UPS")};
    orderd_order_t *s = run(o, &ship, ORDERD_ACTOR_OPERATOR, T0_MS + 10, &a, ORDERD_OP_OK, NULL);
    orderd_order_t *c = orderd_alloc(&a, s->size);
#define DAMAGED(stmt)                                                                                                 \
    do {                                                                                                               \
        memcpy(c, s, s->size);                                                                                         \
        orderd_order_ext_t *x = (orderd_order_ext_t *)((char *)c + c->ext_off);                                        \
        orderd_line_t *l = (orderd_line_t *)(x + 1);                                                                   \
        (void)x, (void)l;                                                                                              \
        stmt;                                                                                                          \
        if (orderd_order_check(c, c->size) == 0)                                                                       \
            fail_msg("damage accepted: %s", #stmt);                                                                    \
    } while (0)
    memcpy(c, s, s->size);
    assert_int_equal(orderd_order_check(c, c->size), 0);
    DAMAGED(c->ext_off += 4);
    DAMAGED(c->ext_off = c->size);
    DAMAGED(c->ext_off = 8);
    DAMAGED(x->n_shipments = ORDERD_SUBRECORDS_MAX + 1);
    DAMAGED(x->n_shipments = 40); /* more than the blob holds */
    DAMAGED(x->strings_len = 100000);
    DAMAGED(l[0].cancelled = 2); /* 1 shipped + 2 cancelled > 2 ordered */
    DAMAGED(l[0].returned = 2);  /* more than shipped */
    DAMAGED(l[1].line_no = 0);
    DAMAGED(l[1].line_no = 9); /* past next_line */
    DAMAGED(x->refunded_total = -1);
    DAMAGED(((orderd_shipment_t *)(l + 2))->first_part = 5);
    DAMAGED(((orderd_shipment_t *)(l + 2))->carrier_len = 500);
#undef DAMAGED
}

/* --- edits --- */

static void test_edit(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    static const int64_t lines[][2] = {{1099, 2}, {250, 3}};
    orderd_order_t *o = order_of(&a, lines, 2);
    orderd_edit_step_t steps[] = {
        {.kind = ORDERD_EDIT_ADD_ITEM, .quantity = 4, .product_id = S("new-sku"), .price = S("0.015e2")},
        {.kind = ORDERD_EDIT_SET_QUANTITY, .line_no = 2, .quantity = 1},
        {.kind = ORDERD_EDIT_REMOVE_ITEM, .line_no = 1},
        {.kind = ORDERD_EDIT_SET_ADDRESS, .address = S("2 Side Rd")},
    };
    orderd_op_t edit = {.type = ORDERD_OP_EDIT, .steps = steps, .n_steps = 4};
    orderd_op_result_t res;
    orderd_order_t *e = run(o, &edit, ORDERD_ACTOR_USER, T0_MS + 5, &a, ORDERD_OP_OK, &res);
    assert_int_equal(e->n_items, 2);
    assert_int_equal(line_at(e, 0).line_no, 2);
    assert_int_equal(line_at(e, 1).line_no, 3); /* ids continue, and l1 is gone for good */
    assert_int_equal(e->items[0].quantity, 1);
    assert_int_equal(e->items[1].price, 150);
    assert_int_equal(e->total, 250 + 4 * 150);
    assert_int_equal(e->status, ORDERD_STATUS_PENDING);
    orderd_str_t ad = orderd_order_address(e);
    assert_true(ad.len == 9 && memcmp(ad.base, "2 Side Rd", 9) == 0);
    /* the detail names each step, then the new total */
    static const uint8_t kinds[] = {ORDERD_DETAIL_ADD_ITEM, ORDERD_DETAIL_SET_QUANTITY, ORDERD_DETAIL_REMOVE_ITEM,
                                    ORDERD_DETAIL_SET_ADDRESS, ORDERD_DETAIL_TOTAL};
    orderd_detail_entry_t d;
    size_t off = 0, k = 0;
    while (orderd_detail_next(res.detail, res.detail_len, &off, &d) == 1) {
        assert_true(k < 5);
        assert_int_equal(d.kind, kinds[k]);
        if (k == 0)
            assert_true(d.ref == 3 && d.quantity == 4 && d.amount == 150 && d.text.len == 7);
        if (k == 1)
            assert_true(d.ref == 2 && d.quantity == 1 && d.amount == 3); /* amount: the quantity before */
        if (k == 4)
            assert_int_equal(d.amount, e->total);
        ++k;
    }
    assert_int_equal(k, 5);
    /* a line removed is unknown to later edits, and l1 is not handed out again */
    orderd_edit_step_t again[] = {{.kind = ORDERD_EDIT_SET_QUANTITY, .line_no = 1, .quantity = 2},
                                  {.kind = ORDERD_EDIT_ADD_ITEM, .quantity = 1, .product_id = S("x"), .price = S("1")}};
    orderd_op_t edit2 = {.type = ORDERD_OP_EDIT, .steps = again, .n_steps = 2};
    run(e, &edit2, ORDERD_ACTOR_USER, T0_MS + 6, &a, ORDERD_OP_INVALID, &res);
    assert_int_equal(res.n_errors, 1);
    assert_string_equal(res.errors[0].field, "operations[0].line_id");
    edit2.steps = again + 1;
    edit2.n_steps = 1;
    orderd_order_t *e2 = run(e, &edit2, ORDERD_ACTOR_USER, T0_MS + 6, &a, ORDERD_OP_OK, NULL);
    assert_int_equal(line_at(e2, 2).line_no, 4);
}

static void test_edit_refusals(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    static const int64_t lines[][2] = {{100, 1}};
    orderd_order_t *o = order_of(&a, lines, 1);
    orderd_op_result_t res;
    /* every broken step named at once */
    orderd_edit_step_t bad[] = {
        {.kind = ORDERD_EDIT_ADD_ITEM, .quantity = 1, .product_id = S("p"), .price = S("1.001")},
        {.kind = ORDERD_EDIT_SET_QUANTITY, .line_no = 7, .quantity = 1},
        {.kind = ORDERD_EDIT_ADD_ITEM, .quantity = 1, .product_id = S("p"), .price = S("1e15")},
    };
    orderd_op_t edit = {.type = ORDERD_OP_EDIT, .steps = bad, .n_steps = 3};
    run(o, &edit, ORDERD_ACTOR_USER, T0_MS, &a, ORDERD_OP_INVALID, &res);
    assert_int_equal(res.n_errors, 3);
    assert_string_equal(res.errors[0].field, "operations[0].price");
    assert_string_equal(res.errors[1].field, "operations[1].line_id");
    assert_string_equal(res.errors[2].field, "operations[2].price");
    assert_non_null(strstr(res.errors[2].message, "15 significant digits"));
    /* no line left */
    orderd_edit_step_t rm[] = {{.kind = ORDERD_EDIT_REMOVE_ITEM, .line_no = 1}};
    edit = (orderd_op_t){.type = ORDERD_OP_EDIT, .steps = rm, .n_steps = 1};
    run(o, &edit, ORDERD_ACTOR_USER, T0_MS, &a, ORDERD_OP_INVALID, &res);
    assert_string_equal(res.errors[0].field, "operations");
    assert_non_null(strstr(res.errors[0].message, "without a line"));
    /* a total past 15 digits */
    orderd_edit_step_t big[] = {{.kind = ORDERD_EDIT_SET_QUANTITY, .line_no = 1, .quantity = 1000000},
                                {.kind = ORDERD_EDIT_ADD_ITEM, .quantity = 1000000, .product_id = S("p"),
                                 .price = S("9999999999.99")}};
    edit = (orderd_op_t){.type = ORDERD_OP_EDIT, .steps = big, .n_steps = 2};
    run(o, &edit, ORDERD_ACTOR_USER, T0_MS, &a, ORDERD_OP_INVALID, &res);
    assert_string_equal(res.errors[0].field, "operations");
    /* only while pending, for anyone */
    for (int st = 0; st < ORDERD_STATUS_COUNT; ++st) {
        if (st == ORDERD_STATUS_PENDING)
            continue;
        o->status = (uint8_t)st;
        run(o, &edit, ORDERD_ACTOR_OPERATOR, T0_MS, &a, ORDERD_OP_CONFLICT, &res);
        assert_non_null(strstr(res.message, orderd_status_name((orderd_status_t)st)));
    }
}

/* --- partial cancellation --- */

static void test_cancel_lines(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    static const int64_t lines[][2] = {{1099, 3}, {1, 2}};
    orderd_order_t *o = order_of(&a, lines, 2);
    orderd_op_result_t res;
    orderd_op_t c = {.type = ORDERD_OP_CANCEL_LINES, .lines = lq(&a, 2, 1, 2, 1, 2), .n_lines = 2};
    run(o, &c, ORDERD_ACTOR_USER, T0_MS, &a, ORDERD_OP_INVALID, &res); /* 2 of l1's 3, then 2 more */
    assert_string_equal(res.errors[0].field, "lines[1].quantity");
    c.lines = lq(&a, 1, 1, 2);
    c.n_lines = 1;
    orderd_order_t *p = run(o, &c, ORDERD_ACTOR_USER, T0_MS + 1, &a, ORDERD_OP_OK, NULL);
    assert_int_equal(line_at(p, 0).cancelled, 2);
    assert_int_equal(p->total, 1099 + 2);
    assert_int_equal(p->total, expect_total(p));
    assert_int_equal(p->status, ORDERD_STATUS_PENDING);
    /* the customer only while pending; the operator while processing too */
    p->status = ORDERD_STATUS_PROCESSING;
    run(p, &c, ORDERD_ACTOR_USER, T0_MS + 2, &a, ORDERD_OP_CONFLICT, &res);
    assert_non_null(strstr(res.message, "processing"));
    c.lines = lq(&a, 2, 1, 0, 2, 0); /* quantity 0: all that is left of each */
    c.n_lines = 2;
    orderd_order_t *q = run(p, &c, ORDERD_ACTOR_OPERATOR, T0_MS + 3, &a, ORDERD_OP_OK, NULL);
    assert_int_equal(q->status, ORDERD_STATUS_CANCELLED); /* nothing left: the order is cancelled */
    assert_int_equal(q->total, 0);
    run(q, &c, ORDERD_ACTOR_OPERATOR, T0_MS + 4, &a, ORDERD_OP_CONFLICT, &res);
    /* unknown lines and nothing left are named */
    p->status = ORDERD_STATUS_PENDING;
    c.lines = lq(&a, 1, 5, 1);
    c.n_lines = 1;
    run(p, &c, ORDERD_ACTOR_USER, T0_MS, &a, ORDERD_OP_INVALID, &res);
    assert_string_equal(res.errors[0].field, "lines[0].line_id");
}

/* --- shipments and delivery --- */

static orderd_order_t *processing(const orderd_alloc_t *a)
{
    static const int64_t lines[][2] = {{500, 2}, {300, 1}};
    orderd_order_t *o = order_of(a, lines, 2);
    o->status = ORDERD_STATUS_PROCESSING;
    o->version = 2;
    return o;
}

static void test_shipments(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_order_t *o = processing(&a);
    orderd_op_result_t res;
    orderd_op_t s = {.type = ORDERD_OP_SHIP,
                     .lines = lq(&a, 1, 1, 1),
                     .n_lines = 1,
                     .carrier = S("UPS"),
                     .tracking_number = S("1Z999"),
                     .tracking_url = S("https://t.example/1Z999")};
    orderd_order_t *p = run(o, &s, ORDERD_ACTOR_OPERATOR, T0_MS + 100, &a, ORDERD_OP_OK, NULL);
    assert_int_equal(p->status, ORDERD_STATUS_PARTIALLY_SHIPPED);
    const orderd_order_ext_t *x = orderd_order_ext(p);
    assert_int_equal(x->n_shipments, 1);
    const orderd_shipment_t *sh = orderd_order_shipments(p);
    orderd_str_t carrier = orderd_order_ext_string(p, sh->str_off, sh->carrier_len);
    orderd_str_t url = orderd_order_ext_string(p, sh->str_off + sh->carrier_len + sh->tracking_len, sh->url_len);
    assert_true(carrier.len == 3 && memcmp(carrier.base, "UPS", 3) == 0);
    assert_true(url.len == 23 && memcmp(url.base, "https://t.example/1Z999", 23) == 0);
    assert_int_equal(sh->shipped_ms, T0_MS + 100);
    assert_int_equal(sh->delivered_ms, 0);
    assert_int_equal(line_at(p, 0).shipped, 1);
    /* more than is open is refused */
    s.lines = lq(&a, 1, 1, 2);
    run(p, &s, ORDERD_ACTOR_OPERATOR, T0_MS + 110, &a, ORDERD_OP_INVALID, &res);
    assert_string_equal(res.errors[0].field, "lines[0].quantity");
    /* no lines: everything still open */
    orderd_op_t rest = {.type = ORDERD_OP_SHIP};
    orderd_order_t *q = run(p, &rest, ORDERD_ACTOR_OPERATOR, T0_MS + 120, &a, ORDERD_OP_OK, NULL);
    assert_int_equal(q->status, ORDERD_STATUS_SHIPPED);
    assert_int_equal(orderd_order_ext(q)->n_shipments, 2);
    assert_int_equal(orderd_order_parts(q)[orderd_order_shipments(q)[1].first_part].quantity, 1);
    run(q, &rest, ORDERD_ACTOR_OPERATOR, T0_MS + 130, &a, ORDERD_OP_CONFLICT, &res); /* nothing open: shipped */
    assert_non_null(strstr(res.message, "shipped"));
    /* not from pending */
    o->status = ORDERD_STATUS_PENDING;
    run(o, &s, ORDERD_ACTOR_OPERATOR, T0_MS, &a, ORDERD_OP_CONFLICT, NULL);

    /* delivery per shipment: the order is delivered with the last */
    orderd_op_t d = {.type = ORDERD_OP_DELIVER, .target = 2};
    orderd_order_t *r = run(q, &d, ORDERD_ACTOR_OPERATOR, T0_MS + 200, &a, ORDERD_OP_OK, NULL);
    assert_int_equal(r->status, ORDERD_STATUS_SHIPPED);
    run(r, &d, ORDERD_ACTOR_OPERATOR, T0_MS + 201, &a, ORDERD_OP_NOOP, NULL); /* again: nothing to do */
    d.target = 3;
    run(r, &d, ORDERD_ACTOR_OPERATOR, T0_MS + 202, &a, ORDERD_OP_NO_TARGET, &res);
    assert_non_null(strstr(res.message, "s3"));
    d.target = 1;
    orderd_order_t *t = run(r, &d, ORDERD_ACTOR_OPERATOR, T0_MS + 300, &a, ORDERD_OP_OK, NULL);
    assert_int_equal(t->status, ORDERD_STATUS_DELIVERED);
    assert_int_equal(orderd_order_ext(t)->delivered_ms, T0_MS + 300);
    /* target 0 (the status endpoint): every shipment at once */
    d.target = 0;
    orderd_order_t *u = run(q, &d, ORDERD_ACTOR_OPERATOR, T0_MS + 400, &a, ORDERD_OP_OK, NULL);
    assert_int_equal(u->status, ORDERD_STATUS_DELIVERED);
    assert_true(orderd_order_shipments(u)[0].delivered_ms == T0_MS + 400 &&
                orderd_order_shipments(u)[1].delivered_ms == T0_MS + 400);
}

/* --- returns and refunds --- */

static orderd_order_t *delivered(const orderd_alloc_t *a, int64_t at)
{
    orderd_order_t *o = processing(a);
    orderd_op_t s = {.type = ORDERD_OP_SHIP};
    orderd_op_result_t res;
    assert_int_equal(orderd_op_apply(o, &s, ORDERD_ACTOR_OPERATOR, at, a, &res), ORDERD_OP_OK);
    orderd_op_t d = {.type = ORDERD_OP_DELIVER, .target = 1};
    orderd_order_t *shipped = res.after;
    assert_int_equal(orderd_op_apply(shipped, &d, ORDERD_ACTOR_OPERATOR, at, a, &res), ORDERD_OP_OK);
    assert_int_equal(res.after->status, ORDERD_STATUS_DELIVERED);
    return res.after;
}

#define DAY_MS (86400LL * 1000)

static void test_returns(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_order_t *o = delivered(&a, T0_MS);
    orderd_op_result_t res;
    orderd_op_t r = {.type = ORDERD_OP_RETURN_REQUEST,
                     .lines = lq(&a, 1, 1, 1),
                     .n_lines = 1,
                     .reason = S("too small"),
                     .return_window_ms = 30 * DAY_MS};
    /* the window closes 30 days after delivery */
    run(o, &r, ORDERD_ACTOR_USER, T0_MS + 30 * DAY_MS + 1, &a, ORDERD_OP_CONFLICT, &res);
    assert_non_null(strstr(res.message, "return window"));
    orderd_order_t *p = run(o, &r, ORDERD_ACTOR_USER, T0_MS + DAY_MS, &a, ORDERD_OP_OK, NULL);
    assert_int_equal(line_at(p, 0).returned, 1);
    assert_int_equal(orderd_order_returns(p)[0].status, ORDERD_RETURN_REQUESTED);
    assert_int_equal(p->status, ORDERD_STATUS_DELIVERED);
    /* a quantity is returned once: l1 has 1 more, not 2 */
    r.lines = lq(&a, 1, 1, 2);
    run(p, &r, ORDERD_ACTOR_USER, T0_MS + DAY_MS, &a, ORDERD_OP_INVALID, &res);
    assert_string_equal(res.errors[0].field, "lines[0].quantity");
    /* received needs approved first */
    orderd_op_t settle = {.type = ORDERD_OP_RETURN_RECEIVE, .target = 1};
    run(p, &settle, ORDERD_ACTOR_OPERATOR, T0_MS + DAY_MS, &a, ORDERD_OP_CONFLICT, &res);
    assert_non_null(strstr(res.message, "requested"));
    /* rejected frees the quantity */
    settle.type = ORDERD_OP_RETURN_REJECT;
    orderd_order_t *rj = run(p, &settle, ORDERD_ACTOR_OPERATOR, T0_MS + DAY_MS, &a, ORDERD_OP_OK, NULL);
    assert_int_equal(line_at(rj, 0).returned, 0);
    run(rj, &settle, ORDERD_ACTOR_OPERATOR, T0_MS + DAY_MS, &a, ORDERD_OP_NOOP, NULL);
    settle.type = ORDERD_OP_RETURN_APPROVE;
    run(rj, &settle, ORDERD_ACTOR_OPERATOR, T0_MS + DAY_MS, &a, ORDERD_OP_CONFLICT, NULL);
    /* approved, then received: a refund of exactly the line's price x quantity */
    orderd_order_t *ap = run(p, &settle, ORDERD_ACTOR_OPERATOR, T0_MS + DAY_MS, &a, ORDERD_OP_OK, NULL);
    settle.type = ORDERD_OP_RETURN_RECEIVE;
    orderd_order_t *rc = run(ap, &settle, ORDERD_ACTOR_OPERATOR, T0_MS + 2 * DAY_MS, &a, ORDERD_OP_OK, NULL);
    const orderd_order_ext_t *x = orderd_order_ext(rc);
    assert_int_equal(x->n_refunds, 1);
    assert_int_equal(orderd_order_refunds(rc)[0].amount, 500);
    assert_int_equal(orderd_order_refunds(rc)[0].return_no, 1);
    assert_int_equal(orderd_order_returns(rc)[0].refund_no, 1);
    assert_int_equal(x->refunded_total, 500);
    assert_int_equal(line_at(rc, 0).refunded, 500);
    settle.target = 2;
    run(rc, &settle, ORDERD_ACTOR_OPERATOR, T0_MS, &a, ORDERD_OP_NO_TARGET, NULL);
    /* only a delivered order */
    orderd_order_t *pr = processing(&a);
    r.lines = lq(&a, 1, 1, 1);
    run(pr, &r, ORDERD_ACTOR_USER, T0_MS, &a, ORDERD_OP_CONFLICT, &res);
    assert_non_null(strstr(res.message, "processing"));
}

static void test_refunds(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_order_t *o = delivered(&a, T0_MS); /* l1 2 x 5.00, l2 1 x 3.00: 13.00 */
    orderd_op_result_t res;
    orderd_op_t f = {.type = ORDERD_OP_REFUND, .amount = S("13.01")};
    run(o, &f, ORDERD_ACTOR_OPERATOR, T0_MS, &a, ORDERD_OP_INVALID, &res);
    assert_string_equal(res.errors[0].field, "amount");
    assert_non_null(strstr(res.errors[0].message, "13.00"));
    f.amount = S("0");
    run(o, &f, ORDERD_ACTOR_OPERATOR, T0_MS, &a, ORDERD_OP_INVALID, NULL);
    f.amount = S("10.001");
    run(o, &f, ORDERD_ACTOR_OPERATOR, T0_MS, &a, ORDERD_OP_INVALID, NULL);
    f.amount = S("9.5");
    orderd_order_t *p = run(o, &f, ORDERD_ACTOR_OPERATOR, T0_MS, &a, ORDERD_OP_OK, NULL);
    assert_int_equal(orderd_order_ext(p)->refunded_total, 950);
    /* by lines: l1 is 10.00, all of it still refundable on the line, but the order has 3.50 left */
    f = (orderd_op_t){.type = ORDERD_OP_REFUND, .lines = lq(&a, 1, 1, 1), .n_lines = 1};
    run(p, &f, ORDERD_ACTOR_OPERATOR, T0_MS, &a, ORDERD_OP_INVALID, &res);
    assert_string_equal(res.errors[0].field, "lines");
    f.lines = lq(&a, 1, 2, 1); /* 3.00 of l2 */
    orderd_order_t *q = run(p, &f, ORDERD_ACTOR_OPERATOR, T0_MS, &a, ORDERD_OP_OK, NULL);
    assert_int_equal(orderd_order_ext(q)->refunded_total, 1250);
    assert_int_equal(line_at(q, 1).refunded, 300);
    run(q, &f, ORDERD_ACTOR_OPERATOR, T0_MS, &a, ORDERD_OP_INVALID, &res); /* l2 is paid back in full */
    assert_string_equal(res.errors[0].field, "lines[0].quantity");

    /* a pending order refunded in part: neither a cancel nor an edit may take it below what was refunded */
    static const int64_t lines[][2] = {{500, 2}};
    orderd_order_t *p2 = order_of(&a, lines, 1);
    f = (orderd_op_t){.type = ORDERD_OP_REFUND, .amount = S("6")};
    orderd_order_t *r2 = run(p2, &f, ORDERD_ACTOR_OPERATOR, T0_MS, &a, ORDERD_OP_OK, NULL);
    orderd_op_t c = {.type = ORDERD_OP_CANCEL_LINES, .lines = lq(&a, 1, 1, 1), .n_lines = 1};
    run(r2, &c, ORDERD_ACTOR_USER, T0_MS, &a, ORDERD_OP_INVALID, &res);
    assert_string_equal(res.errors[0].field, "lines");
    assert_non_null(strstr(res.errors[0].message, "6.00 refunded"));
    orderd_edit_step_t less = {.kind = ORDERD_EDIT_SET_QUANTITY, .line_no = 1, .quantity = 1};
    orderd_op_t e = {.type = ORDERD_OP_EDIT, .steps = &less, .n_steps = 1};
    run(r2, &e, ORDERD_ACTOR_USER, T0_MS, &a, ORDERD_OP_INVALID, &res);
    assert_string_equal(res.errors[0].field, "operations");
    less.quantity = 3; /* more is fine */
    run(r2, &e, ORDERD_ACTOR_USER, T0_MS, &a, ORDERD_OP_OK, NULL);
}

/* Random refunds, by line and by amount: what is refunded never passes what
 * was paid, for the order or for any line, however they are mixed. */
static void test_refunds_never_exceed_what_was_paid(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    test_rng_t rng = {42};
    for (int round = 0; round < 200; ++round) {
        orderd_order_t *o = delivered(&a, T0_MS);
        for (int k = 0; k < 12; ++k) {
            orderd_op_t f = {.type = ORDERD_OP_REFUND};
            char amount[32];
            if (test_rng_below(&rng, 2)) {
                snprintf(amount, sizeof(amount), "%u.%02u", test_rng_below(&rng, 8), test_rng_below(&rng, 100));
                f.amount = S(amount);
            } else {
                f.lines = lq(&a, 1, 1 + (int)test_rng_below(&rng, 2), 1 + (int)test_rng_below(&rng, 2));
                f.n_lines = 1;
            }
            orderd_op_result_t res;
            if (orderd_op_apply(o, &f, ORDERD_ACTOR_OPERATOR, T0_MS, &a, &res) != ORDERD_OP_OK)
                continue;
            o = res.after;
            const orderd_order_ext_t *x = orderd_order_ext(o);
            assert_true(x->refunded_total <= o->total);
            int64_t lines = 0;
            for (size_t i = 0; i < o->n_items; ++i) {
                orderd_line_t l = line_at(o, i);
                assert_true(l.refunded <= o->items[i].price * (int64_t)(o->items[i].quantity - l.cancelled));
                lines += l.refunded;
            }
            int64_t sum = 0;
            for (size_t i = 0; i < x->n_refunds; ++i)
                sum += orderd_order_refunds(o)[i].amount;
            assert_int_equal(sum, x->refunded_total);
            assert_true(lines <= x->refunded_total);
        }
        test_arena_reset((test_arena_t *)*state);
    }
}

/* Random edits and partial cancels keep the total exactly the sum of price
 * x quantity not cancelled, computed here independently. */
static void test_totals_stay_exact(void **state)
{
    test_rng_t rng = {7};
    orderd_alloc_t a = test_alloc(state);
    for (int round = 0; round < 300; ++round) {
        int64_t lines[4][2];
        size_t n = 1 + test_rng_below(&rng, 4);
        for (size_t i = 0; i < n; ++i) {
            lines[i][0] = (int64_t)test_rng_below(&rng, 100000);
            lines[i][1] = 1 + test_rng_below(&rng, 9);
        }
        orderd_order_t *o = order_of(&a, (const int64_t(*)[2])lines, n);
        for (int k = 0; k < 8; ++k) {
            orderd_op_result_t res;
            orderd_op_t op;
            char price[32];
            if (test_rng_below(&rng, 2)) {
                orderd_edit_step_t *st = orderd_alloc(&a, sizeof(*st));
                unsigned cents = test_rng_below(&rng, 100000);
                /* the same price written in several ways */
                switch (test_rng_below(&rng, 3)) {
                case 0:
                    snprintf(price, sizeof(price), "%u.%02u", cents / 100, cents % 100);
                    break;
                case 1:
                    snprintf(price, sizeof(price), "%ue-2", cents);
                    break;
                default:
                    snprintf(price, sizeof(price), "%u.%02u0E0", cents / 100, cents % 100);
                    break;
                }
                if (test_rng_below(&rng, 2))
                    *st = (orderd_edit_step_t){.kind = ORDERD_EDIT_ADD_ITEM, .quantity = 1 + test_rng_below(&rng, 5),
                                               .product_id = S("p"), .price = S(price)};
                else
                    *st = (orderd_edit_step_t){.kind = ORDERD_EDIT_SET_QUANTITY,
                                               .line_no = line_at(o, test_rng_below(&rng, o->n_items)).line_no,
                                               .quantity = 1 + test_rng_below(&rng, 9)};
                op = (orderd_op_t){.type = ORDERD_OP_EDIT, .steps = st, .n_steps = 1};
            } else {
                op = (orderd_op_t){.type = ORDERD_OP_CANCEL_LINES,
                                   .lines = lq(&a, 1, line_at(o, test_rng_below(&rng, o->n_items)).line_no, 1),
                                   .n_lines = 1};
            }
            if (orderd_op_apply(o, &op, ORDERD_ACTOR_USER, T0_MS, &a, &res) == ORDERD_OP_OK) {
                o = res.after;
                assert_int_equal(orderd_order_check(o, o->size), 0);
            }
            assert_int_equal(o->total, expect_total(o));
            if (o->status != ORDERD_STATUS_PENDING)
                break;
        }
        test_arena_reset((test_arena_t *)*state);
    }
}

/* Amounts count the currency's minor unit; an order from before that (its
 * money_scale 0) keeps counting hundredths, as it was acknowledged. */
static void test_amounts_in_the_orders_digits(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    static const int64_t lines[][2] = {{1050, 1}};
    orderd_order_t *o = order_of(&a, lines, 1);
    memcpy(o->currency, "JPY", 3);
    assert_int_equal(orderd_order_digits(o), 0);
    orderd_edit_step_t step = {.kind = ORDERD_EDIT_ADD_ITEM, .quantity = 1, .product_id = S("p"), .price = S("1.5")};
    orderd_op_t edit = {.type = ORDERD_OP_EDIT, .steps = &step, .n_steps = 1};
    orderd_op_result_t res;
    run(o, &edit, ORDERD_ACTOR_USER, T0_MS, &a, ORDERD_OP_INVALID, &res);
    assert_string_equal(res.errors[0].field, "operations[0].price");
    assert_non_null(strstr(res.errors[0].message, "no decimal places for JPY"));
    step.price = S("15");
    assert_int_equal(run(o, &edit, ORDERD_ACTOR_USER, T0_MS, &a, ORDERD_OP_OK, NULL)->items[1].price, 15);
    /* the same order as a legacy blob: 1050 is 10.50 yen, and 1.5 is 150 */
    o->money_scale = ORDERD_MONEY_SCALE_LEGACY;
    assert_int_equal(orderd_order_digits(o), 2);
    step.price = S("1.5");
    orderd_order_t *legacy = run(o, &edit, ORDERD_ACTOR_USER, T0_MS, &a, ORDERD_OP_OK, NULL);
    assert_int_equal(legacy->items[1].price, 150);
    assert_int_equal(legacy->money_scale, ORDERD_MONEY_SCALE_LEGACY); /* it stays what it was */
    memcpy(o->currency, "KWD", 3);
    o->money_scale = ORDERD_MONEY_SCALE_CURRENCY;
    assert_int_equal(orderd_order_digits(o), 3);
    o->money_scale = 2; /* no such scale */
    assert_int_equal(orderd_order_check(o, o->size), -1);
}

static void test_detail_reader(void **state)
{
    (void)state;
    unsigned char buf[64];
    memset(buf, 0, sizeof(buf));
    size_t off = 0;
    orderd_detail_entry_t e;
    assert_int_equal(orderd_detail_next(buf, 0, &off, &e), 0); /* empty: the end */
    assert_true(orderd_detail_check(buf, 0));
    buf[0] = 0; /* kind 0 is none */
    assert_int_equal(orderd_detail_next(buf, 24, &off, &e), -1);
    buf[0] = ORDERD_DETAIL_LAST + 1;
    assert_false(orderd_detail_check(buf, 24));
    buf[0] = ORDERD_DETAIL_SET_ADDRESS;
    buf[16] = 9; /* 9 bytes of text, padded to 16: 40 bytes in all */
    assert_false(orderd_detail_check(buf, 24));
    assert_false(orderd_detail_check(buf, 39));
    assert_true(orderd_detail_check(buf, 40));
    assert_false(orderd_detail_check(buf, 23)); /* cut inside an entry */
    memset(buf, 0, sizeof(buf));
    buf[0] = ORDERD_DETAIL_RETURN;
    buf[4] = ORDERD_RETURN_RECEIVED; /* a return's status: known */
    assert_true(orderd_detail_check(buf, 24));
    buf[4] = ORDERD_RETURN_STATUS_COUNT; /* not a status (the audit trail would name none: the record fuzzer's find) */
    assert_false(orderd_detail_check(buf, 24));
    assert_string_equal(orderd_op_name(ORDERD_OP_REFUND), "refunded");
    assert_null(orderd_op_name(ORDERD_OP_LAST + 1));
    assert_string_equal(orderd_detail_kind_name(ORDERD_DETAIL_TOTAL), "total");
    assert_null(orderd_detail_kind_name(0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST_ARENA_TEST(test_pack_round_trip),   TEST_ARENA_TEST(test_ext_check_refuses_damage),
        TEST_ARENA_TEST(test_edit),              TEST_ARENA_TEST(test_edit_refusals),
        TEST_ARENA_TEST(test_cancel_lines),      TEST_ARENA_TEST(test_shipments),
        TEST_ARENA_TEST(test_returns),           TEST_ARENA_TEST(test_refunds),
        TEST_ARENA_TEST(test_refunds_never_exceed_what_was_paid), TEST_ARENA_TEST(test_totals_stay_exact),
        TEST_ARENA_TEST(test_amounts_in_the_orders_digits), cmocka_unit_test(test_detail_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
