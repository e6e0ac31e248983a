/*
 * Reads: one order, its audit trail, pages of orders (a user's, newest
 * first, and every user's, oldest first: the operator's work queue), counts.
 * Each copies what it needs out under the shard lock; nothing here changes
 * the table.
 *
 * Pages walk the per-status id indexes (ids grow with creation time), by
 * offset or from a cursor id. A cursor page costs O(limit) per index: it
 * starts at the cursor's place, found by binary search, so it stays put
 * while new orders arrive. The operator's filters that no index knows
 * (product, creation time) first gather the ids that pass into one vector,
 * which the page then walks like an index.
 */
#include <stdlib.h>
#include <string.h>

#include "internal/mem.h"
#include "internal/store_shard.h"

/* --- one order --- */

int orderd_store_get(orderd_store_t *store, orderd_str_t user_id, uint64_t id, const orderd_alloc_t *a,
                     orderd_order_t **out)
{
    shard_t *s = &store->shards[orderd_store_shard_of_id(store, id)];
    int ret = ORDERD_STORE_ENOTFOUND;
    pthread_mutex_lock(&s->mu);
    orderd_order_t *o = orderd_shard_find(s, id);
    if (o != NULL && orderd_shard_owned_by(o, user_id)) {
        *out = orderd_shard_copy_out(o, a);
        ret = ORDERD_STORE_OK;
    }
    pthread_mutex_unlock(&s->mu);
    return ret;
}

typedef struct trail_ctx {
    const orderd_alloc_t *a;
    orderd_audit_entry_t *v;
    size_t n;
} trail_ctx_t;

static int count_entry(void *ctx, const orderd_audit_entry_t *e)
{
    (void)e;
    ++((trail_ctx_t *)ctx)->n;
    return 0;
}

/* Copies an entry and its detail out (the buffer is the table's). */
static int copy_entry(void *ctx, const orderd_audit_entry_t *e)
{
    trail_ctx_t *t = ctx;
    orderd_audit_entry_t *out = &t->v[t->n++];
    *out = *e;
    if (e->detail_len != 0) {
        unsigned char *d = orderd_alloc(t->a, e->detail_len);
        memcpy(d, e->detail, e->detail_len);
        out->detail = d;
    }
    return 0;
}

int orderd_store_audit_trail(orderd_store_t *store, orderd_str_t user_id, uint64_t id, const orderd_alloc_t *a,
                             orderd_order_t **out, orderd_audit_entry_t **events, size_t *n_events)
{
    shard_t *s = &store->shards[orderd_store_shard_of_id(store, id)];
    int ret = ORDERD_STORE_ENOTFOUND;
    pthread_mutex_lock(&s->mu);
    orderd_order_t *o = orderd_shard_find(s, id);
    if (o != NULL && orderd_shard_owned_by(o, user_id)) {
        trail_ctx_t t = {a, NULL, 0};
        *out = orderd_shard_copy_out(o, a);
        (void)orderd_audit_each(o, count_entry, &t);
        t.v = orderd_alloc(a, (t.n + 1) * sizeof(*t.v));
        t.v[0] = (orderd_audit_entry_t){.version = 1, .status = ORDERD_STATUS_PENDING, .actor = ORDERD_ACTOR_USER, .at_ms = o->created_ms};
        t.n = 1;
        (void)orderd_audit_each(o, copy_entry, &t);
        *events = t.v;
        *n_events = t.n;
        ret = ORDERD_STORE_OK;
    }
    pthread_mutex_unlock(&s->mu);
    return ret;
}

/* --- pages --- */

#define ALL_STATUSES ((1u << ORDERD_STATUS_COUNT) - 1)

static unsigned effective_mask(unsigned mask)
{
    mask &= ALL_STATUSES;
    return mask == 0 ? ALL_STATUSES : mask;
}

/* The chosen status indexes of one user or shard. Returns how many; *total their ids. */
static size_t pick(orderd_idvec_t *by_status, unsigned mask, const orderd_idvec_t **v, size_t *total)
{
    size_t k = 0;
    for (int i = 0; i < ORDERD_STATUS_COUNT; ++i)
        if (mask & (1u << i)) {
            v[k++] = &by_status[i];
            *total += by_status[i].n;
        }
    return k;
}

/* The first index whose id is > `id` (the cursor may be the largest id there is). */
static size_t upper_bound(const orderd_idvec_t *v, uint64_t id)
{
    return id == UINT64_MAX ? v->n : orderd_idvec_lower_bound(v, id + 1);
}

static void reverse(uint64_t *ids, size_t n)
{
    for (size_t i = 0; i < n / 2; ++i) {
        uint64_t t = ids[i];
        ids[i] = ids[n - 1 - i];
        ids[n - 1 - i] = t;
    }
}

/*
 * One run of ids from k indexes, in list order (descending when `desc`), as
 * `req` says. *before gets the number of ids the run's first one is preceded
 * by in that order. Returns the run's length.
 */
static size_t walk(const orderd_idvec_t **v, size_t k, int desc, const orderd_page_req_t *req,
                   size_t limit, uint64_t *out, size_t *before)
{
    size_t pos[ORDERD_STATUS_COUNT], ahead = 0, n;
    switch (req->mode) {
    case ORDERD_PAGE_AFTER:
        /* desc: ids below the cursor; asc: ids above it */
        for (size_t i = 0; i < k; ++i) {
            pos[i] = desc ? orderd_idvec_lower_bound(v[i], req->cursor) : upper_bound(v[i], req->cursor);
            ahead += desc ? v[i]->n - pos[i] : pos[i];
        }
        *before = ahead;
        return orderd_idvec_merge(v, k, pos, desc, 0, limit, out);
    case ORDERD_PAGE_BEFORE:
        /* the nearest ids on the other side of the cursor, walked away from it, then turned round */
        for (size_t i = 0; i < k; ++i) {
            pos[i] = desc ? upper_bound(v[i], req->cursor) : orderd_idvec_lower_bound(v[i], req->cursor);
            ahead += desc ? v[i]->n - pos[i] : pos[i];
        }
        n = orderd_idvec_merge(v, k, pos, !desc, 0, limit, out);
        reverse(out, n);
        *before = ahead - n;
        return n;
    default: {
        size_t skip = req->offset;
        for (size_t i = 0; i < k; ++i)
            pos[i] = desc ? v[i]->n : 0;
        if (k == 1) { /* one index: jump straight to the offset */
            size_t jump = skip < v[0]->n ? skip : v[0]->n;
            pos[0] = desc ? v[0]->n - jump : jump;
            skip = 0;
        }
        *before = req->offset;
        return orderd_idvec_merge(v, k, pos, desc, skip, limit, out);
    }
    }
}

/* Whether `o` passes the filters of `req` other than status (its shard's lock held). */
static int passes(const orderd_order_t *o, const orderd_page_req_t *req)
{
    if (req->created_after_ms != 0 && o->created_ms <= req->created_after_ms)
        return 0;
    if (req->created_before_ms != 0 && o->created_ms >= req->created_before_ms)
        return 0;
    if (req->product_id.base == NULL)
        return 1;
    for (size_t i = 0; i < o->n_items; ++i) {
        orderd_str_t p = orderd_order_product(o, i);
        if (p.len == req->product_id.len && memcmp(p.base, req->product_id.base, p.len) == 0)
            return 1;
    }
    return 0;
}

/*
 * The ids one shard's part of a page comes from: the chosen status indexes
 * (a user's or the shard's), or, when `req` filters on more than status,
 * one vector of the ids that pass, on the heap (no index knows products or
 * creation times, so each order is looked at).
 */
typedef struct selection {
    const orderd_idvec_t *v[ORDERD_STATUS_COUNT];
    size_t k;
    size_t total;          /* the ids that pass */
    orderd_idvec_t passed; /* passed.ids: NULL, or the heap's (free it) */
} selection_t;

/* Selects from `by_status` of shard `s` (its lock held) as `req` says.
 * Returns 0, or -1 out of memory (nothing to free). */
static int select_ids(shard_t *s, orderd_idvec_t *by_status, const orderd_page_req_t *req, selection_t *sel)
{
    sel->total = 0;
    sel->passed = (orderd_idvec_t){0};
    sel->k = pick(by_status, effective_mask(req->status_mask), sel->v, &sel->total);
    if (req->product_id.base == NULL && req->created_after_ms == 0 && req->created_before_ms == 0)
        return 0;
    uint64_t *ids = orderd_malloc((sel->total > 0 ? sel->total : 1) * sizeof(*ids));
    if (ids == NULL)
        return -1;
    size_t pos[ORDERD_STATUS_COUNT] = {0}, kept = 0;
    size_t n = orderd_idvec_merge(sel->v, sel->k, pos, 0, 0, sel->total, ids);
    for (size_t i = 0; i < n; ++i)
        if (passes(orderd_shard_find(s, ids[i]), req))
            ids[kept++] = ids[i];
    sel->passed.ids = ids;
    sel->passed.n = kept;
    sel->v[0] = &sel->passed;
    sel->k = 1;
    sel->total = kept;
    return 0;
}

/* A page of one user's orders, newest first when `desc`, under the lock of
 * the user's one shard. Returns OK, or ENOMEM (*page holds no orders). */
static int user_page(orderd_store_t *store, orderd_str_t user_id, int desc, const orderd_page_req_t *req,
                     const orderd_alloc_t *a, orderd_store_page_t *page)
{
    uint64_t hash = orderd_shard_user_hash(user_id);
    shard_t *s = &store->shards[hash & (store->nshards - 1)];
    size_t limit = req->limit;
    int ret = ORDERD_STORE_OK;
    uint64_t *ids = orderd_alloc(a, (limit > 0 ? limit : 1) * sizeof(*ids));
    *page = (orderd_store_page_t){orderd_alloc(a, (limit > 0 ? limit : 1) * sizeof(orderd_order_t *)), 0, 0, 0};

    pthread_mutex_lock(&s->mu);
    user_t *u = orderd_shard_user(s, hash, user_id);
    selection_t sel;
    if (u != NULL && select_ids(s, u->by_status, req, &sel) != 0) {
        ret = ORDERD_STORE_ENOMEM;
    } else if (u != NULL) {
        size_t n = walk(sel.v, sel.k, desc, req, limit, ids, &page->offset);
        page->total = sel.total;
        for (size_t i = 0; i < n; ++i)
            page->orders[page->n++] = orderd_shard_copy_out(orderd_shard_find(s, ids[i]), a);
        free(sel.passed.ids);
    }
    pthread_mutex_unlock(&s->mu);
    return ret;
}

int orderd_store_list(orderd_store_t *store, orderd_str_t user_id, const orderd_page_req_t *req,
                      const orderd_alloc_t *a, orderd_store_page_t *page)
{
    /* a user's own list filters by status only (its header says so): it never scans, never fails */
    orderd_page_req_t r = *req;
    r.product_id = (orderd_str_t){NULL, 0};
    r.created_after_ms = r.created_before_ms = 0;
    return user_page(store, user_id, 1, &r, a, page);
}

static int cmp_id(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* Room for `need` ids in *ids (the heap). Returns 0, or -1 out of memory (*ids unchanged). */
static int reserve_ids(uint64_t **ids, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap == 0 ? 256 : *cap;
    while (ncap < need)
        ncap *= 2;
    uint64_t *more = orderd_realloc(*ids, ncap * sizeof(**ids));
    if (more == NULL)
        return -1;
    *ids = more;
    *cap = ncap;
    return 0;
}

int orderd_store_queue(orderd_store_t *store, const orderd_page_req_t *req, const orderd_alloc_t *a,
                       orderd_store_page_t *page)
{
    if (req->user_id.base != NULL) { /* one user: that user's index, in its one shard */
        int ret = user_page(store, req->user_id, 0, req, a, page);
        if (req->mode == ORDERD_PAGE_OFFSET) /* also for a user with no orders, as every queue page says */
            page->offset = req->offset;
        return ret;
    }
    size_t limit = req->limit;
    /* each shard gives the first ids of its own run; the page is the first of all of them */
    size_t per_shard = limit + (req->mode == ORDERD_PAGE_OFFSET ? req->offset : 0), cap = 0, n = 0, before = 0;
    uint64_t *ids = NULL;
    orderd_page_req_t shard_req = *req;
    if (req->mode == ORDERD_PAGE_OFFSET)
        shard_req.offset = 0;
    *page = (orderd_store_page_t){orderd_alloc(a, (limit > 0 ? limit : 1) * sizeof(orderd_order_t *)), 0, 0, 0};

    for (unsigned i = 0; i < store->nshards; ++i) {
        shard_t *s = &store->shards[i];
        selection_t sel;
        size_t ahead = 0;
        pthread_mutex_lock(&s->mu);
        if (select_ids(s, s->by_status, req, &sel) != 0) {
            pthread_mutex_unlock(&s->mu);
            goto nomem;
        }
        size_t want = per_shard < sel.total ? per_shard : sel.total;
        if (reserve_ids(&ids, &cap, n + want) != 0) {
            pthread_mutex_unlock(&s->mu);
            free(sel.passed.ids);
            goto nomem;
        }
        n += walk(sel.v, sel.k, 0, &shard_req, want, ids + n, &ahead);
        pthread_mutex_unlock(&s->mu);
        free(sel.passed.ids);
        page->total += sel.total;
        before += ahead;
    }
    if (n > 0)
        qsort(ids, n, sizeof(*ids), cmp_id);
    size_t from, count;
    switch (req->mode) {
    case ORDERD_PAGE_AFTER:
        from = 0;
        page->offset = before;
        break;
    case ORDERD_PAGE_BEFORE: /* the nearest `limit` below the cursor: the last ones */
        from = n > limit ? n - limit : 0;
        page->offset = before + from;
        break;
    default:
        from = req->offset < n ? req->offset : n;
        page->offset = req->offset;
        break;
    }
    count = n - from < limit ? n - from : limit;
    for (size_t i = 0; i < count; ++i) {
        orderd_order_t *o;
        /* an order is never removed, so it is still there; its status may have moved on */
        if (orderd_store_get(store, (orderd_str_t){NULL, 0}, ids[from + i], a, &o) == ORDERD_STORE_OK)
            page->orders[page->n++] = o;
    }
    free(ids);
    return ORDERD_STORE_OK;
nomem:
    free(ids);
    page->total = 0;
    return ORDERD_STORE_ENOMEM;
}

/* --- counts --- */

size_t orderd_store_count(orderd_store_t *store)
{
    size_t n = 0;
    for (unsigned i = 0; i < store->nshards; ++i) {
        pthread_mutex_lock(&store->shards[i].mu);
        n += store->shards[i].ids_n;
        pthread_mutex_unlock(&store->shards[i].mu);
    }
    return n;
}

void orderd_store_count_by_status(orderd_store_t *store, size_t out[ORDERD_STATUS_COUNT])
{
    for (int st = 0; st < ORDERD_STATUS_COUNT; ++st)
        out[st] = 0;
    for (unsigned i = 0; i < store->nshards; ++i) {
        pthread_mutex_lock(&store->shards[i].mu);
        for (int st = 0; st < ORDERD_STATUS_COUNT; ++st)
            out[st] += store->shards[i].by_status[st].n;
        pthread_mutex_unlock(&store->shards[i].mu);
    }
}

size_t orderd_store_idem_count(orderd_store_t *store)
{
    size_t n = 0;
    for (unsigned i = 0; i < store->nshards; ++i) {
        pthread_mutex_lock(&store->shards[i].mu);
        n += store->shards[i].idem.n;
        pthread_mutex_unlock(&store->shards[i].mu);
    }
    return n;
}
