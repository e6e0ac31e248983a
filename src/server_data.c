/* The server's data: the data directory, the journal (replay, then the
 * writer, reporting to the event feed) and the webhooks. See
 * src/internal/server_data.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal/files.h"
#include "internal/server_data.h"
#include "orderd/feed.h"
#include "orderd/journal.h"
#include "orderd/log.h"
#include "orderd/wal.h"
#include "orderd/webhook.h"

static int ensure_data_dir(const char *dir)
{
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        orderd_log(ORDERD_LOG_ERROR, "cannot create data directory %s: %s", dir, strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK) != 0) {
        orderd_log(ORDERD_LOG_ERROR, "data directory %s is not a writable directory", dir);
        return -1;
    }
    return 0;
}

/* One orderd per data directory: a second one would interleave journal writes. */
static int lock_data_dir(const char *dir)
{
    if (orderd_lock_data_dir(dir, 1, 1) >= 0)
        return 0; /* held until the process exits */
    if (errno == EWOULDBLOCK)
        orderd_log(ORDERD_LOG_ERROR, "data directory %s is in use by another orderd (%s)", dir, strerror(errno));
    else
        orderd_log(ORDERD_LOG_ERROR, "cannot open %s/LOCK: %s", dir, strerror(errno));
    return -1;
}

int orderd_server_data_dir(const char *dir)
{
    return ensure_data_dir(dir) != 0 || lock_data_dir(dir) != 0 ? -1 : 0;
}

/* The app's commit hook: the journal's group commit of what this loop
 * iteration queued, with the type the hook is called through. */
static void commit_journal(void *wal)
{
    orderd_wal_flush(wal);
}

/* The journal writer's hooks for the event feed, with the types they are called through. */
static void feed_durable(void *feed, uint64_t seq)
{
    orderd_feed_durable(feed, seq);
}

static uint64_t feed_pin(void *feed)
{
    return orderd_feed_lowest_pin(feed);
}

int orderd_server_open_journal(const orderd_config_t *cfg, orderd_app_t *app)
{
    orderd_replay_report_t *rep = calloc(1, sizeof(*rep));
    char err[512];
    struct timespec t0, t1;
    int ret = -1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (orderd_journal_replay(cfg->data_dir, app->store, rep) != 0) {
        orderd_log(ORDERD_LOG_ERROR, "%s", rep->error);
        goto out;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    app->replay_ns = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec));
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    orderd_log(ORDERD_LOG_INFO,
            "replayed %zu records (snapshot at record %llu with %zu orders), %zu orders, %llu bytes"
            " in %.1f ms (%.0f records/s)",
            rep->records, (unsigned long long)rep->snapshot_seq, rep->snapshot_orders, rep->orders, (unsigned long long)rep->bytes, ms,
            ms > 0 ? (double)(rep->records + rep->snapshot_orders) / (ms / 1e3) : 0.0);
    orderd_wal_config_t wc = {.dir = cfg->data_dir,
                              .fsync = cfg->fsync,
                              .snapshot_bytes = cfg->snapshot_bytes,
                              .notify = orderd_http_on_durable,
                              .notify_ctx = NULL,
                              .defer_kick = 1,
                              .durable = feed_durable,
                              .durable_ctx = app->feed,
                              .feed_retention = cfg->feed_retention,
                              .feed_pin = feed_pin,
                              .feed_pin_ctx = app->feed};
    if ((app->wal = orderd_wal_open(&wc, app->store, rep, err, sizeof(err))) == NULL) {
        orderd_log(ORDERD_LOG_ERROR, "%s", err);
        goto out;
    }
    /* what replay read is durable now (the writer synced the segment it continues) */
    orderd_feed_durable(app->feed, rep->last_seq);
    app->durable = 1;
    app->wal = app->wal;
    app->commit = commit_journal;
    app->commit_ctx = app->wal;
    ret = 0;
out:
    free(rep);
    return ret;
}

int orderd_server_start_webhooks(const orderd_config_t *cfg, orderd_app_t *app)
{
    char err[4600];
    const orderd_webhooks_config_t wc = {.dir = cfg->data_dir,
                                         .urls = cfg->webhooks,
                                         .nurls = cfg->nwebhooks,
                                         .secret_file = cfg->webhook_secret_file,
                                         .max_age_ms = cfg->webhook_max_age_ms,
                                         .timeout_ms = cfg->webhook_timeout_ms};
    if ((app->webhooks = orderd_webhooks_start(&wc, app->feed, err, sizeof(err))) == NULL) {
        orderd_log(ORDERD_LOG_ERROR, "%s", err);
        return -1;
    }
    return 0;
}
