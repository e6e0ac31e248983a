#ifndef ORDERD_SERVER_H
#define ORDERD_SERVER_H

/* Worker threads, listeners and signals. */

#include "orderd/config.h"

/**
 * Runs the server until SIGINT or SIGTERM: one SO_REUSEPORT listener, h2o
 * context and event loop per worker thread. On a signal it stops accepting,
 * lets in-flight requests finish, closes idle connections and returns 0
 * within 5 s. Returns non-zero when start-up fails (logged to stderr).
 */
int orderd_server_run(const orderd_config_t *cfg);

#endif
