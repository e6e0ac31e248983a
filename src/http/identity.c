/* Who is asking (a user or the operator), and whether the body may be read. */
#include "identity.h"
#include "respond.h"

int orderd_http_user_get(const h2o_headers_t *headers, orderd_str_t *user)
{
    ssize_t i = h2o_find_header_by_str(headers, H2O_STRLIT("x-user-id"), -1);
    if (i == -1 || h2o_find_header_by_str(headers, H2O_STRLIT("x-user-id"), i) != -1)
        return -1;
    h2o_iovec_t v = headers->entries[i].value;
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

int orderd_http_user_check(h2o_req_t *req, orderd_str_t *user)
{
    if (orderd_http_user_get(&req->headers, user) != 0) {
        orderd_http_problem(req, ORDERD_PROBLEM_UNAUTHORIZED, NULL, 0,
                            "X-User-Id must be 1 to 64 characters of A-Z a-z 0-9 . _ : @ -");
        return -1;
    }
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

int orderd_http_operator_check(h2o_req_t *req, orderd_app_t *app)
{
    orderd_str_t token;
    if (orderd_http_bearer_get(&req->headers, &token) != 0) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
                       H2O_STRLIT("Bearer realm=\"orderd-operator\""));
        orderd_http_problem(req, ORDERD_PROBLEM_UNAUTHORIZED, NULL, 0,
                            "this endpoint needs the operator's Authorization: Bearer <token>");
        return -1;
    }
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
