#ifndef ORDERD_CONFIG_H
#define ORDERD_CONFIG_H

/* The command line. */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "orderd/wal.h"

typedef struct orderd_config {
    char listen_host[256];
    uint16_t listen_port; /* 0: the kernel picks one, logged at start */
    unsigned threads;
    const char *data_dir;
    size_t max_body;
    orderd_fsync_mode_t fsync;
    uint64_t snapshot_bytes;
    const char *operator_token_file; /* NULL: <data-dir>/operator-token, made at first start */
    int64_t idempotency_ttl_ms;      /* how long Idempotency-Key answers are kept */
} orderd_config_t;

typedef enum {
    ORDERD_CONFIG_RUN = 0,  /* start the server */
    ORDERD_CONFIG_EXIT = 1, /* --help or --version was printed: exit 0 */
    ORDERD_CONFIG_USAGE = 2 /* a bad flag or value; one line went to err: exit 2 */
} orderd_config_result_t;

/**
 * Fills *cfg from argv (defaults first: 127.0.0.1:8080, one thread per online
 * CPU, ./data, 1 MiB, --fsync always, snapshots every 64 MiB of journal). --help and --version print to `out`; a bad flag or
 * value prints one line to `err`. cfg->data_dir points into argv or a literal.
 */
int orderd_config_parse(orderd_config_t *cfg, int argc, char **argv, FILE *out, FILE *err);

#endif
