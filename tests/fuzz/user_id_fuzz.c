/*
 * X-User-Id (orderd_http_user_get, src/http/identity.c) on any header list:
 * each input line is one header field, its first byte picking the name. The
 * answer must be the rule's: exactly one X-User-Id, 1 to 64 bytes of
 * [A-Za-z0-9._:@-], and the user is that value.
 */
#include "http/identity.h"
#include "fuzz.h"

static const char *const names[] = {"x-user-id", "x-user-id", "x-user-id", "authorization", "x-user", "x-user-idx"};

static int allowed(char c)
{
    return strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:@-", c) != NULL && c != '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    h2o_req_t req;
    h2o_iovec_t value;
    size_t count = fuzz_header_request(&req, data, size, names, sizeof(names) / sizeof(names[0]), &value);
    int want = count == 1 && value.len >= 1 && value.len <= 64;
    for (size_t i = 0; want && i < value.len; ++i)
        want = allowed(value.base[i]);

    orderd_str_t user = {NULL, 0};
    int rc = orderd_http_user_get(&req.headers, &user);
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK((rc == 0) == want);
    if (rc == 0)
        FUZZ_CHECK(user.base == value.base && user.len == value.len);
    fuzz_req_dispose(&req);
    return 0;
}
