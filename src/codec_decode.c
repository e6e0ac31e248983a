/* Decoding and validating a create-order body with yajl's event parser. */
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "internal/utf8.h"
#include "internal/yajl_alloc.h"
#include "orderd/codec.h"
#include "orderd/currency.h"
#include "orderd/money.h"

enum { F_NONE, F_ITEMS, F_ADDRESS, F_PAYMENT, F_CURRENCY, F_UNKNOWN };
enum { I_NONE, I_PRODUCT, I_QUANTITY, I_PRICE, I_UNKNOWN };

typedef struct errlist {
    orderd_field_error_t *v;
    size_t n, cap, total;
} errlist_t;

/* Where the parser is: depth 0 outside the document, 1 in the root object,
 * 2 in the items array, 3 in one item object. A value of the wrong shape is
 * reported once and then skipped whole: `skip` is the depth below which
 * skipping ends (0 when not skipping). */
typedef struct dec {
    const orderd_alloc_t *a;
    int depth, skip;
    int top_key, item_key;
    unsigned seen_top, seen_item;
    size_t n_items, cap_items; /* items seen; only the first ORDERD_ITEMS_MAX are kept */
    /* Each kept item's price as written: the currency may come after the
     * items, and its minor unit decides what a price may be (finish_root). */
    orderd_str_t *price_text;
    int currency_bad;          /* the currency was named and refused: prices are checked as USD's */
    int bad_items;             /* some item failed: no total */
    int items_reported;        /* "items" itself was the wrong type: already named */
    orderd_order_draft_t *draft;
    errlist_t top, items;
    const char *syntax;
    int too_deep; /* stopped at a container past ORDERD_CODEC_MAX_DEPTH */
} dec_t;

/* Top-level problems go in `top` (a handful at most), per-item ones in
 * `items`; the report lists all of `top`, then items up to the cap. */
static void push(dec_t *d, errlist_t *l, const char *field, const char *message)
{
    ++l->total;
    if (l->n == ORDERD_CODEC_MAX_ERRORS)
        return;
    if (l->n == l->cap) {
        size_t ncap = l->cap == 0 ? 8 : l->cap * 2;
        orderd_field_error_t *n = orderd_alloc(d->a, ncap * sizeof(*n));
        if (l->n != 0)
            memcpy(n, l->v, l->n * sizeof(*n));
        l->v = n;
        l->cap = ncap;
    }
    l->v[l->n++] = (orderd_field_error_t){field, message};
}

static void add_error(dec_t *d, const char *field, const char *message)
{
    push(d, &d->top, field, message);
}

static void item_error_at(dec_t *d, size_t idx, const char *name, const char *message)
{
    char buf[64];
    d->bad_items = 1;
    /* past the cap only the count goes on: naming the field first took ~70
     * bytes of request memory for each 3-byte "{}," of a 1 MiB body */
    if (d->items.n == ORDERD_CODEC_MAX_ERRORS) {
        ++d->items.total;
        return;
    }
    int n = name != NULL ? snprintf(buf, sizeof(buf), "items[%zu].%s", idx, name)
                         : snprintf(buf, sizeof(buf), "items[%zu]", idx);
    char *field = orderd_alloc(d->a, (size_t)n + 1);
    memcpy(field, buf, (size_t)n + 1);
    push(d, &d->items, field, message);
}

static void item_error(dec_t *d, const char *name, const char *message)
{
    item_error_at(d, d->n_items - 1, name, message);
}

static const char *const top_names[] = {NULL, "items", "shipping_address", "payment_method", "currency"};
static const char *const top_rules[] = {NULL, "must be an array of 1 to 1000 items",
                                        "must be a string of 1 to 1024 bytes", "must be a string of 1 to 32 bytes",
                                        "must be three upper-case letters (ISO 4217)"};
static const char *const item_names[] = {NULL, "product_id", "quantity", "price"};
static const char *const item_rules[] = {NULL, "must be a string of 1 to 64 bytes",
                                         "must be an integer from 1 to 1000000",
                                         "must be a number >= 0 with at most 2 decimal places"};

static void begin_skip(dec_t *d)
{
    d->skip = ++d->depth;
}

static void new_item(dec_t *d)
{
    ++d->n_items;
    d->seen_item = 0;
    if (d->n_items > ORDERD_ITEMS_MAX)
        return;
    if (d->n_items > d->cap_items) {
        size_t ncap = d->cap_items == 0 ? 4 : d->cap_items * 2;
        orderd_item_draft_t *n = orderd_alloc(d->a, ncap * sizeof(*n));
        orderd_str_t *t = orderd_alloc(d->a, ncap * sizeof(*t));
        if (d->cap_items != 0) {
            memcpy(n, d->draft->items, (d->n_items - 1) * sizeof(*n));
            memcpy(t, d->price_text, (d->n_items - 1) * sizeof(*t));
        }
        d->draft->items = n;
        d->price_text = t;
        d->cap_items = ncap;
    }
    d->draft->items[d->n_items - 1] = (orderd_item_draft_t){{NULL, 0}, 0, 0};
    d->price_text[d->n_items - 1] = (orderd_str_t){NULL, 0};
}

static orderd_item_draft_t *cur_item(dec_t *d)
{
    return d->n_items <= ORDERD_ITEMS_MAX ? &d->draft->items[d->n_items - 1] : NULL;
}

/* A value arrived that is not what the current position wants. */
static void wrong_value(dec_t *d)
{
    switch (d->depth) {
    case 0:
        add_error(d, "body", "must be a JSON object");
        break;
    case 1:
        if (d->top_key == F_ITEMS)
            d->items_reported = 1;
        if (d->top_key != F_UNKNOWN)
            add_error(d, top_names[d->top_key], top_rules[d->top_key]);
        break;
    case 2:
        new_item(d);
        item_error(d, NULL, "must be an object");
        break;
    case 3:
        if (d->item_key != I_UNKNOWN)
            item_error(d, item_names[d->item_key], item_rules[d->item_key]);
        break;
    }
}

static int on_start(dec_t *d, int is_map)
{
    /* stop before yajl pushes another level: a body of '[' ends here, not at its end */
    if (d->depth >= ORDERD_CODEC_MAX_DEPTH) {
        d->too_deep = 1;
        return 0;
    }
    if (d->skip) {
        ++d->depth;
        return 1;
    }
    if (d->depth == 0 && is_map) {
        d->depth = 1;
    } else if (d->depth == 1 && !is_map && d->top_key == F_ITEMS) {
        d->depth = 2;
    } else if (d->depth == 2 && is_map) {
        new_item(d);
        d->depth = 3;
    } else {
        wrong_value(d);
        begin_skip(d);
    }
    return 1;
}

static void finish_item(dec_t *d)
{
    for (int k = I_PRODUCT; k <= I_PRICE; ++k)
        if (!(d->seen_item & (1u << k)))
            item_error(d, item_names[k], "is required");
}

static const char *pool_cstr(dec_t *d, const char *s)
{
    size_t n = strlen(s) + 1;
    char *c = orderd_alloc(d->a, n);
    memcpy(c, s, n);
    return c;
}

/* The rule a price breaks in this order's currency. Two-digit currencies,
 * USD among them, keep the message clients have always had. */
static const char *price_rule(dec_t *d, int digits)
{
    char buf[ORDERD_MONEY_RULE_MAX];
    if (digits == 2)
        return item_rules[I_PRICE];
    orderd_money_rule((unsigned)digits, d->draft->currency, buf);
    return pool_cstr(d, buf);
}

/* The largest amount in this currency, and why (I-JSON). `what` starts it. */
static const char *limit_rule(dec_t *d, int digits, const char *what)
{
    char max[ORDERD_MONEY_FMT_MAX], buf[160];
    (void)orderd_money_format(ORDERD_MONEY_MAX_MINOR, (unsigned)digits, max);
    snprintf(buf, sizeof(buf), "%s at most %s %.3s: 15 significant digits, so that every JSON client reads it exactly",
             what, max, d->draft->currency);
    return pool_cstr(d, buf);
}

/* Each kept price against the currency's minor unit and the 15-digit limit. */
static void check_prices(dec_t *d, int digits)
{
    const char *rule = NULL, *limit = NULL;
    size_t kept = d->n_items < ORDERD_ITEMS_MAX ? d->n_items : ORDERD_ITEMS_MAX;
    for (size_t i = 0; i < kept; ++i) {
        orderd_str_t t = d->price_text[i];
        int64_t p;
        if (t.base == NULL) /* missing or the wrong type: already named */
            continue;
        int rc = orderd_money_parse(t.base, t.len, (unsigned)digits, &p);
        if (rc == ORDERD_MONEY_ERANGE || (rc == ORDERD_MONEY_OK && p > ORDERD_MONEY_MAX_MINOR)) {
            if (limit == NULL)
                limit = limit_rule(d, digits, "must be");
            item_error_at(d, i, item_names[I_PRICE], limit);
        } else if (rc != ORDERD_MONEY_OK) {
            if (rule == NULL)
                rule = price_rule(d, digits);
            item_error_at(d, i, item_names[I_PRICE], rule);
        } else {
            d->draft->items[i].price = p;
        }
    }
}

static void finish_root(dec_t *d)
{
    orderd_order_draft_t *dr = d->draft;
    for (int k = F_ITEMS; k <= F_PAYMENT; ++k)
        if (!(d->seen_top & (1u << k)))
            add_error(d, top_names[k], "is required");
    if (!(d->seen_top & (1u << F_ITEMS)) || d->items_reported)
        return;
    /* a refused currency left the default in the draft: USD's two digits */
    int digits = orderd_currency_minor_units(dr->currency);
    if (digits < 0 || d->currency_bad)
        digits = 2;
    check_prices(d, digits);
    if (d->n_items == 0 || d->n_items > ORDERD_ITEMS_MAX) {
        add_error(d, "items", top_rules[F_ITEMS]);
        return;
    }
    if (d->bad_items)
        return;
    dr->n_items = d->n_items;
    int64_t total = 0;
    for (size_t i = 0; i < dr->n_items; ++i) {
        int64_t line;
        if (__builtin_mul_overflow(dr->items[i].price, (int64_t)dr->items[i].quantity, &line) ||
            __builtin_add_overflow(total, line, &total) || total > ORDERD_MONEY_MAX_MINOR) {
            add_error(d, "items", limit_rule(d, digits, "the order total must be"));
            return;
        }
    }
    dr->total = total;
}

static int on_end(void *ctx)
{
    dec_t *d = ctx;
    if (d->skip) {
        if (--d->depth < d->skip)
            d->skip = 0;
        return 1;
    }
    if (d->depth == 3)
        finish_item(d);
    else if (d->depth == 1)
        finish_root(d);
    --d->depth;
    return 1;
}

static int on_start_map(void *ctx)
{
    return on_start(ctx, 1);
}

static int on_start_array(void *ctx)
{
    return on_start(ctx, 0);
}

static int lookup(const char *const *names, int n, const unsigned char *key, size_t len)
{
    for (int i = 1; i < n; ++i)
        if (strlen(names[i]) == len && memcmp(names[i], key, len) == 0)
            return i;
    return -1;
}

static int on_key(void *ctx, const unsigned char *key, size_t len)
{
    dec_t *d = ctx;
    if (d->skip)
        return 1;
    if (!orderd_utf8_valid(key, len)) {
        d->syntax = "a member name is not valid UTF-8";
        return 0;
    }
    if (d->depth == 1) {
        int k = lookup(top_names, 5, key, len);
        d->top_key = k < 0 ? F_UNKNOWN : k;
        if (k > 0 && (d->seen_top & (1u << k)))
            add_error(d, top_names[k], "appears more than once");
        if (k > 0)
            d->seen_top |= 1u << k;
    } else if (d->depth == 3) {
        int k = lookup(item_names, 4, key, len);
        d->item_key = k < 0 ? I_UNKNOWN : k;
        if (k > 0 && (d->seen_item & (1u << k)))
            item_error(d, item_names[k], "appears more than once");
        if (k > 0)
            d->seen_item |= 1u << k;
    }
    return 1;
}

static orderd_str_t pool_copy(dec_t *d, const unsigned char *s, size_t len)
{
    char *c = orderd_alloc(d->a, len + 1);
    memcpy(c, s, len);
    c[len] = '\0';
    return (orderd_str_t){c, len};
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    dec_t *d = ctx;
    if (d->skip)
        return 1;
    if (!orderd_utf8_valid(s, len)) {
        d->syntax = "a string is not valid UTF-8";
        return 0;
    }
    if (d->depth == 1) {
        orderd_order_draft_t *dr = d->draft;
        switch (d->top_key) {
        case F_ADDRESS:
            if (len < 1 || len > ORDERD_ADDRESS_MAX)
                return wrong_value(d), 1;
            dr->shipping_address = pool_copy(d, s, len);
            return 1;
        case F_PAYMENT:
            if (len < 1 || len > ORDERD_PAYMENT_MAX)
                return wrong_value(d), 1;
            dr->payment_method = pool_copy(d, s, len);
            return 1;
        case F_CURRENCY:
            if (len != 3 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' || s[2] < 'A' || s[2] > 'Z')
                return wrong_value(d), 1;
            switch (orderd_currency_lookup((const char *)s)) {
            case ORDERD_CURRENCY_UNKNOWN:
                d->currency_bad = 1;
                add_error(d, "currency", "is not an ISO 4217 currency code");
                return 1;
            case ORDERD_CURRENCY_NOT_PAYABLE:
                d->currency_bad = 1;
                add_error(d, "currency",
                          "is not a currency orders can be paid in (an ISO 4217 code of a fund, a precious metal "
                          "or for testing, with no minor unit)");
                return 1;
            }
            memcpy(dr->currency, s, 3);
            return 1;
        case F_UNKNOWN:
            return 1;
        }
    } else if (d->depth == 3 && d->item_key == I_PRODUCT) {
        if (len < 1 || len > ORDERD_PRODUCT_ID_MAX)
            return wrong_value(d), 1;
        if (cur_item(d) != NULL)
            cur_item(d)->product_id = pool_copy(d, s, len);
        return 1;
    } else if (d->depth == 3 && d->item_key == I_UNKNOWN) {
        return 1;
    }
    wrong_value(d);
    return 1;
}

static int on_number(void *ctx, const char *s, size_t len)
{
    dec_t *d = ctx;
    if (d->skip)
        return 1;
    if (d->depth == 3 && d->item_key == I_QUANTITY) {
        /* written as an integer: no fraction, no exponent */
        int64_t q;
        if (memchr(s, '.', len) != NULL || memchr(s, 'e', len) != NULL || memchr(s, 'E', len) != NULL ||
            orderd_money_parse(s, len, 0, &q) != ORDERD_MONEY_OK || q < 1 || q > ORDERD_QUANTITY_MAX)
            return wrong_value(d), 1;
        if (cur_item(d) != NULL)
            cur_item(d)->quantity = (uint32_t)q;
        return 1;
    }
    if (d->depth == 3 && d->item_key == I_PRICE) {
        /* checked in finish_root, once the currency is known */
        if (cur_item(d) != NULL)
            d->price_text[d->n_items - 1] = pool_copy(d, (const unsigned char *)s, len);
        return 1;
    }
    if ((d->depth == 1 && d->top_key == F_UNKNOWN) || (d->depth == 3 && d->item_key == I_UNKNOWN))
        return 1;
    wrong_value(d);
    return 1;
}

/* null and booleans: never right for a known member */
static int on_other(dec_t *d)
{
    if (d->skip || (d->depth == 1 && d->top_key == F_UNKNOWN) || (d->depth == 3 && d->item_key == I_UNKNOWN))
        return 1;
    wrong_value(d);
    return 1;
}

static int on_null(void *ctx)
{
    return on_other(ctx);
}

static int on_boolean(void *ctx, int v)
{
    (void)v;
    return on_other(ctx);
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

int orderd_codec_decode_create(const char *body, size_t len, const orderd_alloc_t *a, orderd_order_draft_t *draft,
                               orderd_decode_report_t *report)
{
    *draft = (orderd_order_draft_t){.currency = {'U', 'S', 'D'}};
    *report = (orderd_decode_report_t){NULL, NULL, 0};
    if (len == 0) {
        report->syntax = "the request body is empty";
        return ORDERD_DECODE_SYNTAX;
    }
    dec_t d = {.a = a, .draft = draft};
    const char *yajl_error;
    int failed = orderd_yajl_parse(&callbacks, &d, body, len, a, &yajl_error);
    if (failed && d.too_deep) {
        report->syntax = "arrays and objects nest too deeply";
        return ORDERD_DECODE_TOO_DEEP;
    }
    if (failed) {
        report->syntax = d.syntax != NULL ? d.syntax : yajl_error;
        return ORDERD_DECODE_SYNTAX;
    }
    if (d.top.total + d.items.total != 0) {
        size_t room = ORDERD_CODEC_MAX_ERRORS - d.top.n, n_items = d.items.total <= room ? d.items.n : room - 1;
        orderd_field_error_t *all = orderd_alloc(a, ORDERD_CODEC_MAX_ERRORS * sizeof(*all));
        /* an empty list has no array at all: memcpy must not see its NULL */
        if (d.top.n != 0)
            memcpy(all, d.top.v, d.top.n * sizeof(*all));
        if (n_items != 0)
            memcpy(all + d.top.n, d.items.v, n_items * sizeof(*all));
        report->errors = all;
        report->n_errors = d.top.n + n_items;
        if (d.items.total > room)
            all[report->n_errors++] = (orderd_field_error_t){"items", "too many broken items; the rest are not listed"};
        return ORDERD_DECODE_INVALID;
    }
    return ORDERD_DECODE_OK;
}
