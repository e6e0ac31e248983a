#ifndef ORDERD_FEED_H
#define ORDERD_FEED_H

/*
 * The event feed: every durable change, read back from the journal's own
 * segments. The journal already is an ordered, durable log of every change;
 * the feed is that log as events, numbered by the journal's sequence
 * numbers (per node, increasing, not contiguous: an Idempotency-Key's record
 * is no event). Only records the writer has reported durable
 * (orderd_feed_durable: after their fdatasync with --fsync always and
 * everysec, after their write with --fsync no) are ever read, so a consumer
 * never sees a change a crash could take back, nor one whose write failed
 * (answered 503: never durable, its number is given to a later record).
 *
 * Segments that a snapshot covers are kept for --feed-retention
 * (orderd_feed_retention_t, applied by the snapshot's clean-up) and for the
 * webhooks' delivery (orderd_feed_pin); asking for events older than the
 * oldest kept record is ORDERD_FEED_GONE with that record's number.
 *
 * Readers may be any thread, many at once; the feed keeps a sparse index of
 * record offsets per segment (one entry per 16 KiB at most), so a read
 * starts within 16 KiB of its first event. Memory is bounded by the index:
 * events are read from the files (the page cache) and rendered per read.
 *
 * Code: src/feed.c (the index, reading, waking watchers), src/feed_event.c
 * (one record as the event's JSON, with yajl_gen and the order encoder),
 * src/feed_retention.c (--feed-retention as text).
 */

#include <stddef.h>
#include <stdint.h>

#include "orderd/common.h"

typedef struct orderd_feed orderd_feed_t;

/** --feed-retention: covered segments are kept while either bound holds (both 0: none is kept). */
typedef struct orderd_feed_retention {
    int64_t ms;     /* keep a covered segment whose last record is younger than this */
    uint64_t bytes; /* keep the newest covered segments while they hold at most this many bytes */
} orderd_feed_retention_t;

/** The default --feed-retention: 1 GiB of covered journal. */
#define ORDERD_FEED_RETENTION_DEFAULT_BYTES (1ull << 30)
/** Most events one read returns (the `limit` of GET /api/admin/events). */
#define ORDERD_FEED_LIMIT_MAX 1000
/** Most watchers (orderd_feed_watch): one per worker thread and one per webhook. */
#define ORDERD_FEED_WATCHERS_MAX 320

/**
 * Opens the feed of data directory `dir` for node `node_id` (every event
 * carries it). `durable_seq` is the newest record already durable (the
 * replay's last record: the writer syncs the segment it continues before it
 * accepts changes). Lists the directory's segments; they are opened per
 * read. Returns NULL when out of memory.
 */
orderd_feed_t *orderd_feed_new(const char *dir, unsigned node_id, uint64_t durable_seq);

/** Frees the feed. No reader or watcher may be running. */
void orderd_feed_free(orderd_feed_t *f);

/**
 * The writer's report: every record up to `seq` is durable. Called on the
 * writer thread (orderd_wal_config_t.durable) after each fdatasync (or
 * write, with --fsync no); calls every watcher whose wait_seq lies below
 * seq. Never blocks on I/O.
 */
void orderd_feed_durable(orderd_feed_t *f, uint64_t seq);

/** The newest durable record's sequence number (acquire: its bytes are on disk and readable). */
uint64_t orderd_feed_durable_seq(const orderd_feed_t *f);

/** This node's id, as every event carries it. */
unsigned orderd_feed_node_id(const orderd_feed_t *f);

/**
 * A watcher: `wake` is called on the writer thread, with the new durable
 * sequence, when it passes what the watcher last armed (orderd_feed_arm).
 * It must not block (an h2o_multithread_send_message, a condition signal).
 */
typedef struct orderd_feed_watcher {
    void (*wake)(void *ctx, uint64_t durable_seq);
    void *ctx;
} orderd_feed_watcher_t;

/**
 * Registers a watcher (at start-up, before the first orderd_feed_durable);
 * returns its number, or -1 past ORDERD_FEED_WATCHERS_MAX. A watcher starts
 * disarmed.
 */
int orderd_feed_watch(orderd_feed_t *f, const orderd_feed_watcher_t *w);

/**
 * Arms watcher `id`: it is woken once, the first time the durable sequence
 * passes `after` (at once, from this call, if it already has). Disarmed
 * again when woken. Any thread; cheap: with no armed watcher the writer's
 * report costs one atomic load.
 */
void orderd_feed_arm(orderd_feed_t *f, int id, uint64_t after);

/** One event as a read hands it out. */
typedef struct orderd_feed_event {
    uint64_t seq;
    const char *json; /* the event's JSON object (docs/feed.md): valid during the callback only */
    size_t len;
    uint64_t order_id;
    int64_t at_ms; /* when the change was made */
} orderd_feed_event_t;

/** Called for each event, oldest first; return 0 to go on, anything else to stop the read there. */
typedef int (*orderd_feed_emit_t)(void *ctx, const orderd_feed_event_t *ev);

typedef enum {
    ORDERD_FEED_OK = 0,
    ORDERD_FEED_GONE = -1,  /* `after` lies before the oldest kept record: res->oldest_seq says which it is */
    ORDERD_FEED_ERROR = -2, /* a segment could not be read (logged): try again later */
} orderd_feed_result_t;

typedef struct orderd_feed_read_result {
    uint64_t last_seq;    /* the newest record the read went past (>= after): where the next read starts */
    uint64_t durable_seq; /* the newest durable record when the read began */
    uint64_t oldest_seq;  /* the oldest record kept: events with seq >= this can be read */
    unsigned events;      /* events emitted */
} orderd_feed_read_result_t;

/**
 * Reads the events after record `after`, oldest first, at most `limit`
 * (1 to ORDERD_FEED_LIMIT_MAX), up to the durable sequence when the read
 * began, calling emit for each. A read that emitted nothing because no
 * event is durable after `after` yet is ORDERD_FEED_OK with events 0 and
 * last_seq = durable_seq (or `after`, if that is newer). `after` = 0 is the
 * oldest kept record on (GONE only when records 1.. are not all kept and
 * `after` < oldest_seq - 1). Any thread.
 */
int orderd_feed_read(orderd_feed_t *f, uint64_t after, unsigned limit, orderd_feed_emit_t emit, void *ctx,
                     orderd_feed_read_result_t *res);

/**
 * Pins the journal from record `seq` on (a webhook's next undelivered
 * event): the snapshot's clean-up keeps every segment holding records at or
 * after the lowest pin, retention or not. Pin `id` is a watcher's number;
 * UINT64_MAX releases it. Any thread.
 */
void orderd_feed_pin(orderd_feed_t *f, int id, uint64_t seq);

/** The lowest pin (UINT64_MAX: none): what orderd_wal_config_t.feed_pin asks. */
uint64_t orderd_feed_lowest_pin(const orderd_feed_t *f);

/**
 * Parses --feed-retention: a duration ("24h", "7d", "90m", "3600s") or a
 * size ("512MiB", "1GiB", "100MB", "4096B"; K/M/G/T alone are KiB...TiB),
 * or "0" (keep nothing a snapshot covers). 0 and *out, or -1.
 */
int orderd_feed_retention_parse(const char *s, orderd_feed_retention_t *out) __attribute__((warn_unused_result));

/** The retention as --feed-retention would give it ("24h", "1GiB", "0"), into buf. */
const char *orderd_feed_retention_format(const orderd_feed_retention_t *r, char *buf, size_t len);

/**
 * Renders one journal record as the event JSON (src/feed_event.c), into
 * memory from `a`: 0 and *out, or 1 when the record is no event (a key),
 * or -1 when it does not decode. For the feed's reads and its tests.
 */
int orderd_feed_render(const unsigned char *record, size_t len, unsigned node_id, const orderd_alloc_t *a,
                       orderd_str_t *out, uint64_t *order_id, int64_t *at_ms);

#endif
