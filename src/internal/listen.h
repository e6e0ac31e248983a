#ifndef ORDERD_INTERNAL_LISTEN_H
#define ORDERD_INTERNAL_LISTEN_H

/* Listening sockets for one --listen: one per worker, all on one address. */

#include <stdint.h>

/**
 * Opens `n` SO_REUSEPORT listening sockets (TCP_NODELAY, close-on-exec) on
 * host:port into fds[0, n), so the kernel spreads new connections over the
 * workers. With port 0 the kernel picks a port for the first socket and the
 * others take the same one. Sets *bound to the port listened on. Returns 0,
 * or -1 with one line on stderr and the sockets opened so far left in fds
 * (the process is starting up and exits).
 */
/**
 * Whether host:port is free for this process: a bind without SO_REUSEPORT
 * fails where any other socket listens, even another orderd's SO_REUSEPORT
 * ones (which orderd_listen_open would join, splitting the traffic). Call
 * for every listener before opening any (a server's own listeners would
 * fail it). Port 0 always passes. Returns 0, or -1 with one line on stderr.
 */
int orderd_listen_probe(const char *host, uint16_t port);

int orderd_listen_open(const char *host, uint16_t port, int *fds, unsigned n, uint16_t *bound);

#endif
