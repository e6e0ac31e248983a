/*
 * List queries and their pages: limit, offset, status (a comma-separated
 * list), after and before (order id cursors), and the RFC 8288 Link header
 * (rel="next", rel="prev") that leads through the pages. Shared by the
 * user's list and the operator's list.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "forwarded.h"
#include "query.h"
#include "respond.h"

#define LIST_LIMIT_DEFAULT 10
#define LIST_LIMIT_MAX 100
/* larger offsets are surely past the end; refusing them keeps the echo exact */
#define LIST_OFFSET_MAX 999999999999999999ULL

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes [s, s+len) into the pool ('+' is a space, as in forms). */
static orderd_str_t url_decode(h2o_mem_pool_t *pool, const char *s, size_t len, int *bad)
{
    char *out = h2o_mem_alloc_pool(pool, len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; ++i) {
        if (s[i] == '%') {
            int hi, lo;
            if (i + 2 >= len) {
                *bad = 1;
                break;
            }
            if ((hi = hex_value(s[i + 1])) < 0 || (lo = hex_value(s[i + 2])) < 0) {
                *bad = 1;
                break;
            }
            out[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[n++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    return (orderd_str_t){out, n};
}

static int parse_uint(orderd_str_t v, unsigned long long max, unsigned long long *out)
{
    unsigned long long x = 0;
    if (v.len == 0 || v.len > 18)
        return -1;
    for (size_t i = 0; i < v.len; ++i) {
        if (v.base[i] < '0' || v.base[i] > '9')
            return -1;
        x = x * 10 + (unsigned long long)(v.base[i] - '0');
    }
    if (x > max)
        return -1;
    *out = x;
    return 0;
}

/* "pending,shipped": every name known, none empty. */
static int parse_statuses(orderd_str_t v, unsigned *mask)
{
    const char *p = v.base, *end = v.base + v.len;
    *mask = 0;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p)), *stop = comma != NULL ? comma : end;
        orderd_status_t st;
        if (orderd_status_parse(p, (size_t)(stop - p), &st) != 0)
            return -1;
        *mask |= 1u << st;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

const char *orderd_http_list_query_parse(h2o_mem_pool_t *pool, const char *query, size_t len, orderd_list_query_t *q)
{
    unsigned long long limit = LIST_LIMIT_DEFAULT, offset = 0;
    unsigned seen = 0;
    const char *s = query, *end = query + len;
    *q = (orderd_list_query_t){.page = {.mode = ORDERD_PAGE_OFFSET}};
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s)), *pair_end = amp != NULL ? amp : end;
        if (pair_end == s) { /* "a=1&&b=2": nothing between */
            s = pair_end + 1;
            continue;
        }
        const char *eq = memchr(s, '=', (size_t)(pair_end - s));
        int bad = 0;
        orderd_str_t key = url_decode(pool, s, (size_t)((eq != NULL ? eq : pair_end) - s), &bad);
        orderd_str_t val =
            eq != NULL ? url_decode(pool, eq + 1, (size_t)(pair_end - eq - 1), &bad) : (orderd_str_t){"", 0};
        if (bad)
            return "the query string has a broken percent-encoding";
        unsigned bit;
        if (h2o_memis(key.base, key.len, H2O_STRLIT("limit"))) {
            bit = 1;
            if (parse_uint(val, LIST_LIMIT_MAX, &limit) != 0 || limit < 1)
                return "limit must be an integer from 1 to 100";
        } else if (h2o_memis(key.base, key.len, H2O_STRLIT("offset"))) {
            bit = 2;
            if (parse_uint(val, LIST_OFFSET_MAX, &offset) != 0)
                return "offset must be an integer >= 0";
        } else if (h2o_memis(key.base, key.len, H2O_STRLIT("status"))) {
            bit = 4;
            if (parse_statuses(val, &q->page.status_mask) != 0)
                return "status must be one or more (comma-separated) of pending, processing, shipped, delivered, "
                       "cancelled";
            q->status = val;
        } else if (h2o_memis(key.base, key.len, H2O_STRLIT("after")) ||
                   h2o_memis(key.base, key.len, H2O_STRLIT("before"))) {
            bit = key.base[0] == 'a' ? 8 : 16;
            q->page.mode = bit == 8 ? ORDERD_PAGE_AFTER : ORDERD_PAGE_BEFORE;
            if (orderd_id_parse(val.base, val.len, &q->page.cursor) != 0)
                return "after and before take an order id (13 characters)";
        } else {
            return "unknown query parameter; lists take limit, offset, status, after and before";
        }
        if (seen & bit)
            return "a query parameter is given more than once";
        seen |= bit;
        s = pair_end + 1;
    }
    if (__builtin_popcount(seen & (2 | 8 | 16)) > 1)
        return "offset, after and before cannot be combined; give one of them";
    q->page.limit = (size_t)limit;
    q->page.offset = (size_t)offset;
    return NULL;
}

int orderd_http_list_query(h2o_req_t *req, orderd_list_query_t *q)
{
    const char *query = "", *why;
    size_t len = 0;
    if (req->query_at != SIZE_MAX) {
        query = req->path.base + req->query_at + 1;
        len = req->path.len - req->query_at - 1;
    }
    if ((why = orderd_http_list_query_parse(&req->pool, query, len, q)) != NULL) {
        orderd_http_problem(req, ORDERD_PROBLEM_MALFORMED, NULL, 0, "%s", why);
        return -1;
    }
    return 0;
}

/* The request's own scheme and authority, so links are absolute URLs (a
 * client can follow them as they are), or what a trusted proxy says they
 * were (--trusted-proxy); empty when the Host is not a plain host[:port],
 * and the links stay relative references. */
static h2o_iovec_t origin_of(h2o_req_t *req, const orderd_app_t *app)
{
    h2o_iovec_t host = req->input.authority;
    h2o_iovec_t scheme = req->input.scheme != NULL ? h2o_iovec_init(req->input.scheme->name.base,
                                                                    req->input.scheme->name.len)
                                                   : h2o_iovec_init(NULL, 0);
    orderd_forwarded_t f;
    if (orderd_http_forwarded_get(req, app, &f)) {
        if (f.proto.len > 0)
            scheme = f.proto;
        if (f.host.len > 0)
            host = f.host;
    }
    if (host.len == 0 || host.len > 255 || scheme.len == 0)
        return h2o_iovec_init(NULL, 0);
    for (size_t i = 0; i < host.len; ++i) {
        char c = host.base[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == ':' || c == '[' || c == ']'))
            return h2o_iovec_init(NULL, 0);
    }
    return h2o_concat(&req->pool, scheme, h2o_iovec_init(H2O_STRLIT("://")), host);
}

/* snprintf at buf[*n] that never moves *n past the end: a text that does not
 * fit is cut, and whatever follows is cut too, instead of being written past
 * the buffer at the length snprintf says it would have had. */
__attribute__((format(printf, 4, 5))) static void put(char *buf, size_t size, size_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *n, size - *n, fmt, ap);
    va_end(ap);
    if (w > 0)
        *n += (size_t)w < size - *n ? (size_t)w : size - *n - 1;
}

/* One link: <ORIGIN base?limit=L&status=S&PARAM>; rel="REL" */
static void put_link(char *buf, size_t size, size_t *n, h2o_iovec_t origin, const char *base,
                     const orderd_list_query_t *q, const char *param, const char *rel)
{
    put(buf, size, n, "<%.*s%s?limit=%zu", (int)origin.len, origin.base, base, q->page.limit);
    if (q->status.len > 0)
        put(buf, size, n, "&status=%.*s", (int)q->status.len, q->status.base);
    put(buf, size, n, "&%s>; rel=\"%s\"", param, rel);
}

static void cursor_param(char *out, size_t size, const char *name, uint64_t id)
{
    char text[ORDERD_ID_LEN];
    orderd_id_format(id, text);
    snprintf(out, size, "%s=%.*s", name, ORDERD_ID_LEN, text);
}

void orderd_http_add_page_links(h2o_req_t *req, const orderd_app_t *app, const char *base, const orderd_list_query_t *q,
                                const orderd_store_page_t *page)
{
    char next[64] = "", prev[64] = "";
    int cursor = q->page.mode != ORDERD_PAGE_OFFSET;
    if (page->offset + page->n < page->total) {
        if (!cursor)
            snprintf(next, sizeof(next), "offset=%zu", page->offset + q->page.limit);
        else if (page->n > 0)
            cursor_param(next, sizeof(next), "after", page->orders[page->n - 1]->id);
    }
    if (page->offset > 0) {
        if (!cursor)
            snprintf(prev, sizeof(prev), "offset=%zu", page->offset > q->page.limit ? page->offset - q->page.limit : 0);
        else
            cursor_param(prev, sizeof(prev), "before", page->n > 0 ? page->orders[0]->id : q->page.cursor);
    }
    if (next[0] == '\0' && prev[0] == '\0')
        return;
    h2o_iovec_t origin = origin_of(req, app);
    /* the status filter is echoed as given, as long as the query string made
     * it: counted here, or a long one ran snprintf's offsets past the buffer */
    size_t size = 2 * (origin.len + strlen(base) + q->status.len + 160);
    char *buf = h2o_mem_alloc_pool(&req->pool, size);
    size_t n = 0;
    if (next[0] != '\0')
        put_link(buf, size, &n, origin, base, q, next, "next");
    if (prev[0] != '\0') {
        if (n > 0)
            put(buf, size, &n, ", ");
        put_link(buf, size, &n, origin, base, q, prev, "prev");
    }
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LINK, NULL, buf, n);
}

int orderd_http_send_page(h2o_req_t *req, const orderd_app_t *app, const char *base, const orderd_list_query_t *q,
                          const orderd_store_page_t *page)
{
    orderd_alloc_t a = orderd_http_alloc(req);
    orderd_http_add_page_links(req, app, base, q, page);
    return orderd_http_send_json(req, 200,
                                 orderd_codec_encode_page(page->orders, page->n, (unsigned)q->page.limit, page->offset,
                                                          page->total, &a));
}
