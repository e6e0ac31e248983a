/* Who is asking (a user or the operator), and whether the body may be read. */
#include "identity.h"
#include "respond.h"

#include <stdlib.h>
#include <string.h>

#include "orderd/jwt.h"

int orderd_http_user_id_valid(const char *s, size_t len)
{
    if (len < 1 || len > ORDERD_USER_ID_MAX)
        return 0;
    for (size_t k = 0; k < len; ++k) {
        char c = s[k];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == ':' || c == '@' || c == '-'))
            return 0;
    }
    return 1;
}

int orderd_http_user_get(const h2o_headers_t *headers, orderd_str_t *user)
{
    ssize_t i = h2o_find_header_by_str(headers, H2O_STRLIT("x-user-id"), -1);
    if (i == -1 || h2o_find_header_by_str(headers, H2O_STRLIT("x-user-id"), i) != -1)
        return -1;
    h2o_iovec_t v = headers->entries[i].value;
    if (!orderd_http_user_id_valid(v.base, v.len))
        return -1;
    *user = (orderd_str_t){v.base, v.len};
    return 0;
}

int orderd_http_bearer_get(const h2o_headers_t *headers, orderd_str_t *token)
{
    ssize_t i = h2o_find_header(headers, H2O_TOKEN_AUTHORIZATION, -1);
    size_t skip = sizeof("Bearer ") - 1;
    if (i == -1 || h2o_find_header(headers, H2O_TOKEN_AUTHORIZATION, i) != -1)
        return -1;
    h2o_iovec_t v = headers->entries[i].value;
    if (v.len <= skip || !h2o_lcstris(v.base, skip - 1, H2O_STRLIT("bearer")) || v.base[skip - 1] != ' ')
        return -1;
    while (skip < v.len && v.base[skip] == ' ')
        ++skip;
    *token = (orderd_str_t){v.base + skip, v.len - skip};
    return 0;
}

/* 401 with the challenge `www_authenticate` (a static string). Returns -1. */
static int unauthorized(h2o_req_t *req, const char *www_authenticate, const char *detail)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, www_authenticate,
                   strlen(www_authenticate));
    orderd_http_problem(req, ORDERD_PROBLEM_UNAUTHORIZED, NULL, 0, "%s", detail);
    return -1;
}

/* --user-auth jwt: the user is the verified token's claim; X-User-Id is not
 * looked at. Keys and cache are the thread's own (keys swapped in by
 * on_jwt_swap; the cache knows which keys each entry was checked with). 0,
 * or -1 with the 401 (or the 503 when out of memory) sent. */
static int get_jwt_user(h2o_req_t *req, orderd_http_thread_t *t, orderd_str_t *user)
{
    orderd_str_t token;
    char id[ORDERD_USER_ID_MAX + 1];
    size_t len = 0;
    if (orderd_http_bearer_get(&req->headers, &token) != 0) /* no credentials: no error code (RFC 6750 3.1) */
        return unauthorized(req, "Bearer realm=\"orderd\"", "this endpoint needs Authorization: Bearer <JWT>");
    orderd_jwt_result_t r =
        orderd_jwt_verify(t->jwt, t->jwt_cache, token.base, token.len, orderd_now_ms() / 1000, id, sizeof(id), &len);
    if (r == ORDERD_JWT_ENOMEM) {
        orderd_http_unavailable(req, ORDERD_STORE_ENOMEM);
        return -1;
    }
    if (r == ORDERD_JWT_OK && !orderd_http_user_id_valid(id, len))
        r = ORDERD_JWT_NO_USER;
    if (r != ORDERD_JWT_OK)
        return unauthorized(req, "Bearer realm=\"orderd\", error=\"invalid_token\"", orderd_jwt_result_text(r));
    *user = (orderd_str_t){h2o_strdup(&req->pool, id, len).base, len};
    return 0;
}

int orderd_http_user_check(h2o_req_t *req, orderd_str_t *user)
{
    orderd_http_thread_t *t = H2O_STRUCT_FROM_MEMBER(orderd_http_thread_t, ctx, req->conn->ctx);
    if (t->jwt != NULL)
        return get_jwt_user(req, t, user);
    if (orderd_http_user_get(&req->headers, user) != 0) {
        orderd_http_problem(req, ORDERD_PROBLEM_UNAUTHORIZED, NULL, 0,
                            "X-User-Id must be 1 to 64 characters of A-Z a-z 0-9 . _ : @ -");
        return -1;
    }
    return 0;
}

/* --- the thread's keys, and new ones after SIGHUP --- */

typedef struct jwt_swap_message {
    h2o_multithread_message_t super;
    orderd_jwt_verifier_t *keys;
} jwt_swap_message_t;

/* On the thread's own loop, between requests: no check is half done with the old keys. */
static void on_jwt_swap(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    orderd_http_thread_t *t = H2O_STRUCT_FROM_MEMBER(orderd_http_thread_t, jwt_swap, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        jwt_swap_message_t *m = H2O_STRUCT_FROM_MEMBER(jwt_swap_message_t, super.link, messages->next);
        h2o_linklist_unlink(&m->super.link);
        orderd_jwt_verifier_release(t->jwt);
        t->jwt = m->keys;
        free(m);
    }
}

void orderd_http_identity_thread_init(orderd_http_thread_t *t, h2o_multithread_queue_t *queue, orderd_app_t *app)
{
    t->jwt = NULL;
    t->jwt_cache = NULL;
    if (app->jwt == NULL)
        return;
    t->jwt = orderd_jwt_verifier_retain(app->jwt);
    t->jwt_cache = orderd_jwt_cache_new(); /* NULL (out of memory): every token is checked in full */
    h2o_multithread_register_receiver(queue, &t->jwt_swap, on_jwt_swap);
}

int orderd_http_jwt_send(orderd_http_thread_t *t, orderd_jwt_verifier_t *keys)
{
    jwt_swap_message_t *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return -1;
    m->keys = orderd_jwt_verifier_retain(keys);
    h2o_multithread_send_message(&t->jwt_swap, &m->super);
    return 0;
}

/* Time depends on the lengths only, never on where the bytes differ. */
static int equal_constant_time(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char diff = alen != blen;
    size_t n = alen < blen ? alen : blen;
    for (size_t i = 0; i < n; ++i)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

int orderd_http_operator_is(const h2o_req_t *req, const orderd_app_t *app)
{
    orderd_str_t token;
    return app->operator_token_len > 0 && orderd_http_bearer_get(&req->headers, &token) == 0 &&
           equal_constant_time(token.base, token.len, app->operator_token, app->operator_token_len);
}

int orderd_http_operator_check(h2o_req_t *req, orderd_app_t *app)
{
    orderd_str_t token;
    if (orderd_http_bearer_get(&req->headers, &token) != 0)
        return unauthorized(req, "Bearer realm=\"orderd-operator\"",
                            "this endpoint needs the operator's Authorization: Bearer <token>");
    if (app->operator_token_len == 0 ||
        !equal_constant_time(token.base, token.len, app->operator_token, app->operator_token_len)) {
        orderd_http_problem(req, ORDERD_PROBLEM_FORBIDDEN, NULL, 0, "the bearer token is not the operator's");
        return -1;
    }
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

int orderd_http_body_check(h2o_req_t *req, orderd_app_t *app)
{
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
