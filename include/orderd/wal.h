#ifndef ORDERD_WAL_H
#define ORDERD_WAL_H

/*
 * The journal writer: group commit. Live changes are framed into per-shard
 * buffers under their shard lock (no I/O there). The committer (a worker at
 * the end of its event-loop iteration, or the writer thread) takes every
 * shard's buffer, stamps sequence numbers and writes the batch with one
 * pwritev; with --fsync always the writer thread then makes everything
 * written so far durable with one fdatasync and tells each waiter. While one
 * fdatasync runs, the next batch gathers and is written, so one fdatasync
 * may cover one or a few batches; no waiter hears before one covers it.
 *
 * Failures: a failed or short write acknowledges nothing of its batch; the
 * file is cut back to the last good offset, the batch and everything queued
 * after it are undone in the table, their waiters hear "not durable" (503),
 * and writes are refused for a second before the next try. A failed
 * fdatasync is not retried: the pages may be gone, so orderd logs why and
 * exits non-zero; the restart replays what is on disk.
 *
 * Code, each layer calling only the ones below it: src/wal_sync.c syncs,
 * src/wal.c gathers, writes and rotates segments, src/snapshot.c writes
 * snapshots (asking the writer through src/internal/wal_snapshot.h), and
 * src/wal_open.c (orderd_wal_open) hands the writer the snapshots as the
 * hooks it calls when it rotates.
 */

#include <stdint.h>

#include "orderd/feed.h"
#include "orderd/journal.h"
#include "orderd/metrics.h"
#include "orderd/store.h"

typedef enum {
    ORDERD_FSYNC_ALWAYS = 0, /* acknowledge after fdatasync: nothing acknowledged is ever lost */
    ORDERD_FSYNC_EVERYSEC,   /* acknowledge after write(); fdatasync at least once a second */
    ORDERD_FSYNC_NO,         /* acknowledge after write(); the OS flushes when it likes */
} orderd_fsync_mode_t;

typedef struct orderd_wal orderd_wal_t;

typedef struct orderd_wal_config {
    const char *dir;
    orderd_fsync_mode_t fsync;
    uint64_t snapshot_bytes; /* snapshot and start a new segment past this many journal bytes */
    /**
     * Called on the writer thread for each waiter: durable = 1 once its
     * change is durable (per the fsync mode), 0 when it never will be (its
     * write failed and the change was undone). Must not block.
     */
    void (*notify)(void *ctx, void *waiter, int durable);
    void *notify_ctx;
    /**
     * 0: every append wakes the writer. 1: appends only queue; the caller
     * calls orderd_wal_kick once it has appended all it has (an event loop
     * does so once per iteration, so one batch holds everything that
     * iteration read, as Redis does before it sleeps).
     */
    int defer_kick;
    /**
     * Called when every record up to `seq` is durable: after the fdatasync
     * that covers it (--fsync always and everysec), after its write (--fsync
     * no). On the thread that synced or wrote, in increasing order of seq per
     * call site; must not block. NULL: not called. The event feed's report
     * (orderd_feed_durable).
     */
    void (*durable)(void *ctx, uint64_t seq);
    void *durable_ctx;
    /**
     * What a snapshot's clean-up keeps of the segments it covers, for the
     * event feed: --feed-retention, and every segment holding records at or
     * after feed_pin() (the webhooks' oldest undelivered event; UINT64_MAX
     * or a NULL feed_pin: none). Only the oldest segments are ever removed,
     * so what is kept stays one unbroken run of records.
     */
    orderd_feed_retention_t feed_retention;
    uint64_t (*feed_pin)(void *ctx);
    void *feed_pin_ctx;
} orderd_wal_config_t;

/**
 * Opens the journal for appending after replay (continuing report->segment,
 * or creating the first segment) and starts the writer thread. Installs the
 * store's journal hooks. Returns NULL with a message in err on failure.
 */
orderd_wal_t *orderd_wal_open(const orderd_wal_config_t *cfg, orderd_store_t *store,
                              const orderd_replay_report_t *report, char *err, size_t errlen);

/**
 * Writes and syncs everything still queued, waits for a snapshot in
 * progress, stops the writer thread, detaches from the store and frees the
 * writer.
 */
void orderd_wal_close(orderd_wal_t *wal);

/** Wakes the writer: safe from any thread, cheap when it is already busy. */
void orderd_wal_kick(orderd_wal_t *wal);

/**
 * Commits what is queued on the calling thread if no other thread is
 * committing (one gather, one write, one sync, then the waiters are told),
 * else wakes the writer. An event loop calls it once per iteration that
 * queued changes: with no hand-off to another thread, a lone worker commits
 * the way Redis does before it sleeps. It blocks for the write; with
 * --fsync always the writer thread does the fdatasync while this thread goes
 * on serving.
 */
void orderd_wal_flush(orderd_wal_t *wal);

/** Counters for tests and logs. */
typedef struct orderd_wal_stats {
    uint64_t last_seq;
    uint64_t batches;
    uint64_t records;
    uint64_t syncs;
    uint64_t write_failures;
    uint64_t snapshots;
    uint64_t bytes;    /* record bytes written by this process */
    uint64_t segments; /* segments this process started */
} orderd_wal_stats_t;

/** Copies the writer's counters (under its lock). Cannot fail. */
void orderd_wal_stats(orderd_wal_t *wal, orderd_wal_stats_t *out);

/** The writer's histograms, for /metrics. */
typedef struct orderd_wal_histograms {
    orderd_histogram_sum_t fdatasync_seconds; /* each fdatasync of a segment */
    orderd_histogram_sum_t batch_records;     /* records per group commit (batches that wrote any) */
    orderd_histogram_sum_t snapshot_seconds;  /* each finished snapshot, start to durable */
} orderd_wal_histograms_t;

/** Adds the writer's histograms to `out` (zero it first); reads without a lock, from any thread. */
void orderd_wal_histograms(orderd_wal_t *wal, orderd_wal_histograms_t *out);

/** Parses "always" / "everysec" / "no"; 0 or -1. */
__attribute__((warn_unused_result)) int orderd_fsync_mode_parse(const char *s, orderd_fsync_mode_t *out);

/** "always", "everysec" or "no": the --fsync value of `mode`. */
const char *orderd_fsync_mode_name(orderd_fsync_mode_t mode);

#endif
