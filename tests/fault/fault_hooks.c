/* The fault hooks of the test builds (see src/internal/fault.h): the unit
 * tests and orderd-faults, the server the crash tests run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal/fault.h"
#include "orderd/log.h"

/* the exit status of a fault point, which the crash tests expect */
#define FAULT_POINT_EXIT 86

void orderd_fault_point(const char *name)
{
    const char *want = getenv("ORDERD_FAULT_POINT");
    if (want != NULL && strcmp(want, name) == 0) {
        orderd_log(ORDERD_LOG_ERROR, "fault point %s: exiting", name);
        _exit(FAULT_POINT_EXIT);
    }
}

void orderd_fault_pause(const char *name)
{
    const char *spec = getenv("ORDERD_FAULT_PAUSE");
    size_t len = strlen(name);
    for (const char *p = spec; p != NULL && *p != '\0'; p = strchr(p, ',') != NULL ? strchr(p, ',') + 1 : NULL) {
        if (strncmp(p, name, len) == 0 && p[len] == ':') {
            long ms = strtol(p + len + 1, NULL, 10);
            struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
            return;
        }
    }
}
