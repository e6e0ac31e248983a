/* The event feed: durable journal records read back as events (feed.h). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "orderd/feed.h"
#include "orderd/journal.h"
#include "orderd/log.h"
#include "internal/files.h"

/* An index point per this many bytes of segment at most: a read starts this close to its first record. */
#define INDEX_SPACING (16u << 10)
/* Bytes read from a segment at once (a larger record grows the buffer to fit). */
#define READ_CHUNK (256u << 10)
/* The first read of a walk: a follower's next records are just past its hint. */
#define READ_FIRST (16u << 10)
/* Where recent reads ended, kept to start the next read there (a follower's). */
#define HINTS 16
#define DISARMED UINT64_MAX
#define ARENA_BLOCK (16u << 10)

/* Where a record starts. */
typedef struct point {
    uint64_t seq;
    uint64_t off;
} point_t;

/* A segment and what is known of its records' offsets (sorted by seq). */
typedef struct segment {
    uint64_t first;
    point_t *pts;
    size_t npts, cap;
} segment_t;

/* An index point seen by a read, with its segment. */
typedef struct seen {
    uint64_t first;
    point_t p;
} seen_t;

struct orderd_feed {
    char dir[4096];
    unsigned node_id;
    _Atomic uint64_t durable;

    pthread_mutex_t mu; /* the segment list, its indexes and the hints */
    segment_t *segs;    /* by first seq */
    seen_t hints[HINTS]; /* where recent reads stopped: {segment, {seq of the record there, offset}} */
    unsigned next_hint;
    size_t nsegs;
    struct timespec dir_mtime; /* when the list was last read: the directory's mtime then */

    pthread_mutex_t watch_mu; /* registration only */
    atomic_int nwatchers;
    atomic_int armed; /* watchers armed now */
    orderd_feed_watcher_t watchers[ORDERD_FEED_WATCHERS_MAX];
    _Atomic uint64_t armed_after[ORDERD_FEED_WATCHERS_MAX];
    _Atomic uint64_t pins[ORDERD_FEED_WATCHERS_MAX];
};

orderd_feed_t *orderd_feed_new(const char *dir, unsigned node_id, uint64_t durable_seq)
{
    orderd_feed_t *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return NULL;
    snprintf(f->dir, sizeof(f->dir), "%s", dir);
    f->node_id = node_id;
    atomic_init(&f->durable, durable_seq);
    pthread_mutex_init(&f->mu, NULL);
    pthread_mutex_init(&f->watch_mu, NULL);
    for (size_t i = 0; i < ORDERD_FEED_WATCHERS_MAX; ++i) {
        atomic_init(&f->armed_after[i], DISARMED);
        atomic_init(&f->pins[i], UINT64_MAX);
    }
    return f;
}

void orderd_feed_free(orderd_feed_t *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->nsegs; ++i)
        free(f->segs[i].pts);
    free(f->segs);
    pthread_mutex_destroy(&f->mu);
    pthread_mutex_destroy(&f->watch_mu);
    free(f);
}

unsigned orderd_feed_node_id(const orderd_feed_t *f)
{
    return f->node_id;
}

uint64_t orderd_feed_durable_seq(const orderd_feed_t *f)
{
    return atomic_load_explicit(&((orderd_feed_t *)f)->durable, memory_order_acquire);
}

/* --- watchers --- */

int orderd_feed_watch(orderd_feed_t *f, const orderd_feed_watcher_t *w)
{
    pthread_mutex_lock(&f->watch_mu);
    int id = atomic_load(&f->nwatchers);
    if (id < ORDERD_FEED_WATCHERS_MAX) {
        f->watchers[id] = *w;
        atomic_store(&f->nwatchers, id + 1); /* publishes the watcher to the writer */
    } else {
        id = -1;
    }
    pthread_mutex_unlock(&f->watch_mu);
    return id;
}

/* Disarms watcher `id` if it is still armed at `after`, and wakes it: exactly one caller does. */
static void fire(orderd_feed_t *f, int id, uint64_t after, uint64_t durable)
{
    if (atomic_compare_exchange_strong(&f->armed_after[id], &after, DISARMED)) {
        atomic_fetch_sub(&f->armed, 1);
        f->watchers[id].wake(f->watchers[id].ctx, durable);
    }
}

void orderd_feed_arm(orderd_feed_t *f, int id, uint64_t after)
{
    if (id < 0 || id >= atomic_load(&f->nwatchers))
        return;
    uint64_t old = atomic_exchange(&f->armed_after[id], after);
    if (old == DISARMED)
        atomic_fetch_add(&f->armed, 1);
    /* the writer stores the durable sequence before it reads `armed`, and
     * this read follows the count (sequentially consistent both): one of
     * the two sees the other, so no wake-up is lost */
    uint64_t d = atomic_load(&f->durable);
    if (d > after)
        fire(f, id, after, d);
}

void orderd_feed_durable(orderd_feed_t *f, uint64_t seq)
{
    uint64_t cur = atomic_load(&f->durable);
    while (cur < seq && !atomic_compare_exchange_weak(&f->durable, &cur, seq))
        ;
    if (atomic_load(&f->armed) == 0)
        return;
    uint64_t d = atomic_load(&f->durable);
    int n = atomic_load(&f->nwatchers);
    for (int i = 0; i < n; ++i) {
        uint64_t a = atomic_load(&f->armed_after[i]);
        if (a != DISARMED && d > a)
            fire(f, i, a, d);
    }
}

void orderd_feed_pin(orderd_feed_t *f, int id, uint64_t seq)
{
    if (id >= 0 && id < ORDERD_FEED_WATCHERS_MAX)
        atomic_store(&f->pins[id], seq);
}

uint64_t orderd_feed_lowest_pin(const orderd_feed_t *f)
{
    orderd_feed_t *m = (orderd_feed_t *)f;
    uint64_t low = UINT64_MAX;
    int n = atomic_load(&m->nwatchers);
    for (int i = 0; i < n; ++i) {
        uint64_t p = atomic_load(&m->pins[i]);
        if (p < low)
            low = p;
    }
    return low;
}

/* --- the segment list (under mu) --- */

/* Reads the directory's segments again when it changed since the last look
 * (a rotation made one, a snapshot's clean-up removed some); keeps the
 * indexes of the segments still there. 0, or -1 (errno) when the directory
 * cannot be read: the list is then as it was. */
static int refresh(orderd_feed_t *f, int force)
{
    struct stat st;
    if (stat(f->dir, &st) != 0)
        return -1;
    if (!force && f->segs != NULL && st.st_mtim.tv_sec == f->dir_mtime.tv_sec &&
        st.st_mtim.tv_nsec == f->dir_mtime.tv_nsec)
        return 0;
    uint64_t *nums;
    size_t n;
    if (orderd_list_numbered(f->dir, "journal-", ".wal", &nums, &n) != 0)
        return -1;
    segment_t *segs = calloc(n + 1, sizeof(*segs));
    if (segs == NULL) {
        free(nums);
        errno = ENOMEM;
        return -1;
    }
    size_t old = 0;
    for (size_t i = 0; i < n; ++i) {
        segs[i].first = nums[i];
        while (old < f->nsegs && f->segs[old].first < nums[i])
            free(f->segs[old++].pts);
        if (old < f->nsegs && f->segs[old].first == nums[i])
            segs[i] = f->segs[old++];
    }
    while (old < f->nsegs)
        free(f->segs[old++].pts);
    free(f->segs);
    free(nums);
    f->segs = segs;
    f->nsegs = n;
    f->dir_mtime = st.st_mtim;
    return 0;
}

/* The segment holding record `seq` (the last one starting at or before it); -1 if none. */
static long segment_of(const orderd_feed_t *f, uint64_t seq)
{
    long lo = 0, hi = (long)f->nsegs - 1, at = -1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        if (f->segs[mid].first <= seq) {
            at = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return at;
}

/* The index point to start a search for `seq` from in segment s. */
static point_t start_point(const segment_t *s, uint64_t seq)
{
    point_t best = {s->first, ORDERD_FILE_HEADER_SIZE};
    long lo = 0, hi = (long)s->npts - 1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        if (s->pts[mid].seq <= seq) {
            best = s->pts[mid];
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return best;
}

/* Adds point p to segment `first`'s index unless one lies within INDEX_SPACING before it. */
static void add_point(orderd_feed_t *f, uint64_t first, point_t p)
{
    long k = segment_of(f, p.seq);
    if (k < 0 || f->segs[k].first != first)
        return;
    segment_t *s = &f->segs[k];
    size_t at = s->npts;
    while (at > 0 && s->pts[at - 1].seq > p.seq)
        --at;
    if ((at > 0 && p.off - s->pts[at - 1].off < INDEX_SPACING) || (at == 0 && p.off < INDEX_SPACING) ||
        (at < s->npts && s->pts[at].off - p.off < INDEX_SPACING))
        return;
    if (s->npts == s->cap) {
        size_t ncap = s->cap == 0 ? 16 : s->cap * 2;
        point_t *n = realloc(s->pts, ncap * sizeof(*n));
        if (n == NULL)
            return; /* an index is only a shortcut */
        s->pts = n;
        s->cap = ncap;
    }
    memmove(&s->pts[at + 1], &s->pts[at], (s->npts - at) * sizeof(*s->pts));
    s->pts[at] = p;
    ++s->npts;
}

/* --- reading --- */

/* Memory for one event's rendering, reset after it is emitted. */
typedef struct arena {
    char *block;
    size_t used;
    void **big; /* allocations larger than a block */
    size_t nbig, capbig;
} arena_t;

static void *arena_alloc(void *ctx, size_t size)
{
    arena_t *a = ctx;
    size = (size + 7) & ~(size_t)7;
    if (a->block == NULL && (a->block = aligned_alloc(8, ARENA_BLOCK)) == NULL)
        abort(); /* as h2o's pools do when memory runs out */
    if (size > ARENA_BLOCK / 4 || a->used + size > ARENA_BLOCK) {
        if (a->nbig == a->capbig) {
            size_t ncap = a->capbig == 0 ? 8 : a->capbig * 2;
            void **n = realloc(a->big, ncap * sizeof(*n));
            if (n == NULL)
                abort(); /* as h2o's pools do when memory runs out */
            a->big = n;
            a->capbig = ncap;
        }
        void *p = aligned_alloc(8, size);
        if (p == NULL)
            abort();
        a->big[a->nbig++] = p;
        return p;
    }
    void *p = a->block + a->used;
    a->used += size;
    return p;
}

static void arena_reset(arena_t *a)
{
    for (size_t i = 0; i < a->nbig; ++i)
        free(a->big[i]);
    a->nbig = 0;
    a->used = 0;
}

/* What one read walks with. */
typedef struct reader {
    orderd_feed_t *f;
    unsigned char *buf;
    size_t cap;
    arena_t arena;
    seen_t *seen; /* index points passed, added under the lock at the end */
    size_t nseen, capseen;
    seen_t next; /* where the last walk stopped: the record after res->last_seq */
} reader_t;

static void note_point(reader_t *r, uint64_t first, point_t p)
{
    if (r->nseen > 0 && r->seen[r->nseen - 1].first == first && p.off - r->seen[r->nseen - 1].p.off < INDEX_SPACING)
        return;
    if (r->nseen == r->capseen) {
        size_t ncap = r->capseen == 0 ? 16 : r->capseen * 2;
        seen_t *n = realloc(r->seen, ncap * sizeof(*n));
        if (n == NULL)
            return;
        r->seen = n;
        r->capseen = ncap;
    }
    r->seen[r->nseen++] = (seen_t){first, p};
}

/* How a walk through one segment ended. */
enum { WALK_END = 0, WALK_DURABLE = 1, WALK_LIMIT = 2, WALK_FAILED = -1, WALK_GONE = -2 };

/* Walks segment `first` from `p`, emitting the events after `after` up to
 * `durable`. Returns WALK_DURABLE when every record up to `durable` was
 * passed, WALK_LIMIT when `limit` events were emitted or emit said stop,
 * WALK_END when the segment ended first (the next one goes on), WALK_GONE
 * when it is no longer there (a snapshot's clean-up removed it), WALK_FAILED
 * when it could not be read. */
static int walk_segment(reader_t *r, uint64_t first, point_t p, uint64_t after, uint64_t durable, unsigned limit,
                        orderd_feed_emit_t emit, void *ctx, orderd_feed_read_result_t *res)
{
    char name[64], path[4200];
    orderd_journal_segment_name(name, sizeof(name), first);
    orderd_path_join(path, sizeof(path), r->f->dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? WALK_GONE : WALK_FAILED;
    /* buf[pos, have) holds the file from offset `off` on; reads start small
     * (a follower reads a few records past its hint) and double */
    uint64_t off = p.off;
    size_t pos = 0, have = 0, chunk = READ_FIRST;
    uint64_t passed = 0;
    int done = WALK_END, eof = 0;
    for (;;) {
        orderd_record_t rec;
        size_t used;
        int pr = have > pos ? orderd_record_parse(r->buf + pos, have - pos, &rec, &used) : ORDERD_FRAME_SHORT;
        if (pr == ORDERD_FRAME_SHORT && !eof) {
            if (pos > 0) {
                memmove(r->buf, r->buf + pos, have - pos);
                have -= pos;
                pos = 0;
            }
            size_t want = have + chunk;
            if (have >= ORDERD_RECORD_HEADER_SIZE) {
                size_t rec_len = (size_t)orderd_record_hdr_len(r->buf) + ORDERD_RECORD_HEADER_SIZE;
                if (rec_len <= ORDERD_RECORD_MAX_PAYLOAD + ORDERD_RECORD_HEADER_SIZE && rec_len > want)
                    want = rec_len;
            }
            if (chunk < READ_CHUNK)
                chunk *= 2;
            if (want > r->cap) {
                unsigned char *n = realloc(r->buf, want);
                if (n == NULL) {
                    done = WALK_FAILED;
                    break;
                }
                r->buf = n;
                r->cap = want;
            }
            ssize_t got = pread(fd, r->buf + have, r->cap - have, (off_t)(off + have));
            if (got < 0) {
                done = WALK_FAILED;
                break;
            }
            if (got == 0)
                eof = 1;
            have += (size_t)got;
            continue;
        }
        if (pr != ORDERD_FRAME_OK)
            break; /* the segment's end: zeros written ahead, or what is not durable yet */
        if (rec.seq > durable) {
            done = WALK_DURABLE;
            break;
        }
        note_point(r, first, (point_t){rec.seq, off});
        int stop = 0;
        if (rec.seq > after) {
            orderd_str_t json;
            uint64_t order_id;
            int64_t at_ms;
            orderd_alloc_t a = {arena_alloc, &r->arena};
            int ret = orderd_feed_render(r->buf + pos, used, r->f->node_id, &a, &json, &order_id, &at_ms);
            if (ret < 0) {
                orderd_log(ORDERD_LOG_ERROR, "event feed: record %llu of %s does not decode",
                           (unsigned long long)rec.seq, path);
                done = WALK_FAILED;
                break;
            }
            if (ret == 0) {
                orderd_feed_event_t ev = {rec.seq, json.base, json.len, order_id, at_ms};
                ++res->events;
                stop = emit(ctx, &ev) != 0 || res->events >= limit;
            }
            arena_reset(&r->arena);
            res->last_seq = rec.seq;
        }
        pos += used;
        off += used;
        passed = rec.seq;
        if (stop || rec.seq == durable) {
            done = stop ? WALK_LIMIT : WALK_DURABLE;
            break;
        }
    }
    close(fd);
    /* where the record after the last one passed starts: the next read from there needs no search */
    if (passed != 0)
        r->next = (seen_t){first, {passed + 1, off}};
    return done;
}

int orderd_feed_read(orderd_feed_t *f, uint64_t after, unsigned limit, orderd_feed_emit_t emit, void *ctx,
                     orderd_feed_read_result_t *res)
{
    uint64_t durable = orderd_feed_durable_seq(f);
    *res = (orderd_feed_read_result_t){.last_seq = after, .durable_seq = durable};
    if (limit == 0)
        limit = 1;
    reader_t r = {.f = f};
    int ret = ORDERD_FEED_OK;
    for (int tries = 0;; ++tries) {
        pthread_mutex_lock(&f->mu);
        if (refresh(f, tries > 0) != 0 && f->segs == NULL) {
            pthread_mutex_unlock(&f->mu);
            orderd_log(ORDERD_LOG_ERROR, "event feed: cannot list %s: %s", f->dir, strerror(errno));
            ret = ORDERD_FEED_ERROR;
            break;
        }
        res->oldest_seq = f->nsegs > 0 ? f->segs[0].first : durable + 1;
        if (res->oldest_seq > 0 && after < res->oldest_seq - 1) {
            pthread_mutex_unlock(&f->mu);
            ret = ORDERD_FEED_GONE;
            break;
        }
        if (after >= durable) {
            pthread_mutex_unlock(&f->mu);
            break;
        }
        long k = segment_of(f, after + 1);
        uint64_t first = f->segs[k].first;
        point_t p = start_point(&f->segs[k], after + 1);
        for (unsigned i = 0; i < HINTS; ++i)
            if (f->hints[i].p.seq == after + 1 && f->hints[i].first == first) {
                p = f->hints[i].p;
                break;
            }
        pthread_mutex_unlock(&f->mu);

        int w;
        for (;;) {
            w = walk_segment(&r, first, p, res->last_seq, durable, limit, emit, ctx, res); /* last_seq >= after */
            if (w != WALK_END)
                break;
            /* the segment ended before the durable end: the next one goes on
             * (read the directory again: its mtime may not have moved since a
             * rotation within the same clock tick) */
            pthread_mutex_lock(&f->mu);
            (void)refresh(f, 1); /* on failure: the list as it was */
            long next = segment_of(f, first) + 1;
            int have_next = next > 0 && (size_t)next < f->nsegs;
            if (have_next) {
                first = f->segs[next].first;
                p = (point_t){first, ORDERD_FILE_HEADER_SIZE};
            }
            pthread_mutex_unlock(&f->mu);
            if (!have_next)
                break; /* records up to `durable` not found (yet): the next read goes on from last_seq */
        }
        if (w == WALK_GONE && tries < 2 && res->events == 0)
            continue; /* removed by a snapshot's clean-up meanwhile: look again (maybe GONE now) */
        if (w == WALK_GONE || w == WALK_FAILED) {
            if (res->events == 0)
                orderd_log(ORDERD_LOG_ERROR, "event feed: cannot read journal segment %016llx in %s: %s",
                           (unsigned long long)first, f->dir, strerror(errno));
            ret = res->events > 0 ? ORDERD_FEED_OK : ORDERD_FEED_ERROR;
        }
        else if (w == WALK_DURABLE)
            res->last_seq = durable; /* every record up to it passed: what is left are keys' records */
        break;
    }
    if (r.nseen > 0 || r.next.first != 0) {
        pthread_mutex_lock(&f->mu);
        for (size_t i = 0; i < r.nseen; ++i)
            add_point(f, r.seen[i].first, r.seen[i].p);
        if (r.next.first != 0) {
            unsigned i = 0;
            while (i < HINTS && f->hints[i].p.seq != r.next.p.seq)
                ++i;
            f->hints[i < HINTS ? i : f->next_hint++ % HINTS] = r.next;
        }
        pthread_mutex_unlock(&f->mu);
    }
    arena_reset(&r.arena);
    free(r.arena.big);
    free(r.arena.block);
    free(r.buf);
    free(r.seen);
    return ret;
}
