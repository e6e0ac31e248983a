/*
 * If-Match and If-None-Match (src/http/conditional.c) on any header list,
 * for an order whose id (one of four) and version the input's first three
 * bytes choose; each further line is one header field, its first byte
 * picking the name. Both answers are checked against a reading written here
 * from RFC 9110 section 13.1: comma-separated members; "*" (but "W/" "*" is
 * nothing); a weak tag (W/) never matches for If-Match; entity tags compare
 * as strings, so only "<id>-<version>" exactly as orderd writes it names a
 * version.
 */
#include <inttypes.h>

#include "http/conditional.h"
#include "http/respond.h"
#include "fuzz.h"

static const char *const names[] = {"if-match", "if-none-match", "if-match", "if-none-match", "etag"};
static const uint64_t ids[] = {0, 1, 0x0123456789abcdefULL, UINT64_MAX};

typedef struct expect {
    char tag[64]; /* the order's strong tag, quotes included */
    char id[ORDERD_ID_LEN + 1];
    int any, not_modified;
    size_t n;
    uint32_t versions[8];
} expect_t;

/* Member [m, m+len) of an If-Match for the order: "*", or a version it names. */
static void if_match_member(expect_t *e, const char *m, size_t len)
{
    if (len == 1 && m[0] == '*') {
        e->any = 1;
        return;
    }
    if (len > 2 && m[0] == 'W' && m[1] == '/')
        return;
    /* "ID-DIGITS": the digits read as a number, then written back must give the member */
    if (len < ORDERD_ID_LEN + 4 || len > ORDERD_ID_LEN + 4 + 10 || m[0] != '"')
        return;
    char digits[16], again[64];
    size_t nd = len - (ORDERD_ID_LEN + 3);
    memcpy(digits, m + ORDERD_ID_LEN + 2, nd);
    digits[nd] = '\0';
    if (strspn(digits, "0123456789") != nd)
        return;
    unsigned long long v = strtoull(digits, NULL, 10);
    if (v > UINT32_MAX)
        return;
    snprintf(again, sizeof(again), "\"%s-%llu\"", e->id, v);
    if (strlen(again) == len && memcmp(again, m, len) == 0 && e->n < 8)
        e->versions[e->n++] = (uint32_t)v;
}

/* Member of an If-None-Match: "*" or the order's tag, weak or strong ("W/" "*" is neither). */
static void if_none_match_member(expect_t *e, const char *m, size_t len)
{
    if (len == 1 && m[0] == '*')
        e->not_modified = 1;
    if (len > 2 && m[0] == 'W' && m[1] == '/')
        m += 2, len -= 2;
    if (len == strlen(e->tag) && memcmp(m, e->tag, len) == 0)
        e->not_modified = 1;
}

static void each_member(expect_t *e, h2o_iovec_t v, void (*fn)(expect_t *, const char *, size_t))
{
    const char *p = v.base, *end = v.base + v.len;
    while (p <= end) {
        const char *comma = memchr(p, ',', (size_t)(end - p)), *stop = comma != NULL ? comma : end, *s = p;
        while (s < stop && (*s == ' ' || *s == '\t'))
            ++s;
        while (stop > s && (stop[-1] == ' ' || stop[-1] == '\t'))
            --stop;
        if (stop > s)
            fn(e, s, (size_t)(stop - s));
        if (comma == NULL)
            break;
        p = comma + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    orderd_order_t *o = calloc(1, sizeof(*o));
    FUZZ_CHECK(o != NULL);
    o->id = ids[data[0] % 4];
    o->version = (uint32_t)data[1] | (uint32_t)data[2] << 8;
    h2o_req_t req;
    fuzz_req_init(&req);
    fuzz_add_header_lines(&req, data + 3, size - 3, names, sizeof(names) / sizeof(names[0]), 64);

    expect_t e = {0};
    orderd_id_format(o->id, e.id);
    snprintf(e.tag, sizeof(e.tag), "\"%s-%" PRIu32 "\"", e.id, o->version);
    char tag[ORDERD_HTTP_ETAG_MAX];
    size_t tag_len = orderd_http_etag_format(o, tag);
    FUZZ_CHECK(tag_len == strlen(e.tag) && memcmp(tag, e.tag, tag_len) == 0);
    int active = 0;
    for (size_t i = 0; i < req.headers.size; ++i) {
        if (req.headers.entries[i].name == &H2O_TOKEN_IF_MATCH->buf) {
            active = 1;
            each_member(&e, req.headers.entries[i].value, if_match_member);
        } else if (req.headers.entries[i].name == &H2O_TOKEN_IF_NONE_MATCH->buf) {
            each_member(&e, req.headers.entries[i].value, if_none_match_member);
        }
    }

    orderd_precondition_t pre;
    orderd_http_if_match(&req, o->id, &pre);
    int nm = orderd_http_not_modified(&req, o);
    int same = pre.active == active && pre.any == e.any && pre.n == e.n && nm == e.not_modified;
    for (size_t i = 0; same && i < e.n; ++i)
        same = pre.versions[i] == e.versions[i];
    if (!same) {
        fprintf(stderr,
                "order %s: orderd active %d any %d n %zu (first %" PRIu32 ") not-modified %d; "
                "reference active %d any %d n %zu (first %" PRIu32 ") not-modified %d\n",
                e.tag, pre.active, pre.any, pre.n, pre.n ? pre.versions[0] : 0, nm, active, e.any, e.n,
                e.n ? e.versions[0] : 0, e.not_modified);
        abort();
    }
    fuzz_req_dispose(&req);
    free(o);
    return 0;
}
