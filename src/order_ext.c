/*
 * The order blob's extension (order.h): reading it, checking it, and taking
 * a blob apart into an orderd_order_doc_t and putting it back together.
 */
#include <string.h>

#include "orderd/order.h"

#define ALIGN8(n) (((n) + 7) & ~(size_t)7)

static const char *const return_status_names[ORDERD_RETURN_STATUS_COUNT] = {"requested", "approved", "rejected",
                                                                            "received"};

const char *orderd_return_status_name(unsigned status)
{
    return status < ORDERD_RETURN_STATUS_COUNT ? return_status_names[status] : NULL;
}

const orderd_order_ext_t *orderd_order_ext(const orderd_order_t *o)
{
    return o->ext_off == 0 ? NULL : (const orderd_order_ext_t *)((const char *)o + o->ext_off);
}

static const orderd_line_t *lines_of(const orderd_order_t *o)
{
    return (const orderd_line_t *)(orderd_order_ext(o) + 1);
}

const orderd_line_t *orderd_order_line(const orderd_order_t *o, size_t i, orderd_line_t *out)
{
    if (o->ext_off != 0)
        *out = lines_of(o)[i];
    else
        *out = (orderd_line_t){.line_no = (uint16_t)(i + 1)};
    return out;
}

const orderd_shipment_t *orderd_order_shipments(const orderd_order_t *o)
{
    return (const orderd_shipment_t *)(lines_of(o) + o->n_items);
}

const orderd_return_t *orderd_order_returns(const orderd_order_t *o)
{
    return (const orderd_return_t *)(orderd_order_shipments(o) + orderd_order_ext(o)->n_shipments);
}

const orderd_refund_t *orderd_order_refunds(const orderd_order_t *o)
{
    return (const orderd_refund_t *)(orderd_order_returns(o) + orderd_order_ext(o)->n_returns);
}

const orderd_part_t *orderd_order_parts(const orderd_order_t *o)
{
    return (const orderd_part_t *)(orderd_order_refunds(o) + orderd_order_ext(o)->n_refunds);
}

static const char *ext_strings(const orderd_order_t *o)
{
    return (const char *)(orderd_order_parts(o) + orderd_order_ext(o)->n_parts);
}

orderd_str_t orderd_order_ext_string(const orderd_order_t *o, uint32_t off, size_t len)
{
    return (orderd_str_t){ext_strings(o) + off, len};
}

/* Bytes of the fixed part of an extension with these counts (strings not included). */
static size_t ext_fixed_size(size_t n_items, size_t n_ship, size_t n_ret, size_t n_ref, size_t n_parts)
{
    return sizeof(orderd_order_ext_t) + n_items * sizeof(orderd_line_t) + n_ship * sizeof(orderd_shipment_t) +
           n_ret * sizeof(orderd_return_t) + n_ref * sizeof(orderd_refund_t) + n_parts * sizeof(orderd_part_t);
}

static int parts_fit(const orderd_order_t *o, uint16_t first, uint16_t n, size_t n_parts)
{
    (void)o;
    return (size_t)first + n <= n_parts;
}

int orderd_order_ext_check(const orderd_order_t *o, size_t size)
{
    size_t off = o->ext_off;
    if ((off & 7) != 0 || off < sizeof(*o) || off > size || size - off < sizeof(orderd_order_ext_t))
        return -1;
    const orderd_order_ext_t *x = orderd_order_ext(o);
    if (x->n_shipments > ORDERD_SUBRECORDS_MAX || x->n_returns > ORDERD_SUBRECORDS_MAX ||
        x->n_refunds > ORDERD_SUBRECORDS_MAX || x->n_parts > ORDERD_PARTS_MAX)
        return -1;
    size_t fixed = ext_fixed_size(o->n_items, x->n_shipments, x->n_returns, x->n_refunds, x->n_parts);
    if (size - off < fixed || size - off - fixed < x->strings_len)
        return -1;
    const orderd_line_t *lines = lines_of(o);
    for (size_t i = 0; i < o->n_items; ++i) {
        const orderd_line_t *l = &lines[i];
        uint64_t used = (uint64_t)l->cancelled + l->shipped;
        if (l->line_no == 0 || l->line_no > x->next_line || used > o->items[i].quantity ||
            l->returned > l->shipped || l->refunded < 0)
            return -1;
    }
    const orderd_shipment_t *sh = orderd_order_shipments(o);
    for (size_t i = 0; i < x->n_shipments; ++i)
        if (!parts_fit(o, sh[i].first_part, sh[i].n_parts, x->n_parts) ||
            (uint64_t)sh[i].str_off + sh[i].carrier_len + sh[i].tracking_len + sh[i].url_len > x->strings_len)
            return -1;
    const orderd_return_t *rt = orderd_order_returns(o);
    for (size_t i = 0; i < x->n_returns; ++i)
        if (!parts_fit(o, rt[i].first_part, rt[i].n_parts, x->n_parts) || rt[i].status >= ORDERD_RETURN_STATUS_COUNT ||
            (uint64_t)rt[i].str_off + rt[i].reason_len > x->strings_len || rt[i].refund_no > x->n_refunds)
            return -1;
    const orderd_refund_t *rf = orderd_order_refunds(o);
    for (size_t i = 0; i < x->n_refunds; ++i)
        if (!parts_fit(o, rf[i].first_part, rf[i].n_parts, x->n_parts) || rf[i].return_no > x->n_returns ||
            rf[i].amount < 0)
            return -1;
    return x->refunded_total < 0 ? -1 : 0;
}

static orderd_part_t *copy_parts(const orderd_part_t *all, uint16_t first, uint16_t n, const orderd_alloc_t *a)
{
    orderd_part_t *p = orderd_alloc(a, (n + 1) * sizeof(*p));
    if (n != 0)
        memcpy(p, all + first, n * sizeof(*p));
    return p;
}

/* The main string area, read here rather than through order.c's accessors
 * (order.c calls this file's check: calls point one way). */
void orderd_order_unpack(const orderd_order_t *o, const orderd_alloc_t *a, orderd_order_doc_t *doc)
{
    const char *strings = (const char *)&o->items[o->n_items];
    memset(doc, 0, sizeof(*doc));
    doc->head = (orderd_doc_head_t){.id = o->id,
                                    .total = o->total,
                                    .created_ms = o->created_ms,
                                    .updated_ms = o->updated_ms,
                                    .version = o->version,
                                    .status = o->status,
                                    .money_scale = o->money_scale};
    memcpy(doc->head.currency, o->currency, 3);
    doc->user_id = (orderd_str_t){strings, o->user_len};
    doc->shipping_address = (orderd_str_t){strings + o->user_len, o->address_len};
    doc->payment_method = (orderd_str_t){strings + o->user_len + o->address_len, o->payment_len};
    doc->n_lines = doc->cap_lines = o->n_items;
    doc->lines = orderd_alloc(a, (o->n_items + 1) * sizeof(*doc->lines));
    for (size_t i = 0; i < o->n_items; ++i) {
        orderd_str_t product = {strings + o->items[i].product_off, o->items[i].product_len};
        doc->lines[i] = (orderd_doc_line_t){product, o->items[i].price, o->items[i].quantity, {0}};
        orderd_order_line(o, i, &doc->lines[i].x);
    }
    const orderd_order_ext_t *x = orderd_order_ext(o);
    if (x == NULL) {
        doc->ext.next_line = o->n_items;
        return;
    }
    doc->ext = *x;
    const orderd_part_t *parts = orderd_order_parts(o);
    doc->n_shipments = x->n_shipments;
    doc->shipments = orderd_alloc(a, (x->n_shipments + 1) * sizeof(*doc->shipments));
    for (size_t i = 0; i < x->n_shipments; ++i) {
        const orderd_shipment_t *s = &orderd_order_shipments(o)[i];
        doc->shipments[i] = (orderd_doc_shipment_t){
            .h = *s,
            .carrier = orderd_order_ext_string(o, s->str_off, s->carrier_len),
            .tracking_number = orderd_order_ext_string(o, s->str_off + s->carrier_len, s->tracking_len),
            .tracking_url = orderd_order_ext_string(o, s->str_off + s->carrier_len + s->tracking_len, s->url_len),
            .parts = copy_parts(parts, s->first_part, s->n_parts, a),
            .n_parts = s->n_parts};
    }
    doc->n_returns = x->n_returns;
    doc->returns = orderd_alloc(a, (x->n_returns + 1) * sizeof(*doc->returns));
    for (size_t i = 0; i < x->n_returns; ++i) {
        const orderd_return_t *r = &orderd_order_returns(o)[i];
        doc->returns[i] = (orderd_doc_return_t){.h = *r,
                                                .reason = orderd_order_ext_string(o, r->str_off, r->reason_len),
                                                .parts = copy_parts(parts, r->first_part, r->n_parts, a),
                                                .n_parts = r->n_parts};
    }
    doc->n_refunds = x->n_refunds;
    doc->refunds = orderd_alloc(a, (x->n_refunds + 1) * sizeof(*doc->refunds));
    for (size_t i = 0; i < x->n_refunds; ++i) {
        const orderd_refund_t *f = &orderd_order_refunds(o)[i];
        doc->refunds[i] = (orderd_doc_refund_t){
            .h = *f, .parts = copy_parts(parts, f->first_part, f->n_parts, a), .n_parts = f->n_parts};
    }
}

/* The main string area (user, address, payment, product ids) and the extension's. */
static size_t main_strings_len(const orderd_order_doc_t *doc)
{
    size_t n = doc->user_id.len + doc->shipping_address.len + doc->payment_method.len;
    for (size_t i = 0; i < doc->n_lines; ++i)
        n += doc->lines[i].product_id.len;
    return n;
}

static size_t ext_strings_len(const orderd_order_doc_t *doc, size_t *n_parts)
{
    size_t n = 0, p = 0;
    for (size_t i = 0; i < doc->n_shipments; ++i) {
        const orderd_doc_shipment_t *s = &doc->shipments[i];
        n += s->carrier.len + s->tracking_number.len + s->tracking_url.len;
        p += s->n_parts;
    }
    for (size_t i = 0; i < doc->n_returns; ++i) {
        n += doc->returns[i].reason.len;
        p += doc->returns[i].n_parts;
    }
    for (size_t i = 0; i < doc->n_refunds; ++i)
        p += doc->refunds[i].n_parts;
    *n_parts = p;
    return n;
}

size_t orderd_order_pack_size(const orderd_order_doc_t *doc)
{
    size_t main_len = main_strings_len(doc), n_parts;
    size_t ext_len = ext_strings_len(doc, &n_parts);
    if (main_len > UINT16_MAX || n_parts > ORDERD_PARTS_MAX || ext_len > UINT32_MAX || doc->n_lines > ORDERD_ITEMS_MAX ||
        doc->n_shipments > ORDERD_SUBRECORDS_MAX || doc->n_returns > ORDERD_SUBRECORDS_MAX ||
        doc->n_refunds > ORDERD_SUBRECORDS_MAX)
        return 0;
    size_t ext_off = ALIGN8(sizeof(orderd_order_t) + doc->n_lines * sizeof(orderd_item_t) + main_len);
    return ALIGN8(ext_off + ext_fixed_size(doc->n_lines, doc->n_shipments, doc->n_returns, doc->n_refunds, n_parts) +
                  ext_len);
}

static char *put(char *p, orderd_str_t s)
{
    if (s.len != 0)
        memcpy(p, s.base, s.len);
    return p + s.len;
}

static uint16_t put_parts(orderd_part_t *all, size_t *at, const orderd_part_t *parts, size_t n)
{
    uint16_t first = (uint16_t)*at;
    if (n != 0)
        memcpy(all + *at, parts, n * sizeof(*parts));
    *at += n;
    return first;
}

orderd_order_t *orderd_order_pack(const orderd_order_doc_t *doc, const orderd_alloc_t *a)
{
    size_t size = orderd_order_pack_size(doc);
    if (size == 0)
        return NULL;
    orderd_order_t *o = orderd_alloc(a, size);
    memset(o, 0, size);
    o->id = doc->head.id;
    o->total = doc->head.total;
    o->created_ms = doc->head.created_ms;
    o->updated_ms = doc->head.updated_ms;
    o->version = doc->head.version;
    o->status = doc->head.status;
    o->money_scale = doc->head.money_scale;
    memcpy(o->currency, doc->head.currency, 3);
    o->size = (uint32_t)size;
    o->n_items = (uint16_t)doc->n_lines;
    o->user_len = (uint8_t)doc->user_id.len;
    o->address_len = (uint16_t)doc->shipping_address.len;
    o->payment_len = (uint8_t)doc->payment_method.len;

    char *strings = (char *)&o->items[o->n_items], *p = strings;
    p = put(p, doc->user_id);
    p = put(p, doc->shipping_address);
    p = put(p, doc->payment_method);
    for (size_t i = 0; i < doc->n_lines; ++i) {
        const orderd_doc_line_t *l = &doc->lines[i];
        o->items[i] = (orderd_item_t){.price = l->price,
                                      .quantity = l->quantity,
                                      .product_off = (uint16_t)(p - strings),
                                      .product_len = (uint8_t)l->product_id.len};
        p = put(p, l->product_id);
    }
    o->ext_off = (uint32_t)ALIGN8((size_t)(p - (char *)o));

    size_t n_parts, at = 0;
    orderd_order_ext_t *x = (orderd_order_ext_t *)((char *)o + o->ext_off);
    *x = doc->ext;
    x->strings_len = (uint32_t)ext_strings_len(doc, &n_parts);
    x->n_shipments = (uint16_t)doc->n_shipments;
    x->n_returns = (uint16_t)doc->n_returns;
    x->n_refunds = (uint16_t)doc->n_refunds;
    x->n_parts = (uint16_t)n_parts;
    x->_reserved = 0;
    orderd_line_t *lines = (orderd_line_t *)(x + 1);
    for (size_t i = 0; i < doc->n_lines; ++i)
        lines[i] = doc->lines[i].x;
    orderd_shipment_t *sh = (orderd_shipment_t *)(lines + doc->n_lines);
    orderd_return_t *rt = (orderd_return_t *)(sh + doc->n_shipments);
    orderd_refund_t *rf = (orderd_refund_t *)(rt + doc->n_returns);
    orderd_part_t *parts = (orderd_part_t *)(rf + doc->n_refunds);
    char *xs = (char *)(parts + n_parts), *q = xs;
    for (size_t i = 0; i < doc->n_shipments; ++i) {
        const orderd_doc_shipment_t *s = &doc->shipments[i];
        sh[i] = (orderd_shipment_t){.shipped_ms = s->h.shipped_ms,
                                    .delivered_ms = s->h.delivered_ms,
                                    .str_off = (uint32_t)(q - xs),
                                    .carrier_len = (uint16_t)s->carrier.len,
                                    .tracking_len = (uint16_t)s->tracking_number.len,
                                    .url_len = (uint16_t)s->tracking_url.len,
                                    .first_part = put_parts(parts, &at, s->parts, s->n_parts),
                                    .n_parts = (uint16_t)s->n_parts};
        q = put(put(put(q, s->carrier), s->tracking_number), s->tracking_url);
    }
    for (size_t i = 0; i < doc->n_returns; ++i) {
        const orderd_doc_return_t *r = &doc->returns[i];
        rt[i] = (orderd_return_t){.requested_ms = r->h.requested_ms,
                                  .updated_ms = r->h.updated_ms,
                                  .str_off = (uint32_t)(q - xs),
                                  .reason_len = (uint16_t)r->reason.len,
                                  .first_part = put_parts(parts, &at, r->parts, r->n_parts),
                                  .n_parts = (uint16_t)r->n_parts,
                                  .refund_no = r->h.refund_no,
                                  .status = r->h.status};
        q = put(q, r->reason);
    }
    for (size_t i = 0; i < doc->n_refunds; ++i) {
        const orderd_doc_refund_t *f = &doc->refunds[i];
        rf[i] = (orderd_refund_t){.amount = f->h.amount,
                                  .at_ms = f->h.at_ms,
                                  .return_no = f->h.return_no,
                                  .first_part = put_parts(parts, &at, f->parts, f->n_parts),
                                  .n_parts = (uint16_t)f->n_parts};
    }
    return o;
}
