#ifndef ORDERD_ACCESS_LOG_H
#define ORDERD_ACCESS_LOG_H

/* --access-log: one line per request, written by h2o's access-log module,
 * and the file reopened on SIGHUP (for logrotate). */

#include <stddef.h>

#include <h2o.h>

#include "orderd/http.h"

/* The line after the client's address: Apache's combined format, then the
 * request id, the protocol and the seconds the request took. */
#define ORDERD_ACCESS_LOG_REST                                                                                             \
    " %l %u %t \"%r\" %s %b \"%{Referer}i\" \"%{User-agent}i\" %{x-request-id}o %H %{request-total-time}x"

/** The line, the client being the peer (%h). */
#define ORDERD_ACCESS_LOG_FORMAT "%h" ORDERD_ACCESS_LOG_REST

/** The request's variable that holds the client's address behind a trusted proxy. */
#define ORDERD_ACCESS_LOG_CLIENT_VAR "orderd.client"

/** The line with --trusted-proxy: the client is what a trusted proxy says, else the peer. */
#define ORDERD_ACCESS_LOG_FORMAT_FORWARDED "%{" ORDERD_ACCESS_LOG_CLIENT_VAR "}e" ORDERD_ACCESS_LOG_REST

typedef struct orderd_access_log orderd_access_log_t;

/**
 * Opens the access log: `path` is a file, opened for appending (created mode
 * 0640), or "-" for standard output. Call during start-up, before any thread
 * that opens files starts: the h2o handle's descriptor is found by the number
 * open() gives it. The log lives as long as the process; `path` must too.
 * forwarded: the line starts with the client's address as a trusted proxy
 * (--trusted-proxy) says it (ORDERD_ACCESS_LOG_FORMAT_FORWARDED), else with
 * the peer's (ORDERD_ACCESS_LOG_FORMAT).
 * Returns NULL with one line (no newline) in err when the file cannot be
 * opened or the handle cannot be made.
 */
orderd_access_log_t *orderd_access_log_open(const char *path, int forwarded, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/**
 * Registers the log on every path of `host` and on its fallback path (call
 * after the paths are registered); for a forwarded log also a filter that
 * sets each request's client address (orderd_http_forwarded_client) before
 * the line is written.
 */
void orderd_access_log_register(orderd_access_log_t *log, h2o_hostconf_t *host, orderd_app_t *app);

/**
 * Opens the log's file again by its name (after logrotate renamed it) and
 * puts the new file under the descriptor number every logger writes to, so a
 * line goes whole to the old file or the new one. Standard output is left as
 * it is. Returns 0, or -1 with one line in err (then the old file is kept).
 */
int orderd_access_log_reopen(orderd_access_log_t *log, char *err, size_t errlen) __attribute__((warn_unused_result));

/**
 * Drops the log's reference to h2o's handle and frees `log`; the handle (and
 * its descriptor) goes when the last pathconf holding it is disposed. The
 * server never calls it (the log lives as long as the process); tests do.
 */
void orderd_access_log_free(orderd_access_log_t *log);

#endif
