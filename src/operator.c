/* The operator's bearer token file. See operator.h. */
#include "orderd/operator.h"

#include "internal/files.h"

#define TOKEN_MIN 16
#define DEFAULT_NAME "operator-token"

int orderd_operator_token_load(const char *file, const char *dir, char *buf, size_t size, size_t *len, char *path,
                               size_t path_size, int *created, char *err, size_t errlen)
{
    const orderd_secret_file_t s = {.file = file,
                                    .dir = dir,
                                    .default_name = DEFAULT_NAME,
                                    .what = "operator token",
                                    .min_len = TOKEN_MIN,
                                    .max_len = ORDERD_OPERATOR_TOKEN_MAX};
    return orderd_secret_file_load(&s, buf, size, len, path, path_size, created, err, errlen);
}
