/* Unit tests for orderd/operator.h: the generated token file (0600, reused
 * at the next start) and the rules for a given one. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "orderd/operator.h"
#include "test_util.h"

static void test_generated_then_reused(void **state)
{
    char dir[4096], path[4300], err[512], tok[300], again[300];
    size_t len, len2;
    int created;
    test_tmpdir(dir, sizeof(dir), "operator");
    assert_int_equal(orderd_operator_token_load(NULL, dir, tok, sizeof(tok), &len, path, sizeof(path), &created, err,
                                                sizeof(err)),
                     0);
    assert_int_equal(created, 1);
    assert_int_equal(len, 64);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(orderd_operator_token_load(NULL, dir, again, sizeof(again), &len2, path, sizeof(path), &created,
                                                err, sizeof(err)),
                     0);
    assert_int_equal(created, 0);
    assert_string_equal(tok, again);
    test_rmtree(dir);
}

static void test_given_file(void **state)
{
    char dir[4096], file[4300], path[4300], err[512], tok[300];
    size_t len;
    int created;
    test_tmpdir(dir, sizeof(dir), "operator");
    snprintf(file, sizeof(file), "%s/mine", dir);
    test_write_file(file, "sixteen-chars-ok\r\nignored\n", 26);
    assert_int_equal(orderd_operator_token_load(file, dir, tok, sizeof(tok), &len, path, sizeof(path), &created, err,
                                                sizeof(err)),
                     0);
    assert_string_equal(tok, "sixteen-chars-ok");
    assert_int_equal(created, 0);
    test_write_file(file, "short\n", 6);
    assert_int_equal(orderd_operator_token_load(file, dir, tok, sizeof(tok), &len, path, sizeof(path), &created, err,
                                                sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "16 to 255"));
    test_write_file(file, "has a space in the middle\n", 26);
    assert_int_equal(orderd_operator_token_load(file, dir, tok, sizeof(tok), &len, path, sizeof(path), &created, err,
                                                sizeof(err)),
                     -1);
    snprintf(file, sizeof(file), "%s/missing", dir);
    assert_int_equal(orderd_operator_token_load(file, dir, tok, sizeof(tok), &len, path, sizeof(path), &created, err,
                                                sizeof(err)),
                     -1);
    test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generated_then_reused),
        cmocka_unit_test(test_given_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
