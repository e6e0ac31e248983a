/* Group commit: many records, one write, one fdatasync. See wal.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "orderd/log.h"
#include "internal/fault.h"
#include "internal/files.h"
#include "internal/wal_internal.h"

#define READ_ONLY_AFTER_FAILURE_MS 1000

static const char *const fsync_mode_names[] = {"always", "everysec", "no"};

int orderd_fsync_mode_parse(const char *s, orderd_fsync_mode_t *out)
{
    for (int i = 0; i < 3; ++i)
        if (strcmp(s, fsync_mode_names[i]) == 0) {
            *out = (orderd_fsync_mode_t)i;
            return 0;
        }
    return -1;
}

const char *orderd_fsync_mode_name(orderd_fsync_mode_t mode)
{
    return (unsigned)mode < 3 ? fsync_mode_names[mode] : "?";
}

/* --- the append hooks (called under a shard lock) --- */

static int buf_reserve(orderd_wal_buf_t *b, size_t bytes)
{
    if (b->len + bytes > b->cap) {
        size_t ncap = b->cap == 0 ? 4096 : b->cap * 2;
        while (ncap < b->len + bytes)
            ncap *= 2;
        unsigned char *n = realloc(b->buf, ncap);
        if (n == NULL)
            return -1;
        b->buf = n;
        b->cap = ncap;
    }
    if (b->nw == b->capw) {
        size_t ncap = b->capw == 0 ? 16 : b->capw * 2;
        void **n = realloc(b->waiters, ncap * sizeof(*n));
        if (n == NULL)
            return -1;
        b->waiters = n;
        b->capw = ncap;
    }
    return 0;
}

void orderd_wal_kick(orderd_wal_t *w)
{
    atomic_fetch_add(&w->appended, 1);
    if (atomic_load(&w->idle)) {
        pthread_mutex_lock(&w->mu);
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
}

/* Whether appends are refused; the first caller after the window closes it. */
static int refusing(orderd_wal_t *w)
{
    if (!atomic_load(&w->read_only))
        return 0;
    if (orderd_wal_mono_ms() < atomic_load(&w->read_only_until_ms))
        return 1;
    atomic_store(&w->read_only, 0);
    return 0;
}

static int hook_append(void *ctx, unsigned shard, const orderd_change_t *ev, void *waiter)
{
    orderd_wal_t *w = ctx;
    orderd_wal_buf_t *b = &w->slots[shard].active;
    if (refusing(w))
        return -1;
    uint32_t len = orderd_change_payload_size(ev);
    if (len > ORDERD_RECORD_MAX_PAYLOAD || buf_reserve(b, ORDERD_RECORD_HEADER_SIZE + len) != 0)
        return -1;
    /* sequence number and CRC are stamped by the writer, once, in batch order */
    uint8_t type = orderd_change_encode(ev, b->buf + b->len + ORDERD_RECORD_HEADER_SIZE);
    orderd_record_header_init(b->buf + b->len, type, len);
    b->len += ORDERD_RECORD_HEADER_SIZE + len;
    if (waiter != NULL)
        b->waiters[b->nw++] = waiter;
    atomic_store_explicit(&w->slots[shard].pending, 1, memory_order_relaxed);
    if (!w->cfg.defer_kick)
        orderd_wal_kick(w);
    return 0;
}

static int hook_barrier(void *ctx, unsigned shard, void *waiter)
{
    orderd_wal_t *w = ctx;
    orderd_wal_buf_t *b = &w->slots[shard].active;
    if (refusing(w) || buf_reserve(b, 0) != 0)
        return -1;
    b->waiters[b->nw++] = waiter;
    atomic_store_explicit(&w->slots[shard].pending, 1, memory_order_relaxed);
    if (!w->cfg.defer_kick)
        orderd_wal_kick(w);
    return 0;
}

/* --- the writer --- */

static void swap_out(void *ctx, unsigned shard)
{
    orderd_wal_t *w = ctx;
    orderd_wal_buf_t tmp = w->slots[shard].active;
    w->slots[shard].active = w->taken[shard];
    w->taken[shard] = tmp;
    atomic_store_explicit(&w->slots[shard].pending, 0, memory_order_relaxed);
}

static void notify_all(orderd_wal_t *w, orderd_wal_buf_t *b, int durable)
{
    for (size_t i = 0; i < b->nw; ++i)
        w->cfg.notify(w->cfg.notify_ctx, b->waiters[i], durable);
    b->len = b->nw = 0;
}

/* Undoes a buffer's records newest first (they were applied, never made durable). */
static void undo_buf(orderd_wal_t *w, const orderd_wal_buf_t *b)
{
    size_t n = 0, cap = 64, *offs = malloc(cap * sizeof(*offs));
    unsigned char *scratch = aligned_alloc(8, ORDERD_RECORD_MAX_PAYLOAD);
    if (offs == NULL || scratch == NULL)
        orderd_wal_die_sync("allocating memory to undo a failed write", ENOMEM);
    for (size_t off = 0; off < b->len;) {
        if (n == cap && (offs = realloc(offs, (cap *= 2) * sizeof(*offs))) == NULL)
            orderd_wal_die_sync("allocating memory to undo a failed write", ENOMEM);
        offs[n++] = off;
        off += ORDERD_RECORD_HEADER_SIZE + orderd_record_hdr_len(b->buf + off);
    }
    while (n-- > 0) {
        orderd_record_t rec = orderd_record_peek(b->buf + offs[n]);
        memcpy(scratch, rec.payload, rec.len);
        rec.payload = scratch;
        orderd_change_t ev;
        if (orderd_change_from_record(&rec, &ev) != 0 || orderd_store_undo(w->store, &ev) != ORDERD_STORE_OK)
            orderd_log(ORDERD_LOG_ERROR, "could not undo a change whose write failed");
    }
    free(offs);
    free(scratch);
}

static void on_write_failure(orderd_wal_t *w, int err, uint64_t batch_first_seq)
{
    orderd_log(ORDERD_LOG_ERROR, "journal write failed: %s; the batch is not acknowledged, writes are refused for %d ms",
            strerror(err), READ_ONLY_AFTER_FAILURE_MS);
    /* A later, shorter write must not leave pieces of this one behind it. */
    if (ftruncate(w->fd, w->seg_end) != 0 || fdatasync(w->fd) != 0)
        orderd_wal_die_sync("cutting the journal back after a failed write", errno);
    w->alloc_end = w->seg_end;
    w->prealloc_off = 1;
    w->last_seq = batch_first_seq - 1;
    atomic_store(&w->read_only_until_ms, INT64_MAX); /* until the undo below is done */
    atomic_store(&w->read_only, 1);
    atomic_fetch_add(&w->failure_epoch, 1);
    orderd_fault_pause("write-failure:before-undo");

    /* Everything queued after the failed batch may build on it: take it out
     * too (appends are refused from now on), then undo newest first. */
    orderd_wal_buf_t *later = calloc(w->nshards, sizeof(*later));
    if (later == NULL)
        orderd_wal_die_sync("allocating memory after a failed write", ENOMEM);
    for (unsigned i = 0; i < w->nshards; ++i) {
        orderd_wal_buf_t keep = w->taken[i];
        w->taken[i] = (orderd_wal_buf_t){0};
        orderd_store_with_shard(w->store, i, swap_out, w);
        later[i] = w->taken[i];
        w->taken[i] = keep;
    }
    for (unsigned i = 0; i < w->nshards; ++i) {
        undo_buf(w, &later[i]);
        undo_buf(w, &w->taken[i]);
        notify_all(w, &later[i], 0);
        notify_all(w, &w->taken[i], 0);
        free(later[i].buf);
        free(later[i].waiters);
    }
    free(later);
    atomic_store(&w->read_only_until_ms, orderd_wal_mono_ms() + READ_ONLY_AFTER_FAILURE_MS);
    pthread_mutex_lock(&w->mu);
    ++w->stats.write_failures;
    pthread_mutex_unlock(&w->mu);
}

/* Stamps and writes what was taken, then hands its waiters on (to the
 * sync, or told at once). Returns the number of records. */
static size_t write_batch(orderd_wal_t *w, uint64_t g)
{
    struct iovec iov[IOV_MAX];
    size_t niov = 0, total = 0, records = 0;
    uint64_t first = w->last_seq + 1;
    off_t off = w->seg_end;

    for (unsigned i = 0; i <= w->nshards; ++i) {
        if (niov == IOV_MAX || (i == w->nshards && niov > 0)) {
            ssize_t n = pwritev(w->fd, iov, (int)niov, off);
            size_t want = 0;
            for (size_t k = 0; k < niov; ++k)
                want += iov[k].iov_len;
            if (n < 0 || (size_t)n != want) {
                on_write_failure(w, n < 0 ? errno : ENOSPC, first);
                return 0;
            }
            off += (off_t)want;
            niov = 0;
        }
        if (i == w->nshards)
            break;
        orderd_wal_buf_t *b = &w->taken[i];
        if (b->len == 0)
            continue;
        for (size_t o = 0; o < b->len;) {
            orderd_record_restamp(b->buf + o, ++w->last_seq);
            o += ORDERD_RECORD_HEADER_SIZE + orderd_record_hdr_len(b->buf + o);
            ++records;
        }
        iov[niov++] = (struct iovec){b->buf, b->len};
        total += b->len;
    }
    if (total > 0) {
        atomic_store(&w->written_seq, w->last_seq);
        if (w->cfg.fsync == ORDERD_FSYNC_NO)
            orderd_wal_report_durable(w, w->last_seq); /* as durable as this mode makes anything */
        w->seg_end = off;
        w->seg_written = 1;
        w->bytes_since_snapshot += total;
        /* the writer thread syncs it (everysec_step); the first unsynced
         * write wakes it, so it can time that sync */
        if (w->cfg.fsync != ORDERD_FSYNC_ALWAYS && atomic_exchange(&w->unsynced, 1) == 0 &&
            w->cfg.fsync == ORDERD_FSYNC_EVERYSEC)
            orderd_wal_kick(w);
    }
    pthread_mutex_lock(&w->mu);
    if (w->cfg.fsync == ORDERD_FSYNC_ALWAYS && (total > 0 || w->written_g > w->synced_g)) {
        /* acknowledged by sync_step once an fdatasync covers this batch
         * (a batch of barriers only waits for the batches written before it) */
        w->written_g = g;
        for (unsigned i = 0; i < w->nshards; ++i)
            orderd_wal_await_add(w, &w->taken[i]);
    } else {
        w->written_g = w->synced_g = g;
        pthread_cond_broadcast(&w->done_cv);
    }
    pthread_mutex_unlock(&w->mu);
    for (unsigned i = 0; i < w->nshards; ++i)
        notify_all(w, &w->taken[i], 1);
    pthread_mutex_lock(&w->mu);
    w->stats.last_seq = w->last_seq;
    w->stats.records += records;
    if (total > 0) {
        ++w->stats.batches;
        w->stats.bytes += total;
        orderd_histogram_observe(&w->batch_hist, records);
    }
    pthread_mutex_unlock(&w->mu);
    return records;
}

/* Creates segment `first` with its header and makes it durable. */
static int create_segment(orderd_wal_t *w, uint64_t first)
{
    char name[64], path[4200];
    unsigned char hdr[ORDERD_FILE_HEADER_SIZE];
    orderd_journal_segment_name(name, sizeof(name), first);
    orderd_path_join(path, sizeof(path), w->cfg.dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    orderd_file_header_encode(hdr, ORDERD_JOURNAL_MAGIC, first);
    if (orderd_pwrite_all(fd, hdr, sizeof(hdr), 0) != 0 || fdatasync(fd) != 0 || orderd_fsync_dir(w->cfg.dir) != 0) {
        int e = errno;
        close(fd);
        unlink(path);
        errno = e;
        return -1;
    }
    orderd_fault_point("rotate:after-create");
    if (w->fd >= 0)
        close(w->fd);
    w->fd = fd;
    w->seg_first = first;
    w->seg_end = w->alloc_end = ORDERD_FILE_HEADER_SIZE;
    w->seg_written = w->prealloc_off = 0;
    w->prealloc_tried = 0;
    pthread_mutex_lock(&w->mu);
    ++w->stats.segments;
    pthread_mutex_unlock(&w->mu);
    return 0;
}

/* Past the threshold: close this segment off, start the next, snapshot.
 * The caller holds commit_mu, so nothing new is written meanwhile. */
static void maybe_rotate(orderd_wal_t *w)
{
    if (w->bytes_since_snapshot < w->cfg.snapshot_bytes || w->rotation.busy(w->rotation.ctx))
        return;
    orderd_wal_sync_step(w); /* everything written is durable and acknowledged */
    pthread_mutex_lock(&w->sync_mu); /* and no deferred sync runs on the old file while it is swapped */
    if (atomic_load(&w->unsynced))
        orderd_wal_sync_now(w);
    if (w->alloc_end > w->seg_end && ftruncate(w->fd, w->seg_end) == 0) /* finished segments hold records only */
        w->alloc_end = w->seg_end;
    int created = create_segment(w, w->last_seq + 1);
    pthread_mutex_unlock(&w->sync_mu);
    w->bytes_since_snapshot = 0;
    if (created != 0) {
        orderd_log(ORDERD_LOG_WARN, "cannot start a new journal segment: %s; staying on the current one",
                strerror(errno));
        return;
    }
    if (w->rotation.start(w->rotation.ctx, w) != 0)
        orderd_log(ORDERD_LOG_WARN, "cannot start a snapshot thread");
}

/* One gather-write-sync cycle; the caller holds commit_mu. Returns the
 * number of records made durable. */
static size_t commit_cycle(orderd_wal_t *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t g = ++w->gathers;
    pthread_mutex_unlock(&w->mu);

    for (unsigned i = 0; i < w->nshards; ++i)
        if (atomic_load_explicit(&w->slots[i].pending, memory_order_relaxed))
            orderd_store_with_shard(w->store, i, swap_out, w);
    size_t n = write_batch(w, g);
    if (n > 0)
        maybe_rotate(w);
    return n;
}

void orderd_wal_flush(orderd_wal_t *w)
{
    /* Whoever holds the commit role takes everything queued so far; if it
     * is taken, the writer thread makes sure nothing is left behind. */
    uint64_t seen = atomic_load(&w->appended);
    if (pthread_mutex_trylock(&w->commit_mu) != 0) {
        orderd_wal_kick(w);
        return;
    }
    commit_cycle(w);
    pthread_mutex_unlock(&w->commit_mu);
    /* the writer thread syncs what was just written, or takes what came since */
    if (atomic_load(&w->appended) != seen || orderd_wal_sync_due(w))
        orderd_wal_kick(w);
}

static void *writer_main(void *arg)
{
    orderd_wal_t *w = arg;
    for (;;) {
        uint64_t seen = atomic_load(&w->appended);
        pthread_mutex_lock(&w->mu);
        int stopping = w->stopping;
        pthread_mutex_unlock(&w->mu);

        orderd_wal_everysec_step(w);
        pthread_mutex_lock(&w->commit_mu);
        size_t n = commit_cycle(w);
        pthread_mutex_unlock(&w->commit_mu);
        orderd_wal_sync_step(w);
        orderd_wal_everysec_step(w);
        pthread_mutex_lock(&w->commit_mu);
        orderd_wal_prealloc_ahead(w);
        pthread_mutex_unlock(&w->commit_mu);

        pthread_mutex_lock(&w->mu);
        if (n == 0 && atomic_load(&w->appended) == seen && w->written_g <= w->synced_g) {
            if (stopping) {
                pthread_mutex_unlock(&w->mu);
                break;
            }
            /* idle: sleep until kicked, or until a deferred sync or the end of read-only is due */
            int64_t wake = INT64_MAX, now = orderd_wal_mono_ms();
            if (atomic_load(&w->unsynced) && w->cfg.fsync == ORDERD_FSYNC_EVERYSEC)
                wake = atomic_load(&w->last_sync_ms) + ORDERD_EVERYSEC_MS;
            atomic_store(&w->idle, 1);
            if (atomic_load(&w->appended) == seen && !w->stopping && w->written_g <= w->synced_g) {
                if (wake == INT64_MAX) {
                    pthread_cond_wait(&w->cv, &w->mu);
                } else if (wake > now) {
                    struct timespec ts;
                    clock_gettime(CLOCK_REALTIME, &ts);
                    int64_t ns = ts.tv_nsec + (wake - now) * 1000000;
                    ts.tv_sec += ns / 1000000000;
                    ts.tv_nsec = ns % 1000000000;
                    pthread_cond_timedwait(&w->cv, &w->mu, &ts);
                }
            }
            atomic_store(&w->idle, 0);
            pthread_mutex_unlock(&w->mu);
            orderd_wal_everysec_step(w);
            continue;
        }
        pthread_mutex_unlock(&w->mu);
    }
    pthread_mutex_lock(&w->commit_mu);
    pthread_mutex_lock(&w->sync_mu);
    if (atomic_load(&w->unsynced) && w->cfg.fsync != ORDERD_FSYNC_NO)
        orderd_wal_sync_now(w);
    pthread_mutex_unlock(&w->sync_mu);
    pthread_mutex_unlock(&w->commit_mu);
    return NULL;
}

orderd_wal_t *orderd_wal_writer_open(const orderd_wal_config_t *cfg, orderd_store_t *store,
                                     const orderd_replay_report_t *report, const orderd_wal_rotation_t *rotation,
                                     char *err, size_t errlen)
{
    orderd_wal_t *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->cfg = *cfg;
    w->rotation = *rotation;
    w->store = store;
    w->nshards = orderd_store_shards(store);
    w->fd = -1;
    w->last_seq = report->last_seq;
    atomic_store(&w->written_seq, report->last_seq);
    atomic_store(&w->last_sync_ms, orderd_wal_mono_ms());
    w->bytes_since_snapshot = report->segment_bytes;
    orderd_histogram_init(&w->sync_hist, &orderd_buckets_seconds);
    orderd_histogram_init(&w->batch_hist, &orderd_buckets_count);
    orderd_histogram_init(&w->snapshot_hist, &orderd_buckets_seconds);
    pthread_mutex_init(&w->mu, NULL);
    pthread_mutex_init(&w->commit_mu, NULL);
    pthread_mutex_init(&w->sync_mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    pthread_cond_init(&w->done_cv, NULL);
    w->slots = aligned_alloc(64, sizeof(*w->slots) * w->nshards);
    w->taken = calloc(w->nshards, sizeof(*w->taken));
    if (w->slots == NULL || w->taken == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    memset(w->slots, 0, sizeof(*w->slots) * w->nshards);

    if (report->segment[0] != '\0') {
        if ((w->fd = open(report->segment, O_WRONLY | O_CLOEXEC)) < 0) {
            snprintf(err, errlen, "cannot open %s: %s", report->segment, strerror(errno));
            goto fail;
        }
        w->seg_end = (off_t)report->segment_end;
        /* what replay read may still be only in the page cache (after a kill -9): make it durable
         * before the feed hands it out */
        if (fdatasync(w->fd) != 0) {
            snprintf(err, errlen, "cannot sync %s: %s", report->segment, strerror(errno));
            goto fail;
        }
        struct stat st;
        w->alloc_end = fstat(w->fd, &st) == 0 && st.st_size > w->seg_end ? st.st_size : w->seg_end;
    } else if (create_segment(w, w->last_seq + 1) != 0) {
        snprintf(err, errlen, "cannot create a journal segment in %s: %s", cfg->dir, strerror(errno));
        goto fail;
    }
    orderd_store_journal_t hooks = {hook_append, hook_barrier, w};
    orderd_store_set_journal(store, &hooks);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        orderd_store_set_journal(store, NULL);
        snprintf(err, errlen, "cannot start the journal writer thread");
        goto fail;
    }
    return w;
fail:
    if (w->fd >= 0)
        close(w->fd);
    free(w->slots);
    free(w->taken);
    free(w);
    return NULL;
}

void orderd_wal_close(orderd_wal_t *w)
{
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    /* a snapshot waiting for a batch that will not come now gives up */
    pthread_mutex_lock(&w->mu);
    pthread_cond_broadcast(&w->done_cv);
    pthread_mutex_unlock(&w->mu);
    w->rotation.stop(w->rotation.ctx); /* waits for a snapshot in progress */
    orderd_store_set_journal(w->store, NULL);
    /* a clean stop leaves the segment holding records only */
    if (w->alloc_end > w->seg_end && (ftruncate(w->fd, w->seg_end) != 0 || fdatasync(w->fd) != 0))
        orderd_log(ORDERD_LOG_WARN, "cannot cut the zeros written ahead off the journal: %s", strerror(errno));
    close(w->fd);
    for (unsigned i = 0; i < w->nshards; ++i) {
        free(w->slots[i].active.buf);
        free(w->slots[i].active.waiters);
        free(w->taken[i].buf);
        free(w->taken[i].waiters);
    }
    free(w->slots);
    free(w->taken);
    free(w->await.waiters);
    free(w->syncing.waiters);
    free(w);
}

void orderd_wal_stats(orderd_wal_t *w, orderd_wal_stats_t *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->stats;
    pthread_mutex_unlock(&w->mu);
}

void orderd_wal_histograms(orderd_wal_t *w, orderd_wal_histograms_t *out)
{
    orderd_histogram_add_to(&w->sync_hist, &out->fdatasync_seconds);
    orderd_histogram_add_to(&w->batch_hist, &out->batch_records);
    orderd_histogram_add_to(&w->snapshot_hist, &out->snapshot_seconds);
}

/* --- for the snapshots (internal/wal_snapshot.h) --- */

const char *orderd_wal_dir(const orderd_wal_t *w)
{
    return w->cfg.dir;
}

const orderd_wal_config_t *orderd_wal_config(const orderd_wal_t *w)
{
    return &w->cfg;
}

orderd_store_t *orderd_wal_store(const orderd_wal_t *w)
{
    return w->store;
}

uint64_t orderd_wal_last_seq(const orderd_wal_t *w)
{
    return w->last_seq;
}

unsigned orderd_wal_failure_epoch(orderd_wal_t *w)
{
    return atomic_load(&w->failure_epoch);
}

int orderd_wal_await_batch_after(orderd_wal_t *w, unsigned epoch)
{
    /* batches are numbered as they are gathered: one past the newest number
     * now gathers only after this call, so it takes everything appended before */
    pthread_mutex_lock(&w->mu);
    uint64_t target = w->gathers + 1;
    pthread_mutex_unlock(&w->mu);
    orderd_wal_kick(w);
    pthread_mutex_lock(&w->mu);
    while (w->synced_g < target && !w->stopping)
        pthread_cond_wait(&w->done_cv, &w->mu);
    int stopped = w->synced_g < target;
    pthread_mutex_unlock(&w->mu);
    return stopped || atomic_load(&w->failure_epoch) != epoch ? -1 : 0;
}

void orderd_wal_count_snapshot(orderd_wal_t *w, uint64_t ns)
{
    pthread_mutex_lock(&w->mu);
    ++w->stats.snapshots;
    orderd_histogram_observe(&w->snapshot_hist, ns);
    pthread_mutex_unlock(&w->mu);
}
