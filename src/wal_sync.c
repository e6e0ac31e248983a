/*
 * The disk half of group commit: making written batches durable (one
 * fdatasync for everything written, --fsync always; once a second, everysec)
 * and keeping zeros written ahead of the records. The writer thread runs it;
 * wal.c gathers and writes. See wal.h and docs/journal.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "orderd/log.h"
#include "internal/wal_internal.h"

/* exit status after a failed fdatasync (EX_IOERR) */
#define EXIT_SYNC_FAILED 74

int64_t orderd_wal_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t orderd_wal_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The kernel may have dropped the dirty pages a failed fdatasync covered, so a
 * retry that succeeds proves nothing. Nothing more may be acknowledged: exit,
 * and let the restart replay what really is on disk. */
void orderd_wal_die_sync(const char *what, int err)
{
    orderd_log(ORDERD_LOG_ERROR, "FATAL: %s failed: %s; exiting so nothing more is acknowledged "
                    "(the restart replays the journal)", what, strerror(err));
    _exit(EXIT_SYNC_FAILED);
}

void orderd_wal_sync_now(orderd_wal_t *w)
{
    /* cleared first: a write that completes during the sync sets it again */
    atomic_store(&w->unsynced, 0);
    uint64_t covered = atomic_load(&w->written_seq); /* written before the fdatasync below: covered by it */
    uint64_t t0 = orderd_wal_mono_ns();
    if (fdatasync(w->fd) != 0)
        orderd_wal_die_sync("fdatasync of the journal", errno);
    atomic_store(&w->last_sync_ms, orderd_wal_mono_ms());
    if (w->cfg.fsync != ORDERD_FSYNC_NO)
        orderd_wal_report_durable(w, covered);
    pthread_mutex_lock(&w->mu);
    ++w->stats.syncs;
    orderd_histogram_observe(&w->sync_hist, orderd_wal_mono_ns() - t0);
    pthread_mutex_unlock(&w->mu);
}

void orderd_wal_report_durable(orderd_wal_t *w, uint64_t seq)
{
    if (w->cfg.durable != NULL)
        w->cfg.durable(w->cfg.durable_ctx, seq);
}

void orderd_wal_await_add(orderd_wal_t *w, orderd_wal_buf_t *b)
{
    if (b->nw == 0)
        return;
    if (w->await.nw + b->nw > w->await.capw) {
        size_t ncap = w->await.capw == 0 ? 64 : w->await.capw;
        while (ncap < w->await.nw + b->nw)
            ncap *= 2;
        void **n = realloc(w->await.waiters, ncap * sizeof(*n));
        if (n == NULL)
            orderd_wal_die_sync("allocating memory for waiters", ENOMEM);
        w->await.waiters = n;
        w->await.capw = ncap;
    }
    memcpy(w->await.waiters + w->await.nw, b->waiters, b->nw * sizeof(*b->waiters));
    w->await.nw += b->nw;
    b->nw = 0;
}

/* The sync half of --fsync always: on the writer thread, makes every written
 * batch durable with one fdatasync and tells their waiters. */
void orderd_wal_sync_step(orderd_wal_t *w)
{
    pthread_mutex_lock(&w->sync_mu);
    pthread_mutex_lock(&w->mu);
    uint64_t target = w->written_g;
    if (target <= w->synced_g) {
        pthread_mutex_unlock(&w->mu);
        pthread_mutex_unlock(&w->sync_mu);
        return;
    }
    orderd_wal_buf_t mine = w->await;
    w->await = w->syncing;
    w->await.nw = 0;
    pthread_mutex_unlock(&w->mu);

    /* everything in `mine` was written before it was listed, and every
     * record counted in written_seq before this load: this covers them */
    uint64_t covered = atomic_load(&w->written_seq);
    uint64_t t0 = orderd_wal_mono_ns();
    if (fdatasync(w->fd) != 0)
        orderd_wal_die_sync("fdatasync of the journal", errno);
    atomic_store(&w->last_sync_ms, orderd_wal_mono_ms());
    orderd_wal_report_durable(w, covered);
    pthread_mutex_lock(&w->mu);
    ++w->stats.syncs;
    orderd_histogram_observe(&w->sync_hist, orderd_wal_mono_ns() - t0);
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < mine.nw; ++i)
        w->cfg.notify(w->cfg.notify_ctx, mine.waiters[i], 1);
    mine.nw = 0;
    w->syncing = mine;

    pthread_mutex_lock(&w->mu);
    if (target > w->synced_g)
        w->synced_g = target;
    pthread_cond_broadcast(&w->done_cv);
    pthread_mutex_unlock(&w->mu);
    pthread_mutex_unlock(&w->sync_mu);
}

int orderd_wal_sync_due(orderd_wal_t *w)
{
    pthread_mutex_lock(&w->mu);
    int due = w->written_g > w->synced_g;
    pthread_mutex_unlock(&w->mu);
    return due;
}

/*
 * Space written ahead. An fdatasync after an append must also write the
 * inode (the file grew); after writing into blocks that already hold data
 * it only writes those blocks. On this project's reference disk that is
 * p50 100 us instead of 190 us and p99 0.15-0.45 ms instead of 0.4-2.8 ms
 * per write + fdatasync (PostgreSQL zero-fills its WAL segments for the
 * same reason). So the writer thread keeps up to PREALLOC_CHUNK of zeros
 * written ahead of the records, and starts their writeback at once so the
 * next fdatasync does not carry them. Replay reads an all-zero tail as the
 * end of the segment (no record starts with zero bytes: its CRC would not
 * match). Failing to write zeros is harmless: records are then appended as
 * before, and a real shortage of space shows up on the records' own write;
 * after any failed write the segment gets no more zeros, so a full disk
 * refuses changes as it did without them.
 * Done under commit_mu, so the zeros never land where records are written.
 */
#define PREALLOC_CHUNK ((off_t)1 << 20)
#define PREALLOC_STEP ((off_t)128 << 10)
/* Zeros only while the file system has room to spare: near a full disk the
 * records take the space themselves, and it runs out on their write. */
#define PREALLOC_MIN_FREE ((unsigned long long)64 << 20)

void orderd_wal_prealloc_ahead(orderd_wal_t *w)
{
    static const unsigned char zeros[64 << 10];
    /* not before this process writes a record: an idle segment stays as replay left it */
    if (!w->seg_written || w->prealloc_off || w->alloc_end - w->seg_end >= PREALLOC_CHUNK / 2)
        return;
    /* looked at most once per 64 KiB of records while space is short */
    if (w->prealloc_tried != 0 && w->seg_end - w->prealloc_tried < ((off_t)64 << 10))
        return;
    struct statvfs fs;
    if (fstatvfs(w->fd, &fs) != 0 || (unsigned long long)fs.f_bavail * fs.f_frsize < PREALLOC_MIN_FREE) {
        w->prealloc_tried = w->seg_end;
        return;
    }
    w->prealloc_tried = 0;
    /* at most PREALLOC_STEP a call: the writer runs this between two syncs,
     * and every request waiting for the next one waits for this too */
    off_t start = w->alloc_end > w->seg_end ? w->alloc_end : w->seg_end, end = w->seg_end + PREALLOC_CHUNK;
    if (end - start > PREALLOC_STEP)
        end = start + PREALLOC_STEP;
    for (off_t at = start; at < end;) {
        size_t n = end - at < (off_t)sizeof(zeros) ? (size_t)(end - at) : sizeof(zeros);
        ssize_t done = pwrite(w->fd, zeros, n, at);
        if (done <= 0) {
            /* out of space, say: leave what there is to the records */
            w->prealloc_off = 1;
            break;
        }
        at += done;
        w->alloc_end = at;
    }
    if (w->alloc_end > start)
        (void)sync_file_range(w->fd, start, w->alloc_end - start, SYNC_FILE_RANGE_WRITE);
}

/* --fsync everysec: the once-a-second fdatasync, on the writer thread. It
 * runs without the commit role, so workers keep writing and answering while
 * it waits on the disk (run inside a commit, it held up every request for
 * the length of a sync of a second's records); sync_mu keeps the segment
 * from being switched under it. */
void orderd_wal_everysec_step(orderd_wal_t *w)
{
    if (w->cfg.fsync != ORDERD_FSYNC_EVERYSEC || !atomic_load(&w->unsynced) ||
        orderd_wal_mono_ms() - atomic_load(&w->last_sync_ms) < ORDERD_EVERYSEC_MS)
        return;
    pthread_mutex_lock(&w->sync_mu);
    orderd_wal_sync_now(w);
    pthread_mutex_unlock(&w->sync_mu);
}
