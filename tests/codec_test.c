/* Unit tests for orderd/codec.h: decoding create requests (every rule of the
 * contract), encoding orders, pages and problems (checked with yajl's own
 * tree parser), and round trips. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "orderd/codec.h"
#include "orderd/currency.h"
#include "orderd/money.h"
#include "orderd/order.h"
#include "fixture.h"

/* ---- a growable string ---- */

typedef struct sb {
    char *p;
    size_t len, cap;
} sb_t;

static void sb_add(sb_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = realloc(b->p, cap);
        assert_non_null(b->p);
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_puts(sb_t *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_rep(sb_t *b, const char *s, size_t times)
{
    for (size_t i = 0; i < times; i++)
        sb_puts(b, s);
}

__attribute__((format(printf, 2, 3))) static void sb_printf(sb_t *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(tmp));
    sb_add(b, tmp, (size_t)n);
}

/* JSON text written with ' for " (for readability); the result is on the heap. */
static char *jq(const char *s)
{
    char *r = strdup(s);
    assert_non_null(r);
    for (char *p = r; *p; p++)
        if (*p == '\'')
            *p = '"';
    return r;
}

/* ---- decoding helpers ---- */

typedef struct dec {
    int rc;
    orderd_order_draft_t d;
    orderd_decode_report_t r;
} dec_t;

/* Decodes `len` bytes of `body` from an exactly-sized heap copy (so reading
 * past the end is an overflow under ASan); the copy is overwritten and freed
 * afterwards, so a draft pointing into it rather than into `a` shows up. */
static dec_t decode_n(void **state, const char *body, size_t len)
{
    orderd_alloc_t a = test_alloc(state);
    dec_t x;
    memset(&x, 0, sizeof(x));
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, body, len);
    x.rc = orderd_codec_decode_create(copy, len, &a, &x.d, &x.r);
    memset(copy, 'Z', len);
    free(copy);
    return x;
}

static dec_t decode_s(void **state, const char *body)
{
    return decode_n(state, body, strlen(body));
}

/* Decodes the ' -quoted text. */
static dec_t decode_q(void **state, const char *qbody)
{
    char *b = jq(qbody);
    dec_t x = decode_s(state, b);
    free(b);
    return x;
}

static void dump_report(const dec_t *x)
{
    print_error("decode rc %d", x->rc);
    if (x->rc == ORDERD_DECODE_SYNTAX)
        print_error(" syntax: %s", x->r.syntax ? x->r.syntax : "(null)");
    if (x->rc == ORDERD_DECODE_INVALID) {
        print_error(" errors (%zu):", x->r.n_errors);
        for (size_t i = 0; i < x->r.n_errors && i < 20; i++)
            print_error(" [%s: %s]", x->r.errors[i].field ? x->r.errors[i].field : "(null)",
                        x->r.errors[i].message ? x->r.errors[i].message : "(null)");
    }
    print_error("\n");
}

static void expect_ok_x(const dec_t *x, const char *what, int line)
{
    if (x->rc != ORDERD_DECODE_OK) {
        dump_report(x);
        fail_msg("line %d: %s: want OK", line, what);
    }
}

static void expect_syntax_x(const dec_t *x, const char *what, int line)
{
    if (x->rc != ORDERD_DECODE_SYNTAX) {
        dump_report(x);
        fail_msg("line %d: %s: want SYNTAX", line, what);
    }
    if (x->r.syntax == NULL || x->r.syntax[0] == 0)
        fail_msg("line %d: %s: SYNTAX without a reason", line, what);
    if (strchr(x->r.syntax, '\n') != NULL)
        fail_msg("line %d: %s: syntax reason is not one line: %s", line, what, x->r.syntax);
}

/* INVALID, and the set of fields named in the report is exactly `want` (NULL-terminated). */
static void expect_fields_x(const dec_t *x, const char *const *want, const char *what, int line)
{
    if (x->rc != ORDERD_DECODE_INVALID) {
        dump_report(x);
        fail_msg("line %d: %s: want INVALID", line, what);
    }
    size_t nwant = 0;
    while (want[nwant])
        nwant++;
    int bad = 0;
    for (size_t i = 0; i < x->r.n_errors; i++) {
        const orderd_field_error_t *e = &x->r.errors[i];
        if (e->field == NULL || e->message == NULL || e->message[0] == 0) {
            bad = 1;
            continue;
        }
        size_t k;
        for (k = 0; k < nwant; k++)
            if (strcmp(e->field, want[k]) == 0)
                break;
        if (k == nwant)
            bad = 1; /* unexpected field */
        for (size_t j = 0; j < i; j++)
            if (x->r.errors[j].field && strcmp(x->r.errors[j].field, e->field) == 0)
                bad = 1; /* listed twice */
    }
    for (size_t k = 0; k < nwant; k++) {
        size_t i;
        for (i = 0; i < x->r.n_errors; i++)
            if (x->r.errors[i].field && strcmp(x->r.errors[i].field, want[k]) == 0)
                break;
        if (i == x->r.n_errors)
            bad = 1; /* missing */
    }
    if (bad) {
        dump_report(x);
        print_error("want fields:");
        for (size_t k = 0; k < nwant; k++)
            print_error(" %s", want[k]);
        print_error("\n");
        fail_msg("line %d: %s: wrong field errors", line, what);
    }
}

#define EXPECT_OK(x, what) expect_ok_x(&(x), (what), __LINE__)
#define EXPECT_SYNTAX(x, what) expect_syntax_x(&(x), (what), __LINE__)
#define EXPECT_FIELDS(x, what, ...)                                                                                  \
    do {                                                                                                             \
        const char *const want_[] = {__VA_ARGS__, NULL};                                                             \
        expect_fields_x(&(x), want_, (what), __LINE__);                                                              \
    } while (0)

static void expect_str(orderd_str_t got, const char *want, size_t want_len, const char *what)
{
    if (got.len != want_len || (want_len && memcmp(got.base, want, want_len) != 0))
        fail_msg("%s: got %zu bytes \"%.*s\", want %zu bytes \"%.*s\"", what, got.len, (int)got.len,
                 got.base ? got.base : "", want_len, (int)want_len, want);
}

#define EXPECT_STR(got, lit) expect_str((got), (lit), sizeof(lit) - 1, #got)

/* A valid body whose one item is `item` (without braces) and whose other
 * members are `rest` (may be empty), ' -quoted. */
static char *body_with_item(const char *item, const char *rest)
{
    sb_t b = {0};
    sb_puts(&b, "{'items':[{");
    sb_puts(&b, item);
    sb_puts(&b, "}],'shipping_address':'1 Road','payment_method':'card'");
    sb_puts(&b, rest);
    sb_puts(&b, "}");
    char *r = jq(b.p);
    free(b.p);
    return r;
}

static const char SEED[] = "{\"items\":[{\"product_id\":\"123\",\"quantity\":2,\"price\":10.99},"
                           "{\"product_id\":\"456\",\"quantity\":1,\"price\":19.99}],"
                           "\"shipping_address\":\"123 Main St\",\"payment_method\":\"credit_card\"}";

/* ---- decode: the good path ---- */

static void test_decode_seed(void **state)
{
    dec_t x = decode_s(state, SEED);
    EXPECT_OK(x, "seed body");
    assert_int_equal(x.d.n_items, 2);
    EXPECT_STR(x.d.items[0].product_id, "123");
    assert_int_equal(x.d.items[0].quantity, 2);
    assert_true(x.d.items[0].price == 1099);
    EXPECT_STR(x.d.items[1].product_id, "456");
    assert_int_equal(x.d.items[1].quantity, 1);
    assert_true(x.d.items[1].price == 1999);
    EXPECT_STR(x.d.shipping_address, "123 Main St");
    EXPECT_STR(x.d.payment_method, "credit_card");
    assert_memory_equal(x.d.currency, "USD", 3);
    assert_true(x.d.total == 2 * 1099 + 1999);
}

static void test_decode_currency(void **state)
{
    char *b = body_with_item("'product_id':'p','quantity':3,'price':1.25", ",'currency':'EUR'");
    dec_t x = decode_s(state, b);
    free(b);
    EXPECT_OK(x, "currency EUR");
    assert_memory_equal(x.d.currency, "EUR", 3);
    assert_true(x.d.total == 375);

    static const char *const bad[] = {
        ",'currency':'usd'", ",'currency':'US'",  ",'currency':'USDX'", ",'currency':''",
        ",'currency':123",   ",'currency':null",  ",'currency':'U$D'",  ",'currency':'Usd'",
        ",'currency':['USD']", ",'currency':'\xc3\x84" "BC'", ",'currency':' USD'", ",'currency':'uSD'",
        ",'currency':'UsD'", ",'currency':'USd'", ",'currency':'@SD'", ",'currency':'U[D'", ",'currency':'US\\u0000'",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        b = body_with_item("'product_id':'p','quantity':3,'price':1.25", bad[i]);
        x = decode_s(state, b);
        free(b);
        EXPECT_FIELDS(x, bad[i], "currency");
    }
}

static void test_decode_whitespace_and_member_order(void **state)
{
    char *b = jq(" \t\r\n{ 'payment_method' : 'card' ,\n 'currency':'GBP', 'shipping_address':'x',"
                 "'items' : [ { 'price' : 0.5 , 'quantity' : 4 , 'product_id' : 'a' } ] } \n\t ");
    dec_t x = decode_s(state, b);
    free(b);
    EXPECT_OK(x, "whitespace everywhere, members in another order");
    assert_int_equal(x.d.n_items, 1);
    EXPECT_STR(x.d.items[0].product_id, "a");
    assert_true(x.d.items[0].price == 50);
    assert_true(x.d.total == 200);
    assert_memory_equal(x.d.currency, "GBP", 3);
}

static void test_decode_respects_len(void **state)
{
    /* the body is the first len bytes; what follows in memory is not read */
    size_t n = strlen(SEED);
    char *buf = malloc(n + 8);
    memcpy(buf, SEED, n);
    memcpy(buf + n, "garbage", 8);
    dec_t x = decode_n(state, buf, n);
    EXPECT_OK(x, "seed followed by garbage outside len");
    assert_true(x.d.total == 4197);
    x = decode_n(state, buf, n - 1); /* without the closing brace */
    EXPECT_SYNTAX(x, "seed without its last byte");
    free(buf);
}

static void test_decode_strings_live_in_allocator(void **state)
{
    /* decode_n overwrites and frees the body right after decoding */
    char *b = body_with_item("'product_id':'prod-\\u00e9','quantity':1,'price':1", ",'currency':'CHF'");
    dec_t x = decode_s(state, b);
    free(b);
    EXPECT_OK(x, "body");
    EXPECT_STR(x.d.items[0].product_id, "prod-\xc3\xa9");
    EXPECT_STR(x.d.shipping_address, "1 Road");
    EXPECT_STR(x.d.payment_method, "card");
    assert_memory_equal(x.d.currency, "CHF", 3);
}

static void test_decode_escapes(void **state)
{
    char *b = body_with_item("'product_id':'q\\'\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20ac\\ud83d\\ude00',"
                             "'quantity':1,'price':1",
                             "");
    /* jq turned the \' into \" as wanted */
    dec_t x = decode_s(state, b);
    free(b);
    EXPECT_OK(x, "escapes in product_id");
    EXPECT_STR(x.d.items[0].product_id, "q\"\\/\b\f\n\r\tA\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");

    /* raw UTF-8 passes unchanged, upper-case hex escapes work too */
    b = jq("{'items':[{'product_id':'\xe6\x9d\xb1\xe4\xba\xac','quantity':1,'price':1}],"
           "'shipping_address':'Stra\xc3\x9f" "e \\u00C9\\u00e9 \xf0\x9f\x98\x80 \\uD83D\\uDE00',"
           "'payment_method':'\\\"quoted\\\" \\\\ back'}");
    x = decode_s(state, b);
    free(b);
    EXPECT_OK(x, "raw UTF-8 and escapes");
    EXPECT_STR(x.d.items[0].product_id, "\xe6\x9d\xb1\xe4\xba\xac");
    EXPECT_STR(x.d.shipping_address,
               "Stra\xc3\x9f" "e \xc3\x89\xc3\xa9 \xf0\x9f\x98\x80 \xf0\x9f\x98\x80");
    EXPECT_STR(x.d.payment_method, "\"quoted\" \\ back");
}

static void test_decode_nul_escape(void **state)
{
    /* \u0000 is valid JSON and valid UTF-8. Whatever the decoder decides, it
     * must not silently truncate the string. */
    char *b = jq("{'items':[{'product_id':'p','quantity':1,'price':1}],'shipping_address':'a\\u0000b',"
                 "'payment_method':'card'}");
    dec_t x = decode_s(state, b);
    free(b);
    if (x.rc == ORDERD_DECODE_OK)
        expect_str(x.d.shipping_address, "a\0b", 3, "address with an escaped NUL");
    else
        EXPECT_FIELDS(x, "address with an escaped NUL", "shipping_address");
}

/* ---- decode: not JSON ---- */

typedef struct blob {
    const char *p;
    size_t n;
} blob_t;
#define B(lit) {(lit), sizeof(lit) - 1}

static void test_decode_syntax_errors(void **state)
{
    static const blob_t bad[] = {
        B(""),
        B(" "),
        B("\n\t "),
        B("{"),
        B("}"),
        B("{}x"),
        B("{} {}"),
        B("{}}"),
        B("[1,]"),
        B("{\"a\":1,}"),
        B("{\"a\" 1}"),
        B("{\"a\":}"),
        B("{'a':1}"),
        B("{a:1}"),
        B("{\"items\":[] /* comment */}"),
        B("{\"items\":[]} // comment"),
        B("{\"a\":01}"),
        B("{\"a\":1.}"),
        B("{\"a\":.5}"),
        B("{\"a\":+1}"),
        B("{\"a\":NaN}"),
        B("{\"a\":Infinity}"),
        B("{\"a\":tru}"),
        B("{\"a\":nul}"),
        B("{\"a\":\"unterminated}"),
        B("{\"a\":\"bad escape \\x\"}"),
        B("{\"a\":\"bad unicode \\u12G4\"}"),
        B("{\"a\":\"short unicode \\u12\"}"),
        B("{\"a\":\"raw\ncontrol\"}"),
        B("{\"a\":\"raw\ttab\"}"),
        B("{}\0"),
        B("\0{}"),
        B("{\"a\":\"x\0y\"}"),
        B("{\"a\":1\0}"),
        B("[1,2"),
        B("{\"items\":[{\"product_id\":\"1\",\"quantity\":1,\"price\":1}],"),
        B("\"x"),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        dec_t x = decode_n(state, bad[i].p, bad[i].n);
        char what[160];
        snprintf(what, sizeof(what), "syntax case %zu (%.60s)", i, bad[i].p);
        EXPECT_SYNTAX(x, what);
    }
}

static void test_decode_invalid_utf8(void **state)
{
    static const char *const seqs[] = {
        "\xff",             /* never valid */
        "\xfe",             /* never valid */
        "\x80",             /* lone continuation byte */
        "\xbf",             /* lone continuation byte */
        "\xc0\xaf",         /* overlong '/' */
        "\xc1\xbf",         /* overlong */
        "\xe0\x80\xaf",     /* overlong 3-byte */
        "\xf0\x80\x80\xaf", /* overlong 4-byte */
        "\xed\xa0\x80",     /* UTF-16 surrogate D800 */
        "\xed\xbf\xbf",     /* UTF-16 surrogate DFFF */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xf5\x80\x80\x80", /* above U+10FFFF */
        "\xf8\x88\x80\x80\x80", /* 5-byte form */
        "\xc3",             /* truncated 2-byte */
        "\xe2\x82",         /* truncated 3-byte */
        "\xf0\x9f\x98",     /* truncated 4-byte */
        "\xc3(",            /* bad continuation */
        "\xe2\x28\xa1",     /* bad continuation */
    };
    for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
        static const char *const where[] = {
            "{'items':[{'product_id':'p','quantity':1,'price':1}],'shipping_address':'a%sb','payment_method':'c'}",
            "{'items':[{'product_id':'%s','quantity':1,'price':1}],'shipping_address':'a','payment_method':'c'}",
            "{'items':[{'product_id':'p','quantity':1,'price':1}],'shipping_address':'a','payment_method':'c%s'}",
            "{'items':[{'product_id':'p','quantity':1,'price':1}],'shipping_address':'a','payment_method':'c',"
            "'unknown':'%s'}",
            "{'items':[{'product_id':'p','quantity':1,'price':1}],'shipping_address':'a','payment_method':'c',"
            "'k%s':1}",
        };
        for (size_t w = 0; w < sizeof(where) / sizeof(where[0]); w++) {
            char tmp[512];
            snprintf(tmp, sizeof(tmp), where[w], seqs[i]);
            char *b = jq(tmp);
            dec_t x = decode_s(state, b);
            free(b);
            char what[96];
            snprintf(what, sizeof(what), "invalid UTF-8 sequence %zu in place %zu", i, w);
            EXPECT_SYNTAX(x, what);
        }
    }

    /* the edges of valid UTF-8 are fine */
    static const char *const good[] = {
        "\x7f", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
        "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char tmp[256];
        snprintf(tmp, sizeof(tmp),
                 "{'items':[{'product_id':'p','quantity':1,'price':1}],'shipping_address':'%s','payment_method':'c'}",
                 good[i]);
        char *b = jq(tmp);
        dec_t x = decode_s(state, b);
        free(b);
        char what[64];
        snprintf(what, sizeof(what), "valid UTF-8 edge %zu", i);
        EXPECT_OK(x, what);
        expect_str(x.d.shipping_address, good[i], strlen(good[i]), what);
    }
}

static void expect_too_deep_x(const dec_t *x, const char *what, int line)
{
    if (x->rc != ORDERD_DECODE_TOO_DEEP) {
        dump_report(x);
        fail_msg("line %d: %s: want TOO_DEEP", line, what);
    }
    if (x->r.syntax == NULL || x->r.syntax[0] == 0 || strchr(x->r.syntax, '\n') != NULL)
        fail_msg("line %d: %s: TOO_DEEP without a one-line reason", line, what);
}

#define EXPECT_TOO_DEEP(x, what) expect_too_deep_x(&(x), (what), __LINE__)

/* `levels` containers, arrays and objects in turn, each holding the next, a 0 in the last. */
static void sb_nest(sb_t *b, size_t levels)
{
    for (size_t i = 0; i < levels; i++)
        sb_puts(b, i % 2 == 0 ? "[" : "{\"a\":");
    sb_puts(b, "0");
    for (size_t i = levels; i-- > 0;)
        sb_puts(b, i % 2 == 0 ? "]" : "}");
}

/* A valid order whose unknown member "x" holds `levels` nested containers:
 * the document nests 1 + levels deep. */
static dec_t decode_nested_order(void **state, size_t levels)
{
    sb_t b = {0};
    sb_puts(&b, "{\"x\":");
    sb_nest(&b, levels);
    sb_puts(&b, ",");
    sb_puts(&b, SEED + 1);
    dec_t x = decode_n(state, b.p, b.len);
    free(b.p);
    return x;
}

static void test_decode_depth_limit(void **state)
{
    /* the schema's own three levels leave room for unknown members up to the limit */
    assert_true(ORDERD_CODEC_MAX_DEPTH >= 4);
    dec_t x = decode_nested_order(state, ORDERD_CODEC_MAX_DEPTH - 1);
    EXPECT_OK(x, "an unknown member nested to the limit");
    assert_int_equal(x.d.n_items, 2);
    x = decode_nested_order(state, ORDERD_CODEC_MAX_DEPTH);
    EXPECT_TOO_DEEP(x, "an unknown member nested one past the limit");

    /* inside an item (root, items, item: 3 levels) */
    sb_t b = {0};
    sb_puts(&b, "{\"items\":[{\"product_id\":\"p\",\"quantity\":1,\"price\":1,\"x\":");
    sb_nest(&b, ORDERD_CODEC_MAX_DEPTH - 2);
    sb_puts(&b, "}],\"shipping_address\":\"a\",\"payment_method\":\"c\"}");
    x = decode_n(state, b.p, b.len);
    EXPECT_TOO_DEEP(x, "an item's unknown member past the limit");
    free(b.p);

    /* wrong shapes are skipped, but their depth still counts */
    memset(&b, 0, sizeof(b));
    sb_puts(&b, "{\"items\":");
    sb_nest(&b, ORDERD_CODEC_MAX_DEPTH);
    sb_puts(&b, "}");
    x = decode_n(state, b.p, b.len);
    EXPECT_TOO_DEEP(x, "items nested past the limit");
    free(b.p);

    /* exactly the limit at the top level is only the wrong type */
    memset(&b, 0, sizeof(b));
    sb_nest(&b, ORDERD_CODEC_MAX_DEPTH);
    x = decode_n(state, b.p, b.len);
    EXPECT_FIELDS(x, "an array nested to the limit", "body");
    free(b.p);
}

static void test_decode_deep_nesting(void **state)
{
    test_arena_t *ar = *state;
    /* valid but absurd nesting: refused at the first level past the limit */
    sb_t b = {0};
    sb_rep(&b, "[", 100000);
    sb_rep(&b, "]", 100000);
    dec_t x = decode_n(state, b.p, b.len);
    EXPECT_TOO_DEEP(x, "100000 levels");
    free(b.p);

    /* deep nesting inside an unknown member */
    memset(&b, 0, sizeof(b));
    sb_puts(&b, "{\"deep\":");
    sb_rep(&b, "{\"a\":[", 20000);
    sb_rep(&b, "]}", 20000);
    sb_puts(&b, ",\"items\":[{\"product_id\":\"p\",\"quantity\":1,\"price\":1}],"
                "\"shipping_address\":\"a\",\"payment_method\":\"c\"}");
    x = decode_n(state, b.p, b.len);
    EXPECT_TOO_DEEP(x, "40000 levels in an unknown member");
    free(b.p);

    /* unclosed deep nesting stops at the limit too, before its end is seen;
     * the whole parse takes a few KiB, not the 4 GB of a growing stack */
    static const char *const openers[] = {"[", "{\"a\":", "[{\"a\":"};
    for (size_t i = 0; i < sizeof(openers) / sizeof(openers[0]); i++) {
        memset(&b, 0, sizeof(b));
        while (b.len < 1024 * 1024)
            sb_puts(&b, openers[i]);
        test_arena_reset(ar);
        x = decode_n(state, b.p, b.len);
        EXPECT_TOO_DEEP(x, openers[i]);
        if (ar->bytes > 16 * 1024)
            fail_msg("1 MiB of %s took %zu bytes in %zu blocks", openers[i], ar->bytes, ar->blocks);
        free(b.p);
    }
}

/* Bodies of about 1 MiB built to make the decoder allocate: whatever the
 * shape, it takes at most a few times the body from the request's memory. */
static void test_decode_memory_bounded(void **state)
{
    static const struct {
        const char *head, *unit, *tail;
    } shapes[] = {
        {"", "[", ""},
        {"", "{\"a\":", ""},
        {"{\"items\":[", "{},", "{}]}"},
        {"{\"items\":[", "1,", "1]}"},
        {"{\"items\":[", "{\"product_id\":\"\",\"quantity\":0,\"price\":-1,\"product_id\":1},", "{}]}"},
        {"{\"items\":[", "{\"product_id\":\"p\",\"quantity\":1,\"price\":1},", "{}]}"},
        {"{", "\"shipping_address\":\"0123456789\",", "\"x\":0}"},
        {"{", "\"payment_method\":[],", "\"x\":0}"},
        {"{", "\"k\":0,", "\"x\":0}"},
        {"{\"x\":\"", "\\u00e9\\n", "\"}"},
        {"{\"x\":[", "\"\\u00e9\",", "0]}"},
        {"{\"shipping_address\":\"", "\\u00e9", "\"}"},
        {"{\"x\":[", "1.5e300,", "0]}"},
    };
    test_arena_t *ar = *state;
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        sb_t b = {0};
        sb_puts(&b, shapes[i].head);
        while (b.len < 1024 * 1024)
            sb_puts(&b, shapes[i].unit);
        sb_puts(&b, shapes[i].tail);
        test_arena_reset(ar);
        dec_t x = decode_n(state, b.p, b.len);
        print_message("%-40s rc %d: %zu bytes in %zu blocks for %zu\n", shapes[i].unit, x.rc, ar->bytes, ar->blocks,
                      b.len);
        if (ar->bytes > 2 * b.len + 256 * 1024)
            fail_msg("%s x %zu: %zu bytes in %zu blocks for a body of %zu", shapes[i].unit,
                     b.len / strlen(shapes[i].unit), ar->bytes, ar->blocks, b.len);
        free(b.p);
    }
}

/* The status-change decoder: the same limit. */
static int decode_status_n(void **state, const char *body, size_t len, orderd_status_t *st, orderd_decode_report_t *r)
{
    orderd_alloc_t a = test_alloc(state);
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, body, len);
    int rc = orderd_codec_decode_status(copy, len, &a, st, r);
    free(copy);
    return rc;
}

static void test_decode_status_depth_limit(void **state)
{
    test_arena_t *ar = *state;
    orderd_status_t st = ORDERD_STATUS_PENDING;
    orderd_decode_report_t r;
    sb_t b = {0};
    sb_puts(&b, "{\"x\":");
    sb_nest(&b, ORDERD_CODEC_MAX_DEPTH - 1);
    sb_puts(&b, ",\"status\":\"shipped\"}");
    assert_int_equal(decode_status_n(state, b.p, b.len, &st, &r), ORDERD_DECODE_OK);
    assert_int_equal(st, ORDERD_STATUS_SHIPPED);
    free(b.p);

    memset(&b, 0, sizeof(b));
    sb_puts(&b, "{\"status\":\"shipped\",\"x\":");
    sb_nest(&b, ORDERD_CODEC_MAX_DEPTH);
    sb_puts(&b, "}");
    assert_int_equal(decode_status_n(state, b.p, b.len, &st, &r), ORDERD_DECODE_TOO_DEEP);
    assert_non_null(r.syntax);
    free(b.p);

    memset(&b, 0, sizeof(b));
    sb_rep(&b, "[", 1024 * 1024);
    test_arena_reset(ar);
    assert_int_equal(decode_status_n(state, b.p, b.len, &st, &r), ORDERD_DECODE_TOO_DEEP);
    if (ar->bytes > 16 * 1024)
        fail_msg("1 MiB of [ took %zu bytes in %zu blocks", ar->bytes, ar->blocks);
    free(b.p);

    /* not JSON is still SYNTAX */
    assert_int_equal(decode_status_n(state, "{\"status\":", 10, &st, &r), ORDERD_DECODE_SYNTAX);
}

/* An escaped name is read before yajl reuses its buffer for the next escaped
 * string or key (tests/fuzz/regressions/status/escaped-then-escaped.json). */
static void test_decode_status_escaped_name_kept(void **state)
{
    static const struct {
        const char *body;
        orderd_status_t want;
    } cases[] = {
        {"{\"status\":\"\\u0073hipped\",\"x\":\"\\u0041\"}", ORDERD_STATUS_SHIPPED},
        {"{\"status\":\"\\u0073hipped\",\"x\":{\"k\\u0041\":1}}", ORDERD_STATUS_SHIPPED},
        {"{\"status\":\"deliv\\u0065red\",\"note\":\"\\u0070ending\"}", ORDERD_STATUS_DELIVERED},
        {"{\"status\":\"\\u0070rocessing\",\"a\\u0062\":[\"\\n\",\"\\t\"]}", ORDERD_STATUS_PROCESSING},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        orderd_status_t st = ORDERD_STATUS_CANCELLED;
        orderd_decode_report_t r;
        int rc = decode_status_n(state, cases[i].body, strlen(cases[i].body), &st, &r);
        if (rc != ORDERD_DECODE_OK || st != cases[i].want)
            fail_msg("%s: rc %d, status %d (want %d)", cases[i].body, rc, (int)st, (int)cases[i].want);
    }
    /* and an escaped non-name is still refused, whatever follows it */
    orderd_status_t st = ORDERD_STATUS_PENDING;
    orderd_decode_report_t r;
    const char *bad = "{\"status\":\"\\u0073hippe\",\"x\":\"shipped\"}";
    assert_int_equal(decode_status_n(state, bad, strlen(bad), &st, &r), ORDERD_DECODE_INVALID);
    assert_int_equal(st, ORDERD_STATUS_PENDING);
}

/* ---- decode: JSON that breaks the rules ---- */

static void test_decode_not_an_object(void **state)
{
    static const char *const bodies[] = {"[]", "[1]", "[{}]", "1", "0.5", "\"x\"", "null", "true", "false",
                                         " [ ] "};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        dec_t x = decode_s(state, bodies[i]);
        EXPECT_FIELDS(x, bodies[i], "body");
    }
    /* a top-level array of a whole valid order is still not an order */
    sb_t b = {0};
    sb_puts(&b, "[");
    sb_puts(&b, SEED);
    sb_puts(&b, "]");
    dec_t x = decode_n(state, b.p, b.len);
    EXPECT_FIELDS(x, "[seed]", "body");
    free(b.p);
}

static void test_decode_missing_and_null(void **state)
{
    dec_t x = decode_s(state, "{}");
    EXPECT_FIELDS(x, "{}", "items", "shipping_address", "payment_method");

    x = decode_q(state, "{'items':null,'shipping_address':null,'payment_method':null,'currency':null}");
    EXPECT_FIELDS(x, "all null", "items", "shipping_address", "payment_method", "currency");

    x = decode_q(state, "{'items':{},'shipping_address':1,'payment_method':true,'currency':3}");
    EXPECT_FIELDS(x, "wrong types", "items", "shipping_address", "payment_method", "currency");

    x = decode_q(state, "{'items':[{'quantity':1}],'payment_method':'c'}");
    EXPECT_FIELDS(x, "missing members", "items[0].product_id", "items[0].price", "shipping_address");

    x = decode_q(state, "{'items':[{}],'shipping_address':'a','payment_method':'c'}");
    EXPECT_FIELDS(x, "empty item", "items[0].product_id", "items[0].quantity", "items[0].price");

    x = decode_q(state, "{'items':[{'product_id':null,'quantity':null,'price':null}],'shipping_address':'a',"
                        "'payment_method':'c'}");
    EXPECT_FIELDS(x, "null item members", "items[0].product_id", "items[0].quantity", "items[0].price");

    /* an item that is not an object: one error, on that item */
    static const char *const items[] = {"1", "'x'", "null", "[]", "true"};
    for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
        char tmp[256];
        snprintf(tmp, sizeof(tmp),
                 "{'items':[{'product_id':'p','quantity':1,'price':1},%s],'shipping_address':'a',"
                 "'payment_method':'c'}",
                 items[i]);
        x = decode_q(state, tmp);
        if (x.rc != ORDERD_DECODE_INVALID || x.r.n_errors != 1 || x.r.errors[0].field == NULL ||
            strncmp(x.r.errors[0].field, "items[1]", 8) != 0) {
            dump_report(&x);
            fail_msg("item %s: want one error on items[1]", items[i]);
        }
    }
}

static void test_decode_several_broken_fields(void **state)
{
    sb_t b = {0};
    sb_puts(&b, "{'items':[{'product_id':'','quantity':2,'price':1},"
                "{'product_id':'b','quantity':1.5,'price':10.999},"
                "{'product_id':'c','quantity':1,'price':'1'},"
                "{'product_id':'d','quantity':3,'price':4.5}],"
                "'shipping_address':'','payment_method':'");
    sb_rep(&b, "m", 33);
    sb_puts(&b, "','currency':'usd','extra':[1,2,3]}");
    char *body = jq(b.p);
    free(b.p);
    dec_t x = decode_s(state, body);
    free(body);
    EXPECT_FIELDS(x, "seven broken fields", "items[0].product_id", "items[1].quantity", "items[1].price",
                  "items[2].price", "shipping_address", "payment_method", "currency");
}

static void test_decode_quantity(void **state)
{
    static const char *const bad[] = {
        "1.5", "'2'", "0",   "-1", "2.0", "1e0", "2e0", "2E0", "1e1", "10e-1", "1000001", "-0",
        "99999999999999999999999", "4294967297", "1e400", "null", "true", "[2]", "{}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char item[128];
        snprintf(item, sizeof(item), "'product_id':'p','quantity':%s,'price':1", bad[i]);
        char *b = body_with_item(item, "");
        dec_t x = decode_s(state, b);
        free(b);
        char what[64];
        snprintf(what, sizeof(what), "quantity %s", bad[i]);
        EXPECT_FIELDS(x, what, "items[0].quantity");
    }
    static const struct {
        const char *text;
        uint32_t want;
    } good[] = {{"1", 1}, {"2", 2}, {"999999", 999999}, {"1000000", 1000000}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char item[128];
        snprintf(item, sizeof(item), "'product_id':'p','quantity':%s,'price':0.01", good[i].text);
        char *b = body_with_item(item, "");
        dec_t x = decode_s(state, b);
        free(b);
        EXPECT_OK(x, good[i].text);
        assert_int_equal(x.d.items[0].quantity, good[i].want);
        assert_true(x.d.total == (int64_t)good[i].want);
    }
}

static void test_decode_price(void **state)
{
    static const char *const bad[] = {
        "10.999", "-1", "-0.01", "'10.99'", "1e-3", "0.001", "1e400", "92233720368547758.08",
        "100000000000000000000", "null", "true", "[1]", "{}",
        /* past 15 significant digits (ORDERD_MONEY_MAX_MINOR cents) */
        "92233720368547758.07", "10000000000000", "99999999999999.99", "1e13",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char item[128];
        snprintf(item, sizeof(item), "'product_id':'p','quantity':1,'price':%s", bad[i]);
        char *b = body_with_item(item, "");
        dec_t x = decode_s(state, b);
        free(b);
        char what[64];
        snprintf(what, sizeof(what), "price %s", bad[i]);
        EXPECT_FIELDS(x, what, "items[0].price");
    }
    static const struct {
        const char *text;
        int64_t want;
    } good[] = {
        {"10.99", 1099}, {"10.990", 1099}, {"1.5e1", 1500}, {"1E2", 10000}, {"15e-1", 150}, {"0", 0},
        {"0.00", 0},     {"-0", 0},        {"7", 700},      {"0.1", 10},    {"1234e-2", 1234},
        {"9999999999999.99", ORDERD_MONEY_MAX_MINOR}, {"99999999999.9999e2", ORDERD_MONEY_MAX_MINOR},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char item[128];
        snprintf(item, sizeof(item), "'product_id':'p','quantity':1,'price':%s", good[i].text);
        char *b = body_with_item(item, "");
        dec_t x = decode_s(state, b);
        free(b);
        EXPECT_OK(x, good[i].text);
        assert_true(x.d.items[0].price == good[i].want);
        assert_true(x.d.total == good[i].want);
    }
}

static char *body_with_items(size_t n, const char *item_fmt_q)
{
    sb_t b = {0};
    sb_puts(&b, "{'items':[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_puts(&b, ",");
        sb_printf(&b, item_fmt_q, i);
    }
    sb_puts(&b, "],'shipping_address':'a','payment_method':'c'}");
    char *r = jq(b.p);
    free(b.p);
    return r;
}

static void test_decode_item_count(void **state)
{
    dec_t x = decode_q(state, "{'items':[],'shipping_address':'a','payment_method':'c'}");
    EXPECT_FIELDS(x, "no items", "items");

    char *b = body_with_items(1000, "{'product_id':'p%zu','quantity':2,'price':0.5}");
    x = decode_s(state, b);
    free(b);
    EXPECT_OK(x, "1000 items");
    assert_int_equal(x.d.n_items, 1000);
    assert_true(x.d.total == 1000 * 100);
    for (size_t i = 0; i < 1000; i++) {
        char want[16];
        int n = snprintf(want, sizeof(want), "p%zu", i);
        expect_str(x.d.items[i].product_id, want, (size_t)n, "product id");
        assert_int_equal(x.d.items[i].quantity, 2);
        assert_true(x.d.items[i].price == 50);
    }

    b = body_with_items(1001, "{'product_id':'p%zu','quantity':2,'price':0.5}");
    x = decode_s(state, b);
    free(b);
    EXPECT_FIELDS(x, "1001 items", "items");
}

static void test_decode_product_id_length(void **state)
{
    char p64[65], p65[66];
    memset(p64, 'x', 64);
    p64[64] = 0;
    memset(p65, 'y', 65);
    p65[65] = 0;
    char item[256];

    snprintf(item, sizeof(item), "'product_id':'%s','quantity':1,'price':1", p64);
    char *b = body_with_item(item, "");
    dec_t x = decode_s(state, b);
    free(b);
    EXPECT_OK(x, "64-byte product_id");
    expect_str(x.d.items[0].product_id, p64, 64, "product_id");

    static const char *const bad[] = {"''", NULL, "123", "null", "['p']"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char val[80];
        snprintf(val, sizeof(val), "'%s'", p65);
        snprintf(item, sizeof(item), "'product_id':%s,'quantity':1,'price':1", bad[i] ? bad[i] : val);
        b = body_with_item(item, "");
        x = decode_s(state, b);
        free(b);
        EXPECT_FIELDS(x, item, "items[0].product_id");
    }

    /* length is in bytes: 32 two-byte characters are 64 bytes, 33 are 66 */
    sb_t s = {0};
    sb_puts(&s, "'product_id':'");
    sb_rep(&s, "\xc3\xa9", 32);
    sb_puts(&s, "','quantity':1,'price':1");
    b = body_with_item(s.p, "");
    x = decode_s(state, b);
    free(b);
    free(s.p);
    EXPECT_OK(x, "32 x e-acute");
    assert_int_equal(x.d.items[0].product_id.len, 64);

    memset(&s, 0, sizeof(s));
    sb_puts(&s, "'product_id':'");
    sb_rep(&s, "\\u00e9", 33);
    sb_puts(&s, "','quantity':1,'price':1");
    b = body_with_item(s.p, "");
    x = decode_s(state, b);
    free(b);
    free(s.p);
    EXPECT_FIELDS(x, "33 x escaped e-acute", "items[0].product_id");
}

/* A body with the given address and payment method bodies (already JSON-escaped, no quotes). */
static dec_t decode_addr_pay(void **state, const char *addr, const char *pay)
{
    sb_t b = {0};
    sb_puts(&b, "{\"items\":[{\"product_id\":\"p\",\"quantity\":1,\"price\":1}],\"shipping_address\":\"");
    sb_puts(&b, addr);
    sb_puts(&b, "\",\"payment_method\":\"");
    sb_puts(&b, pay);
    sb_puts(&b, "\"}");
    dec_t x = decode_n(state, b.p, b.len);
    free(b.p);
    return x;
}

static char *rep_str(const char *unit, size_t n)
{
    sb_t b = {0};
    sb_puts(&b, "");
    sb_rep(&b, unit, n);
    return b.p;
}

static void test_decode_address_and_payment_length(void **state)
{
    char *a1024 = rep_str("a", 1024), *a1025 = rep_str("a", 1025);
    char *p32 = rep_str("p", 32), *p33 = rep_str("p", 33);
    dec_t x;

    x = decode_addr_pay(state, a1024, p32);
    EXPECT_OK(x, "1024-byte address, 32-byte payment");
    expect_str(x.d.shipping_address, a1024, 1024, "address");
    expect_str(x.d.payment_method, p32, 32, "payment");

    x = decode_addr_pay(state, a1025, p32);
    EXPECT_FIELDS(x, "1025-byte address", "shipping_address");
    x = decode_addr_pay(state, a1024, p33);
    EXPECT_FIELDS(x, "33-byte payment", "payment_method");
    x = decode_addr_pay(state, a1025, p33);
    EXPECT_FIELDS(x, "both too long", "shipping_address", "payment_method");
    x = decode_addr_pay(state, "", "");
    EXPECT_FIELDS(x, "both empty", "shipping_address", "payment_method");
    x = decode_addr_pay(state, "a", "p");
    EXPECT_OK(x, "one byte each");

    /* bytes after decoding count: 512 x U+00E9 (escaped) = 1024 bytes, 513 = 1026 */
    char *e512 = rep_str("\\u00e9", 512), *e513 = rep_str("\\u00e9", 513);
    x = decode_addr_pay(state, e512, "p");
    EXPECT_OK(x, "512 escaped e-acute");
    assert_int_equal(x.d.shipping_address.len, 1024);
    assert_memory_equal(x.d.shipping_address.base, "\xc3\xa9\xc3\xa9", 4);
    x = decode_addr_pay(state, e513, "p");
    EXPECT_FIELDS(x, "513 escaped e-acute", "shipping_address");
    /* an escape that is 6 bytes of JSON but 1 byte of text: 1024 x \u0061 fits */
    char *u1024 = rep_str("\\u0061", 1024);
    x = decode_addr_pay(state, u1024, "p");
    EXPECT_OK(x, "1024 x \\u0061");
    expect_str(x.d.shipping_address, a1024, 1024, "address");
    /* 8 x 4-byte emoji = 32 bytes of payment method; 9 = 36 */
    char *m8 = rep_str("\xf0\x9f\x92\xb3", 8), *m9 = rep_str("\\ud83d\\udcb3", 9);
    x = decode_addr_pay(state, "a", m8);
    EXPECT_OK(x, "8 emoji payment");
    x = decode_addr_pay(state, "a", m9);
    EXPECT_FIELDS(x, "9 emoji payment", "payment_method");

    free(a1024), free(a1025), free(p32), free(p33), free(e512), free(e513), free(u1024), free(m8), free(m9);
}

static void test_decode_duplicate_members(void **state)
{
    dec_t x = decode_q(state, "{'items':[{'product_id':'p','quantity':1,'price':1}],'shipping_address':'a',"
                              "'payment_method':'c','shipping_address':'a'}");
    EXPECT_FIELDS(x, "shipping_address twice", "shipping_address");

    x = decode_q(state, "{'items':[{'product_id':'p','quantity':1,'price':1}],'shipping_address':'a',"
                        "'payment_method':'c','items':[{'product_id':'p','quantity':1,'price':1}]}");
    EXPECT_FIELDS(x, "items twice", "items");

    x = decode_q(state, "{'currency':'USD','items':[{'product_id':'p','quantity':1,'price':1}],"
                        "'shipping_address':'a','payment_method':'c','currency':'USD'}");
    EXPECT_FIELDS(x, "currency twice (same value)", "currency");

    x = decode_q(state, "{'items':[{'product_id':'p','quantity':1,'quantity':1,'price':1}],'shipping_address':'a',"
                        "'payment_method':'c'}");
    EXPECT_FIELDS(x, "quantity twice", "items[0].quantity");

    /* a member spelled with an escape is the same member */
    x = decode_q(state, "{'items':[{'product_id':'p','quantity':1,'price':1}],'shipping_address':'a',"
                        "'payment_method':'c','payment\\u005fmethod':'c'}");
    EXPECT_FIELDS(x, "payment_method twice, once escaped", "payment_method");

    /* duplicates inside unknown members are not our business, but must not crash */
    x = decode_q(state, "{'x':{'a':1,'a':2},'items':[{'product_id':'p','quantity':1,'price':1}],"
                        "'shipping_address':'a','payment_method':'c'}");
    assert_true(x.rc == ORDERD_DECODE_OK || x.rc == ORDERD_DECODE_INVALID);
}

static void test_decode_unknown_members_ignored(void **state)
{
    dec_t x = decode_q(state, "{'note':'hi','items':[{'product_id':'p','quantity':2,'price':3,'color':'red',"
                              "'meta':{'a':[1,{'b':null}]}}],'shipping_address':'a','x':null,'payment_method':'c',"
                              "'nested':{'items':[],'shipping_address':''},'n':1e999,'t':true,'arr':[[],[[]]]}");
    EXPECT_OK(x, "unknown members");
    assert_int_equal(x.d.n_items, 1);
    assert_true(x.d.total == 600);
    EXPECT_STR(x.d.shipping_address, "a");
    /* names differing only in case are other (unknown) members */
    x = decode_q(state, "{'Items':5,'items':[{'product_id':'p','quantity':1,'price':1,'Price':'x'}],"
                        "'shipping_address':'a','payment_method':'c','Currency':'bad'}");
    EXPECT_OK(x, "case-different unknown members");
    assert_memory_equal(x.d.currency, "USD", 3);
}

/* INVALID with exactly one error: `field`, saying `message`. */
static void expect_only_x(const dec_t *x, const char *field, const char *message, int line)
{
    if (x->rc != ORDERD_DECODE_INVALID || x->r.n_errors != 1 || strcmp(x->r.errors[0].field, field) != 0 ||
        strcmp(x->r.errors[0].message, message) != 0) {
        dump_report(x);
        fail_msg("line %d: want one %s error \"%s\"", line, field, message);
    }
}

#define EXPECT_ONLY(x, field, message) expect_only_x(&(x), (field), (message), __LINE__)

static void test_decode_total(void **state)
{
    dec_t x = decode_q(state, "{'items':[{'product_id':'a','quantity':1,'price':9999999999999.99}],"
                              "'shipping_address':'a','payment_method':'c'}");
    EXPECT_OK(x, "total exactly 15 digits");
    assert_true(x.d.total == ORDERD_MONEY_MAX_MINOR);

    x = decode_q(state, "{'items':[{'product_id':'a','quantity':1,'price':9999999999999.99},"
                        "{'product_id':'b','quantity':1,'price':0.01}],'shipping_address':'a','payment_method':'c'}");
    EXPECT_ONLY(x, "items", "the order total must be at most 9999999999999.99 USD: 15 significant digits, so that "
                            "every JSON client reads it exactly");

    x = decode_q(state, "{'items':[{'product_id':'a','quantity':2,'price':5000000000000}],"
                        "'shipping_address':'a','payment_method':'c'}");
    EXPECT_FIELDS(x, "2 x 5e14 cents is 16 digits", "items");

    x = decode_q(state, "{'items':[{'product_id':'a','quantity':3,'price':3333333333333.33}],"
                        "'shipping_address':'a','payment_method':'c'}");
    EXPECT_OK(x, "3 x 333333333333333 cents fits");
    assert_true(x.d.total == INT64_C(999999999999999));

    x = decode_q(state, "{'items':[{'product_id':'a','quantity':1000000,'price':9999999999999}],"
                        "'shipping_address':'a','payment_method':'c'}");
    EXPECT_FIELDS(x, "1e6 x 1e15 cents overflows int64", "items");

    /* many items each fine (1e6 x 1e10 cents = 1e16), the sum not: 1000 x 1e16 */
    char *b = body_with_items(1000, "{'product_id':'p%zu','quantity':1000000,'price':100000000}");
    x = decode_s(state, b);
    free(b);
    EXPECT_FIELDS(x, "1000 big items", "items");

    /* an overflowing total does not hide other errors */
    x = decode_q(state, "{'items':[{'product_id':'a','quantity':1000000,'price':10000000000}],"
                        "'shipping_address':'','payment_method':'c'}");
    EXPECT_FIELDS(x, "overflow and an empty address", "items", "shipping_address");
}

/* A body of one item at `price` and the member `currency` after the items. */
static dec_t decode_priced(void **state, const char *price, const char *currency)
{
    char item[128], rest[64];
    snprintf(item, sizeof(item), "'product_id':'p','quantity':1,'price':%s", price);
    snprintf(rest, sizeof(rest), ",'currency':'%s'", currency);
    char *b = body_with_item(item, rest);
    dec_t x = decode_s(state, b);
    free(b);
    return x;
}

static void expect_price_ok(void **state, const char *price, const char *cur, int64_t want, int line)
{
    dec_t x = decode_priced(state, price, cur);
    if (x.rc != ORDERD_DECODE_OK || x.d.items[0].price != want || x.d.total != want) {
        dump_report(&x);
        fail_msg("line %d: %s %s: want OK with %" PRId64 " minor units", line, price, cur, want);
    }
    assert_memory_equal(x.d.currency, cur, 3);
}

static void expect_price_bad(void **state, const char *price, const char *cur, const char *message, int line)
{
    dec_t x = decode_priced(state, price, cur);
    expect_only_x(&x, "items[0].price", message, line);
}

#define PRICE_OK(p, cur, want) expect_price_ok(state, (p), (cur), (want), __LINE__)
#define PRICE_BAD(p, cur, msg) expect_price_bad(state, (p), (cur), (msg), __LINE__)

/* Each currency's ISO 4217 minor unit decides a price's decimals, wherever
 * the currency is in the body. */
static void test_decode_currency_minor_units(void **state)
{
    PRICE_OK("10", "JPY", 10);
    PRICE_OK("10.0", "JPY", 10);
    PRICE_OK("1e3", "JPY", 1000);
    PRICE_OK("999999999999999", "JPY", ORDERD_MONEY_MAX_MINOR);
    PRICE_BAD("10.5", "JPY", "must be a number >= 0 with no decimal places for JPY");
    PRICE_BAD("-1", "JPY", "must be a number >= 0 with no decimal places for JPY");
    PRICE_OK("1.234", "KWD", 1234);
    PRICE_OK("1.5", "KWD", 1500);
    PRICE_BAD("1.2345", "KWD", "must be a number >= 0 with at most 3 decimal places for KWD");
    PRICE_OK("1.2345", "CLF", 12345);
    PRICE_BAD("1.23456", "CLF", "must be a number >= 0 with at most 4 decimal places for CLF");
    PRICE_OK("10.5", "EUR", 1050);
    /* two-digit currencies keep the message clients know */
    PRICE_BAD("10.999", "USD", "must be a number >= 0 with at most 2 decimal places");
    PRICE_BAD("10.999", "EUR", "must be a number >= 0 with at most 2 decimal places");
    PRICE_BAD("-0.01", "USD", "must be a number >= 0 with at most 2 decimal places");
    /* 15 significant digits in every minor unit */
    PRICE_BAD("1000000000000000", "JPY",
              "must be at most 999999999999999 JPY: 15 significant digits, so that every JSON client reads it exactly");
    PRICE_OK("999999999999.999", "KWD", ORDERD_MONEY_MAX_MINOR);
    PRICE_BAD("1000000000000", "KWD",
              "must be at most 999999999999.999 KWD: 15 significant digits, so that every JSON client reads it exactly");
    PRICE_OK("99999999999.9999", "CLF", ORDERD_MONEY_MAX_MINOR);
    PRICE_BAD("100000000000", "CLF",
              "must be at most 99999999999.9999 CLF: 15 significant digits, so that every JSON client reads it exactly");
    PRICE_BAD("99999999999999.99", "USD",
              "must be at most 9999999999999.99 USD: 15 significant digits, so that every JSON client reads it exactly");
    PRICE_BAD("1e400", "USD",
              "must be at most 9999999999999.99 USD: 15 significant digits, so that every JSON client reads it exactly");

    /* the currency before the items, and absent (USD) */
    dec_t x = decode_q(state, "{'currency':'JPY','items':[{'product_id':'p','quantity':2,'price':500}],"
                              "'shipping_address':'a','payment_method':'c'}");
    EXPECT_OK(x, "JPY first");
    assert_true(x.d.total == 1000);
    x = decode_q(state, "{'currency':'JPY','items':[{'product_id':'p','quantity':2,'price':0.5}],"
                        "'shipping_address':'a','payment_method':'c'}");
    EXPECT_FIELDS(x, "JPY first, 0.5", "items[0].price");
    x = decode_q(state, "{'items':[{'product_id':'p','quantity':2,'price':0.5}],'shipping_address':'a',"
                        "'payment_method':'c'}");
    EXPECT_OK(x, "no currency: USD");
    assert_memory_equal(x.d.currency, "USD", 3);
    assert_true(x.d.total == 100);
    /* the total in the currency's units: 1000 x 1e12 yen is past 15 digits */
    x = decode_q(state, "{'items':[{'product_id':'p','quantity':1000,'price':1000000000000}],"
                        "'shipping_address':'a','payment_method':'c','currency':'JPY'}");
    EXPECT_ONLY(x, "items", "the order total must be at most 999999999999999 JPY: 15 significant digits, so that "
                            "every JSON client reads it exactly");
    /* several prices, each in the item it belongs to */
    x = decode_q(state, "{'items':[{'product_id':'p','quantity':1,'price':1.5},{'product_id':'q','quantity':1,"
                        "'price':2},{'product_id':'r','quantity':0,'price':2.25}],'shipping_address':'a',"
                        "'payment_method':'c','currency':'JPY'}");
    EXPECT_FIELDS(x, "JPY items", "items[0].price", "items[2].price", "items[2].quantity");
}

static void test_decode_currency_codes(void **state)
{
    static const char *const unknown[] = {"XYZ", "AAA", "ABC", "DEM"};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        dec_t x = decode_priced(state, "1", unknown[i]);
        EXPECT_FIELDS(x, unknown[i], "currency");
        assert_string_equal(x.r.errors[0].message, "is not an ISO 4217 currency code");
    }
    static const char *const refused[] = {"XAU", "XAG", "XPT", "XPD", "XDR", "XTS", "XXX", "XBA", "XSU", "XUA"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        dec_t x = decode_priced(state, "1", refused[i]);
        EXPECT_FIELDS(x, refused[i], "currency");
        assert_non_null(strstr(x.r.errors[0].message, "not a currency orders can be paid in"));
    }
    /* an unusable currency: prices are still checked, as USD */
    dec_t x = decode_priced(state, "10.999", "XYZ");
    EXPECT_FIELDS(x, "XYZ and 10.999", "currency", "items[0].price");
    x = decode_priced(state, "10.99", "XAU");
    EXPECT_FIELDS(x, "XAU and 10.99", "currency");
}

/* decisions.md: "one entry per broken field ... At most 1000 entries." */
#define DECIDED_MAX_ERRORS 1000

static void test_error_cap_constant(void **state)
{
    /* the header's cap is the decided one */
    assert_int_equal(ORDERD_CODEC_MAX_ERRORS, DECIDED_MAX_ERRORS);
}

static void test_decode_error_cap(void **state)
{
    /* 1000 items with two broken members each: 2000 broken fields */
    char *b = body_with_items(1000, "{'product_id':'p%zu','quantity':0,'price':-1}");
    dec_t x = decode_s(state, b);
    free(b);
    assert_int_equal(x.rc, ORDERD_DECODE_INVALID);
    assert_int_equal(x.r.n_errors, DECIDED_MAX_ERRORS);
    assert_non_null(x.r.errors[0].field);
    assert_true(strncmp(x.r.errors[0].field, "items[0].", 9) == 0);
    for (size_t i = 0; i < x.r.n_errors; i++) {
        assert_non_null(x.r.errors[i].field);
        assert_non_null(x.r.errors[i].message);
    }

    /* just under the cap nothing is cut: 499 items x 2 + shipping_address = 999 */
    sb_t sb = {0};
    sb_puts(&sb, "{'items':[");
    for (size_t i = 0; i < 499; i++)
        sb_printf(&sb, "%s{'product_id':'p%zu','quantity':0,'price':-1}", i ? "," : "", i);
    sb_puts(&sb, "],'shipping_address':'','payment_method':'c'}");
    b = jq(sb.p);
    free(sb.p);
    x = decode_s(state, b);
    free(b);
    assert_int_equal(x.rc, ORDERD_DECODE_INVALID);
    assert_int_equal(x.r.n_errors, 999);
    size_t addr = 0;
    for (size_t i = 0; i < x.r.n_errors; i++)
        addr += strcmp(x.r.errors[i].field, "shipping_address") == 0;
    assert_int_equal(addr, 1);
}

static void test_decode_report_messages(void **state)
{
    dec_t x = decode_q(state, "{'items':[{'product_id':'p','quantity':0,'price':1}],'shipping_address':'a',"
                              "'payment_method':'c'}");
    EXPECT_FIELDS(x, "quantity 0", "items[0].quantity");
    assert_true(strlen(x.r.errors[0].message) > 3);
    assert_null(strchr(x.r.errors[0].message, '\n'));
}

/* ---- encoding ---- */

static yajl_val parse_json(orderd_str_t s)
{
    assert_non_null(s.base);
    assert_true(s.len > 0);
    assert_null(memchr(s.base, 0, s.len)); /* JSON text holds no NUL byte */
    char *z = malloc(s.len + 1);
    memcpy(z, s.base, s.len);
    z[s.len] = 0;
    char err[512] = "";
    yajl_val v = yajl_tree_parse(z, err, sizeof(err));
    if (v == NULL)
        fail_msg("encoder output is not JSON (%s): %s", err, z);
    free(z);
    return v;
}

static yajl_val member(yajl_val obj, const char *key)
{
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(obj, path, yajl_t_any);
    if (v == NULL)
        fail_msg("member \"%s\" missing", key);
    return v;
}

static int has_member(yajl_val obj, const char *key)
{
    const char *path[] = {key, NULL};
    return yajl_tree_get(obj, path, yajl_t_any) != NULL;
}

static void expect_keys(yajl_val obj, const char *const *keys, size_t n)
{
    assert_true(YAJL_IS_OBJECT(obj));
    if (obj->u.object.len != n) {
        for (size_t i = 0; i < obj->u.object.len; i++)
            print_error("key: %s\n", obj->u.object.keys[i]);
        fail_msg("object has %zu members, want %zu", obj->u.object.len, n);
    }
    for (size_t i = 0; i < n; i++)
        (void)member(obj, keys[i]);
}

static void expect_json_string(yajl_val v, const char *want, size_t want_len, const char *what)
{
    if (!YAJL_IS_STRING(v))
        fail_msg("%s: not a string", what);
    const char *s = YAJL_GET_STRING(v);
    if (strlen(s) != want_len || memcmp(s, want, want_len) != 0)
        fail_msg("%s: \"%s\", want \"%.*s\"", what, s, (int)want_len, want);
}

static void expect_json_number_text(yajl_val v, const char *want, const char *what)
{
    if (!YAJL_IS_NUMBER(v))
        fail_msg("%s: not a number", what);
    if (strcmp(YAJL_GET_NUMBER(v), want) != 0)
        fail_msg("%s: number written as %s, want %s", what, YAJL_GET_NUMBER(v), want);
}

static void expect_json_int(yajl_val v, long long want, const char *what)
{
    if (!YAJL_IS_INTEGER(v))
        fail_msg("%s: not an integer", what);
    if (YAJL_GET_INTEGER(v) != want)
        fail_msg("%s: %lld, want %lld", what, YAJL_GET_INTEGER(v), want);
    /* written as an integer, not 2.0 or 2e0 */
    char txt[32];
    snprintf(txt, sizeof(txt), "%lld", want);
    expect_json_number_text(v, txt, what);
}

/* An amount as the order's currency writes it: printf, not orderd_money_format */
static void money_text(int64_t v, const char cur[3], char *buf, size_t cap)
{
    static const int64_t pow10[] = {1, 10, 100, 1000, 10000};
    int d = orderd_currency_minor_units(cur);
    if (d < 0)
        d = 2;
    if (d == 0)
        snprintf(buf, cap, "%" PRId64, v);
    else
        snprintf(buf, cap, "%" PRId64 ".%0*d", v / pow10[d], d, (int)(v % pow10[d]));
}

/* Checks the whole encoded order against the blob, member by member. */
static void check_encoded_order(yajl_val root, const orderd_order_t *o)
{
    static const char *const keys[] = {"id",          "user_id",          "status",         "items",
                                       "currency",    "total",            "total_minor",    "shipping_address",
                                       "payment_method", "created_at",    "updated_at",     "version",
                                       "shipments",   "returns",          "refunds",        "refunded_total",
                                       "refunded_total_minor"};
    expect_keys(root, keys, sizeof(keys) / sizeof(keys[0]));

    char id[ORDERD_ID_LEN];
    orderd_id_format(o->id, id);
    expect_json_string(member(root, "id"), id, ORDERD_ID_LEN, "id");
    orderd_str_t u = orderd_order_user(o);
    expect_json_string(member(root, "user_id"), u.base, u.len, "user_id");
    const char *st = orderd_status_name((orderd_status_t)o->status);
    expect_json_string(member(root, "status"), st, strlen(st), "status");
    expect_json_string(member(root, "currency"), o->currency, 3, "currency");
    char m[64];
    money_text(o->total, o->currency, m, sizeof(m));
    expect_json_number_text(member(root, "total"), m, "total");
    expect_json_int(member(root, "total_minor"), o->total, "total_minor");
    orderd_str_t s = orderd_order_address(o);
    expect_json_string(member(root, "shipping_address"), s.base, s.len, "shipping_address");
    s = orderd_order_payment(o);
    expect_json_string(member(root, "payment_method"), s.base, s.len, "payment_method");
    char t[ORDERD_TIME_FMT_MAX];
    size_t tn = orderd_time_format(o->created_ms, t);
    expect_json_string(member(root, "created_at"), t, tn, "created_at");
    tn = orderd_time_format(o->updated_ms, t);
    expect_json_string(member(root, "updated_at"), t, tn, "updated_at");
    expect_json_int(member(root, "version"), o->version, "version");

    yajl_val items = member(root, "items");
    assert_true(YAJL_IS_ARRAY(items));
    assert_int_equal(items->u.array.len, o->n_items);
    for (size_t i = 0; i < o->n_items; i++) {
        yajl_val it = items->u.array.values[i];
        static const char *const ikeys[] = {"product_id",         "quantity",         "price",           "line_id",
                                            "cancelled_quantity", "shipped_quantity", "returned_quantity"};
        expect_keys(it, ikeys, 7);
        char line_id[16];
        snprintf(line_id, sizeof(line_id), "l%zu", i + 1); /* an order as created: its lines in item order */
        expect_json_string(member(it, "line_id"), line_id, strlen(line_id), "line_id");
        expect_json_int(member(it, "cancelled_quantity"), 0, "cancelled_quantity");
        orderd_str_t p = orderd_order_product(o, i);
        expect_json_string(member(it, "product_id"), p.base, p.len, "product_id");
        expect_json_int(member(it, "quantity"), o->items[i].quantity, "quantity");
        money_text(o->items[i].price, o->currency, m, sizeof(m));
        expect_json_number_text(member(it, "price"), m, "price");
    }
}

static void test_encode_seed_order(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_item_draft_t items[] = {{ORDERD_STR("123"), 2, 1099}, {ORDERD_STR("456"), 1, 1999}};
    orderd_order_draft_t d = {items, 2, ORDERD_STR("123 Main St"), ORDERD_STR("credit_card"), {'U', 'S', 'D'}, 4197};
    orderd_order_t *o = order_from_draft(&a, 0x0123456789abcdefULL, ORDERD_STR("alice"), &d, 1764043419123);
    orderd_str_t js = orderd_codec_encode_order(o, &a);
    yajl_val root = parse_json(js);
    check_encoded_order(root, o);
    /* spelled out once, independently of the helpers */
    expect_json_number_text(member(root, "total"), "41.97", "total");
    expect_json_string(member(root, "created_at"), "2025-11-25T04:03:39.123Z", 24, "created_at");
    expect_json_string(member(root, "status"), "pending", 7, "status");
    expect_json_int(member(root, "version"), 1, "version");
    yajl_val it1 = member(root, "items")->u.array.values[1];
    expect_json_number_text(member(it1, "price"), "19.99", "price");
    expect_json_int(member(root, "total_minor"), 4197, "total_minor");
    /* total_minor comes right after total */
    size_t at = 0;
    while (at < root->u.object.len && strcmp(root->u.object.keys[at], "total") != 0)
        at++;
    assert_true(at + 1 < root->u.object.len);
    assert_string_equal(root->u.object.keys[at + 1], "total_minor");
    yajl_tree_free(root);
}

/* Prices and totals with exactly the currency's ISO 4217 digits. */
static void test_encode_currency_digits(void **state)
{
    static const struct {
        const char cur[4];
        int64_t price;
        uint32_t qty;
        const char *price_text, *total_text;
    } cases[] = {
        {"JPY", 10, 3, "10", "30"},          {"JPY", 0, 1, "0", "0"},
        {"USD", 1050, 2, "10.50", "21.00"},  {"KWD", 1234, 2, "1.234", "2.468"},
        {"KWD", 5, 1, "0.005", "0.005"},     {"CLF", 12345, 1, "1.2345", "1.2345"},
        {"CLF", ORDERD_MONEY_MAX_MINOR, 1, "99999999999.9999", "99999999999.9999"},
        {"XYZ", 1050, 1, "10.50", "10.50"}, /* never let in; still readable */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        orderd_alloc_t a = test_alloc(state);
        orderd_item_draft_t items[] = {{ORDERD_STR("a"), cases[i].qty, cases[i].price}};
        int64_t total = cases[i].price * cases[i].qty;
        orderd_order_draft_t d = {items, 1, ORDERD_STR("x"), ORDERD_STR("y"), {0}, total};
        memcpy(d.currency, cases[i].cur, 3);
        orderd_order_t *o = order_from_draft(&a, 7, ORDERD_STR("u"), &d, 0);
        yajl_val root = parse_json(orderd_codec_encode_order(o, &a));
        check_encoded_order(root, o);
        expect_json_number_text(member(member(root, "items")->u.array.values[0], "price"), cases[i].price_text,
                                cases[i].cur);
        expect_json_number_text(member(root, "total"), cases[i].total_text, cases[i].cur);
        expect_json_int(member(root, "total_minor"), total, cases[i].cur);
        yajl_tree_free(root);
    }
}

static void test_encode_money_forms(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_item_draft_t items[] = {{ORDERD_STR("a"), 1, 1050}, {ORDERD_STR("b"), 3, 0}, {ORDERD_STR("c"), 1, 5}};
    orderd_order_draft_t d = {items, 3, ORDERD_STR("x"), ORDERD_STR("y"), {'E', 'U', 'R'}, 1055};
    orderd_order_t *o = order_from_draft(&a, 1, ORDERD_STR("u"), &d, 0);
    o->status = ORDERD_STATUS_CANCELLED; /* a changed order: status, version, updated_at follow the blob */
    o->version = 2;
    o->updated_ms = 1000;
    orderd_str_t js = orderd_codec_encode_order(o, &a);
    assert_non_null(memmem(js.base, js.len, "10.50", 5));
    assert_non_null(memmem(js.base, js.len, "0.00", 4));
    yajl_val root = parse_json(js);
    check_encoded_order(root, o);
    yajl_val its = member(root, "items");
    expect_json_number_text(member(its->u.array.values[0], "price"), "10.50", "price");
    expect_json_number_text(member(its->u.array.values[1], "price"), "0.00", "price");
    expect_json_number_text(member(its->u.array.values[2], "price"), "0.05", "price");
    expect_json_number_text(member(root, "total"), "10.55", "total");
    expect_json_string(member(root, "status"), "cancelled", 9, "status");
    expect_json_string(member(root, "updated_at"), "1970-01-01T00:00:01.000Z", 24, "updated_at");
    expect_json_int(member(root, "version"), 2, "version");
    yajl_tree_free(root);

    /* the largest amount */
    orderd_item_draft_t big[] = {{ORDERD_STR("a"), 1, INT64_MAX}};
    orderd_order_draft_t db = {big, 1, ORDERD_STR("x"), ORDERD_STR("y"), {'U', 'S', 'D'}, INT64_MAX};
    o = order_from_draft(&a, 2, ORDERD_STR("u"), &db, 0);
    root = parse_json(orderd_codec_encode_order(o, &a));
    expect_json_number_text(member(root, "total"), "92233720368547758.07", "total");
    yajl_tree_free(root);
}

static void test_encode_escaping(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    static const char addr[] = "line1\nline2\r\t\x01\x02\x1f\x7f \"quoted\" back\\slash /slash";
    static const char prod[] = "\xe6\x9d\xb1\xe4\xba\xac-caf\xc3\xa9-\xf0\x9f\x98\x80";
    static const char pay[] = "\b\f";
    orderd_item_draft_t items[] = {{{prod, sizeof(prod) - 1}, 1, 100}};
    orderd_order_draft_t d = {items, 1, {addr, sizeof(addr) - 1}, {pay, sizeof(pay) - 1}, {'U', 'S', 'D'}, 100};
    orderd_order_t *o = order_from_draft(&a, 3, ORDERD_STR("user:x@y.z"), &d, 5);
    orderd_str_t js = orderd_codec_encode_order(o, &a);
    /* no raw control characters anywhere in the text */
    for (size_t i = 0; i < js.len; i++)
        if ((unsigned char)js.base[i] < 0x20)
            fail_msg("raw control byte 0x%02x at %zu in %.*s", (unsigned char)js.base[i], i, (int)js.len, js.base);
    /* non-ASCII passes through as UTF-8 bytes, not \u escapes */
    assert_non_null(memmem(js.base, js.len, prod, sizeof(prod) - 1));
    yajl_val root = parse_json(js);
    check_encoded_order(root, o);
    yajl_tree_free(root);
}

/* ---- random round trips ---- */

static size_t put_utf8(char *p, unsigned cp)
{
    if (cp < 0x80) {
        p[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        p[0] = (char)(0xc0 | cp >> 6);
        p[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        p[0] = (char)(0xe0 | cp >> 12);
        p[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        p[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    p[0] = (char)(0xf0 | cp >> 18);
    p[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    p[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    p[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Random valid UTF-8 (no NUL) of 1 to max bytes, from memory of `a`. */
static orderd_str_t rand_utf8(test_rng_t *r, const orderd_alloc_t *a, size_t max)
{
    size_t want = 1 + test_rng_below(r, (unsigned)max);
    char *buf = orderd_alloc(a, max + 4);
    size_t n = 0;
    while (n < want) {
        unsigned cp;
        switch (test_rng_below(r, 7)) {
        case 0: cp = 1 + test_rng_below(r, 0x1f); break; /* control */
        case 1: cp = "\"\\/"[test_rng_below(r, 3)]; break;
        case 2: cp = 0x80 + test_rng_below(r, 0x800 - 0x80); break;
        case 3:
            cp = 0x800 + test_rng_below(r, 0x10000 - 0x800);
            if (cp >= 0xd800 && cp <= 0xdfff)
                cp = 0xe000 + (cp & 0xff);
            break;
        case 4: cp = 0x10000 + test_rng_below(r, 0x110000 - 0x10000); break;
        default: cp = 0x20 + test_rng_below(r, 0x5f); break; /* printable ASCII and DEL */
        }
        char tmp[4];
        size_t k = put_utf8(tmp, cp);
        if (n + k > max)
            break;
        memcpy(buf + n, tmp, k);
        n += k;
    }
    if (n == 0)
        buf[n++] = 'x';
    return (orderd_str_t){buf, n};
}

static void test_decode_encode_round_trip(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    test_rng_t r = {4242};
    for (int round = 0; round < 300; round++) {
        orderd_order_draft_t d;
        d.n_items = 1 + test_rng_below(&r, round % 10 == 0 ? 1000 : 20);
        d.items = orderd_alloc(&a, d.n_items * sizeof(*d.items));
        d.total = 0;
        for (size_t i = 0; i < d.n_items; i++) {
            d.items[i].product_id = rand_utf8(&r, &a, ORDERD_PRODUCT_ID_MAX);
            d.items[i].quantity = 1 + test_rng_below(&r, ORDERD_QUANTITY_MAX);
            d.items[i].price = (int64_t)(test_rng_next(&r) % 1000000000ULL) >> test_rng_below(&r, 30);
            d.total += d.items[i].price * d.items[i].quantity;
        }
        /* within 15 digits, or the decoder refuses it */
        while (d.total > ORDERD_MONEY_MAX_MINOR) {
            d.total = 0;
            for (size_t i = 0; i < d.n_items; i++) {
                d.items[i].price >>= 8;
                d.total += d.items[i].price * d.items[i].quantity;
            }
        }
        d.shipping_address = rand_utf8(&r, &a, ORDERD_ADDRESS_MAX);
        d.payment_method = rand_utf8(&r, &a, ORDERD_PAYMENT_MAX);
        /* every minor unit: 0, 2, 3, 4 */
        static const char *const curs[] = {"USD", "EUR", "JPY", "KRW", "KWD", "BHD", "CLF", "UYW", "GBP"};
        memcpy(d.currency, curs[test_rng_below(&r, sizeof(curs) / sizeof(curs[0]))], 3);
        orderd_str_t user = rand_utf8(&r, &a, ORDERD_USER_ID_MAX);
        uint64_t id = test_rng_next(&r);
        orderd_order_t *o = order_from_draft(&a, id, user, &d, (int64_t)(test_rng_next(&r) % 4102444800000ULL));

        orderd_str_t js = orderd_codec_encode_order(o, &a);
        yajl_val root = parse_json(js);
        check_encoded_order(root, o);
        yajl_tree_free(root);

        /* the order is a valid create request: unknown members are ignored */
        orderd_order_draft_t d2;
        memset(&d2, 0, sizeof(d2));
        orderd_decode_report_t rep;
        memset(&rep, 0, sizeof(rep));
        int rc = orderd_codec_decode_create(js.base, js.len, &a, &d2, &rep);
        if (rc != ORDERD_DECODE_OK) {
            dec_t x = {rc, d2, rep};
            dump_report(&x);
            fail_msg("round %d: decode(encode(order)) failed: %.*s", round, (int)(js.len > 300 ? 300 : js.len),
                     js.base);
        }
        assert_int_equal(d2.n_items, d.n_items);
        for (size_t i = 0; i < d.n_items; i++) {
            expect_str(d2.items[i].product_id, d.items[i].product_id.base, d.items[i].product_id.len, "product_id");
            assert_int_equal(d2.items[i].quantity, d.items[i].quantity);
            assert_true(d2.items[i].price == d.items[i].price);
        }
        expect_str(d2.shipping_address, d.shipping_address.base, d.shipping_address.len, "shipping_address");
        expect_str(d2.payment_method, d.payment_method.base, d.payment_method.len, "payment_method");
        assert_memory_equal(d2.currency, d.currency, 3);
        assert_true(d2.total == d.total);
        if (round % 50 == 49)
            test_arena_reset((test_arena_t *)*state);
    }
}

static void test_encode_page(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_item_draft_t items[] = {{ORDERD_STR("p"), 2, 1050}};
    orderd_order_draft_t d = {items, 1, ORDERD_STR("addr"), ORDERD_STR("card"), {'U', 'S', 'D'}, 2100};
    orderd_order_t *os[3];
    for (int i = 0; i < 3; i++)
        os[i] = order_from_draft(&a, (uint64_t)(300 - i), ORDERD_STR("bob"), &d, 1000 + i);
    os[1]->status = ORDERD_STATUS_CANCELLED;
    os[1]->version = 2;

    yajl_val root = parse_json(orderd_codec_encode_page(os, 3, 10, 20, 23, &a));
    static const char *const keys[] = {"orders", "limit", "offset", "total"};
    expect_keys(root, keys, 4);
    expect_json_int(member(root, "limit"), 10, "limit");
    expect_json_int(member(root, "offset"), 20, "offset");
    expect_json_int(member(root, "total"), 23, "total");
    yajl_val arr = member(root, "orders");
    assert_true(YAJL_IS_ARRAY(arr));
    assert_int_equal(arr->u.array.len, 3);
    for (int i = 0; i < 3; i++)
        check_encoded_order(arr->u.array.values[i], os[i]); /* same order as given */
    yajl_tree_free(root);

    root = parse_json(orderd_codec_encode_page(NULL, 0, 100, 5, 5, &a));
    arr = member(root, "orders");
    assert_true(YAJL_IS_ARRAY(arr));
    assert_int_equal(arr->u.array.len, 0);
    expect_json_int(member(root, "limit"), 100, "limit");
    expect_json_int(member(root, "offset"), 5, "offset");
    expect_json_int(member(root, "total"), 5, "total");
    yajl_tree_free(root);
}

static void test_encode_problem(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_field_error_t errs[] = {
        {"items[0].quantity", "must be an integer from 1 to 1000000"},
        {"shipping_address", "must be \"1 to 1024\" bytes\n(of UTF-8) \xc3\xa9"},
    };
    orderd_problem_t p = {422, "validation-failed", "Validation failed", "The order has 2 invalid fields.", errs, 2, {NULL, 0}};
    yajl_val root = parse_json(orderd_codec_encode_problem(&p, &a));
    /* RFC 9457 allows extension members, so only these are required */
    static const char *const keys[] = {"type", "title", "status", "detail", "errors"};
    for (size_t i = 0; i < 5; i++)
        (void)member(root, keys[i]);
    expect_json_string(member(root, "type"), "urn:orderd:problem:validation-failed",
                       strlen("urn:orderd:problem:validation-failed"), "type");
    expect_json_string(member(root, "title"), "Validation failed", 17, "title");
    expect_json_int(member(root, "status"), 422, "status");
    expect_json_string(member(root, "detail"), p.detail, strlen(p.detail), "detail");
    yajl_val arr = member(root, "errors");
    assert_true(YAJL_IS_ARRAY(arr));
    assert_int_equal(arr->u.array.len, 2);
    for (size_t i = 0; i < 2; i++) {
        yajl_val e = arr->u.array.values[i];
        static const char *const ekeys[] = {"field", "message"};
        expect_keys(e, ekeys, 2);
        expect_json_string(member(e, "field"), errs[i].field, strlen(errs[i].field), "field");
        expect_json_string(member(e, "message"), errs[i].message, strlen(errs[i].message), "message");
    }
    yajl_tree_free(root);

    /* without errors there is no errors member */
    static const char detail[] = "order 0f3k9x2m4q8rz is shipped and can no longer be cancelled";
    orderd_problem_t c = {409, "invalid-transition", "Conflict", detail, NULL, 0, {NULL, 0}};
    root = parse_json(orderd_codec_encode_problem(&c, &a));
    static const char *const ckeys[] = {"type", "title", "status", "detail"};
    for (size_t i = 0; i < 4; i++)
        (void)member(root, ckeys[i]);
    assert_false(has_member(root, "errors"));
    expect_json_string(member(root, "type"), "urn:orderd:problem:invalid-transition",
                       strlen("urn:orderd:problem:invalid-transition"), "type");
    expect_json_int(member(root, "status"), 409, "status");
    expect_json_string(member(root, "detail"), detail, sizeof(detail) - 1, "detail");
    yajl_tree_free(root);

    /* control characters and quotes in text are escaped */
    orderd_problem_t q = {400, "malformed-request", "Bad \"request\"", "byte 0x01 \x01 and\ttab\\", NULL, 0, {NULL, 0}};
    orderd_str_t js = orderd_codec_encode_problem(&q, &a);
    for (size_t i = 0; i < js.len; i++)
        assert_true((unsigned char)js.base[i] >= 0x20);
    root = parse_json(js);
    expect_json_string(member(root, "title"), q.title, strlen(q.title), "title");
    expect_json_string(member(root, "detail"), q.detail, strlen(q.detail), "detail");
    expect_json_int(member(root, "status"), 400, "status");
    yajl_tree_free(root);
}

static void test_encode_problem_from_decode_report(void **state)
{
    /* the decoder's report goes straight into a 422 problem */
    orderd_alloc_t a = test_alloc(state);
    dec_t x = decode_q(state, "{'items':[{'product_id':'p','quantity':0,'price':-1}],'shipping_address':'',"
                              "'payment_method':'c'}");
    EXPECT_FIELDS(x, "three errors", "items[0].quantity", "items[0].price", "shipping_address");
    orderd_problem_t p = {422, "validation-failed", "Validation failed", "3 fields", x.r.errors, x.r.n_errors, {NULL, 0}};
    yajl_val root = parse_json(orderd_codec_encode_problem(&p, &a));
    yajl_val arr = member(root, "errors");
    assert_int_equal(arr->u.array.len, 3);
    for (size_t i = 0; i < 3; i++)
        expect_json_string(member(arr->u.array.values[i], "field"), x.r.errors[i].field,
                           strlen(x.r.errors[i].field), "field");
    yajl_tree_free(root);
}

/* An order without an extension goes out partly from fragments rendered
 * once (codec_encode.c); the same order with an empty extension (unpacked
 * and packed again) is rendered member by member. Same bytes, in every
 * number of decimals and for a legacy order, or a fragment went stale. */
static void test_encode_fragments_match_members(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    static const char *const currencies[] = {"USD", "JPY", "KWD", "CLF", "EUR"};
    test_rng_t rng = {11};
    for (size_t c = 0; c < sizeof(currencies) / sizeof(currencies[0]); ++c)
        for (int legacy = 0; legacy < 2; ++legacy)
            for (unsigned n = 1; n <= 4; ++n) {
                orderd_item_draft_t items[4];
                for (unsigned i = 0; i < n; ++i)
                    items[i] = (orderd_item_draft_t){ORDERD_STR("sku"), 1 + test_rng_below(&rng, 9),
                                                     (int64_t)test_rng_below(&rng, 1000000)};
                orderd_order_draft_t d = {items, n, ORDERD_STR("1 Main St"), ORDERD_STR("card"), {0}, 0};
                memcpy(d.currency, currencies[c], 3);
                orderd_order_t *o = order_from_draft(&a, 42u << 12, ORDERD_STR("ann"), &d, 1764043419123);
                if (legacy)
                    o->money_scale = ORDERD_MONEY_SCALE_LEGACY;
                orderd_order_doc_t doc;
                orderd_order_unpack(o, &a, &doc);
                orderd_order_t *p = orderd_order_pack(&doc, &a);
                assert_null(orderd_order_ext(o));
                assert_non_null(orderd_order_ext(p));
                orderd_str_t x = orderd_codec_encode_order(o, &a), y = orderd_codec_encode_order(p, &a);
                if (x.len != y.len || memcmp(x.base, y.base, x.len) != 0)
                    fail_msg("%s%s: %.*s\n!=\n%.*s", currencies[c], legacy ? " (legacy)" : "", (int)x.len, x.base,
                             (int)y.len, y.base);
                orderd_order_t *list[2] = {o, p};
                orderd_str_t page = orderd_codec_encode_page(list, 2, 10, 0, 2, &a);
                assert_non_null(memmem(page.base, page.len, x.base, x.len));
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST_ARENA_TEST(test_decode_seed),
        TEST_ARENA_TEST(test_encode_fragments_match_members),
        TEST_ARENA_TEST(test_decode_currency),
        TEST_ARENA_TEST(test_decode_whitespace_and_member_order),
        TEST_ARENA_TEST(test_decode_respects_len),
        TEST_ARENA_TEST(test_decode_strings_live_in_allocator),
        TEST_ARENA_TEST(test_decode_escapes),
        TEST_ARENA_TEST(test_decode_nul_escape),
        TEST_ARENA_TEST(test_decode_syntax_errors),
        TEST_ARENA_TEST(test_decode_invalid_utf8),
        TEST_ARENA_TEST(test_decode_depth_limit),
        TEST_ARENA_TEST(test_decode_deep_nesting),
        TEST_ARENA_TEST(test_decode_status_depth_limit),
        TEST_ARENA_TEST(test_decode_status_escaped_name_kept),
        TEST_ARENA_TEST(test_decode_memory_bounded),
        TEST_ARENA_TEST(test_decode_not_an_object),
        TEST_ARENA_TEST(test_decode_missing_and_null),
        TEST_ARENA_TEST(test_decode_several_broken_fields),
        TEST_ARENA_TEST(test_decode_quantity),
        TEST_ARENA_TEST(test_decode_price),
        TEST_ARENA_TEST(test_decode_item_count),
        TEST_ARENA_TEST(test_decode_product_id_length),
        TEST_ARENA_TEST(test_decode_address_and_payment_length),
        TEST_ARENA_TEST(test_decode_duplicate_members),
        TEST_ARENA_TEST(test_decode_unknown_members_ignored),
        TEST_ARENA_TEST(test_decode_total),
        TEST_ARENA_TEST(test_decode_currency_minor_units),
        TEST_ARENA_TEST(test_decode_currency_codes),
        cmocka_unit_test(test_error_cap_constant),
        TEST_ARENA_TEST(test_decode_error_cap),
        TEST_ARENA_TEST(test_decode_report_messages),
        TEST_ARENA_TEST(test_encode_seed_order),
        TEST_ARENA_TEST(test_encode_money_forms),
        TEST_ARENA_TEST(test_encode_currency_digits),
        TEST_ARENA_TEST(test_encode_escaping),
        TEST_ARENA_TEST(test_decode_encode_round_trip),
        TEST_ARENA_TEST(test_encode_page),
        TEST_ARENA_TEST(test_encode_problem),
        TEST_ARENA_TEST(test_encode_problem_from_decode_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
