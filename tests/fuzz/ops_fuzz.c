/*
 * The bodies of the operations after checkout (orderd_codec_decode_op,
 * src/codec_ops.c, over internal/json_tree.c) and the operations themselves
 * (orderd_op_apply, src/order_ops.c). Input: one byte choosing the
 * operation and the order's state, then the body. A body that decodes is
 * applied to a two-line order in that state; whatever the outcome, the order
 * passed in is untouched, and an order made is well-formed, its total the
 * sum of its lines, its refunds within what was paid, its detail readable,
 * and it encodes.
 */
#include "fuzz.h"
#include "orderd/money.h"
#include "orderd/order_ops.h"

static const orderd_op_type_t types[] = {ORDERD_OP_EDIT, ORDERD_OP_CANCEL_LINES, ORDERD_OP_SHIP,
                                         ORDERD_OP_RETURN_REQUEST, ORDERD_OP_REFUND};
static const orderd_status_t states[] = {ORDERD_STATUS_PENDING, ORDERD_STATUS_PROCESSING, ORDERD_STATUS_DELIVERED,
                                         ORDERD_STATUS_CANCELLED};

static void check_after(const orderd_order_t *o)
{
    FUZZ_CHECK(orderd_order_check(o, o->size) == 0);
    int64_t total = 0, refunded = 0;
    for (size_t i = 0; i < o->n_items; ++i) {
        orderd_line_t l;
        orderd_order_line(o, i, &l);
        int64_t paid = o->items[i].price * (int64_t)(o->items[i].quantity - l.cancelled);
        FUZZ_CHECK(l.refunded >= 0 && l.refunded <= paid);
        total += paid;
        refunded += l.refunded;
    }
    FUZZ_CHECK(total == o->total && total <= ORDERD_MONEY_MAX_MINOR);
    const orderd_order_ext_t *x = orderd_order_ext(o);
    FUZZ_CHECK(x != NULL && x->refunded_total >= refunded && x->refunded_total <= o->total);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fuzz_arena_t ar = {0};
    orderd_alloc_t a = fuzz_arena_allocator(&ar);
    orderd_op_type_t type = types[data[0] % 5];
    orderd_status_t state = states[(data[0] / 5) % 4];
    orderd_op_t op;
    orderd_decode_report_t report;
    int rc = orderd_codec_decode_op((const char *)data + 1, size - 1, type, &a, &op, &report);
    FUZZ_CHECK(ar.bytes <= 16 * size + 64 * 1024);
    fuzz_check_decode_report(rc, &report, ORDERD_CODEC_MAX_ERRORS);
    if (rc == ORDERD_DECODE_OK) {
        orderd_item_draft_t items[2] = {{{"a", 1}, 3, 1099}, {{"b", 1}, 1, 250}};
        orderd_order_draft_t d = {items, 2, {"1 Main St", 9}, {"card", 4}, {'U', 'S', 'D'}, 3 * 1099 + 250};
        orderd_order_t *o = orderd_alloc(&a, orderd_order_size(&d, 3));
        orderd_order_build(o, 1u << 12, (orderd_str_t){"ann", 3}, &d, 1767225600000LL);
        o->status = (uint8_t)state;
        if (state == ORDERD_STATUS_DELIVERED) { /* shipped whole and delivered, so returns and refunds have room */
            orderd_op_t ship = {.type = ORDERD_OP_SHIP}, deliver = {.type = ORDERD_OP_DELIVER, .target = 1};
            orderd_op_result_t r;
            o->status = ORDERD_STATUS_PROCESSING;
            FUZZ_CHECK(orderd_op_apply(o, &ship, ORDERD_ACTOR_OPERATOR, 1767225600001LL, &a, &r) == ORDERD_OP_OK);
            FUZZ_CHECK(orderd_op_apply(r.after, &deliver, ORDERD_ACTOR_OPERATOR, 1767225600002LL, &a, &r) ==
                       ORDERD_OP_OK);
            o = r.after;
        }
        unsigned char *before = orderd_alloc(&a, o->size);
        memcpy(before, o, o->size);
        op.return_window_ms = 86400000;
        for (int actor = 0; actor < 2; ++actor) {
            orderd_op_result_t res;
            orderd_op_outcome_t out = orderd_op_apply(o, &op, (orderd_actor_t)actor, 1767225600003LL, &a, &res);
            FUZZ_CHECK(memcmp(before, o, o->size) == 0);
            switch (out) {
            case ORDERD_OP_OK:
                check_after(res.after);
                FUZZ_CHECK(res.after->version == o->version + 1 && orderd_detail_check(res.detail, res.detail_len));
                FUZZ_CHECK(orderd_codec_encode_order(res.after, &a).len > 0);
                break;
            case ORDERD_OP_INVALID:
                FUZZ_CHECK(res.n_errors >= 1);
                for (size_t i = 0; i < res.n_errors; ++i)
                    FUZZ_CHECK(res.errors[i].field != NULL && strlen(res.errors[i].message) > 0);
                break;
            case ORDERD_OP_CONFLICT:
            case ORDERD_OP_NO_TARGET:
                FUZZ_CHECK(res.message != NULL && strlen(res.message) > 0);
                break;
            case ORDERD_OP_NOOP:
                break;
            }
        }
    }
    fuzz_arena_free(&ar);
    return 0;
}
