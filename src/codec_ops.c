/*
 * Decoding the bodies of the operations after checkout (codec.h): an edit's
 * operations, and the lines, shipment details, reason or amount of a partial
 * cancel, a shipment, a return and a refund. Each body is read into a tree
 * (internal/json_tree.h) and checked member by member; every broken member
 * is named in one 422. What needs the order (do the lines exist, is there
 * that much left, the price's decimals in its currency) is order_ops.c's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal/json_tree.h"
#include "orderd/codec.h"
#include "orderd/money.h"

typedef struct errs {
    const orderd_alloc_t *a;
    orderd_field_error_t *v;
    size_t n, cap;
} errs_t;

static void err(errs_t *e, const char *message, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* An error for the field printf(fmt, ...) names. */
static void err(errs_t *e, const char *message, const char *fmt, ...)
{
    if (e->n == ORDERD_CODEC_MAX_ERRORS)
        return;
    char buf[96];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (e->n == e->cap) {
        size_t ncap = e->cap == 0 ? 8 : e->cap * 2;
        orderd_field_error_t *v = orderd_alloc(e->a, ncap * sizeof(*v));
        if (e->n != 0)
            memcpy(v, e->v, e->n * sizeof(*v));
        e->v = v;
        e->cap = ncap;
    }
    char *field = orderd_alloc(e->a, (size_t)n + 1);
    memcpy(field, buf, (size_t)n + 1);
    e->v[e->n++] = (orderd_field_error_t){field, message};
}

/* A member that must appear once at most: NULL when absent (or an error when repeated). */
static const orderd_jt_t *member(errs_t *e, const orderd_jt_t *o, const char *name, const char *prefix)
{
    int count;
    const orderd_jt_t *v = orderd_jt_get(o, name, &count);
    if (count > 1)
        err(e, "appears more than once", "%s%s", prefix, name);
    return v;
}

/* A string of 1 to max bytes, or null/absent (empty); 0, or -1 with the error. */
static int opt_string(errs_t *e, const orderd_jt_t *v, size_t max, const char *rule, orderd_str_t *out,
                      const char *field)
{
    *out = (orderd_str_t){NULL, 0};
    if (v == NULL || v->type == JT_NULL)
        return 0;
    if (v->type != JT_STRING || v->text.len < 1 || v->text.len > max) {
        err(e, rule, "%s", field);
        return -1;
    }
    *out = v->text;
    return 0;
}

/* An integer written as one (no fraction or exponent) from 1 to ORDERD_QUANTITY_MAX. */
static int quantity_of(const orderd_jt_t *v, uint32_t *out)
{
    int64_t q;
    if (v == NULL || v->type != JT_NUMBER || memchr(v->text.base, '.', v->text.len) != NULL ||
        memchr(v->text.base, 'e', v->text.len) != NULL || memchr(v->text.base, 'E', v->text.len) != NULL ||
        orderd_money_parse(v->text.base, v->text.len, 0, &q) != ORDERD_MONEY_OK || q < 1 || q > ORDERD_QUANTITY_MAX)
        return -1;
    *out = (uint32_t)q;
    return 0;
}

int orderd_codec_line_id_parse(orderd_str_t s, uint16_t *line_no)
{
    unsigned v = 0;
    if (s.len < 2 || s.len > 6 || s.base[0] != 'l' || s.base[1] == '0')
        return -1;
    for (size_t i = 1; i < s.len; ++i) {
        if (s.base[i] < '0' || s.base[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s.base[i] - '0');
    }
    if (v == 0 || v > UINT16_MAX)
        return -1;
    *line_no = (uint16_t)v;
    return 0;
}

/* A JSON number that is an amount in some currency: not negative, any decimals
 * (the order's currency decides how many, in order_ops.c). */
static int amount_shape_ok(const orderd_jt_t *v)
{
    int64_t ignored;
    if (v->type != JT_NUMBER)
        return 0;
    int rc = orderd_money_parse(v->text.base, v->text.len, ORDERD_MONEY_MAX_DIGITS, &ignored);
    return rc != ORDERD_MONEY_ESYNTAX && rc != ORDERD_MONEY_ENEGATIVE;
}

static const char quantity_rule[] = "must be an integer from 1 to 1000000";
static const char line_id_rule[] = "must be a line id of this order, like l1";

/* "lines": [{"line_id", "quantity"?}], 1 to ORDERD_ITEMS_MAX of them. */
static void lines_of(errs_t *e, const orderd_jt_t *v, const orderd_alloc_t *a, orderd_op_t *op)
{
    if (v->type != JT_ARRAY || v->n < 1 || v->n > ORDERD_ITEMS_MAX) {
        err(e, "must be an array of 1 to 1000 lines", "lines");
        return;
    }
    orderd_line_qty_t *lines = orderd_alloc(a, v->n * sizeof(*lines));
    for (size_t i = 0; i < v->n; ++i) {
        const orderd_jt_t *l = v->items[i];
        lines[i] = (orderd_line_qty_t){0, 0};
        if (l->type != JT_OBJECT) {
            err(e, "must be an object", "lines[%zu]", i);
            continue;
        }
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "lines[%zu].", i);
        const orderd_jt_t *id = member(e, l, "line_id", prefix), *q = member(e, l, "quantity", prefix);
        if (id == NULL)
            err(e, "is required", "lines[%zu].line_id", i);
        else if (id->type != JT_STRING || orderd_codec_line_id_parse(id->text, &lines[i].line_no) != 0)
            err(e, line_id_rule, "lines[%zu].line_id", i);
        if (q != NULL && q->type != JT_NULL && quantity_of(q, &lines[i].quantity) != 0)
            err(e, quantity_rule, "lines[%zu].quantity", i);
    }
    op->lines = lines;
    op->n_lines = v->n;
}

/* --- an edit's operations --- */

static const char *const step_names[] = {NULL, "add_item", "remove_item", "set_quantity", "set_shipping_address"};

/* The step's kind and the object holding its fields: {"op": name, ...}
 * ("type" and "action" are read as "op" too) or {name: {...}}. */
static int step_kind(const orderd_jt_t *s, const orderd_jt_t **fields)
{
    static const char *const names[] = {"op", "type", "action"};
    for (size_t k = 0; k < 3; ++k) {
        const orderd_jt_t *n = orderd_jt_get(s, names[k], NULL);
        if (n == NULL)
            continue;
        for (int i = 1; i <= 4 && n->type == JT_STRING; ++i)
            if (strlen(step_names[i]) == n->text.len && memcmp(step_names[i], n->text.base, n->text.len) == 0) {
                *fields = s;
                return i;
            }
        return -1;
    }
    if (s->n == 1 && s->items[0]->type == JT_OBJECT)
        for (int i = 1; i <= 4; ++i)
            if (strlen(step_names[i]) == s->keys[0].len &&
                memcmp(step_names[i], s->keys[0].base, s->keys[0].len) == 0) {
                *fields = s->items[0];
                return i;
            }
    return -1;
}

static void step_of(errs_t *e, const orderd_jt_t *s, size_t i, orderd_edit_step_t *out)
{
    const orderd_jt_t *f;
    char prefix[40];
    memset(out, 0, sizeof(*out));
    if (s->type != JT_OBJECT) {
        err(e, "must be an object", "operations[%zu]", i);
        return;
    }
    int kind = step_kind(s, &f);
    if (kind < 0) {
        err(e, "must name one of add_item, remove_item, set_quantity, set_shipping_address", "operations[%zu].op", i);
        return;
    }
    out->kind = (orderd_edit_kind_t)kind;
    snprintf(prefix, sizeof(prefix), "operations[%zu].", i);
    if (kind == ORDERD_EDIT_REMOVE_ITEM || kind == ORDERD_EDIT_SET_QUANTITY) {
        const orderd_jt_t *id = member(e, f, "line_id", prefix);
        if (id == NULL)
            err(e, "is required", "operations[%zu].line_id", i);
        else if (id->type != JT_STRING || orderd_codec_line_id_parse(id->text, &out->line_no) != 0)
            err(e, line_id_rule, "operations[%zu].line_id", i);
    }
    if (kind == ORDERD_EDIT_ADD_ITEM || kind == ORDERD_EDIT_SET_QUANTITY) {
        const orderd_jt_t *q = member(e, f, "quantity", prefix);
        if (q == NULL)
            err(e, "is required", "operations[%zu].quantity", i);
        else if (quantity_of(q, &out->quantity) != 0)
            err(e, quantity_rule, "operations[%zu].quantity", i);
    }
    if (kind == ORDERD_EDIT_ADD_ITEM) {
        const orderd_jt_t *p = member(e, f, "product_id", prefix), *price = member(e, f, "price", prefix);
        if (p == NULL)
            err(e, "is required", "operations[%zu].product_id", i);
        else if (p->type != JT_STRING || p->text.len < 1 || p->text.len > ORDERD_PRODUCT_ID_MAX)
            err(e, "must be a string of 1 to 64 bytes", "operations[%zu].product_id", i);
        else
            out->product_id = p->text;
        if (price == NULL)
            err(e, "is required", "operations[%zu].price", i);
        else if (!amount_shape_ok(price))
            err(e, "must be a number >= 0", "operations[%zu].price", i);
        else
            out->price = price->text; /* its decimals are checked in the order's currency */
    }
    if (kind == ORDERD_EDIT_SET_ADDRESS) {
        const orderd_jt_t *addr = member(e, f, "shipping_address", prefix);
        if (addr == NULL)
            err(e, "is required", "operations[%zu].shipping_address", i);
        else if (addr->type != JT_STRING || addr->text.len < 1 || addr->text.len > ORDERD_ADDRESS_MAX)
            err(e, "must be a string of 1 to 1024 bytes", "operations[%zu].shipping_address", i);
        else
            out->address = addr->text;
    }
}

static void edit_of(errs_t *e, const orderd_jt_t *root, const orderd_alloc_t *a, orderd_op_t *op)
{
    const orderd_jt_t *v = member(e, root, "operations", "");
    if (v == NULL) {
        err(e, "is required", "operations");
        return;
    }
    if (v->type != JT_ARRAY || v->n < 1 || v->n > ORDERD_EDIT_STEPS_MAX) {
        err(e, "must be an array of 1 to 100 operations", "operations");
        return;
    }
    orderd_edit_step_t *steps = orderd_alloc(a, v->n * sizeof(*steps));
    for (size_t i = 0; i < v->n; ++i)
        step_of(e, v->items[i], i, &steps[i]);
    op->steps = steps;
    op->n_steps = v->n;
}

/* --- the rest --- */

static int url_ok(orderd_str_t u)
{
    return (u.len > 8 && memcmp(u.base, "https://", 8) == 0) || (u.len > 7 && memcmp(u.base, "http://", 7) == 0);
}

static void shipment_of(errs_t *e, const orderd_jt_t *root, orderd_op_t *op)
{
    (void)opt_string(e, member(e, root, "carrier", ""), ORDERD_CARRIER_MAX, "must be a string of 1 to 64 bytes or null",
                     &op->carrier, "carrier");
    (void)opt_string(e, member(e, root, "tracking_number", ""), ORDERD_TRACKING_NUMBER_MAX,
                     "must be a string of 1 to 128 bytes or null", &op->tracking_number, "tracking_number");
    if (opt_string(e, member(e, root, "tracking_url", ""), ORDERD_TRACKING_URL_MAX,
                   "must be an http or https URL of at most 1024 bytes, or null", &op->tracking_url,
                   "tracking_url") == 0 &&
        op->tracking_url.len != 0 && !url_ok(op->tracking_url))
        err(e, "must be an http or https URL of at most 1024 bytes, or null", "tracking_url");
}

int orderd_codec_decode_op(const char *body, size_t len, orderd_op_type_t type, const orderd_alloc_t *a,
                           orderd_op_t *op, orderd_decode_report_t *report)
{
    orderd_jt_t *root;
    const char *why;
    errs_t e = {.a = a};
    memset(op, 0, sizeof(*op));
    op->type = type;
    *report = (orderd_decode_report_t){NULL, NULL, 0};
    int rc = orderd_jt_parse(body, len, a, &root, &why);
    if (rc == ORDERD_JT_TOO_DEEP) {
        report->syntax = "arrays and objects nest too deeply";
        return ORDERD_DECODE_TOO_DEEP;
    }
    if (rc != ORDERD_JT_OK) {
        report->syntax = why;
        return ORDERD_DECODE_SYNTAX;
    }
    if (root->type != JT_OBJECT) {
        err(&e, "must be a JSON object", "body");
    } else if (type == ORDERD_OP_EDIT) {
        edit_of(&e, root, a, op);
    } else {
        const orderd_jt_t *lines = member(&e, root, "lines", "");
        if (lines != NULL && lines->type != JT_NULL)
            lines_of(&e, lines, a, op);
        if (type == ORDERD_OP_SHIP)
            shipment_of(&e, root, op);
        if (type == ORDERD_OP_RETURN_REQUEST) {
            if (lines == NULL || lines->type == JT_NULL)
                err(&e, "is required", "lines");
            (void)opt_string(&e, member(&e, root, "reason", ""), ORDERD_REASON_MAX,
                             "must be a string of 1 to 1024 bytes or null", &op->reason, "reason");
        }
        if (type == ORDERD_OP_REFUND) {
            const orderd_jt_t *amount = member(&e, root, "amount", "");
            int has_lines = lines != NULL && lines->type != JT_NULL,
                has_amount = amount != NULL && amount->type != JT_NULL;
            if (has_lines == has_amount)
                err(&e, "a refund names either lines or an amount", has_amount ? "amount" : "lines");
            else if (has_amount && !amount_shape_ok(amount))
                err(&e, "must be a number > 0", "amount");
            else if (has_amount)
                op->amount = amount->text;
        }
    }
    if (e.n != 0) {
        report->errors = e.v;
        report->n_errors = e.n;
        return ORDERD_DECODE_INVALID;
    }
    return ORDERD_DECODE_OK;
}
