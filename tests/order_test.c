/* Unit tests for orderd/order.h: statuses, the state machine, the order blob,
 * ids and times. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orderd/order.h"
#include "fixture.h"

static const char *const STATUS_NAMES[ORDERD_STATUS_COUNT] = {
    [ORDERD_STATUS_PENDING] = "pending",     [ORDERD_STATUS_PROCESSING] = "processing",
    [ORDERD_STATUS_SHIPPED] = "shipped",     [ORDERD_STATUS_DELIVERED] = "delivered",
    [ORDERD_STATUS_CANCELLED] = "cancelled", [ORDERD_STATUS_PARTIALLY_SHIPPED] = "partially_shipped",
};

static const char CROCKFORD[] = "0123456789abcdefghjkmnpqrstvwxyz";

/* ---- statuses and transitions ---- */

static void test_status_names(void **state)
{
    for (int s = 0; s < ORDERD_STATUS_COUNT; s++) {
        const char *name = orderd_status_name((orderd_status_t)s);
        assert_non_null(name);
        assert_string_equal(name, STATUS_NAMES[s]);
    }
    assert_null(orderd_status_name(ORDERD_STATUS_COUNT));
    assert_null(orderd_status_name((orderd_status_t)99));
    assert_null(orderd_status_name((orderd_status_t)-1));
}

static void test_status_parse(void **state)
{
    for (int s = 0; s < ORDERD_STATUS_COUNT; s++) {
        orderd_status_t got = (orderd_status_t)77;
        assert_int_equal(orderd_status_parse(STATUS_NAMES[s], strlen(STATUS_NAMES[s]), &got), 0);
        assert_int_equal(got, s);
    }
    static const char *const unknown[] = {"",          "Pending", "PENDING", "cancel", "canceled", "pendingx",
                                          " pending",  "pending ", "ship",   "deliver", "new",     "processing\n",
                                          "cancelled!"};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        orderd_status_t got = (orderd_status_t)77;
        if (orderd_status_parse(unknown[i], strlen(unknown[i]), &got) != -1)
            fail_msg("status_parse(\"%s\") accepted an unknown name", unknown[i]);
    }
    /* the length decides: a prefix of a longer buffer parses, a truncated name does not */
    orderd_status_t got = (orderd_status_t)77;
    assert_int_equal(orderd_status_parse("shippedXYZ", 7, &got), 0);
    assert_int_equal(got, ORDERD_STATUS_SHIPPED);
    assert_int_equal(orderd_status_parse("pending", 4, &got), -1);
    assert_int_equal(orderd_status_parse("pend\0ing", 8, &got), -1);
}

static void test_transition_matrix(void **state)
{
    /* Expected matrix from the header: customer cancel and one-step fulfilment. */
    orderd_transition_t want[ORDERD_STATUS_COUNT][ORDERD_STATUS_COUNT];
    for (int f = 0; f < ORDERD_STATUS_COUNT; f++)
        for (int t = 0; t < ORDERD_STATUS_COUNT; t++)
            want[f][t] = ORDERD_TRANSITION_CONFLICT;
    want[ORDERD_STATUS_PENDING][ORDERD_STATUS_CANCELLED] = ORDERD_TRANSITION_APPLY;
    want[ORDERD_STATUS_CANCELLED][ORDERD_STATUS_CANCELLED] = ORDERD_TRANSITION_NOOP;
    want[ORDERD_STATUS_PENDING][ORDERD_STATUS_PROCESSING] = ORDERD_TRANSITION_APPLY;
    want[ORDERD_STATUS_PROCESSING][ORDERD_STATUS_SHIPPED] = ORDERD_TRANSITION_APPLY;
    want[ORDERD_STATUS_SHIPPED][ORDERD_STATUS_DELIVERED] = ORDERD_TRANSITION_APPLY;

    int bad = 0;
    for (int f = 0; f < ORDERD_STATUS_COUNT; f++) {
        for (int t = 0; t < ORDERD_STATUS_COUNT; t++) {
            orderd_transition_t got = orderd_status_transition((orderd_status_t)f, (orderd_status_t)t);
            if (got != want[f][t]) {
                print_error("transition %s -> %s = %d, want %d\n", STATUS_NAMES[f], STATUS_NAMES[t], (int)got,
                            (int)want[f][t]);
                bad++;
            }
        }
    }
    assert_int_equal(bad, 0);

    /* nothing ever leaves delivered or cancelled (other than the cancel repeat) */
    for (int t = 0; t < ORDERD_STATUS_COUNT; t++) {
        assert_int_not_equal(orderd_status_transition(ORDERD_STATUS_DELIVERED, (orderd_status_t)t),
                             ORDERD_TRANSITION_APPLY);
        assert_int_not_equal(orderd_status_transition(ORDERD_STATUS_CANCELLED, (orderd_status_t)t),
                             ORDERD_TRANSITION_APPLY);
    }
}

/* ---- the order blob ---- */

typedef struct built {
    orderd_order_t *o;
    size_t size;
} built_t;

static size_t min_size(const orderd_order_draft_t *d, size_t user_len)
{
    size_t n = sizeof(orderd_order_t) + d->n_items * sizeof(orderd_item_t) + user_len + d->shipping_address.len +
               d->payment_method.len;
    for (size_t i = 0; i < d->n_items; i++)
        n += d->items[i].product_id.len;
    return n;
}

static built_t build(const orderd_alloc_t *a, uint64_t id, orderd_str_t user, const orderd_order_draft_t *d,
                     int64_t now)
{
    built_t b;
    b.size = orderd_order_size(d, user.len);
    assert_true(b.size >= min_size(d, user.len));
    b.o = order_from_draft(a, id, user, d, now);
    assert_true(((uintptr_t)b.o & 7u) == 0);
    return b;
}

static void assert_str_eq(orderd_str_t got, const char *want, size_t want_len)
{
    if (got.len != want_len)
        fail_msg("string length %zu, want %zu", got.len, want_len);
    if (want_len)
        assert_non_null(got.base);
    assert_memory_equal(got.base, want, want_len);
}

static void check_against_draft(const orderd_order_t *o, size_t size, uint64_t id, orderd_str_t user,
                                const orderd_order_draft_t *d, int64_t now)
{
    assert_true(o->id == id);
    assert_true(o->total == d->total);
    assert_true(o->created_ms == now);
    assert_true(o->updated_ms == now);
    assert_int_equal(o->version, 1);
    assert_int_equal(o->size, size);
    assert_int_equal(o->status, ORDERD_STATUS_PENDING);
    assert_int_equal(o->n_items, d->n_items);
    assert_memory_equal(o->currency, d->currency, 3);
    for (size_t i = 0; i < d->n_items; i++) {
        assert_true(o->items[i].price == d->items[i].price);
        assert_int_equal(o->items[i].quantity, d->items[i].quantity);
        orderd_str_t p = orderd_order_product(o, i);
        assert_str_eq(p, d->items[i].product_id.base, d->items[i].product_id.len);
        /* the string lies inside the blob */
        assert_true((const char *)p.base >= (const char *)o && p.base + p.len <= (const char *)o + size);
    }
    assert_str_eq(orderd_order_user(o), user.base, user.len);
    assert_str_eq(orderd_order_address(o), d->shipping_address.base, d->shipping_address.len);
    assert_str_eq(orderd_order_payment(o), d->payment_method.base, d->payment_method.len);
    assert_int_equal(orderd_order_check(o, size), 0);
}

static void test_build_small(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_item_draft_t items[] = {
        {ORDERD_STR("123"), 2, 1099},
        {ORDERD_STR("456"), 1, 2000},
    };
    orderd_order_draft_t d = {items, 2, ORDERD_STR("123 Main St"), ORDERD_STR("credit_card"), {'U', 'S', 'D'}, 4197};
    orderd_str_t user = ORDERD_STR("alice");
    built_t b = build(&a, 42, user, &d, 1764043419123);
    check_against_draft(b.o, b.size, 42, user, &d, 1764043419123);
}

static void test_build_non_ascii_and_odd_bytes(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    /* UTF-8 of several widths, an embedded NUL, control characters, quotes */
    static const char prod1[] = "caf\xc3\xa9-\xe6\x9d\xb1\xe4\xba\xac-\xf0\x9f\x98\x80";
    static const char prod2[] = "a\"b\\c\n\t\x01";
    static const char addr[] = "Stra\xc3\x9f" "e 5\0after-nul, \xe6\x9d\xb1\xe4\xba\xac";
    static const char pay[] = "\xf0\x9f\x92\xb3 card";
    static const char usr[] = "user.name@example:1-_";
    orderd_item_draft_t items[] = {
        {{prod1, sizeof(prod1) - 1}, 3, 1},
        {{prod2, sizeof(prod2) - 1}, ORDERD_QUANTITY_MAX, 0},
        {{"x", 1}, 1, INT64_C(1234567890123)},
    };
    orderd_order_draft_t d = {items, 3, {addr, sizeof(addr) - 1}, {pay, sizeof(pay) - 1}, {'E', 'U', 'R'},
                              3 + INT64_C(1234567890123)};
    orderd_str_t user = {usr, sizeof(usr) - 1};
    built_t b = build(&a, UINT64_MAX, user, &d, 0);
    check_against_draft(b.o, b.size, UINT64_MAX, user, &d, 0);
}

/* An order with every limit at its maximum: 1000 items of 64-byte product ids. */
static built_t build_max(const orderd_alloc_t *a, orderd_order_draft_t *d, orderd_str_t *user)
{
    size_t n = ORDERD_ITEMS_MAX;
    orderd_item_draft_t *items = orderd_alloc(a, n * sizeof(*items));
    char *pids = orderd_alloc(a, n * ORDERD_PRODUCT_ID_MAX);
    for (size_t i = 0; i < n; i++) {
        char *p = pids + i * ORDERD_PRODUCT_ID_MAX;
        for (size_t k = 0; k < ORDERD_PRODUCT_ID_MAX; k++)
            p[k] = (char)('A' + (i * 7 + k * 13) % 26);
        snprintf(p, 8, "%06zu", i); /* unique prefix */
        p[6] = '-';
        items[i].product_id = (orderd_str_t){p, ORDERD_PRODUCT_ID_MAX};
        items[i].quantity = (uint32_t)(i + 1);
        items[i].price = (int64_t)(i * 3);
    }
    int64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += items[i].price * items[i].quantity;
    char *addr = orderd_alloc(a, ORDERD_ADDRESS_MAX);
    for (size_t k = 0; k < ORDERD_ADDRESS_MAX; k++)
        addr[k] = (char)('a' + k % 26);
    char *pay = orderd_alloc(a, ORDERD_PAYMENT_MAX);
    memset(pay, 'p', ORDERD_PAYMENT_MAX);
    char *usr = orderd_alloc(a, ORDERD_USER_ID_MAX);
    memset(usr, 'u', ORDERD_USER_ID_MAX);
    *d = (orderd_order_draft_t){items, n, {addr, ORDERD_ADDRESS_MAX}, {pay, ORDERD_PAYMENT_MAX}, {'J', 'P', 'Y'},
                                total};
    *user = (orderd_str_t){usr, ORDERD_USER_ID_MAX};
    return build(a, 0x0123456789abcdefULL, *user, d, 1700000000000);
}

static void test_build_max_order(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_order_draft_t d;
    orderd_str_t user;
    built_t b = build_max(&a, &d, &user);
    check_against_draft(b.o, b.size, 0x0123456789abcdefULL, user, &d, 1700000000000);

    /* position independent: a copy elsewhere reads the same */
    orderd_order_t *copy = orderd_alloc(&a, b.size);
    memcpy(copy, b.o, b.size);
    memset(b.o, 0, b.size);
    check_against_draft(copy, b.size, 0x0123456789abcdefULL, user, &d, 1700000000000);
}

static void test_size_grows_with_content(void **state)
{
    /* the size covers header, items and every string (padding may add a little) */
    orderd_item_draft_t items[] = {{ORDERD_STR("p"), 1, 1}, {ORDERD_STR("q"), 1, 1}};
    orderd_order_draft_t d = {items, 1, ORDERD_STR("addr"), ORDERD_STR("card"), {'U', 'S', 'D'}, 1};
    size_t s1 = orderd_order_size(&d, 5);
    assert_true(s1 >= min_size(&d, 5));
    d.n_items = 2;
    size_t s2 = orderd_order_size(&d, 5);
    assert_true(s2 >= min_size(&d, 5));
    assert_true(s2 > s1);
    d.shipping_address = ORDERD_STR("a much longer address than before, 64 bytes or so..............");
    size_t s3 = orderd_order_size(&d, 5);
    assert_true(s3 >= min_size(&d, 5));
    assert_true(s3 > s2);
    size_t s4 = orderd_order_size(&d, 64);
    assert_true(s4 >= min_size(&d, 64));
    assert_true(s4 > s3);
}

static orderd_order_t *dup_blob(const orderd_alloc_t *a, const built_t *b)
{
    orderd_order_t *c = orderd_alloc(a, b->size);
    memcpy(c, b->o, b->size);
    return c;
}

static void test_check_rejects_damage(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_item_draft_t items[] = {
        {ORDERD_STR("prod-1"), 2, 1099},
        {ORDERD_STR("prod-2"), 1, 2000},
    };
    orderd_order_draft_t d = {items, 2, ORDERD_STR("12 Main"), ORDERD_STR("card"), {'U', 'S', 'D'}, 4198};
    built_t b = build(&a, 7, ORDERD_STR("bob"), &d, 1000);
    size_t content = min_size(&d, 3);
    assert_int_equal(orderd_order_check(b.o, b.size), 0);

    /* truncated: the blob says it is b.size bytes; fewer bytes are not an order */
    assert_int_equal(orderd_order_check(b.o, 0), -1);
    assert_int_equal(orderd_order_check(b.o, sizeof(orderd_order_t) - 1), -1);
    assert_int_equal(orderd_order_check(b.o, sizeof(orderd_order_t)), -1);
    assert_int_equal(orderd_order_check(b.o, content - 1), -1);
    assert_int_equal(orderd_order_check(b.o, b.size / 2), -1);
    assert_int_equal(orderd_order_check(b.o, b.size - 1), -1);

    orderd_order_t *c;

    c = dup_blob(&a, &b);
    c->size = (uint32_t)(b.size + 8); /* claims more bytes than there are */
    assert_int_equal(orderd_order_check(c, b.size), -1);

    c = dup_blob(&a, &b);
    c->status = ORDERD_STATUS_COUNT;
    assert_int_equal(orderd_order_check(c, b.size), -1);
    c->status = 255;
    assert_int_equal(orderd_order_check(c, b.size), -1);
    for (int s = 0; s < ORDERD_STATUS_COUNT; s++) { /* every known status is fine */
        c->status = (uint8_t)s;
        assert_int_equal(orderd_order_check(c, b.size), 0);
    }

    c = dup_blob(&a, &b);
    c->n_items = 3; /* one item more than the blob has room for with its strings */
    assert_int_equal(orderd_order_check(c, b.size), -1);
    c->n_items = 65535;
    assert_int_equal(orderd_order_check(c, b.size), -1);

    c = dup_blob(&a, &b);
    c->address_len = 65535;
    assert_int_equal(orderd_order_check(c, b.size), -1);

    c = dup_blob(&a, &b);
    c->user_len = 255;
    assert_int_equal(orderd_order_check(c, b.size), -1);

    c = dup_blob(&a, &b);
    c->payment_len = 255;
    assert_int_equal(orderd_order_check(c, b.size), -1);

    c = dup_blob(&a, &b);
    c->items[0].product_off = 65535;
    assert_int_equal(orderd_order_check(c, b.size), -1);

    c = dup_blob(&a, &b);
    c->items[1].product_len = 255;
    assert_int_equal(orderd_order_check(c, b.size), -1);

    c = dup_blob(&a, &b);
    c->items[1].product_off = (uint16_t)(c->items[1].product_off + 200);
    assert_int_equal(orderd_order_check(c, b.size), -1);

    /* the undamaged copies still pass */
    c = dup_blob(&a, &b);
    assert_int_equal(orderd_order_check(c, b.size), 0);
}

static void test_check_accepts_max_order(void **state)
{
    orderd_alloc_t a = test_alloc(state);
    orderd_order_draft_t d;
    orderd_str_t user;
    built_t b = build_max(&a, &d, &user);
    assert_int_equal(orderd_order_check(b.o, b.size), 0);
    assert_int_equal(orderd_order_check(b.o, b.size - 1), -1);
    orderd_order_t *c = dup_blob(&a, &b);
    c->items[ORDERD_ITEMS_MAX - 1].product_off = 65535;
    assert_int_equal(orderd_order_check(c, b.size), -1);
}

/* ---- ids ---- */

static void ref_id(uint64_t v, char out[ORDERD_ID_LEN])
{
    for (int i = ORDERD_ID_LEN - 1; i >= 0; i--) {
        out[i] = CROCKFORD[v & 31];
        v >>= 5;
    }
}

static void check_id_round_trip(uint64_t v)
{
    char s[ORDERD_ID_LEN + 1], want[ORDERD_ID_LEN + 1];
    memset(s, '#', sizeof(s));
    orderd_id_format(v, s);
    assert_int_equal(s[ORDERD_ID_LEN], '#'); /* exactly ORDERD_ID_LEN bytes */
    s[ORDERD_ID_LEN] = 0;
    ref_id(v, want);
    want[ORDERD_ID_LEN] = 0;
    if (strcmp(s, want) != 0)
        fail_msg("id_format(%" PRIu64 ") = \"%s\", want \"%s\"", v, s, want);
    uint64_t back = 0xdeadbeef;
    assert_int_equal(orderd_id_parse(s, ORDERD_ID_LEN, &back), 0);
    assert_true(back == v);
}

static void test_id_known_values(void **state)
{
    char s[ORDERD_ID_LEN];
    orderd_id_format(0, s);
    assert_memory_equal(s, "0000000000000", ORDERD_ID_LEN);
    orderd_id_format(1, s);
    assert_memory_equal(s, "0000000000001", ORDERD_ID_LEN);
    orderd_id_format(31, s);
    assert_memory_equal(s, "000000000000z", ORDERD_ID_LEN);
    orderd_id_format(32, s);
    assert_memory_equal(s, "0000000000010", ORDERD_ID_LEN);
    /* 64 bits = 4 bits in the first character + 12 x 5 bits */
    orderd_id_format(UINT64_MAX, s);
    assert_memory_equal(s, "fzzzzzzzzzzzz", ORDERD_ID_LEN);
    orderd_id_format(UINT64_C(1) << 63, s);
    assert_memory_equal(s, "8000000000000", ORDERD_ID_LEN);

    check_id_round_trip(0);
    check_id_round_trip(1);
    check_id_round_trip(UINT64_MAX);
    check_id_round_trip(UINT64_MAX - 1);
    check_id_round_trip(UINT64_C(1) << 63);
    check_id_round_trip(UINT64_C(1) << 60);
    check_id_round_trip((UINT64_C(1) << 60) - 1);
}

static void test_id_random_round_trip(void **state)
{
    test_rng_t rng = {99};
    for (int i = 0; i < 100000; i++) {
        uint64_t v = test_rng_next(&rng);
        v >>= test_rng_below(&rng, 64);
        check_id_round_trip(v);
    }
}

static void test_id_sorts_like_numbers(void **state)
{
    enum { N = 5000 };
    static uint64_t v[N];
    test_rng_t rng = {7};
    for (int i = 0; i < N; i++)
        v[i] = test_rng_next(&rng) >> test_rng_below(&rng, 64);
    qsort(v, N, sizeof(v[0]), cmp_u64);
    char prev[ORDERD_ID_LEN], cur[ORDERD_ID_LEN];
    orderd_id_format(v[0], prev);
    for (int i = 1; i < N; i++) {
        orderd_id_format(v[i], cur);
        int c = memcmp(prev, cur, ORDERD_ID_LEN);
        if (v[i] == v[i - 1])
            assert_int_equal(c, 0);
        else if (c >= 0)
            fail_msg("ids of %" PRIu64 " < %" PRIu64 " do not sort: %.13s vs %.13s", v[i - 1], v[i], prev, cur);
        memcpy(prev, cur, ORDERD_ID_LEN);
    }
}

static void test_id_parse_rejects(void **state)
{
    uint64_t v = 12345;
    /* wrong lengths */
    assert_int_equal(orderd_id_parse("", 0, &v), -1);
    assert_int_equal(orderd_id_parse("000000000001", 12, &v), -1);
    assert_int_equal(orderd_id_parse("00000000000001", 14, &v), -1);
    assert_int_equal(orderd_id_parse("0f3k9x2m4q8rz0f3k9x2m4q8rz", 26, &v), -1);
    /* over 64 bits: the first character carries only 4 bits */
    assert_int_equal(orderd_id_parse("g000000000000", 13, &v), -1);
    assert_int_equal(orderd_id_parse("zzzzzzzzzzzzz", 13, &v), -1);
    assert_int_equal(orderd_id_parse("h000000000000", 13, &v), -1);
    assert_true(v == 12345);
    /* the decisions' example is an id */
    assert_int_equal(orderd_id_parse("0f3k9x2m4q8rz", 13, &v), 0);
    char back[ORDERD_ID_LEN];
    orderd_id_format(v, back);
    assert_memory_equal(back, "0f3k9x2m4q8rz", ORDERD_ID_LEN);
    assert_int_equal(orderd_id_parse("f000000000000", 13, &v), 0);
    assert_true(v == UINT64_C(15) << 60);

    /* every character outside the lower-case alphabet, in every position */
    int bad = 0;
    for (int c = 0; c < 256; c++) {
        if (c != 0 && strchr(CROCKFORD, c) != NULL)
            continue;
        for (int pos = 0; pos < ORDERD_ID_LEN; pos++) {
            char s[ORDERD_ID_LEN];
            memcpy(s, "0f3k9x2m4q8rz", ORDERD_ID_LEN);
            s[pos] = (char)c;
            uint64_t got = 777;
            if (orderd_id_parse(s, ORDERD_ID_LEN, &got) != -1) {
                print_error("id_parse accepted byte 0x%02x at position %d\n", c, pos);
                bad++;
            }
        }
    }
    assert_int_equal(bad, 0);
    /* explicitly: Crockford's excluded letters and upper case */
    assert_int_equal(orderd_id_parse("0f3k9x2m4q8ri", 13, &v), -1);
    assert_int_equal(orderd_id_parse("0f3k9x2m4q8rl", 13, &v), -1);
    assert_int_equal(orderd_id_parse("0f3k9x2m4q8ro", 13, &v), -1);
    assert_int_equal(orderd_id_parse("0f3k9x2m4q8ru", 13, &v), -1);
    assert_int_equal(orderd_id_parse("0F3K9X2M4Q8RZ", 13, &v), -1);
}

/* ---- time ---- */

static void check_time(int64_t ms, const char *want)
{
    char buf[ORDERD_TIME_FMT_MAX];
    memset(buf, 'X', sizeof(buf));
    size_t n = orderd_time_format(ms, buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_time_known(void **state)
{
    /* values checked with Python's datetime */
    check_time(0, "1970-01-01T00:00:00.000Z");
    check_time(1000, "1970-01-01T00:00:01.000Z");
    check_time(86399999, "1970-01-01T23:59:59.999Z");
    check_time(951782400000, "2000-02-29T00:00:00.000Z");
    check_time(1764043419123, "2025-11-25T04:03:39.123Z");
    check_time(253402300799999, "9999-12-31T23:59:59.999Z");
}

static void test_time_matches_gmtime(void **state)
{
    test_rng_t rng = {2025};
    for (int i = 0; i < 100000; i++) {
        int64_t ms = (int64_t)(test_rng_next(&rng) % UINT64_C(253402300800000));
        if (i % 4 == 0) /* dense around "now" */
            ms = INT64_C(1700000000000) + (int64_t)(test_rng_next(&rng) % UINT64_C(400000000000));
        time_t t = (time_t)(ms / 1000);
        struct tm tm;
        assert_non_null(gmtime_r(&t, &tm));
        char want[64], tail[16];
        strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(tail, sizeof(tail), ".%03dZ", (int)(ms % 1000));
        strcat(want, tail);
        char buf[ORDERD_TIME_FMT_MAX];
        size_t n = orderd_time_format(ms, buf);
        if (strcmp(buf, want) != 0 || n != strlen(want))
            fail_msg("time_format(%" PRId64 ") = \"%s\", want \"%s\"", ms, buf, want);
    }
}

static void test_now_ms(void **state)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t before = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    int64_t now = orderd_now_ms();
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t after = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    assert_true(now >= before - 1 && now <= after + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_status_parse),
        cmocka_unit_test(test_transition_matrix),
        TEST_ARENA_TEST(test_build_small),
        TEST_ARENA_TEST(test_build_non_ascii_and_odd_bytes),
        TEST_ARENA_TEST(test_build_max_order),
        cmocka_unit_test(test_size_grows_with_content),
        TEST_ARENA_TEST(test_check_rejects_damage),
        TEST_ARENA_TEST(test_check_accepts_max_order),
        cmocka_unit_test(test_id_known_values),
        cmocka_unit_test(test_id_random_round_trip),
        cmocka_unit_test(test_id_sorts_like_numbers),
        cmocka_unit_test(test_id_parse_rejects),
        cmocka_unit_test(test_time_known),
        cmocka_unit_test(test_time_matches_gmtime),
        cmocka_unit_test(test_now_ms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
