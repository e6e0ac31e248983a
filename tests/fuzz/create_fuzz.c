/*
 * The create-order decoder (orderd_codec_decode_create, src/codec_decode.c)
 * on any body. Checked beyond "no crash": request memory stays within a
 * small multiple of the body; a refusal says why; an accepted order keeps
 * every rule of the contract, builds into a blob that orderd_order_check
 * accepts, and its JSON (orderd_codec_encode_order) decodes back to the same
 * order.
 */
#include "fuzz.h"
#include "orderd/currency.h"
#include "orderd/money.h"

/* What a 1 MiB body may take (tests/codec_test.c holds the same to 2 x + 256 KiB) */
#define MEMORY_BOUND(len) (4 * (len) + 256 * 1024)

static int str_eq(orderd_str_t a, orderd_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.base, b.base, a.len) == 0);
}

static void check_draft(const orderd_order_draft_t *d)
{
    FUZZ_CHECK(d->n_items >= 1 && d->n_items <= ORDERD_ITEMS_MAX);
    FUZZ_CHECK(d->shipping_address.len >= 1 && d->shipping_address.len <= ORDERD_ADDRESS_MAX);
    FUZZ_CHECK(d->payment_method.len >= 1 && d->payment_method.len <= ORDERD_PAYMENT_MAX);
    for (int i = 0; i < 3; ++i)
        FUZZ_CHECK(d->currency[i] >= 'A' && d->currency[i] <= 'Z');
    FUZZ_CHECK(orderd_currency_minor_units(d->currency) >= 0); /* a payable ISO 4217 code */
    int64_t total = 0;
    for (size_t i = 0; i < d->n_items; ++i) {
        const orderd_item_draft_t *it = &d->items[i];
        FUZZ_CHECK(it->product_id.len >= 1 && it->product_id.len <= ORDERD_PRODUCT_ID_MAX);
        FUZZ_CHECK(it->quantity >= 1 && it->quantity <= ORDERD_QUANTITY_MAX);
        FUZZ_CHECK(it->price >= 0 && it->price <= ORDERD_MONEY_MAX_MINOR);
        int64_t line;
        FUZZ_CHECK(!__builtin_mul_overflow(it->price, (int64_t)it->quantity, &line));
        FUZZ_CHECK(!__builtin_add_overflow(total, line, &total));
    }
    FUZZ_CHECK(total == d->total && total <= ORDERD_MONEY_MAX_MINOR); /* 15 digits: exact as a double */
}

static void check_same(const orderd_order_draft_t *a, const orderd_order_draft_t *b)
{
    FUZZ_CHECK(a->n_items == b->n_items && a->total == b->total && memcmp(a->currency, b->currency, 3) == 0);
    FUZZ_CHECK(str_eq(a->shipping_address, b->shipping_address) && str_eq(a->payment_method, b->payment_method));
    for (size_t i = 0; i < a->n_items; ++i)
        FUZZ_CHECK(str_eq(a->items[i].product_id, b->items[i].product_id) &&
                   a->items[i].quantity == b->items[i].quantity && a->items[i].price == b->items[i].price);
}

/* The accepted order as the store would keep it, then as a client would see it, then decoded again. */
static void round_trip(const orderd_order_draft_t *draft, const orderd_alloc_t *a)
{
    static const orderd_str_t user = {"fuzz-user", 9};
    size_t size = orderd_order_size(draft, user.len);
    orderd_order_t *o = malloc(size);
    FUZZ_CHECK(o != NULL);
    orderd_order_build(o, 0x1234567890abcULL, user, draft, 1767225600000LL);
    FUZZ_CHECK(orderd_order_check(o, size) == 0);
    orderd_str_t json = orderd_codec_encode_order(o, a);
    FUZZ_CHECK(json.len > 0);

    orderd_order_draft_t again;
    orderd_decode_report_t report;
    char *copy = malloc(json.len);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, json.base, json.len);
    int rc = orderd_codec_decode_create(copy, json.len, a, &again, &report);
    if (rc != ORDERD_DECODE_OK) {
        fprintf(stderr, "the encoded order does not decode (%d): %.*s\n", rc, (int)json.len, json.base);
        abort();
    }
    check_same(draft, &again);
    free(copy);
    free(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_arena_t ar = {0};
    orderd_alloc_t a = fuzz_arena_allocator(&ar);
    orderd_order_draft_t draft;
    orderd_decode_report_t report;
    int rc = orderd_codec_decode_create((const char *)data, size, &a, &draft, &report);
    FUZZ_CHECK(ar.bytes <= MEMORY_BOUND(size));
    fuzz_check_decode_report(rc, &report, ORDERD_CODEC_MAX_ERRORS);
    if (rc == ORDERD_DECODE_OK) {
        check_draft(&draft);
        round_trip(&draft, &a);
    }
    fuzz_arena_free(&ar);
    return 0;
}
