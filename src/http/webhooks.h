#ifndef ORDERD_HTTP_WEBHOOKS_H
#define ORDERD_HTTP_WEBHOOKS_H

/* GET /api/admin/webhooks: the delivery threads' status (docs/webhooks.md). */

#include <h2o.h>

#include "orderd/http.h"

/** Registers GET /api/admin/webhooks (the operator's token) on `host`. */
void orderd_http_webhooks_register(h2o_hostconf_t *host, orderd_app_t *app);

#endif
