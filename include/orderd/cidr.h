#ifndef ORDERD_CIDR_H
#define ORDERD_CIDR_H

/* IPv4 and IPv6 address blocks (--trusted-proxy) and the test "is this
 * address in one of them". */

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/** One address block: IPv4 addresses are kept as IPv4-mapped IPv6. */
typedef struct orderd_cidr {
    uint8_t addr[16]; /* network order, host bits zeroed */
    unsigned bits;    /* prefix length out of 128 (an IPv4 /n is 96 + n) */
} orderd_cidr_t;

/**
 * Parses "192.0.2.0/24", "::1/128" or a bare address (a single host) into
 * *out. Returns 0, or -1 when `s` is not one (out untouched). Host bits set
 * past the prefix are cleared, not refused.
 */
int orderd_cidr_parse(const char *s, orderd_cidr_t *out) __attribute__((warn_unused_result));

/**
 * Parses a textual address ("192.0.2.7", "2001:db8::1", with or without
 * [brackets]) of `len` bytes into 16 bytes (IPv4 mapped). Returns 0, or -1
 * when it is not an address.
 */
int orderd_cidr_parse_addr(const char *s, size_t len, uint8_t out[16]) __attribute__((warn_unused_result));

/* Room for orderd_cidr_format's text: an IPv6 address, '/', 3 digits. */
#define ORDERD_CIDR_TEXT_MAX 64

/** "10.0.0.0/8", "::1/128": the block as --trusted-proxy takes it, in out. Returns out. */
const char *orderd_cidr_format(const orderd_cidr_t *block, char *out, size_t len);

/** Whether the 16-byte address is in one of the `n` blocks. */
int orderd_cidr_contains(const orderd_cidr_t *blocks, size_t n, const uint8_t addr[16]);

/**
 * The 16-byte form of a socket address (AF_INET or AF_INET6). Returns 0, or
 * -1 for any other family.
 */
int orderd_cidr_from_sockaddr(const struct sockaddr *sa, uint8_t out[16]) __attribute__((warn_unused_result));

#endif
