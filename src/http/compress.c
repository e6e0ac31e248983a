/* --compress: which answers go out gzip-coded, and h2o's filter that codes them. */
#include "compress.h"

/*
 * zlib level 1, h2o's own default. A page of orders repeats the same member
 * names in every order, so the fastest level already gains nearly all there
 * is: a page of 10 varied orders goes from 3.4 KB to 643 bytes at level 1
 * and 606 at level 6, a page of 100 from 37.3 KB to 5.0 KB and 4.3 KB, and
 * level 4 and up spend 1.5 to 2 times the CPU for those few percent
 * (docs/benchmarks.md). The worker that gzips is the one that serves.
 */
#define GZIP_QUALITY 1

void orderd_http_compress_filter_register(h2o_pathconf_t *path, const orderd_app_t *app)
{
    if (!app->compress)
        return;
    /* brotli off: Debian's libh2o 2.2.5 is built without it (no
     * h2o_compress_brotli_open in the library), so gzip is all there is.
     * min_size only matters to answers without a hint (h2o's own); orderd's
     * answers carry one (orderd_http_compress_hint), with the same threshold. */
    h2o_compress_args_t args = {
        .min_size = ORDERD_HTTP_COMPRESS_MIN_BYTES, .gzip = {.quality = GZIP_QUALITY}, .brotli = {.quality = -1}};
    h2o_compress_register(path, &args);
}

void orderd_http_compress_hint(h2o_req_t *req, size_t body_len)
{
    /* An answer with an ETag (an order) stays identity-coded: its strong tag
     * then names exactly the bytes sent, and If-None-Match / If-Match keep
     * comparing it as they do, whatever the client accepts. */
    if (body_len >= ORDERD_HTTP_COMPRESS_MIN_BYTES && h2o_find_header(&req->res.headers, H2O_TOKEN_ETAG, -1) == -1)
        req->compress_hint = H2O_COMPRESS_HINT_ENABLE;
    else
        req->compress_hint = H2O_COMPRESS_HINT_DISABLE;
}
