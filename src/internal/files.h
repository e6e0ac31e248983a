#ifndef ORDERD_INTERNAL_FILES_H
#define ORDERD_INTERNAL_FILES_H

/* File helpers for the journal and snapshots. */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/**
 * Writes all of buf at `off` with one pwrite. A short write counts as a
 * failure (on a regular file it means the disk is full): returns 0 or -1 with
 * errno set (ENOSPC for a short write).
 */
int orderd_pwrite_all(int fd, const void *buf, size_t len, off_t off);

/** fsync()s a directory so a rename or create in it is durable. 0 or -1. */
int orderd_fsync_dir(const char *dir);

/** Maps a whole file read-only. 0 and *data (NULL for an empty file), *len; or -1. Unmap with orderd_unmap_file. */
int orderd_map_file(const char *path, const unsigned char **data, size_t *len);
void orderd_unmap_file(const unsigned char *data, size_t len);

/**
 * Lists `dir`'s files named <prefix><16 hex digits><suffix>, their numbers
 * ascending, in a malloc'd array (*n entries). 0 or -1.
 */
int orderd_list_numbered(const char *dir, const char *prefix, const char *suffix, uint64_t **nums, size_t *n);

/**
 * Takes the data directory's LOCK file: exclusive for a server or a repair,
 * shared for a reader. `create`: make the file if missing (the server);
 * else open it read-only, so a reader needs no write access. It is held
 * until the returned descriptor is closed or the process exits. Returns the
 * descriptor, or -1 with errno (EWOULDBLOCK: another process holds it, a
 * running orderd; ENOENT without create: no server ever ran there).
 */
int orderd_lock_data_dir(const char *dir, int exclusive, int create);

/** Joins dir and name into buf. */
void orderd_path_join(char *buf, size_t size, const char *dir, const char *name);

/**
 * Puts a new file at `path` (in directory `dir`) holding `data`, durably:
 * written to <path>.tmp with `mode`, fsynced, renamed over `path`, the
 * directory fsynced. A crash leaves the old file or the new one, never a
 * mix. Returns 0, or -1 with errno (the temp file removed). Any thread.
 */
int orderd_file_replace(const char *dir, const char *path, const void *data, size_t len, mode_t mode)
    __attribute__((warn_unused_result));

/** Longest first line orderd_secret_file_load reads. */
#define ORDERD_SECRET_FILE_LINE_MAX 1024

/** A secret kept in a file of its own (the operator token, the webhook secret). */
typedef struct orderd_secret_file {
    const char *file;         /* the flag's file; NULL: <dir>/<default_name>, created at first start */
    const char *dir;          /* the data directory */
    const char *default_name; /* "operator-token" */
    const char *what;         /* for messages: "operator token" */
    size_t min_len, max_len;  /* bounds on the line's length (max_len <= ORDERD_SECRET_FILE_LINE_MAX) */
} orderd_secret_file_t;

/**
 * Loads a secret into buf (NUL-terminated, *len bytes): the first line of
 * s->file, or of <dir>/<default_name> when file is NULL, creating that one
 * (orderd_file_replace, mode 0600) with 32 random bytes as 64 hex digits if
 * it does not exist (*created = 1). The line must be min_len to max_len
 * visible ASCII characters. `path` gets the file's path. Returns 0, or -1
 * with a message in err. Start-up, main thread.
 */
int orderd_secret_file_load(const orderd_secret_file_t *s, char *buf, size_t size, size_t *len, char *path,
                            size_t path_size, int *created, char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
