/* /api/orders: create, get, list and cancel a user's orders. */
#include <string.h>

#include "orderd/store.h"
#include "respond.h"

#define LIST_LIMIT_DEFAULT 10
#define LIST_LIMIT_MAX 100
/* larger offsets are surely past the end; refusing them keeps the echo exact */
#define LIST_OFFSET_MAX 999999999999999999ULL

static const char base_path[] = "/api/orders";

/* --- request checks shared by the endpoints --- */

/* X-User-Id: 1 to 64 bytes of [A-Za-z0-9._:@-], exactly once. */
static int get_user(h2o_req_t *req, orderd_str_t *user)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-user-id"), -1);
    if (i == -1 || h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-user-id"), i) != -1)
        return -1;
    h2o_iovec_t v = req->headers.entries[i].value;
    if (v.len < 1 || v.len > ORDERD_USER_ID_MAX)
        return -1;
    for (size_t k = 0; k < v.len; ++k) {
        char c = v.base[k];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == ':' || c == '@' || c == '-'))
            return -1;
    }
    *user = (orderd_str_t){v.base, v.len};
    return 0;
}

static int is_json_content_type(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (i == -1)
        return 0;
    h2o_iovec_t v = req->headers.entries[i].value;
    size_t n = 0;
    while (n < v.len && v.base[n] != ';' && v.base[n] != ' ' && v.base[n] != '\t')
        ++n;
    return h2o_lcstris(v.base, n, H2O_STRLIT("application/json"));
}

/* Identity, then the body's size and type. Returns 0 when the request may go
 * on, -1 when the error response has been sent. */
static int check_request(h2o_req_t *req, orderd_app_t *app, orderd_str_t *user)
{
    if (get_user(req, user) != 0) {
        orderd_http_problem(req, ORDERD_PROBLEM_UNAUTHORIZED, NULL, 0,
                            "X-User-Id must be 1 to 64 characters of A-Z a-z 0-9 . _ : @ -");
        return -1;
    }
    if (req->entity.len > app->max_body) {
        /* the client may still be sending: do not read another request after this one */
        req->http1_is_persistent = 0;
        orderd_http_problem(req, ORDERD_PROBLEM_TOO_LARGE, NULL, 0, "the request body is larger than %zu bytes",
                            app->max_body);
        return -1;
    }
    if (req->entity.len > 0 && !is_json_content_type(req)) {
        orderd_http_problem(req, ORDERD_PROBLEM_MEDIA_TYPE, NULL, 0,
                            "the request body must be sent as application/json");
        return -1;
    }
    return 0;
}

static int not_found(h2o_req_t *req, orderd_str_t id)
{
    return orderd_http_problem(req, ORDERD_PROBLEM_NOT_FOUND, NULL, 0, "there is no order %.*s",
                               (int)(id.len > ORDERD_ID_LEN ? ORDERD_ID_LEN : id.len), id.base);
}

/* 503: the journal refuses writes for now, or memory ran out; nothing changed. */
static int unavailable(h2o_req_t *req, int store_err)
{
    return orderd_http_problem(req, ORDERD_PROBLEM_UNAVAILABLE, NULL, 0, "%s",
                               store_err == ORDERD_STORE_EUNAVAILABLE
                                   ? "the journal cannot take writes right now; nothing was changed, retry later"
                                   : "the server is out of memory; nothing was changed");
}

/* --- endpoints --- */

static int create(h2o_req_t *req, orderd_app_t *app, orderd_str_t user)
{
    orderd_alloc_t a = orderd_http_alloc(req);
    orderd_order_draft_t draft;
    orderd_decode_report_t report;
    switch (orderd_codec_decode_create(req->entity.base, req->entity.len, &a, &draft, &report)) {
    case ORDERD_DECODE_OK:
        break;
    case ORDERD_DECODE_SYNTAX:
        return orderd_http_problem(req, ORDERD_PROBLEM_MALFORMED, NULL, 0, "the request body is not valid JSON: %s",
                                   report.syntax);
    default:
        return orderd_http_problem(req, ORDERD_PROBLEM_INVALID, report.errors, report.n_errors,
                                   "the order breaks %zu rule%s; see errors", report.n_errors,
                                   report.n_errors == 1 ? "" : "s");
    }
    orderd_order_t *order = h2o_mem_alloc_pool(&req->pool, orderd_order_size(&draft, user.len));
    orderd_order_build(order, 0, user, &draft, orderd_now_ms());
    orderd_ticket_t *ticket = NULL;
    if (app->durable && (ticket = orderd_ticket_new(req, 201)) == NULL)
        return unavailable(req, ORDERD_STORE_ENOMEM);
    int ret = orderd_store_create(app->store, order, ticket);
    if (ret != ORDERD_STORE_OK) {
        orderd_ticket_drop(ticket);
        return unavailable(req, ret);
    }
    if (ticket != NULL)
        return orderd_ticket_wait(ticket, app, order); /* answered once the journal has it */
    return orderd_http_send_order(req, 201, order);
}

static int get(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id_text)
{
    orderd_alloc_t a = orderd_http_alloc(req);
    orderd_order_t *order;
    uint64_t id;
    if (orderd_id_parse(id_text.base, id_text.len, &id) != 0 ||
        orderd_store_get(app->store, user, id, &a, &order) != ORDERD_STORE_OK)
        return not_found(req, id_text);
    return orderd_http_send_order(req, 200, order);
}

static int cancel(h2o_req_t *req, orderd_app_t *app, orderd_str_t user, orderd_str_t id_text)
{
    orderd_alloc_t a = orderd_http_alloc(req);
    orderd_order_t *order;
    uint64_t id;
    if (orderd_id_parse(id_text.base, id_text.len, &id) != 0)
        return not_found(req, id_text);
    orderd_ticket_t *ticket = NULL;
    if (app->durable && (ticket = orderd_ticket_new(req, 200)) == NULL)
        return unavailable(req, ORDERD_STORE_ENOMEM);
    int ret = orderd_store_set_status(app->store, user, id, ORDERD_STATUS_CANCELLED, orderd_now_ms(), &a, &order,
                                      ticket);
    if (ret == ORDERD_STORE_OK && ticket != NULL)
        return orderd_ticket_wait(ticket, app, order); /* applied (or a repeat): answered once durable */
    orderd_ticket_drop(ticket);
    switch (ret) {
    case ORDERD_STORE_OK:
        return orderd_http_send_order(req, 200, order);
    case ORDERD_STORE_ECONFLICT:
        return orderd_http_problem(req, ORDERD_PROBLEM_CONFLICT, NULL, 0,
                                   "order %.*s is %s; only a pending order can be cancelled", (int)id_text.len,
                                   id_text.base, orderd_status_name((orderd_status_t)order->status));
    case ORDERD_STORE_ENOTFOUND:
        return not_found(req, id_text);
    default:
        return unavailable(req, ret);
    }
}

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
static orderd_str_t url_decode(h2o_req_t *req, const char *s, size_t len, int *bad)
{
    char *out = h2o_mem_alloc_pool(&req->pool, len + 1);
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

static int bad_query(h2o_req_t *req, const char *what)
{
    return orderd_http_problem(req, ORDERD_PROBLEM_MALFORMED, NULL, 0, "%s", what);
}

static int list(h2o_req_t *req, orderd_app_t *app, orderd_str_t user)
{
    unsigned long long limit = LIST_LIMIT_DEFAULT, offset = 0;
    unsigned mask = 0, seen = 0;

    if (req->query_at != SIZE_MAX) {
        const char *q = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
        while (q < end) {
            const char *amp = memchr(q, '&', (size_t)(end - q)), *pair_end = amp != NULL ? amp : end;
            if (pair_end == q) { /* "a=1&&b=2": nothing between */
                q = pair_end + 1;
                continue;
            }
            const char *eq = memchr(q, '=', (size_t)(pair_end - q));
            int bad = 0;
            orderd_str_t key = url_decode(req, q, (size_t)((eq != NULL ? eq : pair_end) - q), &bad);
            orderd_str_t val = eq != NULL ? url_decode(req, eq + 1, (size_t)(pair_end - eq - 1), &bad)
                                          : (orderd_str_t){"", 0};
            if (bad)
                return bad_query(req, "the query string has a broken percent-encoding");
            unsigned bit;
            if (h2o_memis(key.base, key.len, H2O_STRLIT("limit"))) {
                bit = 1;
                if (parse_uint(val, LIST_LIMIT_MAX, &limit) != 0 || limit < 1)
                    return bad_query(req, "limit must be an integer from 1 to 100");
            } else if (h2o_memis(key.base, key.len, H2O_STRLIT("offset"))) {
                bit = 2;
                if (parse_uint(val, LIST_OFFSET_MAX, &offset) != 0)
                    return bad_query(req, "offset must be an integer >= 0");
            } else if (h2o_memis(key.base, key.len, H2O_STRLIT("status"))) {
                bit = 4;
                orderd_status_t st;
                if (orderd_status_parse(val.base, val.len, &st) != 0)
                    return bad_query(req,
                                     "status must be one of pending, processing, shipped, delivered, cancelled");
                mask = 1u << st;
            } else {
                return bad_query(req, "unknown query parameter; the list takes limit, offset and status");
            }
            if (seen & bit)
                return bad_query(req, "a query parameter is given more than once");
            seen |= bit;
            q = pair_end + 1;
        }
    }

    orderd_alloc_t a = orderd_http_alloc(req);
    orderd_store_page_t page;
    if (orderd_store_list(app->store, user, mask, (size_t)offset, (size_t)limit, &a, &page) != ORDERD_STORE_OK)
        return unavailable(req, ORDERD_STORE_ENOMEM);
    return orderd_http_send_json(
        req, 200, orderd_codec_encode_page(page.orders, page.n, (unsigned)limit, (size_t)offset, page.total, &a));
}

/* --- routing --- */

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    orderd_app_t *app = ((orderd_handler_t *)_self)->app;
    const char *p = req->path_normalized.base + sizeof(base_path) - 1;
    size_t n = req->path_normalized.len - (sizeof(base_path) - 1);
    orderd_str_t user, id = {NULL, 0};

    enum { COLLECTION, CREATE, ORDER, CANCEL } route;
    if (n == 0) {
        route = COLLECTION;
    } else if (h2o_memis(p, n, H2O_STRLIT("/create"))) {
        route = CREATE;
    } else {
        /* "/{id}" or "/{id}/cancel" */
        const char *slash = n > 1 ? memchr(p + 1, '/', n - 1) : NULL;
        id = (orderd_str_t){p + 1, (size_t)((slash != NULL ? slash : p + n) - (p + 1))};
        if (id.len == 0)
            return orderd_http_problem(req, ORDERD_PROBLEM_NOT_FOUND, NULL, 0, "there is no resource at this path");
        if (slash == NULL)
            route = ORDER;
        else if (h2o_memis(slash, (size_t)(p + n - slash), H2O_STRLIT("/cancel")))
            route = CANCEL;
        else
            return orderd_http_problem(req, ORDERD_PROBLEM_NOT_FOUND, NULL, 0, "there is no resource at this path");
    }

    switch (route) {
    case COLLECTION:
        if (!orderd_http_method_is(req, "GET") && !orderd_http_method_is(req, "POST"))
            return orderd_http_method_not_allowed(req, "GET, HEAD, POST");
        break;
    case CREATE:
    case CANCEL:
        if (!orderd_http_method_is(req, "POST"))
            return orderd_http_method_not_allowed(req, "POST");
        break;
    case ORDER:
        if (!orderd_http_method_is(req, "GET"))
            return orderd_http_method_not_allowed(req, "GET, HEAD");
        break;
    }
    if (check_request(req, app, &user) != 0)
        return 0;

    switch (route) {
    case COLLECTION:
        return orderd_http_method_is(req, "POST") ? create(req, app, user) : list(req, app, user);
    case CREATE:
        return create(req, app, user);
    case ORDER:
        return get(req, app, user, id);
    case CANCEL:
        return cancel(req, app, user, id);
    }
    return 0;
}

void orderd_http_orders_register(h2o_hostconf_t *host, orderd_app_t *app)
{
    orderd_http_handler_new(h2o_config_register_path(host, base_path, 0), app, on_req);
}
