#ifndef ORDERD_INTERNAL_WAL_SNAPSHOT_H
#define ORDERD_INTERNAL_WAL_SNAPSHOT_H

/*
 * The writer (wal.c) as the layer above it sees it: the snapshots
 * (snapshot.c). Layers only point down: the snapshot module treats the
 * writer as opaque and asks it through the functions below; the writer
 * knows the snapshots only as the rotation hooks it was opened with, so
 * wal.c never calls snapshot.c. src/wal_open.c, above both, joins them.
 */

#include <stddef.h>
#include <stdint.h>

#include "orderd/journal.h"
#include "orderd/store.h"
#include "orderd/wal.h"

/** What the writer calls when it switches segments. */
typedef struct orderd_wal_rotation {
    /** Whether a snapshot is still being written: the writer does not rotate meanwhile. */
    int (*busy)(void *ctx);
    /**
     * Called by the committer, under the commit role, right after everything
     * written was made durable and a new segment was started: snapshots
     * everything up to orderd_wal_last_seq(w) (on a thread of its own).
     * Returns 0, or -1 when it cannot start (the writer logs it).
     */
    int (*start)(void *ctx, orderd_wal_t *w);
    /**
     * Called once by orderd_wal_close, after the writer thread has stopped
     * (a snapshot waiting in orderd_wal_await_batch_after has been woken to
     * give up) and before the writer is freed: waits for a snapshot still
     * running, then frees ctx.
     */
    void (*stop)(void *ctx);
    void *ctx;
} orderd_wal_rotation_t;

/**
 * orderd_wal_open with the given rotation hooks (copied; the writer calls
 * rotation->stop at close). On failure returns NULL with a message in err,
 * and rotation->ctx is still the caller's.
 */
orderd_wal_t *orderd_wal_writer_open(const orderd_wal_config_t *cfg, orderd_store_t *store,
                                     const orderd_replay_report_t *report, const orderd_wal_rotation_t *rotation,
                                     char *err, size_t errlen);

/** The data directory (cfg->dir). */
const char *orderd_wal_dir(const orderd_wal_t *w);

/** The configuration the writer was opened with (the feed's retention and pin, for the clean-up). */
const orderd_wal_config_t *orderd_wal_config(const orderd_wal_t *w);

/** The table the writer journals. */
orderd_store_t *orderd_wal_store(const orderd_wal_t *w);

/** The newest record written; only while holding the commit role (as rotation->start does). */
uint64_t orderd_wal_last_seq(const orderd_wal_t *w);

/**
 * The number of failed writes so far. Read under the commit role (as
 * rotation->start does), it is not in the middle of a failure: a failed
 * write holds the role from the moment it counts itself until its undo is
 * complete.
 */
unsigned orderd_wal_failure_epoch(orderd_wal_t *w);

/**
 * Wakes the writer and waits until a batch that starts after this call is
 * durable: everything appended before the call is then durable too. Returns
 * 0, or -1 when the writer is stopping (the batch will not come) or a write
 * failed since `epoch` (a value of orderd_wal_failure_epoch): changes made
 * before the call may have been undone.
 */
__attribute__((warn_unused_result)) int orderd_wal_await_batch_after(orderd_wal_t *w, unsigned epoch);

/** Counts a finished snapshot that took `ns` nanoseconds in orderd_wal_stats and its histogram. */
void orderd_wal_count_snapshot(orderd_wal_t *w, uint64_t ns);

#endif
