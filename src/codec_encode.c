/* Writing orders, pages and problems as JSON with yajl_gen. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "internal/yajl_alloc.h"
#include "orderd/codec.h"
#include "orderd/money.h"
#include "orderd/order_ops.h"

#define KEY(g, lit) yajl_gen_string((g), (const unsigned char *)(lit), sizeof(lit) - 1)

/* yajl_gen's own buffer (yajl_buf) re-checks its room in a loop and
 * NUL-terminates on every append, several appends per value; this output
 * only copies. The text lives in memory from the request allocator: no free
 * is needed. */
typedef struct gen_out {
    char *buf;
    size_t len, cap;
    const orderd_alloc_t *a;
} gen_out_t;

#define GEN_OUT_INITIAL 1024 /* one seed-sized order fits */

static void gen_print(void *ctx, const char *s, size_t n)
{
    gen_out_t *o = ctx;
    if (o->len + n > o->cap) {
        size_t ncap = o->cap * 2;
        while (ncap < o->len + n)
            ncap *= 2;
        char *nb = orderd_alloc(o->a, ncap);
        memcpy(nb, o->buf, o->len);
        o->buf = nb;
        o->cap = ncap;
    }
    if (n == 1) /* most calls: a quote, colon, comma or bracket */
        o->buf[o->len] = *s;
    else
        memcpy(o->buf + o->len, s, n);
    o->len += n;
}

/* Appends text yajl_gen rendered before (see the fragments below). */
static void gen_raw(gen_out_t *o, const char *s, size_t n)
{
    gen_print(o, s, n);
}

static yajl_gen gen_new(const orderd_alloc_t *a, yajl_alloc_funcs *funcs, gen_out_t *out)
{
    orderd_yajl_alloc_funcs(funcs, a);
    yajl_gen g = yajl_gen_alloc(funcs);
    *out = (gen_out_t){orderd_alloc(a, GEN_OUT_INITIAL), 0, GEN_OUT_INITIAL, a};
    yajl_gen_config(g, yajl_gen_print_callback, gen_print, out);
    return g;
}

static orderd_str_t gen_result(const gen_out_t *out)
{
    return (orderd_str_t){out->buf, out->len};
}

static void gen_str(yajl_gen g, orderd_str_t s)
{
    yajl_gen_string(g, (const unsigned char *)s.base, s.len);
}

static void gen_cstr(yajl_gen g, const char *s)
{
    yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

/* yajl_gen_integer goes through sprintf; this is the same text, cheaper */
static void gen_uint(yajl_gen g, unsigned long long v)
{
    char buf[24], *p = buf + sizeof(buf);
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    yajl_gen_number(g, p, (size_t)(buf + sizeof(buf) - p));
}

/* `digits`: the currency's minor unit, so JPY 10 is 10 and KWD 1.234 is 1.234 */
static void gen_money(yajl_gen g, int64_t minor, unsigned digits)
{
    char buf[ORDERD_MONEY_FMT_MAX];
    size_t n = orderd_money_format(minor, digits, buf);
    yajl_gen_number(g, buf, n);
}

static void gen_time(yajl_gen g, int64_t ms)
{
    char buf[ORDERD_TIME_FMT_MAX];
    size_t n = orderd_time_format(ms, buf);
    yajl_gen_string(g, (const unsigned char *)buf, n);
}

/* An amount of order `o`'s currency. */
static void gen_amount(yajl_gen g, const orderd_order_t *o, int64_t minor)
{
    gen_money(g, minor, orderd_order_digits(o));
}

static void gen_time_or_null(yajl_gen g, int64_t ms)
{
    if (ms != 0)
        gen_time(g, ms);
    else
        yajl_gen_null(g);
}

static void gen_str_or_null(yajl_gen g, orderd_str_t s)
{
    if (s.len != 0)
        gen_str(g, s);
    else
        yajl_gen_null(g);
}

/* "l3", "s1", "r2", "rf1": a line, shipment, return or refund of the order. */
static void gen_ref(yajl_gen g, const char *prefix, unsigned n)
{
    char buf[16];
    size_t len = strlen(prefix);
    memcpy(buf, prefix, len);
    char digits[8], *d = digits + sizeof(digits);
    do {
        *--d = (char)('0' + n % 10);
        n /= 10;
    } while (n != 0);
    memcpy(buf + len, d, (size_t)(digits + sizeof(digits) - d));
    len += (size_t)(digits + sizeof(digits) - d);
    yajl_gen_string(g, (const unsigned char *)buf, len);
}

static void gen_parts(yajl_gen g, const orderd_order_t *o, const orderd_part_t *p, size_t n, int with_amount)
{
    KEY(g, "lines");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < n; ++i) {
        yajl_gen_map_open(g);
        KEY(g, "line_id");
        gen_ref(g, "l", p[i].line_no);
        KEY(g, "quantity");
        gen_uint(g, p[i].quantity);
        if (with_amount) {
            KEY(g, "amount");
            gen_amount(g, o, p[i].amount);
        }
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
}

/* shipments, returns, refunds and refunded_total: empty for an order without an extension */
static void gen_after_checkout(yajl_gen g, const orderd_order_t *o)
{
    const orderd_order_ext_t *x = orderd_order_ext(o);
    const orderd_part_t *parts = x != NULL ? orderd_order_parts(o) : NULL;
    KEY(g, "shipments");
    yajl_gen_array_open(g);
    for (size_t i = 0; x != NULL && i < x->n_shipments; ++i) {
        const orderd_shipment_t *s = &orderd_order_shipments(o)[i];
        yajl_gen_map_open(g);
        KEY(g, "shipment_id");
        gen_ref(g, "s", (unsigned)(i + 1));
        KEY(g, "status");
        gen_cstr(g, s->delivered_ms != 0 ? "delivered" : "shipped");
        gen_parts(g, o, parts + s->first_part, s->n_parts, 0);
        KEY(g, "carrier");
        gen_str_or_null(g, orderd_order_ext_string(o, s->str_off, s->carrier_len));
        KEY(g, "tracking_number");
        gen_str_or_null(g, orderd_order_ext_string(o, s->str_off + s->carrier_len, s->tracking_len));
        KEY(g, "tracking_url");
        gen_str_or_null(g, orderd_order_ext_string(o, s->str_off + s->carrier_len + s->tracking_len, s->url_len));
        KEY(g, "shipped_at");
        gen_time(g, s->shipped_ms);
        KEY(g, "delivered_at");
        gen_time_or_null(g, s->delivered_ms);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    KEY(g, "returns");
    yajl_gen_array_open(g);
    for (size_t i = 0; x != NULL && i < x->n_returns; ++i) {
        const orderd_return_t *r = &orderd_order_returns(o)[i];
        yajl_gen_map_open(g);
        KEY(g, "return_id");
        gen_ref(g, "r", (unsigned)(i + 1));
        KEY(g, "status");
        gen_cstr(g, orderd_return_status_name(r->status));
        gen_parts(g, o, parts + r->first_part, r->n_parts, 0);
        KEY(g, "reason");
        gen_str_or_null(g, orderd_order_ext_string(o, r->str_off, r->reason_len));
        KEY(g, "refund_id");
        if (r->refund_no != 0)
            gen_ref(g, "rf", r->refund_no);
        else
            yajl_gen_null(g);
        KEY(g, "requested_at");
        gen_time(g, r->requested_ms);
        KEY(g, "updated_at");
        gen_time(g, r->updated_ms);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    KEY(g, "refunds");
    yajl_gen_array_open(g);
    for (size_t i = 0; x != NULL && i < x->n_refunds; ++i) {
        const orderd_refund_t *f = &orderd_order_refunds(o)[i];
        yajl_gen_map_open(g);
        KEY(g, "refund_id");
        gen_ref(g, "rf", (unsigned)(i + 1));
        KEY(g, "amount");
        gen_amount(g, o, f->amount);
        KEY(g, "amount_minor");
        gen_uint(g, (unsigned long long)f->amount);
        gen_parts(g, o, parts + f->first_part, f->n_parts, 1);
        KEY(g, "return_id");
        if (f->return_no != 0)
            gen_ref(g, "r", f->return_no);
        else
            yajl_gen_null(g);
        KEY(g, "created_at");
        gen_time(g, f->at_ms);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    int64_t refunded = x != NULL ? x->refunded_total : 0;
    KEY(g, "refunded_total");
    gen_amount(g, o, refunded);
    KEY(g, "refunded_total_minor");
    gen_uint(g, (unsigned long long)refunded);
}

/*
 * Fragments rendered once by yajl_gen, the same bytes it writes every time:
 * what an order without an extension (every order before its first
 * operation) has after each line's line_id (three zero quantities) and after
 * its version (no shipments, returns or refunds, nothing refunded), the
 * latter for each number of decimals. They go out after a value and before
 * the object closes, so yajl's state stays right: the next member still
 * gets its comma. tests/codec_test.c compares them with the order rendered
 * member by member.
 */
typedef struct fragment {
    char text[192];
    size_t len;
} fragment_t;

static fragment_t line_untouched, tail_untouched[ORDERD_MONEY_MAX_DIGITS + 1];
static pthread_once_t fragments_once = PTHREAD_ONCE_INIT;

typedef struct bump {
    unsigned char buf[16384];
    size_t used;
} bump_t;

static void *bump_alloc(void *ctx, size_t size)
{
    bump_t *b = ctx;
    void *p = b->buf + b->used;
    b->used += (size + 15) & ~(size_t)15;
    if (b->used > sizeof(b->buf))
        abort(); /* a fixed set of small renders: cannot happen */
    return p;
}

/* The members fn writes into an object, as ",m1,m2": the object's braces cut off. */
static void render_members(fragment_t *f, void (*fn)(yajl_gen g, unsigned digits), unsigned digits)
{
    static bump_t arena; /* under fragments_once */
    arena.used = 0;
    orderd_alloc_t a = {bump_alloc, &arena};
    yajl_alloc_funcs funcs;
    gen_out_t out;
    yajl_gen g = gen_new(&a, &funcs, &out);
    yajl_gen_map_open(g);
    fn(g, digits);
    yajl_gen_map_close(g);
    if (out.len - 2 + 1 > sizeof(f->text))
        abort();
    f->text[0] = ',';
    memcpy(f->text + 1, out.buf + 1, out.len - 2);
    f->len = out.len - 1;
}

static void untouched_line(yajl_gen g, unsigned digits)
{
    (void)digits;
    KEY(g, "cancelled_quantity");
    gen_uint(g, 0);
    KEY(g, "shipped_quantity");
    gen_uint(g, 0);
    KEY(g, "returned_quantity");
    gen_uint(g, 0);
}

static void untouched_tail(yajl_gen g, unsigned digits)
{
    KEY(g, "shipments");
    yajl_gen_array_open(g);
    yajl_gen_array_close(g);
    KEY(g, "returns");
    yajl_gen_array_open(g);
    yajl_gen_array_close(g);
    KEY(g, "refunds");
    yajl_gen_array_open(g);
    yajl_gen_array_close(g);
    KEY(g, "refunded_total");
    gen_money(g, 0, digits);
    KEY(g, "refunded_total_minor");
    gen_uint(g, 0);
}

static void render_fragments(void)
{
    render_members(&line_untouched, untouched_line, 0);
    for (unsigned d = 0; d <= ORDERD_MONEY_MAX_DIGITS; ++d)
        render_members(&tail_untouched[d], untouched_tail, d);
}

static void gen_order(yajl_gen g, gen_out_t *out, const orderd_order_t *o, int preview)
{
    pthread_once(&fragments_once, render_fragments);
    char id[ORDERD_ID_LEN];
    orderd_id_format(o->id, id);
    unsigned digits = orderd_order_digits(o);
    yajl_gen_map_open(g);
    KEY(g, "id");
    yajl_gen_string(g, (const unsigned char *)id, sizeof(id));
    KEY(g, "user_id");
    gen_str(g, orderd_order_user(o));
    KEY(g, "status");
    gen_cstr(g, orderd_status_name((orderd_status_t)o->status));
    KEY(g, "items");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < o->n_items; ++i) {
        yajl_gen_map_open(g);
        KEY(g, "product_id");
        gen_str(g, orderd_order_product(o, i));
        KEY(g, "quantity");
        gen_uint(g, o->items[i].quantity);
        KEY(g, "price");
        gen_money(g, o->items[i].price, digits);
        orderd_line_t line;
        orderd_order_line(o, i, &line);
        KEY(g, "line_id");
        gen_ref(g, "l", line.line_no);
        if (o->ext_off == 0) {
            gen_raw(out, line_untouched.text, line_untouched.len);
        } else {
            KEY(g, "cancelled_quantity");
            gen_uint(g, line.cancelled);
            KEY(g, "shipped_quantity");
            gen_uint(g, line.shipped);
            KEY(g, "returned_quantity");
            gen_uint(g, line.returned);
        }
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    KEY(g, "currency");
    yajl_gen_string(g, (const unsigned char *)o->currency, 3);
    KEY(g, "total");
    gen_money(g, o->total, digits);
    KEY(g, "total_minor");
    if (o->total >= 0)
        gen_uint(g, (unsigned long long)o->total);
    else
        yajl_gen_integer(g, o->total);
    KEY(g, "shipping_address");
    gen_str(g, orderd_order_address(o));
    KEY(g, "payment_method");
    gen_str(g, orderd_order_payment(o));
    KEY(g, "created_at");
    gen_time(g, o->created_ms);
    KEY(g, "updated_at");
    gen_time(g, o->updated_ms);
    KEY(g, "version");
    gen_uint(g, o->version);
    if (o->ext_off == 0)
        gen_raw(out, tail_untouched[digits].text, tail_untouched[digits].len);
    else
        gen_after_checkout(g, o);
    if (preview) {
        KEY(g, "preview");
        yajl_gen_bool(g, 1);
    }
    yajl_gen_map_close(g);
}

orderd_str_t orderd_codec_encode_order(const orderd_order_t *o, const orderd_alloc_t *a)
{
    yajl_alloc_funcs funcs;
    gen_out_t out;
    yajl_gen g = gen_new(a, &funcs, &out);
    gen_order(g, &out, o, 0);
    return gen_result(&out);
}

orderd_str_t orderd_codec_encode_preview(const orderd_order_t *o, const orderd_alloc_t *a)
{
    yajl_alloc_funcs funcs;
    gen_out_t out;
    yajl_gen g = gen_new(a, &funcs, &out);
    gen_order(g, &out, o, 1);
    return gen_result(&out);
}

orderd_str_t orderd_codec_encode_page(orderd_order_t *const *orders, size_t n, unsigned limit, size_t offset,
                                      size_t total, const orderd_alloc_t *a)
{
    yajl_alloc_funcs funcs;
    gen_out_t out;
    yajl_gen g = gen_new(a, &funcs, &out);
    yajl_gen_map_open(g);
    KEY(g, "orders");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < n; ++i)
        gen_order(g, &out, orders[i], 0);
    yajl_gen_array_close(g);
    KEY(g, "limit");
    gen_uint(g, limit);
    KEY(g, "offset");
    gen_uint(g, offset);
    KEY(g, "total");
    gen_uint(g, total);
    yajl_gen_map_close(g);
    return gen_result(&out);
}

orderd_str_t orderd_codec_encode_problem(const orderd_problem_t *p, const orderd_alloc_t *a)
{
    yajl_alloc_funcs funcs;
    gen_out_t out;
    yajl_gen g = gen_new(a, &funcs, &out);
    yajl_gen_map_open(g);
    KEY(g, "type");
    size_t plen = sizeof(ORDERD_PROBLEM_TYPE_PREFIX) - 1, tlen = strlen(p->type);
    char *type = orderd_alloc(a, plen + tlen);
    memcpy(type, ORDERD_PROBLEM_TYPE_PREFIX, plen);
    memcpy(type + plen, p->type, tlen);
    yajl_gen_string(g, (const unsigned char *)type, plen + tlen);
    KEY(g, "title");
    gen_cstr(g, p->title);
    KEY(g, "status");
    yajl_gen_integer(g, p->status);
    KEY(g, "detail");
    gen_cstr(g, p->detail);
    if (p->errors != NULL) {
        KEY(g, "errors");
        yajl_gen_array_open(g);
        for (size_t i = 0; i < p->n_errors; ++i) {
            yajl_gen_map_open(g);
            KEY(g, "field");
            gen_cstr(g, p->errors[i].field);
            KEY(g, "message");
            gen_cstr(g, p->errors[i].message);
            yajl_gen_map_close(g);
        }
        yajl_gen_array_close(g);
    }
    if (p->instance.len > 0) {
        KEY(g, "instance");
        gen_str(g, p->instance);
    }
    yajl_gen_map_close(g);
    return gen_result(&out);
}

/* What an operation changed, entry by entry (order_ops.h's detail). */
static void gen_changes(yajl_gen g, const orderd_order_t *o, const orderd_audit_entry_t *ev)
{
    orderd_detail_entry_t e;
    size_t off = 0;
    KEY(g, "changes");
    yajl_gen_array_open(g);
    while (orderd_detail_next(ev->detail, ev->detail_len, &off, &e) == 1) {
        yajl_gen_map_open(g);
        KEY(g, "op");
        gen_cstr(g, orderd_detail_kind_name(e.kind));
        switch (e.kind) {
        case ORDERD_DETAIL_SHIPMENT:
        case ORDERD_DETAIL_DELIVERED:
            KEY(g, "shipment_id");
            gen_ref(g, "s", e.ref);
            break;
        case ORDERD_DETAIL_RETURN:
            KEY(g, "return_id");
            gen_ref(g, "r", e.ref);
            KEY(g, "status");
            gen_cstr(g, orderd_return_status_name(e.quantity));
            if (e.text.len != 0) {
                KEY(g, "reason");
                gen_str(g, e.text);
            }
            break;
        case ORDERD_DETAIL_REFUND:
            KEY(g, "refund_id");
            gen_ref(g, "rf", e.ref);
            KEY(g, "amount");
            gen_amount(g, o, e.amount);
            break;
        case ORDERD_DETAIL_SET_ADDRESS:
            KEY(g, "shipping_address");
            gen_str(g, e.text);
            break;
        case ORDERD_DETAIL_TOTAL:
            KEY(g, "total");
            gen_amount(g, o, e.amount);
            KEY(g, "total_minor");
            gen_uint(g, (unsigned long long)e.amount);
            break;
        default: /* a line's change */
            KEY(g, "line_id");
            gen_ref(g, "l", e.ref);
            if (e.kind == ORDERD_DETAIL_ADD_ITEM) {
                KEY(g, "product_id");
                gen_str(g, e.text);
            }
            KEY(g, "quantity");
            gen_uint(g, e.quantity);
            if (e.kind == ORDERD_DETAIL_SET_QUANTITY) {
                KEY(g, "previous_quantity");
                gen_uint(g, (unsigned long long)e.amount);
            } else if (e.kind == ORDERD_DETAIL_ADD_ITEM) {
                KEY(g, "price");
                gen_amount(g, o, e.amount);
            } else if (e.kind == ORDERD_DETAIL_REFUND_LINE) {
                KEY(g, "amount");
                gen_amount(g, o, e.amount);
            }
            break;
        }
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
}

orderd_str_t orderd_codec_encode_audit_trail(const orderd_order_t *o, const orderd_audit_entry_t *events, size_t n,
                                        const orderd_alloc_t *a)
{
    yajl_alloc_funcs funcs;
    gen_out_t out;
    yajl_gen g = gen_new(a, &funcs, &out);
    orderd_str_t user = orderd_order_user(o);
    char actor[5 + ORDERD_USER_ID_MAX] = "user:";
    memcpy(actor + 5, user.base, user.len);
    yajl_gen_map_open(g);
    KEY(g, "events");
    yajl_gen_array_open(g);
    for (size_t i = 0; i < n; ++i) {
        yajl_gen_map_open(g);
        KEY(g, "seq");
        gen_uint(g, events[i].version);
        KEY(g, "type");
        /* what the one-step status endpoint did is the status change it was asked as */
        int op = events[i].kind != 0 && !(events[i].flags & ORDERD_AMENDED_VIA_STATUS);
        gen_cstr(g, op ? orderd_op_name(events[i].kind) : events[i].version == 1 ? "created" : "status_changed");
        KEY(g, "status");
        gen_cstr(g, orderd_status_name((orderd_status_t)events[i].status));
        KEY(g, "at");
        gen_time(g, events[i].at_ms);
        KEY(g, "actor");
        if (events[i].actor == ORDERD_ACTOR_OPERATOR)
            gen_cstr(g, "operator");
        else
            gen_str(g, (orderd_str_t){actor, 5 + user.len});
        if (op)
            gen_changes(g, o, &events[i]);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    return gen_result(&out);
}
