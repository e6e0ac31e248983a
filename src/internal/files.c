#include "internal/files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int orderd_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
    ssize_t n;
    do {
        n = pwrite(fd, buf, len, off);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    if ((size_t)n != len) {
        errno = ENOSPC;
        return -1;
    }
    return 0;
}

int orderd_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int ret = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return ret;
}

int orderd_map_file(const char *path, const unsigned char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return -1;
    }
    *len = (size_t)st.st_size;
    *data = NULL;
    if (*len > 0) {
        void *m = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            close(fd);
            return -1;
        }
        madvise(m, *len, MADV_SEQUENTIAL);
        *data = m;
    }
    close(fd);
    return 0;
}

void orderd_unmap_file(const unsigned char *data, size_t len)
{
    if (data != NULL)
        munmap((void *)data, len);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int orderd_list_numbered(const char *dir, const char *prefix, const char *suffix, uint64_t **nums, size_t *n)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    size_t cap = 0, plen = strlen(prefix), slen = strlen(suffix);
    *nums = NULL;
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len != plen + 16 + slen || memcmp(e->d_name, prefix, plen) != 0 ||
            memcmp(e->d_name + plen + 16, suffix, slen) != 0)
            continue;
        char hex[17];
        memcpy(hex, e->d_name + plen, 16);
        hex[16] = '\0';
        char *end;
        uint64_t v = strtoull(hex, &end, 16);
        if (*end != '\0')
            continue;
        if (*n == cap) {
            cap = cap == 0 ? 16 : cap * 2;
            uint64_t *g = realloc(*nums, cap * sizeof(*g));
            if (g == NULL) {
                free(*nums);
                closedir(d);
                return -1;
            }
            *nums = g;
        }
        (*nums)[(*n)++] = v;
    }
    closedir(d);
    if (*n > 1)
        qsort(*nums, *n, sizeof(**nums), cmp_u64);
    return 0;
}

void orderd_path_join(char *buf, size_t size, const char *dir, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

int orderd_lock_data_dir(const char *dir, int exclusive, int create)
{
    char path[4200];
    orderd_path_join(path, sizeof(path), dir, "LOCK");
    int fd = create ? open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int orderd_file_replace(const char *dir, const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[4300];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    /* fchmod: the umask may have narrowed the mode, or an old temp kept a wider one */
    if (fchmod(fd, mode) != 0 || orderd_pwrite_all(fd, data, len, 0) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        errno = e;
        return -1;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return orderd_fsync_dir(dir);
}

/* A new file holding 32 random bytes as 64 hex digits and a newline. */
static int create_secret_file(const char *dir, const char *path, const char *what, char *err, size_t errlen)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[32];
    char text[2 * sizeof(raw) + 1];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
        snprintf(err, errlen, "cannot get random bytes for the %s: %s", what, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < sizeof(raw); ++i) {
        text[2 * i] = hex[raw[i] >> 4];
        text[2 * i + 1] = hex[raw[i] & 15];
    }
    text[2 * sizeof(raw)] = '\n';
    if (orderd_file_replace(dir, path, text, sizeof(text), 0600) != 0) {
        snprintf(err, errlen, "cannot create the %s file %s: %s", what, path, strerror(errno));
        return -1;
    }
    return 0;
}

int orderd_secret_file_load(const orderd_secret_file_t *s, char *buf, size_t size, size_t *len, char *path,
                            size_t path_size, int *created, char *err, size_t errlen)
{
    *created = 0;
    if (s->file != NULL) {
        snprintf(path, path_size, "%s", s->file);
    } else {
        orderd_path_join(path, path_size, s->dir, s->default_name);
        if (access(path, F_OK) != 0) {
            if (create_secret_file(s->dir, path, s->what, err, errlen) != 0)
                return -1;
            *created = 1;
        }
    }
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read the %s file %s: %s", s->what, path, strerror(errno));
        return -1;
    }
    char line[ORDERD_SECRET_FILE_LINE_MAX + 3];
    size_t n = fgets(line, sizeof(line), f) != NULL ? strcspn(line, "\r\n") : 0;
    fclose(f);
    int ok = n >= s->min_len && n <= s->max_len && n < size && n <= ORDERD_SECRET_FILE_LINE_MAX;
    for (size_t i = 0; ok && i < n; ++i)
        ok = line[i] > 0x20 && line[i] < 0x7f;
    if (!ok) {
        snprintf(err, errlen, "the %s file %s must start with a line of %zu to %zu visible ASCII characters", s->what,
                 path, s->min_len, s->max_len);
        return -1;
    }
    memcpy(buf, line, n);
    buf[n] = '\0';
    *len = n;
    return 0;
}
