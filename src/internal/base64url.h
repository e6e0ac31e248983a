#ifndef ORDERD_INTERNAL_BASE64URL_H
#define ORDERD_INTERNAL_BASE64URL_H

/* base64url without padding (RFC 4648 section 5), as JWS and JWK write it. */

#include <stddef.h>
#include <sys/types.h>

/** Bytes that `len` characters of base64url decode to, at most. */
#define ORDERD_BASE64URL_DECODED_MAX(len) ((len) / 4 * 3 + 2)

/**
 * Decodes `len` characters of [A-Za-z0-9_-] (no '=' padding, no white
 * space) into out, which has room for `size` bytes. Returns the number of
 * bytes written, or -1 when a character is outside the alphabet, len % 4 is
 * 1 (no whole byte), or out is too small. Cannot fail otherwise.
 */
__attribute__((warn_unused_result)) ssize_t orderd_base64url_decode(const char *in, size_t len, unsigned char *out,
                                                                    size_t size);

#endif
