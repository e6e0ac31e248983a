/* Start-up: the newest valid snapshot, then the newer journal segments. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal/files.h"
#include "internal/scan.h"
#include "orderd/journal.h"
#include "orderd/log.h"
#include "orderd/store.h"

typedef struct replay_ctx {
    orderd_store_t *store;
    uint64_t skip_to; /* records up to this seq are in the snapshot */
    size_t applied;
    uint64_t snapshot_orders;
    int snapshot_ended;
} replay_ctx_t;

static int apply_record(void *_ctx, const orderd_record_t *rec, size_t off)
{
    (void)off;
    replay_ctx_t *ctx = _ctx;
    orderd_change_t ev;
    if (rec->seq <= ctx->skip_to)
        return 0;
    if (rec->type >= ORDERD_REC_SNAPSHOT_ORDER || orderd_change_from_record(rec, &ev) != 0 || orderd_store_replay(ctx->store, &ev) != ORDERD_STORE_OK)
        return -1;
    ++ctx->applied;
    return 0;
}

/* Snapshot records: orders, then one END carrying their count. */
static int check_snapshot_record(void *_ctx, const orderd_record_t *rec, size_t off)
{
    (void)off;
    replay_ctx_t *ctx = _ctx;
    orderd_change_t ev;
    if (ctx->snapshot_ended)
        return -1;
    if (rec->type == ORDERD_REC_SNAPSHOT_END) {
        uint64_t n;
        if (orderd_snapshot_end_count(rec, &n) != 0)
            return -1;
        ctx->snapshot_ended = n == ctx->snapshot_orders;
        return ctx->snapshot_ended ? 0 : -1;
    }
    if (rec->type == ORDERD_REC_SNAPSHOT_HISTORY) {
        uint64_t id;
        orderd_audit_entry_t events[ORDERD_HISTORY_MAX];
        size_t n;
        return orderd_history_from_record(rec, &id, events, &n);
    }
    if (rec->type == ORDERD_REC_SNAPSHOT_AUDIT) {
        uint64_t id;
        const unsigned char *data;
        size_t n;
        return orderd_audit_from_record(rec, &id, &data, &n);
    }
    if ((rec->type != ORDERD_REC_SNAPSHOT_ORDER && rec->type != ORDERD_REC_SNAPSHOT_IDEM) ||
        orderd_change_from_record(rec, &ev) != 0)
        return -1;
    if (rec->type == ORDERD_REC_SNAPSHOT_ORDER)
        ++ctx->snapshot_orders;
    return 0;
}

static int load_snapshot_record(void *_ctx, const orderd_record_t *rec, size_t off)
{
    (void)off;
    replay_ctx_t *ctx = _ctx;
    orderd_change_t ev;
    if (rec->type == ORDERD_REC_SNAPSHOT_END)
        return 0;
    if (rec->type == ORDERD_REC_SNAPSHOT_HISTORY) {
        uint64_t id;
        orderd_audit_entry_t events[ORDERD_HISTORY_MAX];
        size_t n;
        return orderd_history_from_record(rec, &id, events, &n) == 0 &&
                       orderd_store_restore_history(ctx->store, id, events, n) == ORDERD_STORE_OK
                   ? 0
                   : -1;
    }
    if (rec->type == ORDERD_REC_SNAPSHOT_AUDIT) {
        uint64_t id;
        const unsigned char *data;
        size_t n;
        return orderd_audit_from_record(rec, &id, &data, &n) == 0 &&
                       orderd_store_restore_audit(ctx->store, id, data, n) == ORDERD_STORE_OK
                   ? 0
                   : -1;
    }
    if (orderd_change_from_record(rec, &ev) != 0)
        return -1;
    /* keys go through replay's rule: one past its time is not loaded */
    return (ev.type == ORDERD_CHANGE_IDEM_KEY ? orderd_store_replay(ctx->store, &ev)
                                              : orderd_store_apply(ctx->store, &ev)) == ORDERD_STORE_OK
               ? 0
               : -1;
}

/* Tries snapshots newest first; a damaged one is skipped (the previous one is
 * kept until a new one is complete, and the journal still covers it). */
static int load_snapshot(const char *dir, orderd_store_t *store, orderd_replay_report_t *rep)
{
    uint64_t *seqs;
    size_t n;
    if (orderd_list_numbered(dir, "snapshot-", ".snap", &seqs, &n) != 0) {
        snprintf(rep->error, sizeof(rep->error), "cannot list %s: %s", dir, strerror(errno));
        return -1;
    }
    for (size_t i = n; i-- > 0;) {
        char name[64], path[4200];
        orderd_journal_snapshot_name(name, sizeof(name), seqs[i]);
        orderd_path_join(path, sizeof(path), dir, name);
        const unsigned char *data;
        size_t len;
        if (orderd_map_file(path, &data, &len) != 0)
            continue;
        replay_ctx_t ctx = {.store = store};
        orderd_scan_t sc;
        int loading = 0;
        int ok = orderd_scan_file(data, len, ORDERD_SNAPSHOT_MAGIC, check_snapshot_record, &ctx, &sc) == 0 &&
                 sc.state == ORDERD_SCAN_CLEAN && ctx.snapshot_ended && sc.first_seq == seqs[i];
        if (ok) {
            /* checked whole first, so a damaged snapshot leaves the table empty for an older one */
            loading = 1;
            ok = orderd_scan_file(data, len, ORDERD_SNAPSHOT_MAGIC, load_snapshot_record, &ctx, &sc) == 0 &&
                 sc.state == ORDERD_SCAN_CLEAN;
        }
        orderd_unmap_file(data, len);
        if (ok) {
            rep->snapshot_seq = seqs[i];
            rep->snapshot_orders = ctx.snapshot_orders;
            rep->bytes += len;
            free(seqs);
            return 0;
        }
        if (loading) {
            /* failed half-way through loading: the table is no longer empty */
            snprintf(rep->error, sizeof(rep->error), "snapshot %s failed to load at offset %zu", path, sc.bad_at);
            free(seqs);
            return -1;
        }
        orderd_log(ORDERD_LOG_WARN, "snapshot %s is incomplete or damaged; trying an older one", path);
    }
    free(seqs);
    return 0;
}

/* A crash while a snapshot was written leaves snapshot-*.snap.tmp: never
 * renamed into place, never read; remove it so it does not hold disk. */
static void remove_stale_temps(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 18 && strncmp(e->d_name, "snapshot-", 9) == 0 && strcmp(e->d_name + len - 9, ".snap.tmp") == 0) {
            char path[4200];
            orderd_path_join(path, sizeof(path), dir, e->d_name);
            if (unlink(path) == 0)
                orderd_log(ORDERD_LOG_INFO, "removed %s, left by a snapshot that did not finish", path);
        }
    }
    closedir(d);
}

static int cut_torn_tail(const char *path, size_t keep, size_t len)
{
    (void)len;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int ret = ftruncate(fd, (off_t)keep) == 0 && fsync(fd) == 0 ? 0 : -1;
    close(fd);
    return ret;
}

int orderd_journal_replay(const char *dir, orderd_store_t *store, orderd_replay_report_t *rep)
{
    uint64_t *firsts = NULL;
    size_t n;
    int ret = -1;

    memset(rep, 0, sizeof(*rep));
    remove_stale_temps(dir);
    if (load_snapshot(dir, store, rep) != 0)
        return -1;
    if (orderd_list_numbered(dir, "journal-", ".wal", &firsts, &n) != 0) {
        snprintf(rep->error, sizeof(rep->error), "cannot list %s: %s", dir, strerror(errno));
        return -1;
    }
    rep->last_seq = rep->snapshot_seq;
    uint64_t next = rep->snapshot_seq + 1;
    for (size_t i = 0; i < n; ++i) {
        /* covered by the snapshot whole: the next segment starts at or before the first needed record */
        if (i + 1 < n && firsts[i + 1] <= rep->snapshot_seq + 1)
            continue;
        char name[64], path[4200];
        orderd_journal_segment_name(name, sizeof(name), firsts[i]);
        orderd_path_join(path, sizeof(path), dir, name);
        if (firsts[i] > next) {
            snprintf(rep->error, sizeof(rep->error),
                     "journal %s starts at record %" PRIu64 " but record %" PRIu64
                     " is missing (a segment or snapshot was removed)",
                     path, firsts[i], next);
            goto out;
        }
        const unsigned char *data;
        size_t len;
        if (orderd_map_file(path, &data, &len) != 0) {
            snprintf(rep->error, sizeof(rep->error), "cannot read %s: %s", path, strerror(errno));
            goto out;
        }
        replay_ctx_t ctx = {.store = store, .skip_to = rep->snapshot_seq};
        orderd_scan_t sc;
        if (orderd_scan_file(data, len, ORDERD_JOURNAL_MAGIC, apply_record, &ctx, &sc) != 0) {
            orderd_unmap_file(data, len);
            snprintf(rep->error, sizeof(rep->error), "out of memory replaying %s", path);
            goto out;
        }
        orderd_unmap_file(data, len);
        rep->records += ctx.applied;
        rep->bytes += len - sc.zero_tail; /* the zeros written ahead are not journal */
        int last = i + 1 == n;
        if (sc.state == ORDERD_SCAN_DAMAGED || (sc.state == ORDERD_SCAN_TORN && !last) ||
            (sc.state == ORDERD_SCAN_CLEAN && sc.first_seq != firsts[i])) {
            snprintf(rep->error, sizeof(rep->error),
                     "journal %s is damaged at offset %zu (%s); orderd will not start on a journal with a hole. "
                     "Run `orderd journal verify --data-dir %s` to inspect it and `orderd journal repair "
                     "--data-dir %s` to keep the valid prefix and move the rest aside (nothing is deleted)",
                     path, sc.bad_at, sc.why != NULL ? sc.why : "wrong first record", dir, dir);
            goto out;
        }
        if (sc.state == ORDERD_SCAN_TORN) {
            /* An incomplete last write: no acknowledged record can be in it, since a
             * change is acknowledged only after the write that holds it completed. */
            size_t keep = sc.bad_at < ORDERD_FILE_HEADER_SIZE ? 0 : sc.bad_at;
            if (cut_torn_tail(path, keep, len) != 0) {
                snprintf(rep->error, sizeof(rep->error), "cannot cut the torn tail of %s: %s", path, strerror(errno));
                goto out;
            }
            orderd_log(ORDERD_LOG_WARN, "journal %s: torn tail of %zu bytes at offset %zu dropped (%s)", path,
                    len - keep, keep, sc.why);
            rep->torn_bytes += len - keep;
            if (keep == 0) {
                /* nothing of the segment survived, not even its header: the writer recreates it */
                unlink(path);
                continue;
            }
            sc.valid_end = keep;
        }
        if (sc.next_seq <= rep->snapshot_seq) {
            /* the last segment, ending before the snapshot (a covered segment
             * copied back by hand): appending to it would leave a gap in its
             * numbers that the next start-up cuts as a torn tail, acknowledged
             * changes with it. The writer starts a segment of its own. */
            orderd_log(ORDERD_LOG_WARN, "journal %s ends at record %" PRIu64 ", before snapshot %" PRIu64
                       ": left as it is, a new segment follows the snapshot", path, sc.next_seq - 1, rep->snapshot_seq);
            continue;
        }
        if (sc.next_seq > next)
            next = sc.next_seq;
        rep->segment_bytes += sc.valid_end;
        snprintf(rep->segment, sizeof(rep->segment), "%s", path);
        rep->segment_end = sc.valid_end;
    }
    rep->last_seq = next - 1;
    rep->orders = orderd_store_count(store);
    ret = 0;
out:
    free(firsts);
    return ret;
}
