/*
 * Snapshots: the whole table written beside the journal so start-up need not
 * replay it all, and old segments can go.
 *
 * The writer has just closed a segment at S = last_seq and started segment
 * S + 1. This thread copies each shard's orders under that shard's lock (one
 * at a time, so requests keep flowing), then waits for the writer to finish a
 * batch that began after the copy: every change the copy may hold is then
 * durable in the journal (changes after S are replayed on top, and replay
 * skips what the snapshot already has). Only then is the file renamed into
 * place. A failed journal write meanwhile (its changes undone) abandons the
 * snapshot. Old snapshots and segments go only once the new one is durable.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "orderd/log.h"
#include "internal/fault.h"
#include "internal/files.h"
#include "internal/snapshot.h"

typedef struct snap_buf {
    unsigned char *buf;
    size_t len, cap;
    uint64_t first_seq; /* the snapshot's: its records count on from it */
    uint64_t count;  /* records so far: they are numbered on from first_seq */
    uint64_t orders; /* SNAPSHOT_ORDER records among them */
    orderd_store_t *store;
    int oom;
} snap_buf_t;

/* Appends one framed record to the buffer. */
static void put_record(snap_buf_t *b, uint8_t type, const void *payload, uint32_t len)
{
    size_t need = ORDERD_RECORD_HEADER_SIZE + len;
    if (b->oom)
        return;
    if (b->len + need > b->cap) {
        size_t ncap = b->cap == 0 ? 1 << 20 : b->cap * 2;
        while (ncap < b->len + need)
            ncap *= 2;
        unsigned char *n = realloc(b->buf, ncap);
        if (n == NULL) {
            b->oom = 1;
            return;
        }
        b->buf = n;
        b->cap = ncap;
    }
    /* records carry consecutive numbers from the header's, like a segment's */
    orderd_record_frame(b->buf + b->len, type, b->first_seq + b->count++, payload, len);
    memcpy(b->buf + b->len + ORDERD_RECORD_HEADER_SIZE, payload, len);
    b->len += need;
}

/* Bytes of audit entries one SNAPSHOT_AUDIT record carries at most: a long
 * trail takes several records (each entry is far smaller). */
#define AUDIT_CHUNK (512u << 10)

/* An order, then its audit trail past the creation when it has one, in
 * records of whole entries. */
static void copy_order(void *ctx, const orderd_order_t *o)
{
    snap_buf_t *b = ctx;
    const unsigned char *data;
    size_t n;
    put_record(b, ORDERD_REC_SNAPSHOT_ORDER, o, o->size);
    ++b->orders;
    orderd_store_order_audit(o, &data, &n);
    for (size_t off = 0; off < n && !b->oom;) {
        size_t len = 0;
        while (off + len < n) { /* whole entries, at least one */
            orderd_audit_raw_t r;
            memcpy(&r, data + off + len, sizeof(r));
            size_t one = orderd_audit_raw_size(r.detail_len);
            if (len != 0 && len + one > AUDIT_CHUNK)
                break;
            len += one;
        }
        unsigned char *payload = malloc(8 + len);
        if (payload == NULL) {
            b->oom = 1;
            return;
        }
        orderd_le64_put(payload, o->id);
        memcpy(payload + 8, data + off, len);
        put_record(b, ORDERD_REC_SNAPSHOT_AUDIT, payload, (uint32_t)(8 + len));
        free(payload);
        off += len;
    }
}

static void copy_idem(void *ctx, const orderd_idem_entry_t *e)
{
    put_record(ctx, ORDERD_REC_SNAPSHOT_IDEM, e, e->size);
}

/* Of the segments `firsts` (n, ascending; the last covered one's records end
 * before keep_first), the number of oldest ones that may go: those the feed
 * keeps for neither --feed-retention nor a webhook's pin (wal.h). Each rule
 * keeps a run of the newest, so what stays is one unbroken run. */
static size_t removable(const char *dir, const uint64_t *firsts, size_t n, uint64_t keep_first,
                        const orderd_wal_config_t *cfg)
{
    size_t covered = 0;
    while (covered < n && firsts[covered] < keep_first && (covered + 1 == n ? 0 : firsts[covered + 1] <= keep_first))
        ++covered;
    uint64_t pin = cfg->feed_pin != NULL ? cfg->feed_pin(cfg->feed_pin_ctx) : UINT64_MAX;
    const orderd_feed_retention_t *r = &cfg->feed_retention;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    uint64_t bytes = 0;
    size_t cut = covered;
    for (size_t i = covered; i-- > 0;) {
        char name[64], path[4200];
        struct stat st;
        orderd_journal_segment_name(name, sizeof(name), firsts[i]);
        orderd_path_join(path, sizeof(path), dir, name);
        if (stat(path, &st) != 0)
            break;
        bytes += (uint64_t)st.st_size;
        int64_t mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
        int keep = (pin != UINT64_MAX && firsts[i + 1] > pin) || (r->ms > 0 && mtime_ms >= now_ms - r->ms) ||
                   (r->bytes > 0 && bytes <= r->bytes);
        if (!keep)
            break;
        cut = i;
    }
    return cut;
}

/* Removes snapshots older than `seq` and the segments before `keep_first`
 * the feed does not keep (removable). */
static void remove_covered(const char *dir, uint64_t seq, uint64_t keep_first, const orderd_wal_config_t *cfg)
{
    uint64_t *nums;
    size_t n;
    char name[64], path[4200];
    if (orderd_list_numbered(dir, "snapshot-", ".snap", &nums, &n) == 0) {
        for (size_t i = 0; i < n; ++i)
            if (nums[i] < seq) {
                orderd_journal_snapshot_name(name, sizeof(name), nums[i]);
                orderd_path_join(path, sizeof(path), dir, name);
                unlink(path);
            }
        free(nums);
    }
    if (orderd_list_numbered(dir, "journal-", ".wal", &nums, &n) == 0) {
        size_t cut = removable(dir, nums, n, keep_first, cfg);
        for (size_t i = 0; i < cut; ++i) {
            orderd_journal_segment_name(name, sizeof(name), nums[i]);
            orderd_path_join(path, sizeof(path), dir, name);
            unlink(path);
        }
        free(nums);
    }
    orderd_fsync_dir(dir);
}

/* A snapshot can be hundreds of megabytes. Written in one go and synced at
 * the end, the whole of it reaches the disk queue at once and the journal's
 * fdatasync, which acknowledges requests, waits behind it. So writeback is
 * started every few megabytes, and the writer waits for the range before
 * last: a bounded amount of snapshot data is ever in flight (the same idea
 * as Redis' incremental fsync while it rewrites). It is only pacing: the
 * fdatasync at the end is what makes the file durable, so errors here are
 * left to it. */
#define SNAPSHOT_WRITEBACK_BYTES (4u << 20)

static void pace_writeback(int fd, off_t *started, off_t *waited, off_t off)
{
    if (off - *started < (off_t)SNAPSHOT_WRITEBACK_BYTES)
        return;
    if (*waited < *started) {
        (void)sync_file_range(fd, *waited, *started - *waited, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                                                   SYNC_FILE_RANGE_WAIT_AFTER);
        *waited = *started;
    }
    (void)sync_file_range(fd, *started, off - *started, SYNC_FILE_RANGE_WRITE);
    *started = off;
}

static int write_snapshot(orderd_wal_t *w, uint64_t seq, unsigned epoch)
{
    const char *dir = orderd_wal_dir(w);
    orderd_store_t *store = orderd_wal_store(w);
    char name[64], path[4200], tmp[4300];
    orderd_journal_snapshot_name(name, sizeof(name), seq);
    orderd_path_join(path, sizeof(path), dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);

    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    snap_buf_t b = {.first_seq = seq};
    unsigned char hdr[ORDERD_FILE_HEADER_SIZE];
    orderd_file_header_encode(hdr, ORDERD_SNAPSHOT_MAGIC, seq);
    off_t off = 0;
    int ok = orderd_pwrite_all(fd, hdr, sizeof(hdr), off) == 0;
    off += sizeof(hdr);
    off_t started = 0, waited = 0;
    for (unsigned i = 0, n = orderd_store_shards(store); ok && i < n; ++i) {
        b.len = 0;
        orderd_store_each(store, i, copy_order, &b);
        orderd_store_each_idem(store, i, copy_idem, &b);
        ok = !b.oom && (b.len == 0 || orderd_pwrite_all(fd, b.buf, b.len, off) == 0);
        off += (off_t)b.len;
        if (ok)
            pace_writeback(fd, &started, &waited, off);
    }
    if (ok) {
        unsigned char end[ORDERD_RECORD_HEADER_SIZE + ORDERD_SNAPSHOT_END_PAYLOAD_SIZE];
        uint32_t len = orderd_snapshot_end_payload(b.orders, end + ORDERD_RECORD_HEADER_SIZE);
        orderd_record_frame(end, ORDERD_REC_SNAPSHOT_END, seq + b.count, end + ORDERD_RECORD_HEADER_SIZE, len);
        ok = orderd_pwrite_all(fd, end, sizeof(end), off) == 0 && fdatasync(fd) == 0;
    }
    free(b.buf);
    close(fd);
    orderd_fault_point("snapshot:after-write");

    /* wait until a batch that started after the copy is durable: so are the
     * copy's changes (unless a write failed since `epoch` and undid some) */
    int durable = orderd_wal_await_batch_after(w, epoch) == 0;

    if (!ok || !durable) {
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0 || orderd_fsync_dir(dir) != 0) {
        unlink(tmp);
        return -1;
    }
    orderd_fault_point("snapshot:after-rename");
    remove_covered(dir, seq, seq + 1, orderd_wal_config(w));
    orderd_fault_point("snapshot:after-cleanup");
    orderd_log(ORDERD_LOG_INFO, "snapshot %s: %llu orders", path, (unsigned long long)b.orders);
    return 0;
}

/* The snapshot thread: one at a time, started by the writer's rotation. */
typedef struct snapshots {
    orderd_wal_t *w;
    pthread_t thread;
    atomic_int running;
    int joinable;
    uint64_t seq;
    unsigned epoch; /* the writer's failure epoch when the snapshot was asked for */
} snapshots_t;

static void *snapshot_main(void *arg)
{
    snapshots_t *s = arg;
    orderd_fault_pause("snapshot:start");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (write_snapshot(s->w, s->seq, s->epoch) == 0) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        orderd_wal_count_snapshot(s->w, (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec)));
    } else {
        orderd_log(ORDERD_LOG_WARN, "snapshot at record %llu abandoned; the journal still holds everything",
                (unsigned long long)s->seq);
    }
    atomic_store(&s->running, 0);
    return NULL;
}

static int snapshot_busy(void *ctx)
{
    snapshots_t *s = ctx;
    return atomic_load(&s->running);
}

/* Called by the writer under the commit role (see orderd_wal_rotation_t). */
static int snapshot_start(void *ctx, orderd_wal_t *w)
{
    snapshots_t *s = ctx;
    if (s->joinable) {
        pthread_join(s->thread, NULL);
        s->joinable = 0;
    }
    s->w = w;
    s->seq = orderd_wal_last_seq(w);
    /* Taken now, under the commit role, not when the thread gets to run: a
     * write that fails after this point undoes changes the copy may hold,
     * and must abandon the snapshot. Read by the thread, it could come after
     * a failure whose undo was still going on, and a snapshot holding an
     * undone change (answered 503) would have been kept. */
    s->epoch = orderd_wal_failure_epoch(w);
    atomic_store(&s->running, 1);
    if (pthread_create(&s->thread, NULL, snapshot_main, s) != 0) {
        atomic_store(&s->running, 0);
        return -1;
    }
    s->joinable = 1;
    return 0;
}

static void snapshot_stop(void *ctx)
{
    snapshots_t *s = ctx;
    if (s->joinable)
        pthread_join(s->thread, NULL);
    free(s);
}

int orderd_snapshot_rotation_new(orderd_wal_rotation_t *out)
{
    snapshots_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -1;
    *out = (orderd_wal_rotation_t){.busy = snapshot_busy, .start = snapshot_start, .stop = snapshot_stop, .ctx = s};
    return 0;
}
