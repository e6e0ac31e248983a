/*
 * LD_PRELOAD shim that makes the Nth call of one I/O operation on files
 * under a directory fail, to prove the journal's failure handling.
 *
 *   ORDERD_FAULT_DIR=/tmp/x        only files under this path count
 *   ORDERD_FAULT=write:3:ENOSPC    the 3rd write-like call fails with ENOSPC
 *       ops:  write (write, pwrite, writev, pwritev), fdatasync, fsync,
 *             rename, open, ftruncate
 *       errs: EIO, ENOSPC, short (writes: half the bytes are written and
 *             that count returned; other ops: EIO)
 *   ORDERD_FAULT_LOG=/tmp/x.log    one line per counted call: "op n [FAIL]"
 *
 * A failed fdatasync or fsync also cuts the file back to its size at the
 * last successful one: the kernel may drop dirty pages when a sync fails, so
 * anything acknowledged before a sync succeeded would be lost here.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FDS 65536

enum { OP_WRITE, OP_FDATASYNC, OP_FSYNC, OP_RENAME, OP_OPEN, OP_FTRUNCATE, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"write", "fdatasync", "fsync", "rename", "open", "ftruncate"};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned char tracked[MAX_FDS];
static off_t synced_size[MAX_FDS]; /* file size at the last successful sync (or at open) */
static unsigned long counts[OP_COUNT];
static int inited, fault_op = -1, fault_err;
static unsigned long fault_n;
static const char *dir;
static size_t dir_len;

static void init(void)
{
    if (inited)
        return;
    inited = 1;
    dir = getenv("ORDERD_FAULT_DIR");
    dir_len = dir != NULL ? strlen(dir) : 0;
    const char *spec = getenv("ORDERD_FAULT");
    if (spec == NULL)
        return;
    char op[32], err[32];
    if (sscanf(spec, "%31[a-z]:%lu:%31s", op, &fault_n, err) != 3)
        return;
    for (int i = 0; i < OP_COUNT; ++i)
        if (strcmp(op, op_names[i]) == 0)
            fault_op = i;
    fault_err = strcmp(err, "ENOSPC") == 0 ? ENOSPC : strcmp(err, "short") == 0 ? -1 : EIO;
}

static int in_dir(const char *path)
{
    init();
    if (dir == NULL || path == NULL)
        return 0;
    char buf[PATH_MAX];
    const char *p = path;
    if (path[0] != '/' && getcwd(buf, sizeof(buf)) != NULL) {
        strncat(buf, "/", sizeof(buf) - strlen(buf) - 1);
        strncat(buf, path, sizeof(buf) - strlen(buf) - 1);
        p = buf;
    }
    return strncmp(p, dir, dir_len) == 0;
}

/* Counts a call; returns 0 to go on, or the error to fail with (-1: short). */
static int count(int op)
{
    pthread_mutex_lock(&mu);
    unsigned long n = ++counts[op];
    int fail = op == fault_op && n == fault_n;
    const char *log = getenv("ORDERD_FAULT_LOG");
    if (log != NULL) {
        FILE *f = fopen(log, "a");
        if (f != NULL) {
            fprintf(f, "%s %lu%s\n", op_names[op], n, fail ? " FAIL" : "");
            fclose(f);
        }
    }
    pthread_mutex_unlock(&mu);
    if (!fail)
        return 0;
    return fault_err == -1 && op != OP_WRITE ? EIO : fault_err;
}

static int fd_tracked(int fd)
{
    init();
    return fd >= 0 && fd < MAX_FDS && tracked[fd];
}

#define REAL(name, ret, args) static ret(*real_##name) args; if (real_##name == NULL) real_##name = dlsym(RTLD_NEXT, #name)

static int track_open(int fd, const char *path)
{
    if (fd >= 0 && fd < MAX_FDS) {
        struct stat st;
        tracked[fd] = (unsigned char)in_dir(path);
        synced_size[fd] = fstat(fd, &st) == 0 ? st.st_size : 0;
    }
    return fd;
}

static void note_synced(int fd)
{
    struct stat st;
    if (fd_tracked(fd) && fstat(fd, &st) == 0)
        synced_size[fd] = st.st_size;
}

/* what a failed sync may leave: the file as of the last good sync */
static void drop_unsynced(int fd)
{
    REAL(ftruncate, int, (int, off_t));
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > synced_size[fd])
        real_ftruncate(fd, synced_size[fd]);
}

static int open_fault(const char *path)
{
    if (!in_dir(path))
        return 0;
    int e = count(OP_OPEN);
    if (e != 0) {
        errno = e;
        return -1;
    }
    return 0;
}

int open(const char *path, int flags, ...)
{
    REAL(open, int, (const char *, int, ...));
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    if (open_fault(path) != 0)
        return -1;
    return track_open(real_open(path, flags, mode), path);
}

int open64(const char *path, int flags, ...) __attribute__((alias("open")));

int close(int fd)
{
    REAL(close, int, (int));
    if (fd >= 0 && fd < MAX_FDS)
        tracked[fd] = 0;
    return real_close(fd);
}

static ssize_t write_fault(int fd, size_t len, size_t *shorten)
{
    *shorten = len;
    if (!fd_tracked(fd))
        return 0;
    int e = count(OP_WRITE);
    if (e == -1) {
        *shorten = len / 2;
        return 0;
    }
    if (e != 0) {
        errno = e;
        return -1;
    }
    return 0;
}

ssize_t write(int fd, const void *buf, size_t len)
{
    REAL(write, ssize_t, (int, const void *, size_t));
    size_t n;
    if (write_fault(fd, len, &n) != 0)
        return -1;
    return real_write(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
    REAL(pwrite, ssize_t, (int, const void *, size_t, off_t));
    size_t n;
    if (write_fault(fd, len, &n) != 0)
        return -1;
    return real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off) __attribute__((alias("pwrite")));

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    REAL(pwritev, ssize_t, (int, const struct iovec *, int, off_t));
    size_t total = 0, n;
    for (int i = 0; i < cnt; ++i)
        total += iov[i].iov_len;
    if (write_fault(fd, total, &n) != 0)
        return -1;
    if (n == total)
        return real_pwritev(fd, iov, cnt, off);
    /* short: write a prefix only */
    REAL(pwrite, ssize_t, (int, const void *, size_t, off_t));
    size_t done = 0;
    for (int i = 0; i < cnt && done < n; ++i) {
        size_t part = iov[i].iov_len < n - done ? iov[i].iov_len : n - done;
        if (real_pwrite(fd, iov[i].iov_base, part, off + (off_t)done) != (ssize_t)part)
            return -1;
        done += part;
    }
    return (ssize_t)done;
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off) __attribute__((alias("pwritev")));

static int simple_fault(int fd, int op)
{
    if (!fd_tracked(fd))
        return 0;
    int e = count(op);
    if (e != 0) {
        errno = e == -1 ? EIO : e;
        return -1;
    }
    return 0;
}

static int sync_common(int fd, int op, int (*real)(int))
{
    if (simple_fault(fd, op) != 0) {
        int e = errno;
        drop_unsynced(fd);
        errno = e;
        return -1;
    }
    int ret = real(fd);
    if (ret == 0)
        note_synced(fd);
    return ret;
}

int fdatasync(int fd)
{
    REAL(fdatasync, int, (int));
    return sync_common(fd, OP_FDATASYNC, real_fdatasync);
}

int fsync(int fd)
{
    REAL(fsync, int, (int));
    return sync_common(fd, OP_FSYNC, real_fsync);
}

int ftruncate(int fd, off_t len)
{
    REAL(ftruncate, int, (int, off_t));
    return simple_fault(fd, OP_FTRUNCATE) != 0 ? -1 : real_ftruncate(fd, len);
}

int ftruncate64(int fd, off_t len) __attribute__((alias("ftruncate")));

int rename(const char *from, const char *to)
{
    REAL(rename, int, (const char *, const char *));
    if (in_dir(to)) {
        int e = count(OP_RENAME);
        if (e != 0) {
            errno = e == -1 ? EIO : e;
            return -1;
        }
    }
    return real_rename(from, to);
}
