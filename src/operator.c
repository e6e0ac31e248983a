/* The operator's bearer token file. See operator.h. */
#include "orderd/operator.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal/files.h"

#define TOKEN_MIN 16
#define DEFAULT_NAME "operator-token"

/* A new random token file: temp, fsync, rename, fsync the directory. */
static int create_token_file(const char *dir, const char *path, char *err, size_t errlen)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[32];
    char text[2 * sizeof(raw) + 1], tmp[4300];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
        snprintf(err, errlen, "cannot get random bytes for the operator token: %s", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < sizeof(raw); ++i) {
        text[2 * i] = hex[raw[i] >> 4];
        text[2 * i + 1] = hex[raw[i] & 15];
    }
    text[2 * sizeof(raw)] = '\n';
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod(fd, 0600) != 0 || orderd_pwrite_all(fd, text, sizeof(text), 0) != 0 || fsync(fd) != 0 ||
        close(fd) != 0 || rename(tmp, path) != 0 || orderd_fsync_dir(dir) != 0) {
        snprintf(err, errlen, "cannot create the operator token file %s: %s", path, strerror(errno));
        if (fd >= 0)
            unlink(tmp);
        return -1;
    }
    return 0;
}

int orderd_operator_token_load(const char *file, const char *dir, char *buf, size_t size, size_t *len, char *path,
                               size_t path_size, int *created, char *err, size_t errlen)
{
    *created = 0;
    if (file != NULL) {
        snprintf(path, path_size, "%s", file);
    } else {
        orderd_path_join(path, path_size, dir, DEFAULT_NAME);
        if (access(path, F_OK) != 0) {
            if (create_token_file(dir, path, err, errlen) != 0)
                return -1;
            *created = 1;
        }
    }
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read the operator token file %s: %s", path, strerror(errno));
        return -1;
    }
    char line[ORDERD_OPERATOR_TOKEN_MAX + 3];
    size_t n = fgets(line, sizeof(line), f) != NULL ? strcspn(line, "\r\n") : 0;
    fclose(f);
    int ok = n >= TOKEN_MIN && n <= ORDERD_OPERATOR_TOKEN_MAX && n < size;
    for (size_t i = 0; ok && i < n; ++i)
        ok = line[i] > 0x20 && line[i] < 0x7f;
    if (!ok) {
        snprintf(err, errlen, "the operator token file %s must start with a line of %d to %d visible ASCII characters",
                 path, TOKEN_MIN, ORDERD_OPERATOR_TOKEN_MAX);
        return -1;
    }
    memcpy(buf, line, n);
    buf[n] = '\0';
    *len = n;
    return 0;
}
