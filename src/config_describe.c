/* The effective configuration as one line, for the start-up log (orderd/config.h). */
#include "orderd/config.h"

#include <string.h>

#include "internal/text.h"

/* A limit: "off" for 0, else the number. */
static void put_count(orderd_text_t *t, uint64_t n)
{
    if (n == 0)
        orderd_text_put(t, "off");
    else
        orderd_text_put(t, "%llu", (unsigned long long)n);
}

const char *orderd_config_describe(const orderd_config_t *cfg, char *out, size_t len)
{
    orderd_text_t t = {out, len, 0};
    if (len == 0)
        return out;
    out[0] = '\0';
    for (unsigned i = 0; i < cfg->nlisteners; ++i) {
        const orderd_listener_config_t *l = &cfg->listeners[i];
        int v6 = strchr(l->host, ':') != NULL;
        orderd_text_put(&t, "%slisten=%s://%s%s%s:%u", i > 0 ? " " : "", l->tls_cert != NULL ? "https" : "http",
                        v6 ? "[" : "", l->host, v6 ? "]" : "", l->port);
        if (l->tls_cert != NULL)
            orderd_text_put(&t, " tls-cert=%s tls-key=%s", l->tls_cert, l->tls_key);
        orderd_text_put(&t, " http2=%s", l->http2 ? "on" : "off");
    }
    orderd_text_put(&t, " threads=%u data-dir=%s max-body=%zu max-connections=%u", cfg->threads, cfg->data_dir, cfg->max_body,
        cfg->max_connections);
    if (!cfg->max_connections_given)
        orderd_text_put(&t, " (file descriptor limit %llu)", (unsigned long long)cfg->nofile);
    const struct {
        const char *name;
        int64_t ms;
    } timeouts[] = {{"header-timeout", cfg->header_timeout_ms},
                    {"body-timeout", cfg->body_timeout_ms},
                    {"idle-timeout", cfg->idle_timeout_ms}};
    for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); ++i)
        orderd_text_put(&t, timeouts[i].ms % 1000 == 0 ? " %s=%llds" : " %s=%lldms", timeouts[i].name,
            (long long)(timeouts[i].ms % 1000 == 0 ? timeouts[i].ms / 1000 : timeouts[i].ms));
    orderd_text_put(&t, " http2-max-streams=%u http2-max-resets=%u", cfg->http2_max_streams, cfg->http2_max_resets);
    orderd_text_put(&t, " fsync=%s snapshot-bytes=%llu", orderd_fsync_mode_name(cfg->fsync),
        (unsigned long long)cfg->snapshot_bytes);
    if (cfg->operator_token_file != NULL)
        orderd_text_put(&t, " operator-token-file=%s", cfg->operator_token_file);
    else
        orderd_text_put(&t, " operator-token-file=%s/operator-token", cfg->data_dir);
    orderd_text_put(&t, " idempotency-ttl=%llds return-window=%ud node-id=%u access-log=%s",
                    (long long)(cfg->idempotency_ttl_ms / 1000), cfg->return_window_days, cfg->node_id,
                    cfg->access_log != NULL ? cfg->access_log : "off");
    char retention[32];
    orderd_text_put(&t, " feed-retention=%s",
                    orderd_feed_retention_format(&cfg->feed_retention, retention, sizeof(retention)));
    for (unsigned i = 0; i < cfg->nwebhooks; ++i)
        orderd_text_put(&t, " webhook=%s", cfg->webhooks[i]);
    if (cfg->nwebhooks > 0) {
        if (cfg->webhook_secret_file != NULL)
            orderd_text_put(&t, " webhook-secret-file=%s", cfg->webhook_secret_file);
        else
            orderd_text_put(&t, " webhook-secret-file=%s/webhook-secret", cfg->data_dir);
        orderd_text_put(&t, " webhook-max-age=%llds webhook-timeout=%lldms", (long long)(cfg->webhook_max_age_ms / 1000),
                        (long long)cfg->webhook_timeout_ms);
    }
    for (unsigned i = 0; i < cfg->ntrusted_proxies; ++i) {
        char cidr[ORDERD_CIDR_TEXT_MAX];
        orderd_text_put(&t, " trusted-proxy=%s", orderd_cidr_format(&cfg->trusted_proxies[i], cidr, sizeof(cidr)));
    }
    for (unsigned i = 0; i < cfg->ncors_origins; ++i)
        orderd_text_put(&t, " cors-origin=%s", cfg->cors_origins[i]);
    orderd_text_put(&t, " compress=%s", cfg->compress ? "on" : "off");
    char rate[32];
    orderd_text_put(&t, " rate-limit-per-user=%s", orderd_rate_format(&cfg->rate_limit, rate, sizeof(rate)));
    if (cfg->rate_limit.per != 0)
        orderd_text_put(&t, " rate-limit-burst=%u", cfg->rate_limit.burst);
    orderd_text_put(&t, " max-orders-per-user=");
    put_count(&t, cfg->max_orders_per_user);
    orderd_text_put(&t, " max-orders=");
    put_count(&t, cfg->max_orders);
    orderd_text_put(&t, " memory-limit=");
    put_count(&t, cfg->memory_limit);
    orderd_text_put(&t, " log-format=%s user-auth=%s", cfg->log_json ? "json" : "text",
                    cfg->user_auth_jwt ? "jwt" : "header");
    if (cfg->user_auth_jwt) {
        const orderd_jwt_config_t *j = &cfg->jwt;
        orderd_text_put(&t, " %s=%s jwt-issuer=%s jwt-audience=%s jwt-user-claim=%s jwt-leeway=%llds",
                        j->key_file != NULL ? "jwt-key-file" : "jwt-secret-file",
                        j->key_file != NULL ? j->key_file : j->secret_file, j->issuer, j->audience, j->user_claim,
                        (long long)j->leeway_s);
    }
    return out;
}
