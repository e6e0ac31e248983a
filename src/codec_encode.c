/* Writing orders, pages and problems as JSON with yajl_gen. */
#include <string.h>
#include <yajl/yajl_gen.h>

#include "internal/yajl_alloc.h"
#include "orderd/codec.h"
#include "orderd/currency.h"
#include "orderd/money.h"

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

static void gen_order(yajl_gen g, const orderd_order_t *o)
{
    char id[ORDERD_ID_LEN];
    orderd_id_format(o->id, id);
    /* the decoder let in only known currencies; 2 keeps an unknown one readable */
    int cd = orderd_currency_minor_units(o->currency);
    unsigned digits = cd < 0 ? 2u : (unsigned)cd;
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
    yajl_gen_map_close(g);
}

orderd_str_t orderd_codec_encode_order(const orderd_order_t *o, const orderd_alloc_t *a)
{
    yajl_alloc_funcs funcs;
    gen_out_t out;
    yajl_gen g = gen_new(a, &funcs, &out);
    gen_order(g, o);
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
        gen_order(g, orders[i]);
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
        gen_cstr(g, events[i].version == 1 ? "created" : "status_changed");
        KEY(g, "status");
        gen_cstr(g, orderd_status_name((orderd_status_t)events[i].status));
        KEY(g, "at");
        gen_time(g, events[i].at_ms);
        KEY(g, "actor");
        if (events[i].actor == ORDERD_ACTOR_OPERATOR)
            gen_cstr(g, "operator");
        else
            gen_str(g, (orderd_str_t){actor, 5 + user.len});
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    return gen_result(&out);
}
