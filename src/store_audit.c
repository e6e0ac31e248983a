/*
 * An order's audit trail in the table (internal/store_shard.h): one buffer
 * per order of orderd_audit_raw_t entries (change.h), each with the detail
 * of what it changed. Orders that never changed have none, so the trail
 * costs nothing until it is used, and it is never capped.
 */
#include <stdlib.h>
#include <string.h>

#include "internal/mem.h"
#include "internal/store_shard.h"
#include "orderd/order_ops.h"

int orderd_audit_reserve(orderd_order_t *o, uint32_t detail_len)
{
    audit_t *a = *audit_slot(o);
    size_t need = (a != NULL ? a->len : 0) + orderd_audit_raw_size(detail_len);
    if (a != NULL && need <= a->cap)
        return 0;
    if (need > UINT32_MAX / 2)
        return -1;
    size_t cap = a != NULL && a->cap != 0 ? a->cap : 64;
    while (cap < need)
        cap *= 2;
    audit_t *n = orderd_realloc(a, sizeof(*n) + cap);
    if (n == NULL)
        return -1;
    if (a == NULL)
        n->n = n->len = n->_reserved = 0;
    n->cap = (uint32_t)cap;
    *audit_slot(o) = n;
    return 0;
}

void orderd_audit_push(orderd_order_t *o, const orderd_audit_entry_t *e)
{
    audit_t *a = *audit_slot(o);
    orderd_audit_raw_t r = {.at_ms = e->at_ms,
                            .version = e->version,
                            .detail_len = e->detail_len,
                            .kind = e->kind,
                            .status = e->status,
                            .actor = e->actor,
                            .flags = e->flags};
    unsigned char *p = a->data + a->len;
    size_t size = orderd_audit_raw_size(e->detail_len);
    memcpy(p, &r, sizeof(r));
    memset(p + sizeof(r), 0, size - sizeof(r));
    if (e->detail_len != 0)
        memcpy(p + sizeof(r), e->detail, e->detail_len);
    a->len += (uint32_t)size;
    ++a->n;
}

/* The entry at byte `off` of `a`'s data. */
static orderd_audit_entry_t entry_at(const audit_t *a, size_t off, size_t *size)
{
    orderd_audit_raw_t r;
    memcpy(&r, a->data + off, sizeof(r));
    *size = orderd_audit_raw_size(r.detail_len);
    return (orderd_audit_entry_t){.version = r.version,
                                  .status = r.status,
                                  .actor = r.actor,
                                  .at_ms = r.at_ms,
                                  .kind = r.kind,
                                  .detail = r.detail_len != 0 ? a->data + off + sizeof(r) : NULL,
                                  .detail_len = r.detail_len,
                                  .flags = r.flags};
}

void orderd_audit_pop(orderd_order_t *o, uint32_t version)
{
    audit_t *a = *audit_slot(o);
    if (a == NULL || a->n == 0)
        return;
    size_t off = 0, size = 0, last = 0;
    for (uint32_t i = 0; i < a->n; ++i) {
        last = off;
        (void)entry_at(a, off, &size);
        off += size;
    }
    if (entry_at(a, last, &size).version == version) {
        a->len = (uint32_t)last;
        --a->n;
    }
}

void orderd_audit_free(orderd_order_t *o)
{
    free(*audit_slot(o));
    *audit_slot(o) = NULL;
}

int orderd_audit_each(const orderd_order_t *o, int (*fn)(void *ctx, const orderd_audit_entry_t *e), void *ctx)
{
    const audit_t *a = *audit_slot(o);
    size_t off = 0, size;
    for (uint32_t i = 0; a != NULL && i < a->n; ++i, off += size) {
        orderd_audit_entry_t e = entry_at(a, off, &size);
        int r = fn(ctx, &e);
        if (r != 0)
            return r;
    }
    return 0;
}

typedef struct find_ctx {
    uint32_t version;
    orderd_audit_entry_t *out;
} find_ctx_t;

static int find_one(void *ctx, const orderd_audit_entry_t *e)
{
    find_ctx_t *f = ctx;
    if (e->version != f->version)
        return 0;
    *f->out = *e;
    return 1;
}

int orderd_audit_find(const orderd_order_t *o, uint32_t version, orderd_audit_entry_t *out)
{
    find_ctx_t f = {version, out};
    return orderd_audit_each(o, find_one, &f);
}

void orderd_audit_bytes(const orderd_order_t *o, const unsigned char **data, size_t *len)
{
    const audit_t *a = *audit_slot(o);
    *data = a != NULL ? a->data : NULL;
    *len = a != NULL ? a->len : 0;
}

int orderd_audit_load(orderd_order_t *o, const unsigned char *data, size_t len)
{
    audit_t *have = *audit_slot(o);
    uint32_t n = 0, last = 1;
    if (have != NULL && have->n != 0) { /* a later record of the same trail: it follows */
        orderd_audit_entry_t e;
        size_t off = 0, size = 0;
        for (uint32_t i = 0; i < have->n; ++i, off += size)
            e = entry_at(have, off, &size);
        last = e.version;
    }
    for (size_t off = 0; off < len; ++n) {
        orderd_audit_raw_t r;
        if (len - off < sizeof(r))
            return ORDERD_STORE_EINVAL;
        memcpy(&r, data + off, sizeof(r));
        size_t size = orderd_audit_raw_size(r.detail_len);
        if (r.detail_len > len || len - off < size || r.version <= last || r.version > o->version ||
            r.status >= ORDERD_STATUS_COUNT || r.actor > ORDERD_ACTOR_OPERATOR ||
            (r.kind != 0 && (r.kind < ORDERD_OP_EDIT || r.kind > ORDERD_OP_LAST)) ||
            (r.kind == 0) != (r.detail_len == 0) || r.flags > ORDERD_AMENDED_VIA_STATUS ||
            (r.detail_len != 0 && !orderd_detail_check(data + off + sizeof(r), r.detail_len)))
            return ORDERD_STORE_EINVAL;
        last = r.version;
        off += size;
    }
    size_t old_len = have != NULL ? have->len : 0;
    if (len == 0)
        return ORDERD_STORE_OK;
    if (old_len + len > UINT32_MAX / 2)
        return ORDERD_STORE_EINVAL;
    audit_t *a = orderd_realloc(have, sizeof(*a) + old_len + len);
    if (a == NULL)
        return ORDERD_STORE_ENOMEM;
    if (have == NULL)
        a->n = a->len = a->_reserved = 0;
    memcpy(a->data + old_len, data, len);
    a->n += n;
    a->len = a->cap = (uint32_t)(old_len + len);
    *audit_slot(o) = a;
    return ORDERD_STORE_OK;
}
