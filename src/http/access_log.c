/*
 * The access log is h2o's (lib/handler/access_log.c): a handle holds the
 * compiled format and a descriptor, and a logger on each pathconf writes one
 * line per request to it with a single write(). h2o offers no way to change
 * the handle's file, so a reopen replaces the file under the descriptor's
 * number with dup3(), which the kernel does atomically: a worker's write goes
 * whole to the old file or to the new one.
 */
#include "orderd/access_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "forwarded.h"

struct orderd_access_log {
    h2o_access_log_filehandle_t *handle;
    int fd; /* the handle's descriptor number */
    const char *path; /* NULL: standard output */
    int forwarded;    /* the line starts with the client a trusted proxy names */
};

typedef struct client_filter {
    h2o_filter_t super;
    const orderd_app_t *app;
} client_filter_t;

static int open_file(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

/* h2o opens the handle's file itself and does not say which descriptor it
 * got. It is given /dev/null, so it cannot fail and say so in a line of its
 * own; open() returns the lowest free number, found just before, and the
 * descriptor under it is checked to be /dev/null opened close-on-exec. */
static h2o_access_log_filehandle_t *open_handle(const char *format, int *fd, char *err, size_t errlen)
{
    struct stat null_st, st;
    int probe = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (probe < 0 || fstat(probe, &null_st) != 0) {
        snprintf(err, errlen, "--access-log: cannot open /dev/null: %s", strerror(errno));
        if (probe >= 0)
            close(probe);
        return NULL;
    }
    close(probe);
    h2o_access_log_filehandle_t *h = h2o_access_log_open_handle("/dev/null", format, H2O_LOGCONF_ESCAPE_APACHE);
    if (h == NULL) {
        snprintf(err, errlen, "--access-log: h2o rejected the log format");
        return NULL;
    }
    if (fstat(probe, &st) != 0 || !S_ISCHR(st.st_mode) || st.st_rdev != null_st.st_rdev ||
        (fcntl(probe, F_GETFD) & FD_CLOEXEC) == 0) {
        snprintf(err, errlen, "--access-log: cannot find the descriptor of h2o's log handle");
        return NULL; /* start-up fails: the handle is not freed */
    }
    *fd = probe;
    return h;
}

orderd_access_log_t *orderd_access_log_open(const char *path, int forwarded, char *err, size_t errlen)
{
    int to_stdout = strcmp(path, "-") == 0;
    int file = to_stdout ? STDOUT_FILENO : open_file(path);
    orderd_access_log_t *log = NULL;
    if (file < 0) {
        snprintf(err, errlen, "--access-log: cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    if ((log = calloc(1, sizeof(*log))) == NULL) {
        snprintf(err, errlen, "--access-log: out of memory");
        goto fail;
    }
    log->forwarded = forwarded;
    if ((log->handle = open_handle(forwarded ? ORDERD_ACCESS_LOG_FORMAT_FORWARDED : ORDERD_ACCESS_LOG_FORMAT, &log->fd,
                                   err, errlen)) == NULL)
        goto fail;
    if (dup3(file, log->fd, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "--access-log: cannot take over %s: %s", path, strerror(errno));
        goto fail;
    }
    log->path = to_stdout ? NULL : path;
    if (!to_stdout)
        close(file);
    return log;
fail:
    free(log);
    if (!to_stdout)
        close(file);
    return NULL;
}

/* Every answer passes here before its line is written: the client's address
 * goes where the line's %{orderd.client}e reads it. */
static void set_client(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    const client_filter_t *f = (const client_filter_t *)self;
    *h2o_req_getenv(req, H2O_STRLIT(ORDERD_ACCESS_LOG_CLIENT_VAR), 1) = orderd_http_forwarded_client(req, f->app);
    h2o_setup_next_ostream(req, slot);
}

static void register_on(orderd_access_log_t *log, h2o_pathconf_t *path, orderd_app_t *app)
{
    h2o_access_log_register(path, log->handle);
    if (log->forwarded) {
        client_filter_t *f = (client_filter_t *)h2o_create_filter(path, sizeof(*f));
        f->super.on_setup_ostream = set_client;
        f->app = app;
    }
}

void orderd_access_log_register(orderd_access_log_t *log, h2o_hostconf_t *host, orderd_app_t *app)
{
    for (size_t i = 0; i < host->paths.size; ++i)
        register_on(log, &host->paths.entries[i], app);
    /* the 404 of unknown paths, and what h2o answers before a path is chosen */
    register_on(log, &host->fallback_path, app);
}

int orderd_access_log_reopen(orderd_access_log_t *log, char *err, size_t errlen)
{
    if (log->path == NULL)
        return 0;
    int file = open_file(log->path);
    if (file < 0) {
        snprintf(err, errlen, "cannot open %s: %s", log->path, strerror(errno));
        return -1;
    }
    int ret = 0;
    if (dup3(file, log->fd, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "cannot replace the descriptor of %s: %s", log->path, strerror(errno));
        ret = -1;
    }
    close(file);
    return ret;
}

void orderd_access_log_free(orderd_access_log_t *log)
{
    h2o_mem_release_shared(log->handle);
    free(log);
}
