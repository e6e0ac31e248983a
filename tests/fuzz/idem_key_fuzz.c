/*
 * Idempotency-Key (orderd_http_idem_key_get, src/http/idem_key.c) on any
 * header list: each input line is one header field, its first byte picking
 * the name. The answer must be the rule's: none, or exactly one of 1 to 255
 * bytes from 0x20 to 0x7e; then orderd_http_idem_key, which the handlers
 * call, gives that key with the fingerprint of the method, operation and
 * body (another operation, another fingerprint).
 */
#include "http/idem_key.h"
#include "fuzz.h"

static const char *const names[] = {"idempotency-key", "idempotency-key", "x-user-id", "idempotency-keys"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    h2o_req_t req;
    h2o_iovec_t value;
    size_t count = fuzz_header_request(&req, data, size, names, sizeof(names) / sizeof(names[0]), &value);
    int want = count == 0 ? 0 : count == 1 && value.len >= 1 && value.len <= 255 ? 1 : -1;
    for (size_t i = 0; want == 1 && i < value.len; ++i)
        if ((unsigned char)value.base[i] < 0x20 || (unsigned char)value.base[i] > 0x7e)
            want = -1;

    orderd_str_t key = {"untouched", 9};
    int rc = orderd_http_idem_key_get(&req.headers, &key);
    FUZZ_CHECK(rc == want);
    if (rc == 1)
        FUZZ_CHECK(key.base == value.base && key.len == value.len && orderd_idem_key_valid(key));
    else
        FUZZ_CHECK(key.len == 9 && memcmp(key.base, "untouched", 9) == 0);

    /* what the handlers call: the key with the fingerprint of the request (the whole input as its body) */
    if (rc >= 0) {
        orderd_str_t body = {(const char *)data, size};
        orderd_idem_key_t *k = (orderd_idem_key_t *)1;
        unsigned char fp[ORDERD_IDEM_FP_LEN], other[ORDERD_IDEM_FP_LEN];
        req.entity = h2o_iovec_init(data, size);
        FUZZ_CHECK(orderd_http_idem_key(&req, ORDERD_STR("create"), &k) == 0);
        if (rc == 0) {
            FUZZ_CHECK(k == NULL);
        } else {
            FUZZ_CHECK(k != NULL && k->key.base == value.base && k->key.len == value.len);
            orderd_idem_fingerprint(ORDERD_STR("POST"), ORDERD_STR("create"), body, fp);
            orderd_idem_fingerprint(ORDERD_STR("POST"), ORDERD_STR("/api/orders/x/cancel"), body, other);
            FUZZ_CHECK(memcmp(k->fingerprint, fp, sizeof(fp)) == 0 && memcmp(fp, other, sizeof(fp)) != 0);
        }
    }
    fuzz_req_dispose(&req);
    return 0;
}
