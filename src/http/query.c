/*
 * List queries and their pages: limit, offset, status (a comma-separated
 * list), after and before (order id cursors), the operator's filters
 * (user_id, product_id, created_after, created_before), and the RFC 8288
 * Link header (rel="next", rel="prev") that leads through the pages. Shared
 * by the user's list and the operator's list.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "forwarded.h"
#include "identity.h"
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

/* Why a status list is refused, naming every status there is (order.h's table), built in the pool. */
static const char *status_refusal(h2o_mem_pool_t *pool)
{
    static const char head[] = "status must be one or more (comma-separated) of ";
    size_t len = sizeof(head);
    for (int i = 0; i < ORDERD_STATUS_COUNT; ++i)
        len += strlen(orderd_status_name((orderd_status_t)i)) + 2;
    char *out = h2o_mem_alloc_pool(pool, len);
    size_t n = (size_t)snprintf(out, len, "%s", head);
    for (int i = 0; i < ORDERD_STATUS_COUNT; ++i)
        n += (size_t)snprintf(out + n, len - n, "%s%s", i > 0 ? ", " : "", orderd_status_name((orderd_status_t)i));
    return out;
}

/* The number of the n digits at s, or -1 when one is not a digit. */
static int digits(const char *s, size_t n)
{
    int x = 0;
    for (size_t i = 0; i < n; ++i) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        x = x * 10 + (s[i] - '0');
    }
    return x;
}

/*
 * An RFC 3339 date-time (section 5.6: 2026-12-01T10:00:00Z, a fraction of
 * 1 to 9 digits, Z or +hh:mm / -hh:mm; T and Z in either case; a space for
 * the offset's '+', see query.h) later than the Unix epoch: *ms its
 * milliseconds, rounded down, and *finer whether a part of a millisecond
 * was cut off. The calendar is timegm's: a day the month does not have
 * (02-30) is refused, second 60 (a leap second) counts as the one after
 * 59. Returns 0, or -1 when it is not one.
 */
static int parse_time(orderd_str_t v, int64_t *ms, int *finer)
{
    const char *s = v.base;
    size_t n = v.len, i = 19;
    if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
        return -1;
    int year = digits(s, 4), mon = digits(s + 5, 2), day = digits(s + 8, 2);
    int hour = digits(s + 11, 2), min = digits(s + 14, 2), sec = digits(s + 17, 2);
    if (year < 0 || mon < 1 || mon > 12 || day < 1 || hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 ||
        sec > 60)
        return -1;
    int64_t frac_ms = 0;
    *finer = 0;
    if (s[i] == '.') {
        size_t start = ++i;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; ++i) {
            if (i - start < 3)
                frac_ms = frac_ms * 10 + (s[i] - '0');
            else if (s[i] != '0')
                *finer = 1;
        }
        if (i == start || i - start > 9)
            return -1;
        for (size_t k = i - start; k < 3; ++k)
            frac_ms *= 10;
    }
    int64_t offset_min = 0;
    if (i + 1 == n && (s[i] == 'Z' || s[i] == 'z')) {
        /* UTC */
    } else if (i + 6 == n && (s[i] == '+' || s[i] == '-' || s[i] == ' ') && s[i + 3] == ':') {
        int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return -1;
        offset_min = (s[i] == '-' ? -1 : 1) * (int64_t)(oh * 60 + om);
    } else {
        return -1;
    }
    struct tm tm = {.tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day, .tm_hour = hour, .tm_min = min,
                    .tm_sec = sec == 60 ? 59 : sec};
    time_t t = timegm(&tm);
    if (tm.tm_mday != day || tm.tm_mon != mon - 1) /* timegm moved 02-30 on to March */
        return -1;
    *ms = ((int64_t)t + (sec == 60) - offset_min * 60) * 1000 + frac_ms;
    return *ms > 0 || (*ms == 0 && *finer) ? 0 : -1;
}

/* The operator's filters: 0 when `key` is none of them, else its bit in
 * `seen` (with *why set when the value is refused). */
static unsigned parse_filter(orderd_str_t key, orderd_str_t val, orderd_list_query_t *q, const char **why)
{
    if (h2o_memis(key.base, key.len, H2O_STRLIT("user_id"))) {
        if (!orderd_http_user_id_valid(val.base, val.len))
            *why = "user_id must be 1 to 64 characters of A-Z a-z 0-9 . _ : @ -";
        q->user_id = q->page.user_id = val;
        return 32;
    }
    if (h2o_memis(key.base, key.len, H2O_STRLIT("product_id"))) {
        if (val.len < 1 || val.len > ORDERD_PRODUCT_ID_MAX)
            *why = "product_id must be 1 to 64 bytes";
        q->product_id = q->page.product_id = val;
        return 64;
    }
    int after = h2o_memis(key.base, key.len, H2O_STRLIT("created_after"));
    if (!after && !h2o_memis(key.base, key.len, H2O_STRLIT("created_before")))
        return 0;
    int64_t ms = 0;
    int finer = 0;
    if (parse_time(val, &ms, &finer) != 0)
        *why = after ? "created_after must be an RFC 3339 date-time after 1970, e.g. 2026-12-01T10:00:00Z"
                     : "created_before must be an RFC 3339 date-time after 1970, e.g. 2026-12-01T10:00:00Z";
    /* strictly later than t: later than its millisecond; strictly earlier: earlier than the next one when cut */
    if (after) {
        q->created_after = val;
        q->page.created_after_ms = ms;
    } else {
        q->created_before = val;
        q->page.created_before_ms = ms + finer;
    }
    return after ? 128 : 256;
}

/* The user's list (`queue` 0) or the operator's (1). */
static const char *parse_query(h2o_mem_pool_t *pool, const char *query, size_t len, int queue,
                               orderd_list_query_t *q)
{
    unsigned long long limit = LIST_LIMIT_DEFAULT, offset = 0;
    unsigned seen = 0;
    const char *s = query, *end = query + len, *why = NULL;
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
        unsigned bit = 0;
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
                return status_refusal(pool);
            q->status = val;
        } else if (h2o_memis(key.base, key.len, H2O_STRLIT("after")) ||
                   h2o_memis(key.base, key.len, H2O_STRLIT("before"))) {
            bit = key.base[0] == 'a' ? 8 : 16;
            q->page.mode = bit == 8 ? ORDERD_PAGE_AFTER : ORDERD_PAGE_BEFORE;
            if (orderd_id_parse(val.base, val.len, &q->page.cursor) != 0)
                return "after and before take an order id (13 characters)";
        } else if (!queue || (bit = parse_filter(key, val, q, &why)) == 0) {
            return queue ? "unknown query parameter; the operator's list takes limit, offset, status, after, before, "
                           "user_id, product_id, created_after and created_before"
                         : "unknown query parameter; lists take limit, offset, status, after and before";
        } else if (why != NULL) {
            return why;
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

const char *orderd_http_list_query_parse(h2o_mem_pool_t *pool, const char *query, size_t len, orderd_list_query_t *q)
{
    return parse_query(pool, query, len, 0, q);
}

const char *orderd_http_queue_query_parse(h2o_mem_pool_t *pool, const char *query, size_t len,
                                          orderd_list_query_t *q)
{
    return parse_query(pool, query, len, 1, q);
}

/* The query string of `req` through `parse`; 0, or -1 with the 400 sent. */
static int read_query(h2o_req_t *req, orderd_list_query_t *q,
                      const char *(*parse)(h2o_mem_pool_t *, const char *, size_t, orderd_list_query_t *))
{
    const char *query = "", *why;
    size_t len = 0;
    if (req->query_at != SIZE_MAX) {
        query = req->path.base + req->query_at + 1;
        len = req->path.len - req->query_at - 1;
    }
    if ((why = parse(&req->pool, query, len, q)) != NULL) {
        orderd_http_problem(req, ORDERD_PROBLEM_MALFORMED, NULL, 0, "%s", why);
        return -1;
    }
    return 0;
}

int orderd_http_list_query(h2o_req_t *req, orderd_list_query_t *q)
{
    return read_query(req, q, orderd_http_list_query_parse);
}

int orderd_http_queue_query(h2o_req_t *req, orderd_list_query_t *q)
{
    return read_query(req, q, orderd_http_queue_query_parse);
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

/* "&NAME=VALUE" with VALUE percent-encoded (all but RFC 3986's unreserved
 * characters), when VALUE is not empty; cut, like put, where it does not fit. */
static void put_param(char *buf, size_t size, size_t *n, const char *name, orderd_str_t v)
{
    static const char hex[] = "0123456789ABCDEF";
    if (v.len == 0)
        return;
    put(buf, size, n, "&%s=", name);
    for (size_t i = 0; i < v.len && *n + 4 <= size; ++i) {
        unsigned char c = (unsigned char)v.base[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            buf[(*n)++] = (char)c;
        } else {
            buf[(*n)++] = '%';
            buf[(*n)++] = hex[c >> 4];
            buf[(*n)++] = hex[c & 15];
        }
    }
    buf[*n] = '\0';
}

/* One link: <ORIGIN base?limit=L&status=S&FILTERS&PARAM>; rel="REL" */
static void put_link(char *buf, size_t size, size_t *n, h2o_iovec_t origin, const char *base,
                     const orderd_list_query_t *q, const char *param, const char *rel)
{
    put(buf, size, n, "<%.*s%s?limit=%zu", (int)origin.len, origin.base, base, q->page.limit);
    if (q->status.len > 0)
        put(buf, size, n, "&status=%.*s", (int)q->status.len, q->status.base);
    put_param(buf, size, n, "user_id", q->user_id);
    put_param(buf, size, n, "product_id", q->product_id);
    put_param(buf, size, n, "created_after", q->created_after);
    put_param(buf, size, n, "created_before", q->created_before);
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
    /* the filters are echoed as given, as long as the query string made
     * them (three bytes for each encoded one, and their names): counted
     * here, or a long one ran snprintf's offsets past the buffer */
    size_t filters = 3 * (q->user_id.len + q->product_id.len + q->created_after.len + q->created_before.len) + 64;
    size_t size = 2 * (origin.len + strlen(base) + q->status.len + filters + 160);
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
