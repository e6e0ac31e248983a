/*
 * Conditional requests (RFC 9110 section 13), on the order's entity tag
 * (respond.c writes it). GET with a matching If-None-Match is 304; a change with an If-Match that
 * names none of the current version is 412, decided by the store under the
 * shard lock together with the change itself.
 */
#include <string.h>

#include "conditional.h"
#include "respond.h"

/*
 * Calls fn(ctx, tag, weak) for each member of every `name` header: an entity
 * tag with its quotes (weak: it had W/), or "*". Stops when fn returns non-zero
 * and returns that; 0 when there was none or none stopped it. *seen tells
 * whether the header was there at all.
 */
static int each_tag(h2o_req_t *req, const h2o_token_t *name, int (*fn)(void *ctx, h2o_iovec_t tag, int weak),
                    void *ctx, int *seen)
{
    *seen = 0;
    for (ssize_t i = -1; (i = h2o_find_header(&req->headers, name, i)) != -1;) {
        *seen = 1;
        h2o_iovec_t v = req->headers.entries[i].value;
        size_t at = 0;
        while (at < v.len) {
            while (at < v.len && (v.base[at] == ' ' || v.base[at] == '\t' || v.base[at] == ','))
                ++at;
            size_t start = at;
            while (at < v.len && v.base[at] != ',')
                ++at;
            size_t end = at;
            while (end > start && (v.base[end - 1] == ' ' || v.base[end - 1] == '\t'))
                --end;
            if (end == start)
                continue;
            int weak = end - start > 2 && v.base[start] == 'W' && v.base[start + 1] == '/';
            int ret = fn(ctx, h2o_iovec_init(v.base + start + (weak ? 2 : 0), end - start - (weak ? 2 : 0)), weak);
            if (ret != 0)
                return ret;
        }
    }
    return 0;
}

/* "*" alone: "W/" then "*" is neither a star nor an entity tag (RFC 9110 13.1.1): it matches nothing */
static int is_star(h2o_iovec_t tag, int weak)
{
    return !weak && h2o_memis(tag.base, tag.len, H2O_STRLIT("*"));
}

static int match_weak(void *ctx, h2o_iovec_t tag, int weak)
{
    /* If-None-Match compares weakly: W/ or not, the same tag */
    h2o_iovec_t *mine = ctx;
    return is_star(tag, weak) || h2o_memis(tag.base, tag.len, mine->base, mine->len);
}

int orderd_http_not_modified(h2o_req_t *req, const orderd_order_t *o)
{
    char tag[ORDERD_HTTP_ETAG_MAX];
    h2o_iovec_t mine = h2o_iovec_init(tag, orderd_http_etag_format(o, tag));
    int seen;
    return each_tag(req, H2O_TOKEN_IF_NONE_MATCH, match_weak, &mine, &seen) != 0;
}

typedef struct match_ctx {
    uint64_t id;
    orderd_precondition_t *pre;
} match_ctx_t;

/* Strong comparison: a weak tag never matches; tags of other orders neither.
 * Entity tags compare as strings (RFC 9110 8.8.3.2), so only the version as
 * orderd writes it counts: "ID-03" is not "ID-3" (tests/fuzz/conditional_fuzz.c). */
static int collect_strong(void *_ctx, h2o_iovec_t tag, int weak)
{
    match_ctx_t *ctx = _ctx;
    if (is_star(tag, weak)) {
        ctx->pre->any = 1;
        return 0;
    }
    uint64_t id;
    if (weak || tag.len < 2 + ORDERD_ID_LEN + 2 || tag.base[0] != '"' || tag.base[tag.len - 1] != '"' ||
        tag.base[1 + ORDERD_ID_LEN] != '-' || orderd_id_parse(tag.base + 1, ORDERD_ID_LEN, &id) != 0 || id != ctx->id)
        return 0;
    if (tag.base[2 + ORDERD_ID_LEN] == '0' && tag.len - 1 > 3 + ORDERD_ID_LEN) /* a leading zero */
        return 0;
    uint64_t v = 0;
    for (size_t i = 2 + ORDERD_ID_LEN; i < tag.len - 1; ++i) {
        if (tag.base[i] < '0' || tag.base[i] > '9' || v > UINT32_MAX / 10)
            return 0;
        v = v * 10 + (uint64_t)(tag.base[i] - '0');
    }
    if (tag.len - 1 > 2 + ORDERD_ID_LEN && v <= UINT32_MAX &&
        ctx->pre->n < sizeof(ctx->pre->versions) / sizeof(ctx->pre->versions[0]))
        ctx->pre->versions[ctx->pre->n++] = (uint32_t)v;
    return 0;
}

void orderd_http_if_match(h2o_req_t *req, uint64_t id, orderd_precondition_t *pre)
{
    match_ctx_t ctx = {id, pre};
    *pre = (orderd_precondition_t){0};
    (void)each_tag(req, H2O_TOKEN_IF_MATCH, collect_strong, &ctx, &pre->active);
}

int orderd_http_precondition_failed(h2o_req_t *req, const orderd_order_t *o)
{
    char tag[ORDERD_HTTP_ETAG_MAX], id[ORDERD_ID_LEN];
    size_t len = orderd_http_etag_format(o, tag);
    orderd_id_format(o->id, id);
    orderd_http_add_etag(req, o);
    return orderd_http_problem(req, ORDERD_PROBLEM_PRECONDITION, NULL, 0,
                               "order %.*s is at %.*s; If-Match names none of it, so nothing was changed",
                               ORDERD_ID_LEN, id, (int)len, tag);
}
