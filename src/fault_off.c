/* The fault hooks of the production binary: none (see internal/fault.h). Built
 * apart from orderd_core, so that only the programs that ask for it get it. */
#include "internal/fault.h"

void orderd_fault_point(const char *name)
{
    (void)name;
}

void orderd_fault_pause(const char *name)
{
    (void)name;
}
