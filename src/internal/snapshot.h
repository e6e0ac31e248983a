#ifndef ORDERD_INTERNAL_SNAPSHOT_H
#define ORDERD_INTERNAL_SNAPSHOT_H

/* Snapshots (snapshot.c), as the writer's rotation hooks. */

#include "internal/wal_snapshot.h"

/**
 * Fills *out with the snapshot module's hooks and a new context for them,
 * to open a writer with (orderd_wal_writer_open); out->stop frees it.
 * Returns 0, or -1 out of memory.
 */
__attribute__((warn_unused_result)) int orderd_snapshot_rotation_new(orderd_wal_rotation_t *out);

#endif
