/* `orderd journal verify|dump|repair --data-dir DIR` */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal/files.h"
#include "internal/scan.h"
#include "orderd/journal.h"
#include "orderd/order_ops.h"

enum { VERIFY, DUMP, REPAIR };

typedef struct dump_ctx {
    FILE *out;
    const char *file;
} dump_ctx_t;

static void json_str(FILE *out, orderd_str_t s)
{
    fputc('"', out);
    for (size_t i = 0; i < s.len; ++i) {
        unsigned char c = (unsigned char)s.base[i];
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

/* An operation: its head, the order's totals after it, and each entry of what changed. */
static void dump_amended(FILE *out, const orderd_change_t *ev)
{
    const __typeof__(ev->u.amended) *m = &ev->u.amended;
    char id[ORDERD_ID_LEN + 1] = {0};
    orderd_id_format(m->order_id, id);
    fprintf(out,
            ",\"event\":\"%s\",\"id\":\"%s\",\"status\":\"%s\",\"from\":\"%s\",\"version\":%u,\"at_ms\":%" PRId64
            ",\"actor\":\"%s\",\"total_minor\":%" PRId64 ",\"changes\":[",
            orderd_op_name(m->op), id, orderd_status_name((orderd_status_t)m->status),
            orderd_status_name((orderd_status_t)m->prev_status), m->version, m->at_ms,
            m->actor == ORDERD_ACTOR_OPERATOR ? "operator" : "user", m->after->total);
    if (m->flags & ORDERD_AMENDED_VIA_STATUS)
        fputs(",\"via\":\"status\"", out);
    orderd_detail_entry_t e;
    size_t off = 0;
    for (int first = 1; orderd_detail_next(m->detail, m->detail_len, &off, &e) == 1; first = 0) {
        fprintf(out, "%s{\"kind\":\"%s\",\"ref\":%u,\"quantity\":%u,\"amount_minor\":%" PRId64, first ? "" : ",",
                orderd_detail_kind_name(e.kind), (unsigned)e.ref, e.quantity, e.amount);
        if (e.text.len != 0) {
            fputs(",\"text\":", out);
            json_str(out, e.text);
        }
        fputc('}', out);
    }
    fputc(']', out);
}

static int dump_record(void *_ctx, const orderd_record_t *rec, size_t off)
{
    dump_ctx_t *ctx = _ctx;
    orderd_change_t ev;
    char id[ORDERD_ID_LEN + 1] = {0};
    fprintf(ctx->out, "{\"file\":\"%s\",\"offset\":%zu,\"seq\":%" PRIu64 ",\"type\":%u,\"length\":%u", ctx->file, off,
            rec->seq, rec->type, rec->len);
    if (rec->type != ORDERD_REC_SNAPSHOT_END && orderd_change_from_record(rec, &ev) == 0) {
        if (ev.type == ORDERD_CHANGE_CREATED) {
            const orderd_order_t *o = ev.u.created.order;
            orderd_id_format(o->id, id);
            fprintf(ctx->out, ",\"event\":\"%s\",\"id\":\"%s\",\"user_id\":",
                    rec->type == ORDERD_REC_ORDER_CREATED ? "order_created" : "snapshot_order", id);
            json_str(ctx->out, orderd_order_user(o));
            fprintf(ctx->out, ",\"status\":\"%s\",\"version\":%u,\"items\":%u,\"total_minor\":%" PRId64,
                    orderd_status_name((orderd_status_t)o->status), o->version, o->n_items, o->total);
        } else if (ev.type == ORDERD_CHANGE_IDEM_KEY) {
            const orderd_idem_entry_t *e = ev.u.idem.entry;
            orderd_id_format(e->order_id, id);
            fprintf(ctx->out, ",\"event\":\"%s\",\"id\":\"%s\",\"user_id\":",
                    rec->type == ORDERD_REC_IDEM_KEY ? "idempotency_key" : "snapshot_idempotency_key", id);
            json_str(ctx->out, orderd_idem_entry_user(e));
            fputs(",\"key\":", ctx->out);
            json_str(ctx->out, orderd_idem_entry_key(e));
            fprintf(ctx->out, ",\"version\":%u,\"http_status\":%u,\"created_ms\":%" PRId64, e->version,
                    (unsigned)e->status, e->created_ms);
        } else if (ev.type == ORDERD_CHANGE_AMENDED) {
            dump_amended(ctx->out, &ev);
        } else {
            orderd_id_format(ev.u.status_changed.order_id, id);
            fprintf(ctx->out,
                    ",\"event\":\"status_changed\",\"id\":\"%s\",\"status\":\"%s\",\"from\":\"%s\",\"version\":%u,"
                    "\"at_ms\":%" PRId64 ",\"actor\":\"%s\"",
                    id, orderd_status_name((orderd_status_t)ev.u.status_changed.status),
                    orderd_status_name((orderd_status_t)ev.u.status_changed.prev_status),
                    ev.u.status_changed.version, ev.u.status_changed.at_ms,
                    ev.u.status_changed.actor == ORDERD_ACTOR_OPERATOR ? "operator" : "user");
        }
    }
    fputs("}\n", ctx->out);
    return 0;
}

/* Moves bytes [from, end) of `path` to `path`.broken (appending), then cuts
 * `path` at `from`. Never deletes: the moved bytes are synced first. */
static int move_aside(const char *path, const unsigned char *data, size_t len, size_t from, FILE *err)
{
    char broken[4300];
    snprintf(broken, sizeof(broken), "%s.broken", path);
    int bfd = open(broken, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (bfd < 0 || (len > from && write(bfd, data + from, len - from) != (ssize_t)(len - from)) || fsync(bfd) != 0) {
        fprintf(err, "orderd: cannot write %s: %s\n", broken, strerror(errno));
        if (bfd >= 0)
            close(bfd);
        return -1;
    }
    close(bfd);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)from) != 0 || fsync(fd) != 0) {
        fprintf(err, "orderd: cannot cut %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    fprintf(err, "orderd: %s: kept %zu bytes, moved %zu bytes to %s\n", path, from, len - from, broken);
    return 0;
}

/* Renames a whole segment that cannot be replayed to <segment>.broken (or
 * .broken.N when taken), so replay no longer sees it. Nothing is deleted. */
static int set_aside(const char *dir, const char *path, FILE *err)
{
    char target[4400];
    snprintf(target, sizeof(target), "%s.broken", path);
    for (int i = 1; access(target, F_OK) == 0 && i < 1000; ++i)
        snprintf(target, sizeof(target), "%s.broken.%d", path, i);
    if (rename(path, target) != 0 || orderd_fsync_dir(dir) != 0) {
        fprintf(err, "orderd: cannot move %s aside: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(err, "orderd: %s moved whole to %s\n", path, target);
    return 0;
}

/* verify and repair need the journal at rest: a running orderd (it holds
 * LOCK) appends to it, and a repair under it would cut what it acknowledges.
 * *fd holds the lock while the tool runs, so no server starts meanwhile
 * (-1: none taken: dump, or no LOCK file because no server ever ran there). */
static int lock_dir(int mode, const char *dir, FILE *err, int *fd)
{
    *fd = -1;
    if (mode == DUMP || (*fd = orderd_lock_data_dir(dir, mode == REPAIR, 0)) >= 0 || errno == ENOENT)
        return 0;
    if (errno == EWOULDBLOCK)
        fprintf(err, "orderd journal: %s is in use by a running orderd (it holds %s/LOCK); stop it first\n", dir, dir);
    else
        fprintf(err, "orderd journal: cannot open %s/LOCK: %s\n", dir, strerror(errno));
    return -1;
}

static int run(int mode, const char *dir, FILE *out, FILE *err)
{
    uint64_t *firsts;
    size_t n;
    int damaged = 0, failed = 0;
    if (orderd_list_numbered(dir, "journal-", ".wal", &firsts, &n) != 0) {
        fprintf(err, "orderd: cannot list %s: %s\n", dir, strerror(errno));
        return 1;
    }
    uint64_t next = 0;
    for (size_t i = 0; i < n; ++i) {
        char name[64], path[4200];
        orderd_journal_segment_name(name, sizeof(name), firsts[i]);
        orderd_path_join(path, sizeof(path), dir, name);
        const unsigned char *data;
        size_t len;
        if (orderd_map_file(path, &data, &len) != 0) {
            fprintf(err, "orderd: cannot read %s: %s\n", path, strerror(errno));
            failed = 1;
            continue;
        }
        dump_ctx_t ctx = {out, name};
        orderd_scan_t sc;
        if (orderd_scan_file(data, len, ORDERD_JOURNAL_MAGIC, mode == DUMP ? dump_record : NULL, &ctx, &sc) != 0) {
            orderd_unmap_file(data, len);
            return 1;
        }
        int gap = next != 0 && sc.state != ORDERD_SCAN_TORN && sc.first_seq != next;
        FILE *report = mode == DUMP ? err : out; /* dump's stdout stays pure NDJSON */
        if (damaged) {
            /* after a hole nothing later can be replayed */
            fprintf(report, "%s: follows damage in an earlier segment; cannot be replayed\n", name);
            if (mode == REPAIR)
                failed |= set_aside(dir, path, err);
        } else if (sc.state == ORDERD_SCAN_CLEAN && !gap) {
            if (mode == VERIFY)
                fprintf(out, "%s: ok, %zu records, %zu bytes (+ %zu zero bytes written ahead)\n", name, sc.records,
                        sc.valid_end, sc.zero_tail);
        } else {
            size_t at = gap ? 0 : sc.bad_at;
            int torn_tail = sc.state == ORDERD_SCAN_TORN && i + 1 == n && !gap;
            fprintf(report, "%s: %s at offset %zu: %s%s\n", name, torn_tail ? "torn tail" : "DAMAGED", at,
                    gap ? "records are missing before this segment" : sc.why,
                    torn_tail ? " (start-up cuts it off by itself)" : "");
            if (!torn_tail)
                damaged = 1;
            if (mode == REPAIR) {
                /* with no valid record left, the file itself goes aside */
                if (at <= ORDERD_FILE_HEADER_SIZE)
                    failed |= set_aside(dir, path, err);
                else
                    failed |= move_aside(path, data, len, at, err);
            }
        }
        if (sc.state == ORDERD_SCAN_CLEAN)
            next = sc.next_seq;
        orderd_unmap_file(data, len);
    }
    free(firsts);
    if (failed)
        return 1;
    if (mode == VERIFY && damaged) {
        fprintf(out, "run `orderd journal repair --data-dir %s` to keep the valid prefix; the rest is moved to "
                     "*.broken files, nothing is deleted\n", dir);
        return 1;
    }
    return 0;
}

int orderd_journal_tool(int argc, char **argv, FILE *out, FILE *err)
{
    static const char usage[] = "usage: orderd journal verify|dump|repair --data-dir DIR\n";
    const char *dir = NULL;
    int mode;
    if (argc < 2) {
        fputs(usage, err);
        return 2;
    }
    if (strcmp(argv[1], "verify") == 0)
        mode = VERIFY;
    else if (strcmp(argv[1], "dump") == 0)
        mode = DUMP;
    else if (strcmp(argv[1], "repair") == 0)
        mode = REPAIR;
    else {
        fputs(usage, err);
        return 2;
    }
    for (int i = 2; i < argc; ++i) {
        if (strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strncmp(argv[i], "--data-dir=", 11) == 0)
            dir = argv[i] + 11;
        else {
            fprintf(err, "orderd journal: unexpected argument '%s'\n%s", argv[i], usage);
            return 2;
        }
    }
    if (dir == NULL && (dir = getenv("ORDERD_DATA_DIR")) != NULL && *dir == '\0')
        dir = NULL; /* an empty variable counts as unset, as for the server */
    if (dir == NULL)
        dir = "./data";
    int lock, rc;
    if (lock_dir(mode, dir, err, &lock) != 0)
        return 1;
    rc = run(mode, dir, out, err);
    if (lock >= 0)
        close(lock);
    return rc;
}
