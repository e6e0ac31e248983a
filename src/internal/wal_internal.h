#ifndef ORDERD_INTERNAL_WAL_INTERNAL_H
#define ORDERD_INTERNAL_WAL_INTERNAL_H

/* The writer's state, shared by its two halves only: wal.c (group commit) and
 * wal_sync.c (the disk half, which wal.c calls). The layers above see the
 * writer as opaque (internal/wal_snapshot.h). */

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "internal/wal_snapshot.h"
#include "orderd/wal.h"

/* Records framed but not yet written, and who waits for them. */
typedef struct orderd_wal_buf {
    unsigned char *buf;
    size_t len, cap;
    void **waiters;
    size_t nw, capw;
} orderd_wal_buf_t;

/* One per store shard, guarded by that shard's lock; on its own cache lines. */
typedef struct orderd_wal_slot {
    orderd_wal_buf_t active;
    atomic_int pending; /* hint for the writer: active is not empty */
} __attribute__((aligned(64))) orderd_wal_slot_t;

struct orderd_wal {
    orderd_wal_config_t cfg;
    orderd_store_t *store;
    unsigned nshards;
    orderd_wal_slot_t *slots;
    orderd_wal_buf_t *taken; /* writer-owned: what the batch in hand took from each shard */

    /* The commit role: held by whoever gathers, writes and syncs a batch
     * (the writer thread, or a worker at the end of its loop iteration).
     * Everything below marked writer-owned belongs to its holder. */
    pthread_mutex_t commit_mu;

    /* the segment being appended to; writer-owned */
    int fd;
    uint64_t seg_first;
    off_t seg_end;
    off_t alloc_end; /* zeros written ahead of seg_end reach this far (see wal.c) */
    int seg_written; /* this process has written records to the segment */
    int prealloc_off; /* no zeros ahead in this segment: a write failed (a full disk, say) */
    off_t prealloc_tried; /* seg_end when free space was last found too low */
    uint64_t bytes_since_snapshot;
    uint64_t last_seq;
    _Atomic uint64_t written_seq; /* the newest record whose write completed (read before each fdatasync) */
    _Atomic int64_t last_sync_ms;
    atomic_int unsynced; /* everysec / no: written since the last fdatasync */

    atomic_int read_only;               /* appends refused: a write failed */
    _Atomic int64_t read_only_until_ms; /* monotonic ms; the first append after it ends the refusal */
    atomic_uint failure_epoch;  /* bumped by every failed write */

    /* waking the writer */
    atomic_uint_fast64_t appended;
    atomic_int idle;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* the writer sleeps here */
    pthread_cond_t done_cv; /* batches made durable, for orderd_wal_await_batch_after */
    int stopping;           /* under mu */
    /* Batches are numbered as they are gathered. --fsync always: the
     * committer writes a batch, then the writer thread syncs everything
     * written so far and tells its waiters, while the next batch is written. */
    uint64_t gathers;         /* under mu: batches started */
    uint64_t written_g;       /* under mu: newest batch written */
    uint64_t synced_g;        /* under mu: every batch up to this one is durable */
    orderd_wal_buf_t await;   /* under mu: waiters of written batches, until their sync */
    orderd_wal_buf_t syncing; /* the writer thread's: waiters of the sync in progress */
    pthread_mutex_t sync_mu;  /* held across a deferred fdatasync; rotation takes it to swap files */
    pthread_t thread;

    orderd_wal_rotation_t rotation; /* snapshots (snapshot.c), as wal_open.c set them up */

    orderd_wal_stats_t stats; /* under mu */
    /* written under mu, read by scrapes without it (metrics.h) */
    orderd_histogram_t sync_hist, batch_hist, snapshot_hist;
};

#define ORDERD_EVERYSEC_MS 1000

/* --- wal_sync.c: the disk half, run by the writer thread --- */

int64_t orderd_wal_mono_ms(void);
/** Monotonic nanoseconds, for the histograms. */
uint64_t orderd_wal_mono_ns(void);
/** A failed fdatasync: the kernel may have dropped the pages it covered, so
 * nothing more may be acknowledged. Logs `what` and exits (status 74). */
void __attribute__((noreturn)) orderd_wal_die_sync(const char *what, int err);
/** One fdatasync of the segment now; the caller holds commit_mu or sync_mu. */
void orderd_wal_sync_now(orderd_wal_t *w);
/** Moves b's waiters to the await list (under mu). */
void orderd_wal_await_add(orderd_wal_t *w, orderd_wal_buf_t *b);
/** --fsync always: one fdatasync covering every written batch, then their waiters are told. */
void orderd_wal_sync_step(orderd_wal_t *w);
/** Whether a written batch still waits for its sync. */
int orderd_wal_sync_due(orderd_wal_t *w);
/** --fsync everysec: the once-a-second fdatasync, when due. */
void orderd_wal_everysec_step(orderd_wal_t *w);
/** Keeps zeros written ahead of the records; the caller holds commit_mu. */
void orderd_wal_prealloc_ahead(orderd_wal_t *w);
/** Tells cfg.durable that every record up to `seq` is durable (nothing without the hook). */
void orderd_wal_report_durable(orderd_wal_t *w, uint64_t seq);

#endif
