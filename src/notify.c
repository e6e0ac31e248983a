#include "orderd/notify.h"
#include "orderd/log.h"

#include <stdio.h>
#include <string.h>

#include <systemd/sd-daemon.h>

int orderd_notify(orderd_notify_state_t state)
{
    const char *msg = state == ORDERD_NOTIFY_READY ? "READY=1" : "STOPPING=1";
    /* 0: keep $NOTIFY_SOCKET, STOPPING=1 follows READY=1 through it */
    int rc = sd_notify(0, msg);
    if (rc < 0) {
        orderd_log(ORDERD_LOG_WARN, "sd_notify %s failed: %s", msg, strerror(-rc));
        return -1;
    }
    return rc > 0 ? 1 : 0;
}
