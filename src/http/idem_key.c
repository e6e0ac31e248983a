/* The Idempotency-Key request header (draft-ietf-httpapi-idempotency-key-header). */
#include "idem_key.h"
#include "respond.h"

int orderd_http_idem_key_get(const h2o_headers_t *headers, orderd_str_t *key)
{
    ssize_t i = h2o_find_header_by_str(headers, H2O_STRLIT("idempotency-key"), -1);
    if (i == -1)
        return 0;
    h2o_iovec_t v = headers->entries[i].value;
    if (h2o_find_header_by_str(headers, H2O_STRLIT("idempotency-key"), i) != -1 ||
        !orderd_idem_key_valid((orderd_str_t){v.base, v.len}))
        return -1;
    *key = (orderd_str_t){v.base, v.len};
    return 1;
}

int orderd_http_idem_key(h2o_req_t *req, orderd_str_t op, orderd_idem_key_t **key)
{
    orderd_str_t value;
    *key = NULL;
    int found = orderd_http_idem_key_get(&req->headers, &value);
    if (found < 0) {
        orderd_http_problem(req, ORDERD_PROBLEM_MALFORMED, NULL, 0,
                            "Idempotency-Key must be sent once, as 1 to 255 printable ASCII characters");
        return -1;
    }
    if (found == 0)
        return 0;
    *key = h2o_mem_alloc_pool(&req->pool, sizeof(**key));
    (*key)->key = value;
    orderd_idem_fingerprint(ORDERD_STR("POST"), op, (orderd_str_t){req->entity.base, req->entity.len},
                            (*key)->fingerprint);
    return 0;
}
