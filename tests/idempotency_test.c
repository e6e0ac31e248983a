/* Unit tests for orderd/idempotency.h: entries, key rules, fingerprints and
 * the per-shard table (replace, remove, expiry sweep, iteration order). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_fail.h"
#include "fixture.h"
#include "orderd/idempotency.h"


static orderd_idem_entry_t *entry(const char *user, const char *key, uint64_t order, int64_t at)
{
    unsigned char fp[ORDERD_IDEM_FP_LEN] = {1, 2, 3};
    size_t size = orderd_idem_entry_size(strlen(user), strlen(key));
    orderd_idem_entry_t *e = aligned_alloc(8, size);
    orderd_idem_entry_build(e, S(user), S(key), order, 1, 201, fp, at);
    return e;
}

static void test_entry_layout_and_check(void **state)
{
    assert_int_equal(sizeof(orderd_idem_entry_t), 48);
    orderd_idem_entry_t *e = entry("alice", "k-1", 42, 1000);
    assert_int_equal(e->size, 56); /* 48 + 5 + 3, rounded up to 8 */
    assert_int_equal(orderd_idem_entry_check(e, e->size), 0);
    assert_int_equal(orderd_idem_entry_check(e, e->size + 8), -1);
    assert_memory_equal(orderd_idem_entry_user(e).base, "alice", 5);
    assert_memory_equal(orderd_idem_entry_key(e).base, "k-1", 3);
    e->status = 500;
    assert_int_equal(orderd_idem_entry_check(e, e->size), -1);
    e->status = 201;
    e->key_len = 0;
    assert_int_equal(orderd_idem_entry_check(e, e->size), -1);
    /* lengths that reach past the entry's bytes (a record's size field agrees,
     * its text does not): reading the key would run off the payload */
    e->key_len = 200;
    assert_int_equal(orderd_idem_entry_check(e, e->size), -1);
    e->key_len = 3;
    e->user_len = 60;
    assert_int_equal(orderd_idem_entry_check(e, e->size), -1);
    e->user_len = 5;
    assert_int_equal(orderd_idem_entry_check(e, e->size), 0);
    /* shorter than the fixed part, with a size field that says so */
    e->size = 8;
    assert_int_equal(orderd_idem_entry_check(e, 8), -1);
    free(e);
}

static void test_key_rules(void **state)
{
    char big[300];
    memset(big, 'k', sizeof(big));
    assert_true(orderd_idem_key_valid(S("a")));
    assert_true(orderd_idem_key_valid(S("with space ~!")));
    assert_true(orderd_idem_key_valid((orderd_str_t){big, 255}));
    assert_false(orderd_idem_key_valid((orderd_str_t){big, 256}));
    assert_false(orderd_idem_key_valid(S("")));
    assert_false(orderd_idem_key_valid(S("tab\there")));
    assert_false(orderd_idem_key_valid(S("caf\xc3\xa9")));
}

static void test_fingerprint(void **state)
{
    unsigned char a[ORDERD_IDEM_FP_LEN], b[ORDERD_IDEM_FP_LEN];
    orderd_idem_fingerprint(S("POST"), S("create"), S("{}"), a);
    orderd_idem_fingerprint(S("POST"), S("create"), S("{}"), b);
    assert_memory_equal(a, b, sizeof(a));
    orderd_idem_fingerprint(S("POST"), S("create"), S("{ }"), b);
    assert_memory_not_equal(a, b, sizeof(a));
    /* parts are length-prefixed: moving a byte from one to the next changes it */
    orderd_idem_fingerprint(S("POST"), S("creat"), S("e{}"), b);
    assert_memory_not_equal(a, b, sizeof(a));
}

static void collect(void *ctx, const orderd_idem_entry_t *e)
{
    uint64_t **p = ctx;
    *(*p)++ = e->order_id;
}

static void test_table(void **state)
{
    orderd_idem_table_t t = {0};
    assert_null(orderd_idem_find(&t, S("u"), S("k")));
    orderd_idem_entry_t *e;
    char key[32];
    /* enough to grow the table a few times */
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        e = entry("u", key, (uint64_t)i, 1000 + i);
        assert_int_equal(orderd_idem_put(&t, e), 0);
        free(e);
    }
    assert_int_equal(t.n, 100);
    const orderd_idem_entry_t *hit = orderd_idem_find(&t, S("u"), S("key-37"));
    assert_non_null(hit);
    assert_int_equal(hit->order_id, 37);
    assert_null(orderd_idem_find(&t, S("v"), S("key-37")));
    /* ("u", "key-1") and ("uk", "ey-1") are different keys */
    assert_null(orderd_idem_find(&t, S("uk"), S("ey-1")));
    /* replacing keeps one entry */
    e = entry("u", "key-5", 500, 5000);
    assert_int_equal(orderd_idem_put(&t, e), 0);
    assert_int_equal(t.n, 100);
    assert_int_equal(orderd_idem_find(&t, S("u"), S("key-5"))->order_id, 500);
    /* remove only matches the same order and time */
    e->order_id = 501;
    orderd_idem_remove(&t, e);
    assert_non_null(orderd_idem_find(&t, S("u"), S("key-5")));
    e->order_id = 500;
    orderd_idem_remove(&t, e);
    assert_null(orderd_idem_find(&t, S("u"), S("key-5")));
    free(e);
    assert_int_equal(t.n, 99);
    /* each: oldest first, from the cutoff */
    uint64_t seen[128], *p = seen;
    orderd_idem_each(&t, 1095, collect, &p);
    assert_int_equal(p - seen, 5);
    assert_int_equal(seen[0], 95);
    /* an out-of-order insert lands in time order */
    e = entry("u", "late", 7, 1001);
    assert_int_equal(orderd_idem_put(&t, e), 0);
    free(e);
    p = seen;
    orderd_idem_each(&t, 1001, collect, &p);
    assert_true(seen[0] == 1 && seen[1] == 7 && seen[2] == 2);
    /* sweep: at most `max`, oldest first, only before the cutoff */
    assert_int_equal(orderd_idem_sweep(&t, 1050, 10), 10);
    assert_int_equal(orderd_idem_sweep(&t, 1050, 1000), 40);
    assert_int_equal(t.n, 50);
    assert_null(orderd_idem_find(&t, S("u"), S("key-49")));
    assert_non_null(orderd_idem_find(&t, S("u"), S("key-50")));
    for (int i = 50; i < 100; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        assert_true(i == 5 || orderd_idem_find(&t, S("u"), S(key)) != NULL);
    }
    orderd_idem_table_free(&t);
    assert_int_equal(t.n, 0);
}

/* A key that cannot be stored for want of memory leaves the table as it was:
 * every allocation of a put fails once, at each size of the table. */
static void test_put_out_of_memory(void **state)
{
    orderd_idem_table_t t = {0};
    char key[16];
    long failures = 0;
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        orderd_idem_entry_t *e = entry("u", key, (uint64_t)i, 1000 + i);
        for (long n = 1;; n++) {
            size_t before = t.n;
            alloc_fail_arm(n);
            int ret = orderd_idem_put(&t, e);
            if (!alloc_fail_disarm()) {
                assert_int_equal(ret, 0);
                break;
            }
            ++failures;
            assert_int_equal(ret, -1);
            assert_int_equal(t.n, before);
            assert_null(orderd_idem_find(&t, S("u"), S(key)));
        }
        assert_int_equal(t.n, (size_t)i + 1);
        assert_non_null(orderd_idem_find(&t, S("u"), S(key)));
        free(e);
    }
    assert_true(failures >= 40 + 3); /* an entry each, and the slot array's growths */
    orderd_idem_table_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entry_layout_and_check),
        cmocka_unit_test(test_put_out_of_memory),
        cmocka_unit_test(test_key_rules),
        cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
