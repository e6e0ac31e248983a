/* The flags of what orderd keeps in its data directory: the journal
 * (--fsync, --snapshot-bytes), idempotency keys, the event feed and the
 * webhooks (rows of the table in src/config.c). */
#include <string.h>

#include "internal/config_values.h"

int orderd_config_set_fsync(parse_state_t *p, const char *name, const char *v)
{
    if (orderd_fsync_mode_parse(v, &p->cfg->fsync) != 0)
        return FAIL(p, "%s: expected always, everysec or no, got '%s'\n", name, v);
    return 0;
}

int orderd_config_set_snapshot_bytes(parse_state_t *p, const char *name, const char *v)
{
    unsigned long long n;
    if (orderd_config_parse_ull(v, 4096, 1ull << 40, &n) != 0)
        return FAIL(p, "%s: expected a number of bytes from 4096 to 1099511627776, got '%s'\n", name, v);
    p->cfg->snapshot_bytes = n;
    return 0;
}

int orderd_config_set_idempotency_ttl(parse_state_t *p, const char *name, const char *v)
{
    if (orderd_config_parse_duration_ms(v, 1000, 365ull * 86400 * 1000, &p->cfg->idempotency_ttl_ms) != 0)
        return FAIL(p, "%s: expected a duration from 1s to 365d (e.g. 24h), got '%s'\n", name, v);
    return 0;
}

int orderd_config_set_feed_retention(parse_state_t *p, const char *name, const char *v)
{
    if (orderd_feed_retention_parse(v, &p->cfg->feed_retention) != 0)
        return FAIL(p, "%s: expected a duration (90m, 24h, 7d) or a size (512MiB, 1GiB) or 0, got '%s'\n", name, v);
    return 0;
}

/* An http:// or https:// URL with a host, no spaces or control bytes, at most ORDERD_WEBHOOK_URL_MAX bytes. */
static int valid_webhook_url(const char *v)
{
    size_t len = strlen(v), scheme;
    if (strncmp(v, "http://", 7) == 0)
        scheme = 7;
    else if (strncmp(v, "https://", 8) == 0)
        scheme = 8;
    else
        return 0;
    if (len > ORDERD_WEBHOOK_URL_MAX || len == scheme || v[scheme] == '/')
        return 0;
    for (size_t i = 0; i < len; ++i)
        if ((unsigned char)v[i] <= 0x20 || (unsigned char)v[i] == 0x7f)
            return 0;
    return 1;
}

int orderd_config_set_webhook(parse_state_t *p, const char *name, const char *v)
{
    orderd_config_t *cfg = p->cfg;
    if (cfg->nwebhooks == ORDERD_MAX_WEBHOOKS)
        return FAIL(p, "%s: at most %d\n", name, ORDERD_MAX_WEBHOOKS);
    if (!valid_webhook_url(v))
        return FAIL(p, "%s: expected an http:// or https:// URL of at most %d bytes, got '%s'\n", name,
                    ORDERD_WEBHOOK_URL_MAX, v);
    for (unsigned i = 0; i < cfg->nwebhooks; ++i)
        if (strcmp(cfg->webhooks[i], v) == 0)
            return FAIL(p, "%s: '%s' given twice\n", name, v);
    cfg->webhooks[cfg->nwebhooks++] = v;
    return 0;
}

int orderd_config_set_webhook_secret_file(parse_state_t *p, const char *name, const char *v)
{
    if (*v == '\0')
        return FAIL(p, "%s: expected a file, got ''\n", name);
    p->cfg->webhook_secret_file = v;
    return 0;
}

int orderd_config_set_webhook_max_age(parse_state_t *p, const char *name, const char *v)
{
    if (orderd_config_parse_duration_ms(v, 1000, 30ull * 86400 * 1000, &p->cfg->webhook_max_age_ms) != 0)
        return FAIL(p, "%s: expected a duration from 1s to 30d (e.g. 24h), got '%s'\n", name, v);
    return 0;
}

int orderd_config_set_webhook_timeout(parse_state_t *p, const char *name, const char *v)
{
    if (orderd_config_parse_duration_ms(v, 100, 300ull * 1000, &p->cfg->webhook_timeout_ms) != 0)
        return FAIL(p, "%s: expected a duration from 100ms to 5m (e.g. 10s), got '%s'\n", name, v);
    return 0;
}
