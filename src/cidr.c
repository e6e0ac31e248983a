#include "orderd/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void map_v4(const void *v4, uint8_t out[16])
{
    memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    memcpy(out + 12, v4, 4);
}

int orderd_cidr_parse_addr(const char *s, size_t len, uint8_t out[16])
{
    char text[INET6_ADDRSTRLEN];
    if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
        ++s;
        len -= 2;
    }
    if (len == 0 || len >= sizeof(text))
        return -1;
    memcpy(text, s, len);
    text[len] = '\0';
    struct in_addr v4;
    if (inet_pton(AF_INET, text, &v4) == 1) {
        map_v4(&v4, out);
        return 0;
    }
    return inet_pton(AF_INET6, text, out) == 1 ? 0 : -1;
}

int orderd_cidr_parse(const char *s, orderd_cidr_t *out)
{
    const char *slash = strchr(s, '/');
    size_t len = slash != NULL ? (size_t)(slash - s) : strlen(s);
    orderd_cidr_t c;
    if (orderd_cidr_parse_addr(s, len, c.addr) != 0)
        return -1;
    int v4 = memchr(s, ':', len) == NULL;
    unsigned max = v4 ? 32 : 128;
    unsigned long bits = max;
    if (slash != NULL) {
        char *end;
        if (slash[1] < '0' || slash[1] > '9')
            return -1;
        bits = strtoul(slash + 1, &end, 10);
        if (*end != '\0' || bits > max || end - (slash + 1) > 3)
            return -1;
    }
    c.bits = (unsigned)bits + (v4 ? 96 : 0);
    for (unsigned i = 0; i < 16; ++i) {
        unsigned keep = c.bits > i * 8 ? c.bits - i * 8 : 0;
        if (keep < 8)
            c.addr[i] &= (uint8_t)(0xff00u >> keep);
    }
    *out = c;
    return 0;
}

int orderd_cidr_contains(const orderd_cidr_t *blocks, size_t n, const uint8_t addr[16])
{
    for (size_t b = 0; b < n; ++b) {
        unsigned bits = blocks[b].bits, full = bits / 8, rest = bits % 8;
        if (memcmp(blocks[b].addr, addr, full) != 0)
            continue;
        if (rest == 0 || ((addr[full] ^ blocks[b].addr[full]) & (uint8_t)(0xff00u >> rest)) == 0)
            return 1;
    }
    return 0;
}

int orderd_cidr_from_sockaddr(const struct sockaddr *sa, uint8_t out[16])
{
    if (sa->sa_family == AF_INET) {
        map_v4(&((const struct sockaddr_in *)sa)->sin_addr, out);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return 0;
    }
    return -1;
}

const char *orderd_cidr_format(const orderd_cidr_t *block, char *out, size_t len)
{
    static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char addr[INET6_ADDRSTRLEN];
    int v4 = memcmp(block->addr, v4_mapped, sizeof(v4_mapped)) == 0 && block->bits >= 96;
    if (inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? block->addr + 12 : block->addr, addr, sizeof(addr)) == NULL)
        snprintf(addr, sizeof(addr), "?");
    snprintf(out, len, "%s/%u", addr, v4 ? block->bits - 96 : block->bits);
    return out;
}
