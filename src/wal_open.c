/*
 * Opening the journal writer as wal.h offers it: group commit (wal.c) with
 * snapshots (snapshot.c) started on its rotations. Layers only point down:
 * snapshot.c asks the writer through internal/wal_snapshot.h, and the
 * writer reaches the snapshots only through the hooks handed to it here, so
 * this file, above both, is the one that knows them both.
 */
#include <stdio.h>

#include "internal/snapshot.h"
#include "internal/wal_snapshot.h"

orderd_wal_t *orderd_wal_open(const orderd_wal_config_t *cfg, orderd_store_t *store,
                              const orderd_replay_report_t *report, char *err, size_t errlen)
{
    orderd_wal_rotation_t snapshots;
    if (orderd_snapshot_rotation_new(&snapshots) != 0) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    orderd_wal_t *w = orderd_wal_writer_open(cfg, store, report, &snapshots, err, errlen);
    if (w == NULL)
        snapshots.stop(snapshots.ctx); /* no snapshot started: it only frees */
    return w;
}
