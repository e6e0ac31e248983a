#ifndef ORDERD_OPERATOR_H
#define ORDERD_OPERATOR_H

/*
 * The operator's bearer token: read from --operator-token-file, or from
 * <data-dir>/operator-token, which orderd creates at first start with a
 * random token (mode 0600, written to a temporary file, synced and renamed
 * into place).
 */

#include <stddef.h>

/** Longest token accepted, in bytes. */
#define ORDERD_OPERATOR_TOKEN_MAX 255

/**
 * Loads the token into buf (NUL-terminated, *len bytes): the first line of
 * `file`, or of <dir>/operator-token when file is NULL, creating that one
 * with 32 random bytes as 64 hex digits if it does not exist (*created = 1).
 * The token must be 16 to 255 visible ASCII characters. Returns 0, or -1
 * with a message in err. `path` gets the file's path.
 */
__attribute__((warn_unused_result)) int orderd_operator_token_load(const char *file, const char *dir, char *buf,
                                                                   size_t size, size_t *len, char *path,
                                                                   size_t path_size, int *created, char *err,
                                                                   size_t errlen);

#endif
