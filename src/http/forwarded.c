#include "forwarded.h"

#include <netdb.h>
#include <string.h>

static h2o_iovec_t trim(const char *s, const char *end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        ++s;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        --end;
    return h2o_iovec_init(s, (size_t)(end - s));
}

/* "192.0.2.7", "192.0.2.7:80", "[2001:db8::1]:80", "2001:db8::1": the
 * address alone (len 0 when it is none), into 16 bytes. */
static h2o_iovec_t address_of(h2o_iovec_t v, uint8_t addr[16])
{
    if (v.len == 0)
        return h2o_iovec_init(NULL, 0);
    if (v.base[0] == '[') {
        const char *close = memchr(v.base, ']', v.len);
        v = close != NULL ? h2o_iovec_init(v.base + 1, (size_t)(close - v.base - 1)) : h2o_iovec_init(NULL, 0);
    } else {
        const char *colon = memchr(v.base, ':', v.len);
        if (colon != NULL && memchr(colon + 1, ':', v.len - (size_t)(colon + 1 - v.base)) == NULL)
            v.len = (size_t)(colon - v.base); /* one colon: IPv4 with a port */
    }
    if (v.len == 0 || orderd_cidr_parse_addr(v.base, v.len, addr) != 0)
        return h2o_iovec_init(NULL, 0);
    return v;
}

/* The right-most untrusted of the `n` addresses (right to left in vals). */
static h2o_iovec_t pick_client(const h2o_iovec_t *vals, size_t n, const orderd_cidr_t *trusted, size_t ntrusted)
{
    h2o_iovec_t last = h2o_iovec_init(NULL, 0);
    for (size_t i = n; i-- > 0;) {
        uint8_t addr[16];
        last = address_of(vals[i], addr);
        if (last.len == 0 || !orderd_cidr_contains(trusted, ntrusted, addr))
            return last;
    }
    return last;
}

#define MAX_HOPS 32

h2o_iovec_t orderd_http_forwarded_for_pick(h2o_iovec_t value, const orderd_cidr_t *trusted, size_t ntrusted)
{
    h2o_iovec_t vals[MAX_HOPS];
    size_t n = 0;
    if (value.len == 0)
        return h2o_iovec_init(NULL, 0);
    const char *p = value.base, *end = value.base + value.len;
    while (p <= end && n < MAX_HOPS) {
        const char *comma = memchr(p, ',', (size_t)(end - p)), *stop = comma != NULL ? comma : end;
        vals[n++] = trim(p, stop);
        p = stop + 1;
    }
    if (p <= end) /* more hops than we keep: the right-most ones are what counts */
        return h2o_iovec_init(NULL, 0);
    return pick_client(vals, n, trusted, ntrusted);
}

/* A pair's value: a token or a quoted-string (quotes dropped, no escapes). */
static h2o_iovec_t pair_value(h2o_iovec_t v)
{
    if (v.len >= 2 && v.base[0] == '"' && v.base[v.len - 1] == '"')
        return h2o_iovec_init(v.base + 1, v.len - 2);
    return v;
}

void orderd_http_forwarded_parse(h2o_iovec_t value, const orderd_cidr_t *trusted, size_t ntrusted,
                                 orderd_forwarded_t *out)
{
    h2o_iovec_t fors[MAX_HOPS];
    size_t nfor = 0, nelem = 0;
    int broken = 0;
    const char *p = value.base, *end = value.base + value.len;
    *out = (orderd_forwarded_t){{NULL, 0}, {NULL, 0}, {NULL, 0}};
    /* element by element (','), pair by pair (';'); a quoted value holds neither */
    while (p < end) {
        h2o_iovec_t proto = {NULL, 0}, host = {NULL, 0}, forv = {NULL, 0};
        int more = 0;
        while (p < end) {
            const char *q = p, *stop;
            int quoted = 0;
            for (stop = p; stop < end && (quoted || (*stop != ';' && *stop != ',')); ++stop)
                if (*stop == '"')
                    quoted = !quoted;
            const char *eq = memchr(q, '=', (size_t)(stop - q));
            if (eq != NULL) {
                h2o_iovec_t k = trim(q, eq), v = pair_value(trim(eq + 1, stop));
                if (h2o_lcstris(k.base, k.len, H2O_STRLIT("proto")))
                    proto = v;
                else if (h2o_lcstris(k.base, k.len, H2O_STRLIT("host")))
                    host = v;
                else if (h2o_lcstris(k.base, k.len, H2O_STRLIT("for")))
                    forv = v;
            }
            p = stop + 1;
            if (stop >= end || *stop == ',') {
                more = stop < end;
                break;
            }
        }
        ++nelem;
        if (nfor < MAX_HOPS)
            fors[nfor++] = forv;
        else
            broken = 1;
        /* the last element is the one our peer added */
        out->proto = proto;
        out->host = host;
        if (!more)
            break;
    }
    if (nelem == 0)
        return;
    if (!(h2o_memis(out->proto.base, out->proto.len, H2O_STRLIT("http")) ||
          h2o_memis(out->proto.base, out->proto.len, H2O_STRLIT("https"))))
        out->proto = h2o_iovec_init(NULL, 0);
    if (!broken)
        out->client = pick_client(fors, nfor, trusted, ntrusted);
}

/* The peer's address, 16 bytes; -1 when it has none (not IP). */
static int peer_of(h2o_req_t *req, struct sockaddr_storage *ss, socklen_t *len, uint8_t addr[16])
{
    if (req->conn->callbacks->get_peername == NULL)
        return -1;
    *len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)ss);
    if (*len == 0)
        return -1;
    return orderd_cidr_from_sockaddr((struct sockaddr *)ss, addr);
}

static h2o_iovec_t last_header_named(h2o_req_t *req, const char *name, size_t len)
{
    ssize_t i = -1, found = -1;
    while ((i = h2o_find_header_by_str(&req->headers, name, len, i)) != -1)
        found = i;
    return found != -1 ? req->headers.entries[found].value : h2o_iovec_init(NULL, 0);
}

int orderd_http_forwarded_get(h2o_req_t *req, const orderd_app_t *app, orderd_forwarded_t *out)
{
    struct sockaddr_storage ss;
    socklen_t len;
    uint8_t addr[16];
    *out = (orderd_forwarded_t){{NULL, 0}, {NULL, 0}, {NULL, 0}};
    if (app->ntrusted_proxies == 0 || peer_of(req, &ss, &len, addr) != 0 ||
        !orderd_cidr_contains(app->trusted_proxies, app->ntrusted_proxies, addr))
        return 0;
    h2o_iovec_t fwd = last_header_named(req, H2O_STRLIT("forwarded"));
    if (fwd.len > 0) {
        orderd_http_forwarded_parse(fwd, app->trusted_proxies, app->ntrusted_proxies, out);
        return 1;
    }
    h2o_iovec_t proto = last_header_named(req, H2O_STRLIT("x-forwarded-proto"));
    proto = trim(proto.base, proto.base + proto.len);
    if (h2o_memis(proto.base, proto.len, H2O_STRLIT("http")) || h2o_memis(proto.base, proto.len, H2O_STRLIT("https")))
        out->proto = proto;
    h2o_iovec_t host = last_header_named(req, H2O_STRLIT("x-forwarded-host"));
    out->host = trim(host.base, host.base + host.len);
    h2o_iovec_t xff = last_header_named(req, H2O_STRLIT("x-forwarded-for"));
    if (xff.len > 0)
        out->client = orderd_http_forwarded_for_pick(xff, app->trusted_proxies, app->ntrusted_proxies);
    return 1;
}

h2o_iovec_t orderd_http_forwarded_client(h2o_req_t *req, const orderd_app_t *app)
{
    orderd_forwarded_t f;
    if (orderd_http_forwarded_get(req, app, &f) && f.client.len > 0)
        return h2o_strdup(&req->pool, f.client.base, f.client.len);
    struct sockaddr_storage ss;
    socklen_t len;
    uint8_t addr[16];
    char *buf = h2o_mem_alloc_pool(&req->pool, NI_MAXHOST);
    if (peer_of(req, &ss, &len, addr) != 0)
        return h2o_iovec_init(H2O_STRLIT("-"));
    size_t n = h2o_socket_getnumerichost((struct sockaddr *)&ss, len, buf);
    return n == SIZE_MAX ? h2o_iovec_init(H2O_STRLIT("-")) : h2o_iovec_init(buf, n);
}
