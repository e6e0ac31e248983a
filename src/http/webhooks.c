/*
 * GET /api/admin/webhooks: for each --webhook endpoint, what its delivery
 * thread has done and is doing (src/webhook.c), as a snapshot copied under
 * each endpoint's mutex. An empty list without --webhook.
 */
#include <string.h>

#include <yajl/yajl_gen.h>

#include "orderd/order.h"
#include "orderd/webhook.h"

#include "identity.h"
#include "respond.h"
#include "webhooks.h"

static const char webhooks_path[] = "/api/admin/webhooks";

static const char *const state_names[] = {
    [ORDERD_WEBHOOK_IDLE] = "idle", [ORDERD_WEBHOOK_DELIVERING] = "delivering", [ORDERD_WEBHOOK_RETRYING] = "retrying"};

static void gen_key(yajl_gen g, const char *k)
{
    yajl_gen_string(g, (const unsigned char *)k, strlen(k));
}

static void gen_u64(yajl_gen g, const char *k, uint64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
    gen_key(g, k);
    yajl_gen_number(g, buf, (size_t)n);
}

static void gen_time_or_null(yajl_gen g, const char *k, int64_t ms)
{
    char buf[ORDERD_TIME_FMT_MAX];
    gen_key(g, k);
    if (ms == 0) {
        yajl_gen_null(g);
        return;
    }
    size_t n = orderd_time_format(ms, buf);
    yajl_gen_string(g, (const unsigned char *)buf, n);
}

static void gen_endpoint(yajl_gen g, const orderd_webhook_status_t *st, uint64_t durable)
{
    yajl_gen_map_open(g);
    gen_key(g, "url");
    yajl_gen_string(g, (const unsigned char *)st->url, strlen(st->url));
    gen_u64(g, "last_delivered_seq", st->last_delivered_seq);
    gen_u64(g, "backlog", durable > st->last_delivered_seq ? durable - st->last_delivered_seq : 0);
    gen_u64(g, "delivered", st->delivered);
    gen_u64(g, "failed_attempts", st->failed_attempts);
    gen_u64(g, "given_up", st->given_up);
    gen_key(g, "last_error");
    if (st->last_error[0] == '\0')
        yajl_gen_null(g);
    else
        yajl_gen_string(g, (const unsigned char *)st->last_error, strlen(st->last_error));
    gen_time_or_null(g, "last_error_at", st->last_error[0] != '\0' ? st->last_error_at_ms : 0);
    gen_time_or_null(g, "next_attempt_at", st->next_attempt_at_ms);
    gen_key(g, "state");
    yajl_gen_string(g, (const unsigned char *)state_names[st->state], strlen(state_names[st->state]));
    yajl_gen_map_close(g);
}

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    orderd_app_t *app = ((orderd_handler_t *)_self)->app;
    if (req->path_normalized.len != sizeof(webhooks_path) - 1)
        return orderd_http_problem(req, ORDERD_PROBLEM_NOT_FOUND, NULL, 0, "there is no resource at this path");
    if (!orderd_http_method_is(req, "GET"))
        return orderd_http_method_not_allowed(req, "GET, HEAD");
    if (orderd_http_operator_check(req, app) != 0)
        return 0;
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g == NULL)
        return orderd_http_unavailable(req, ORDERD_STORE_ENOMEM);
    yajl_gen_map_open(g);
    gen_key(g, "webhooks");
    yajl_gen_array_open(g);
    for (size_t i = 0, n = orderd_webhooks_count(app->webhooks); i < n; ++i) {
        orderd_webhook_status_t st;
        uint64_t durable;
        orderd_webhooks_status(app->webhooks, i, &st, &durable);
        gen_endpoint(g, &st, durable);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(g, &buf, &len);
    char *body = h2o_mem_alloc_pool(&req->pool, len);
    memcpy(body, buf, len);
    yajl_gen_free(g);
    return orderd_http_send_json(req, 200, (orderd_str_t){body, len});
}

void orderd_http_webhooks_register(h2o_hostconf_t *host, orderd_app_t *app)
{
    orderd_http_handler_new(h2o_config_register_path(host, webhooks_path, 0), app, on_req);
}
