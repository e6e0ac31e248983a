#ifndef ORDERD_NOTIFY_H
#define ORDERD_NOTIFY_H

/* The service manager's readiness protocol (sd_notify, libsystemd). */

typedef enum {
    ORDERD_NOTIFY_READY,   /* "READY=1": replay is done and the listeners accept */
    ORDERD_NOTIFY_STOPPING /* "STOPPING=1": a signal came, connections are draining */
} orderd_notify_state_t;

/**
 * Tells the service manager (systemd with Type=notify) the server's state by
 * a datagram to $NOTIFY_SOCKET. Without $NOTIFY_SOCKET (run by hand, or
 * under another manager) it does nothing. Owns nothing; safe from any thread.
 * Returns 1 when the message was sent, 0 when no manager listens, -1 when
 * sending failed: then one line went to stderr already, and the server keeps
 * running (systemd will time the start-up out on its own).
 */
int orderd_notify(orderd_notify_state_t state);

#endif
