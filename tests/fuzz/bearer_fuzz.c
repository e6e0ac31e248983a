/*
 * The operator's Authorization: Bearer (orderd_http_bearer_get,
 * src/http/identity.c) on any header list: each input line is one header
 * field, its first byte picking the name. The answer must be the rule's:
 * exactly one Authorization, "Bearer" in any case, one space, then the token
 * after any further spaces.
 */
#include <strings.h>

#include "http/identity.h"
#include "fuzz.h"

static const char *const names[] = {"authorization", "authorization", "x-user-id", "proxy-authorization"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    h2o_req_t req;
    h2o_iovec_t value;
    size_t count = fuzz_header_request(&req, data, size, names, sizeof(names) / sizeof(names[0]), &value);
    /* "Bearer" + SP + at least one more byte */
    int want = count == 1 && value.len > 7 && strncasecmp(value.base, "bearer", 6) == 0 && value.base[6] == ' ';
    size_t skip = 7;
    while (want && skip < value.len && value.base[skip] == ' ')
        ++skip;

    orderd_str_t token = {NULL, 0};
    int rc = orderd_http_bearer_get(&req.headers, &token);
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK((rc == 0) == want);
    if (rc == 0)
        FUZZ_CHECK(token.base == value.base + skip && token.len == value.len - skip);
    fuzz_req_dispose(&req);
    return 0;
}
