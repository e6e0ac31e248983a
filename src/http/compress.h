#ifndef ORDERD_HTTP_COMPRESS_H
#define ORDERD_HTTP_COMPRESS_H

/* --compress: h2o's gzip filter on every path, and orderd's choice, response
 * by response, of which answers it may compress (req->compress_hint). */

#include <h2o.h>

#include "orderd/http.h"

/**
 * The smallest body worth compressing: below it the gzip header, trailer and
 * chunked framing eat most of the gain, and the encoder's set-up (h2o opens
 * a zlib stream per response) costs more than the bytes saved. A seed-sized
 * order (~400 bytes) stays below it; a page of 10 orders (~3.7 KB) is above.
 */
#define ORDERD_HTTP_COMPRESS_MIN_BYTES 1024

/**
 * Adds h2o's compress filter (gzip; brotli is off) to `path` when
 * app->compress is set, nothing otherwise. Register it before orderd's other
 * filters: h2o puts each new filter in front of a path's list, so the first
 * registered is the last to see a response, and this one must see the final
 * status, headers and body. h2o's configuration owns it; aborts when out of
 * memory (start-up).
 */
void orderd_http_compress_filter_register(h2o_pathconf_t *path, const orderd_app_t *app);

/**
 * Tells h2o's compress filter whether it may compress the response about to
 * start (req->compress_hint): yes when the body is at least
 * ORDERD_HTTP_COMPRESS_MIN_BYTES long and the response carries no ETag, no
 * otherwise. Call after the response headers are set and before
 * h2o_start_response. h2o still compresses only a 200 to a non-HEAD request
 * whose Accept-Encoding names gzip. Cannot fail.
 */
void orderd_http_compress_hint(h2o_req_t *req, size_t body_len);

#endif
