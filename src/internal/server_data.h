#ifndef ORDERD_INTERNAL_SERVER_DATA_H
#define ORDERD_INTERNAL_SERVER_DATA_H

/* The server's data, for src/server.c: the data directory, the journal's
 * replay and writer (reporting what is durable to the event feed), the
 * webhooks. src/server_data.c. */

#include "orderd/config.h"
#include "orderd/http.h"

/**
 * Makes the data directory if it is missing (0750) and takes its LOCK for
 * the life of the process. 0, or -1 with one line logged (not a writable
 * directory, another orderd holds it).
 */
int orderd_server_data_dir(const char *dir);

/**
 * Replays the journal of cfg->data_dir into app->store (logging what it
 * did and setting app->replay_ns), opens the writer on it (app->wal,
 * app->commit, app->durable) with the event feed app->feed as its durable
 * report and retention, and reports the replayed records durable to the
 * feed. 0, or -1 with the reason logged.
 */
int orderd_server_open_journal(const orderd_config_t *cfg, orderd_app_t *app);

/**
 * Starts one delivery thread per --webhook (app->webhooks; an empty set
 * without the flag), after orderd_server_open_journal. 0, or -1 with the
 * reason logged.
 */
int orderd_server_start_webhooks(const orderd_config_t *cfg, orderd_app_t *app);

#endif
