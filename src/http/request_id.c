/*
 * X-Request-Id: every response echoes the request's, or one orderd made up,
 * and problem documents carry it as `instance`. A made-up one is written into
 * the request's own headers, so every later look-up (the problem body, the
 * response header) finds the same value.
 */
#include <sys/random.h>

#include "request_id.h"

#define REQUEST_ID_MAX 200

/* 1 to 200 visible ASCII characters; anything else is replaced. */
static int valid(h2o_iovec_t v)
{
    if (v.len < 1 || v.len > REQUEST_ID_MAX)
        return 0;
    for (size_t i = 0; i < v.len; ++i)
        if ((unsigned char)v.base[i] < 0x21 || (unsigned char)v.base[i] > 0x7e)
            return 0;
    return 1;
}

static h2o_iovec_t generate(h2o_req_t *req)
{
    static const char hex[] = "0123456789abcdef";
    orderd_http_thread_t *t = H2O_STRUCT_FROM_MEMBER(orderd_http_thread_t, ctx, req->conn->ctx);
    uint64_t parts[2] = {t->request_id_seed, t->request_id_next++};
    char *out = h2o_mem_alloc_pool(&req->pool, 32);
    for (int p = 0; p < 2; ++p)
        for (int i = 0; i < 16; ++i)
            out[p * 16 + i] = hex[(parts[p] >> (60 - 4 * i)) & 15];
    return h2o_iovec_init(out, 32);
}

h2o_iovec_t orderd_http_request_id(h2o_req_t *req)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-request-id"), -1);
    if (i != -1 && valid(req->headers.entries[i].value))
        return req->headers.entries[i].value;
    h2o_iovec_t id = generate(req);
    if (i != -1)
        req->headers.entries[i].value = id;
    else
        h2o_add_header_by_str(&req->pool, &req->headers, H2O_STRLIT("x-request-id"), 0, NULL, id.base, id.len);
    return id;
}

void orderd_http_request_id_seed(orderd_http_thread_t *t)
{
    if (getrandom(&t->request_id_seed, sizeof(t->request_id_seed), 0) != sizeof(t->request_id_seed))
        t->request_id_seed = (uint64_t)(uintptr_t)t ^ (uint64_t)time(NULL);
    t->request_id_next = 1;
}

static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    (void)self;
    h2o_iovec_t id = orderd_http_request_id(req);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, id.base, id.len);
    h2o_setup_next_ostream(req, slot);
}

void orderd_http_request_id_filter_register(h2o_pathconf_t *path)
{
    h2o_filter_t *f = h2o_create_filter(path, sizeof(*f));
    f->on_setup_ostream = on_setup_ostream;
}
