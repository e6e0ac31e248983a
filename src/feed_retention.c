/* --feed-retention as text: a duration or a size (feed.h). */
#include <stdio.h>
#include <string.h>

#include "orderd/feed.h"

#define MAX_RETENTION_MS (3650LL * 86400 * 1000)
#define MAX_RETENTION_BYTES (1ull << 50)

/* Whole decimal digits in [s, end) into *n (at most 15 of them); -1 when none or another byte. */
static int digits(const char *s, const char *end, unsigned long long *n)
{
    if (s == end || end - s > 15)
        return -1;
    *n = 0;
    for (; s < end; ++s) {
        if (*s < '0' || *s > '9')
            return -1;
        *n = *n * 10 + (unsigned long long)(*s - '0');
    }
    return 0;
}

int orderd_feed_retention_parse(const char *s, orderd_feed_retention_t *out)
{
    static const struct {
        const char *suffix;
        int64_t ms;
        unsigned long long bytes;
    } units[] = {{"ms", 1, 0},          {"s", 1000, 0},        {"m", 60000, 0},        {"h", 3600000, 0},
                 {"d", 86400000, 0},    {"KiB", 0, 1ull << 10}, {"MiB", 0, 1ull << 20}, {"GiB", 0, 1ull << 30},
                 {"TiB", 0, 1ull << 40}, {"K", 0, 1ull << 10},  {"M", 0, 1ull << 20},   {"G", 0, 1ull << 30},
                 {"T", 0, 1ull << 40},   {"KB", 0, 1000},        {"MB", 0, 1000000},     {"GB", 0, 1000000000},
                 {"TB", 0, 1000000000000ull}, {"B", 0, 1}};
    size_t len = strlen(s);
    unsigned long long n;
    if (strcmp(s, "0") == 0) {
        *out = (orderd_feed_retention_t){0};
        return 0;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); ++i) {
        size_t sl = strlen(units[i].suffix);
        if (len <= sl || strcmp(s + len - sl, units[i].suffix) != 0 || digits(s, s + len - sl, &n) != 0 || n == 0)
            continue;
        if (units[i].ms != 0) {
            if (n > (unsigned long long)(MAX_RETENTION_MS / units[i].ms))
                return -1;
            *out = (orderd_feed_retention_t){.ms = (int64_t)n * units[i].ms};
        } else {
            if (n > MAX_RETENTION_BYTES / units[i].bytes)
                return -1;
            *out = (orderd_feed_retention_t){.bytes = n * units[i].bytes};
        }
        return 0;
    }
    return -1;
}

const char *orderd_feed_retention_format(const orderd_feed_retention_t *r, char *buf, size_t len)
{
    static const struct {
        const char *suffix;
        unsigned long long unit;
    } times[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}},
      sizes[] = {{"TiB", 1ull << 40}, {"GiB", 1ull << 30}, {"MiB", 1ull << 20}, {"KiB", 1ull << 10}, {"B", 1}};
    unsigned long long v = r->ms > 0 ? (unsigned long long)r->ms : r->bytes;
    const __typeof__(times[0]) *u = r->ms > 0 ? times : sizes;
    if (v == 0) {
        snprintf(buf, len, "0");
        return buf;
    }
    for (size_t i = 0;; ++i)
        if (v % u[i].unit == 0) {
            snprintf(buf, len, "%llu%s", v / u[i].unit, u[i].suffix);
            return buf;
        }
}
