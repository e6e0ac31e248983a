/* orderd: the order API. Reads the command line and runs the server. */
#include <stdio.h>
#include <string.h>

#include "orderd/journal.h"

#include "orderd/config.h"
#include "orderd/server.h"

int main(int argc, char **argv)
{
    orderd_config_t cfg;

    if (argc > 1 && strcmp(argv[1], "journal") == 0)
        return orderd_journal_tool(argc - 1, argv + 1, stdout, stderr);
    switch (orderd_config_parse(&cfg, argc, argv, stdout, stderr)) {
    case ORDERD_CONFIG_RUN:
        return orderd_server_run(&cfg) == 0 ? 0 : 1;
    case ORDERD_CONFIG_EXIT:
        return 0;
    default:
        return 2;
    }
}
