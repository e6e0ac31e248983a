#ifndef ORDERD_LOG_H
#define ORDERD_LOG_H

/* Standard error: one line per event, "TIME LEVEL message" (--log-format
 * text) or one JSON object {"time","level","msg"} (--log-format json). TIME
 * is RFC 3339 in UTC with milliseconds, e.g. 2026-12-01T20:17:15.123Z. */

#include <stddef.h>
#include <stdint.h>

typedef enum {
    ORDERD_LOG_ERROR, /* start-up fails, or a change could not be made durable */
    ORDERD_LOG_WARN,  /* something went wrong and the server carries on */
    ORDERD_LOG_INFO   /* what the server is doing */
} orderd_log_level_t;

/* Longest line written, newline included; a longer message is cut. */
#define ORDERD_LOG_LINE_MAX 2048

/** --log-format: 0 text (the default), 1 JSON. Set once at start-up, before threads start. */
void orderd_log_set_json(int json);

/**
 * Writes one line to standard error with a single write(), so lines from
 * several threads never interleave. Safe from any thread.
 */
void orderd_log(orderd_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/**
 * The line orderd_log writes for `msg` at `unix_ms` (milliseconds since the
 * epoch), with its newline, into out (at most len bytes, NUL-terminated).
 * Returns the line's length.
 */
size_t orderd_log_format(char *out, size_t len, int json, int64_t unix_ms, orderd_log_level_t level, const char *msg);

#endif
