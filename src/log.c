#include "orderd/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>

static int log_json;

void orderd_log_set_json(int json)
{
    log_json = json;
}

static const char *level_name(orderd_log_level_t level)
{
    return level == ORDERD_LOG_ERROR ? "ERROR" : level == ORDERD_LOG_WARN ? "WARN" : "INFO";
}

/* 2026-12-01T20:17:15.123Z */
static void format_time(char out[64], int64_t unix_ms)
{
    time_t sec = (time_t)(unix_ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)(unix_ms % 1000));
}

static int gen_string(yajl_gen g, const char *s, size_t len)
{
    return yajl_gen_string(g, (const unsigned char *)s, len) == yajl_gen_status_ok;
}

/* The JSON object, by yajl_gen (it escapes the message, and refuses one
 * that is not UTF-8): its length, 0 when it does not fit in len, -1 when the
 * message is not UTF-8. */
static ssize_t format_json(char *out, size_t len, const char *when, const char *level, const char *msg,
                           size_t msg_len)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    size_t n = 0;
    ssize_t r = 0;
    if (g == NULL)
        return 0;
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    if (yajl_gen_map_open(g) != yajl_gen_status_ok || !gen_string(g, "time", 4) || !gen_string(g, when, strlen(when)) ||
        !gen_string(g, "level", 5) || !gen_string(g, level, strlen(level)) || !gen_string(g, "msg", 3)) {
        r = 0;
    } else if (!gen_string(g, msg, msg_len)) {
        r = -1;
    } else if (yajl_gen_map_close(g) == yajl_gen_status_ok && yajl_gen_get_buf(g, &buf, &n) == yajl_gen_status_ok &&
               n + 2 <= len) {
        memcpy(out, buf, n);
        out[n++] = '\n';
        out[n] = '\0';
        r = (ssize_t)n;
    }
    yajl_gen_free(g);
    return r;
}

/* A JSON line that fits: the message cut shorter (at a character boundary)
 * until it does; one that is not UTF-8 is replaced by a note saying so. */
static size_t json_line(char *out, size_t len, const char *when, const char *level, const char *msg)
{
    static const char not_utf8[] = "(a message that is not valid UTF-8 was dropped)";
    size_t msg_len = strlen(msg);
    for (;;) {
        ssize_t n = format_json(out, len, when, level, msg, msg_len);
        if (n > 0)
            return (size_t)n;
        if (n < 0) {
            msg = not_utf8;
            msg_len = sizeof(not_utf8) - 1;
            continue;
        }
        if (msg_len == 0)
            return 0;
        msg_len = msg_len * 3 / 4;
        while (msg_len > 0 && ((unsigned char)msg[msg_len] & 0xc0) == 0x80)
            --msg_len; /* not inside a UTF-8 sequence */
    }
}

size_t orderd_log_format(char *out, size_t len, int json, int64_t unix_ms, orderd_log_level_t level, const char *msg)
{
    char when[64];
    format_time(when, unix_ms);
    if (json) {
        size_t n = json_line(out, len, when, level_name(level), msg);
        if (n > 0)
            return n;
    }
    int n = snprintf(out, len, "%s %s %s\n", when, level_name(level), msg);
    if (n < 0)
        return 0;
    if ((size_t)n >= len) { /* cut: keep the newline */
        n = (int)len - 1;
        out[n - 1] = '\n';
        out[n] = '\0';
    }
    return (size_t)n;
}

void orderd_log(orderd_log_level_t level, const char *fmt, ...)
{
    char msg[ORDERD_LOG_LINE_MAX - 64], line[ORDERD_LOG_LINE_MAX + 256];
    struct timespec ts;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    clock_gettime(CLOCK_REALTIME, &ts);
    size_t n = orderd_log_format(line, sizeof(line), log_json, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, level,
                                 msg);
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w; /* nowhere to report that standard error is gone */
}
