/*
 * The status-change decoder (orderd_codec_decode_status, src/codec_status.c)
 * on any body, checked against a second reading of the same body with yajl's
 * tree parser: when orderd reads the body as JSON, the answer (which status,
 * or refused as invalid) must be what the tree says: an object with exactly
 * one top-level "status" member, a string naming a status.
 */
#include <yajl/yajl_tree.h>

#include "fuzz.h"

/* The tree's answer for a body it parsed: OK with *st, or INVALID. */
static int tree_answer(yajl_val root, orderd_status_t *st)
{
    if (!YAJL_IS_OBJECT(root))
        return ORDERD_DECODE_INVALID;
    size_t seen = 0;
    yajl_val value = NULL;
    for (size_t i = 0; i < root->u.object.len; ++i)
        if (strcmp(root->u.object.keys[i], "status") == 0) {
            ++seen;
            value = root->u.object.values[i];
        }
    if (seen != 1 || !YAJL_IS_STRING(value))
        return ORDERD_DECODE_INVALID;
    const char *name = YAJL_GET_STRING(value);
    return orderd_status_parse(name, strlen(name), st) == 0 ? ORDERD_DECODE_OK : ORDERD_DECODE_INVALID;
}

/* Bodies the tree cannot judge: it cuts strings at a NUL (an escaped one, or a key's) */
static int tree_can_judge(const uint8_t *data, size_t size)
{
    if (memchr(data, '\0', size) != NULL)
        return 0;
    for (size_t i = 0; i + 6 <= size; ++i)
        if (memcmp(data + i, "\\u0000", 6) == 0)
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_arena_t ar = {0};
    orderd_alloc_t a = fuzz_arena_allocator(&ar);
    orderd_status_t st = ORDERD_STATUS_COUNT;
    orderd_decode_report_t report;
    int rc = orderd_codec_decode_status((const char *)data, size, &a, &st, &report);
    FUZZ_CHECK(ar.bytes <= 4 * size + 64 * 1024);
    fuzz_check_decode_report(rc, &report, 1);
    if (rc == ORDERD_DECODE_OK)
        FUZZ_CHECK(st < ORDERD_STATUS_COUNT);
    /* JSON orderd read (so at most ORDERD_CODEC_MAX_DEPTH deep): the tree, which
     * also takes comments, must read it too and give the same answer */
    if ((rc == ORDERD_DECODE_OK || rc == ORDERD_DECODE_INVALID) && tree_can_judge(data, size)) {
        char *text = malloc(size + 1), err[256];
        FUZZ_CHECK(text != NULL);
        memcpy(text, data, size);
        text[size] = '\0';
        yajl_val root = yajl_tree_parse(text, err, sizeof(err));
        if (root == NULL) {
            fprintf(stderr, "orderd read it, yajl's tree did not: %s\n", err);
            abort();
        }
        orderd_status_t want = ORDERD_STATUS_COUNT;
        int ref = tree_answer(root, &want);
        if (ref != rc || (rc == ORDERD_DECODE_OK && want != st)) {
            fprintf(stderr, "%.*s: orderd %d (status %d), yajl's tree %d (status %d)\n", (int)(size < 300 ? size : 300),
                    (const char *)data, rc, (int)st, ref, (int)want);
            abort();
        }
        yajl_tree_free(root);
        free(text);
    }
    fuzz_arena_free(&ar);
    return 0;
}
