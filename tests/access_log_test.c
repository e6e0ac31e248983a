/* Unit tests for orderd/access_log.h: what opening fails on (one line naming
 * the file), the file's mode, a logger on every path and the fallback, and a
 * reopen after a rename (a new file under the old name; a failed reopen
 * says why). The lines themselves: tests/integration/access_log_test.py. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "orderd/access_log.h"

static void one_line_naming(const char *err, const char *what)
{
    if (strchr(err, '\n') != NULL || strstr(err, what) == NULL || strstr(err, "--access-log") == NULL)
        fail_msg("want one line naming --access-log and %s, got \"%s\"", what, err);
}

static void test_open_fails_with_one_line(void **state)
{
    char dir[] = "/tmp/orderd-access-log-XXXXXX", path[128], err[512] = "";
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/missing/access.log", dir);
    assert_null(orderd_access_log_open(path, 0, err, sizeof(err)));
    one_line_naming(err, path);
    assert_null(orderd_access_log_open(dir, 0, err, sizeof(err))); /* a directory */
    one_line_naming(err, dir);
    rmdir(dir);
}

static void test_register_and_reopen(void **state)
{
    char dir[] = "/tmp/orderd-access-log-XXXXXX", path[128], rotated[140], err[512] = "";
    struct stat st, st_rotated;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/access.log", dir);
    snprintf(rotated, sizeof(rotated), "%s.1", path);

    orderd_access_log_t *log = orderd_access_log_open(path, 0, err, sizeof(err));
    if (log == NULL)
        fail_msg("open: %s", err);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);

    h2o_globalconf_t gc;
    h2o_config_init(&gc);
    h2o_hostconf_t *host = h2o_config_register_host(&gc, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_config_register_path(host, "/a", 0);
    h2o_config_register_path(host, "/b", 0);
    orderd_access_log_register(log, host, NULL);
    for (size_t i = 0; i < host->paths.size; ++i)
        assert_int_equal(host->paths.entries[i].loggers.size, 1);
    assert_int_equal(host->fallback_path.loggers.size, 1);

    /* logrotate's rename, then the reopen: a new file under the old name */
    assert_int_equal(rename(path, rotated), 0);
    assert_int_equal(orderd_access_log_reopen(log, err, sizeof(err)), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(stat(rotated, &st_rotated), 0);
    assert_int_not_equal(st.st_ino, st_rotated.st_ino);

    /* the directory gone: the reopen fails, naming the file */
    unlink(path);
    unlink(rotated);
    assert_int_equal(rmdir(dir), 0);
    assert_int_equal(orderd_access_log_reopen(log, err, sizeof(err)), -1);
    if (strstr(err, path) == NULL || strchr(err, '\n') != NULL)
        fail_msg("want one line naming %s, got \"%s\"", path, err);
    orderd_access_log_free(log);
    h2o_config_dispose(&gc);
}

static void test_stdout_is_not_reopened(void **state)
{
    char err[512] = "";
    orderd_access_log_t *log = orderd_access_log_open("-", 0, err, sizeof(err));
    if (log == NULL)
        fail_msg("open -: %s", err);
    assert_int_equal(orderd_access_log_reopen(log, err, sizeof(err)), 0);
    orderd_access_log_free(log);
}

/* A forwarded log adds, on every path, a filter that names the client for its line; a plain one adds none. */
static void test_forwarded_registers_client_filter(void **state)
{
    for (int forwarded = 0; forwarded <= 1; forwarded++) {
        char err[512] = "";
        orderd_access_log_t *log = orderd_access_log_open("-", forwarded, err, sizeof(err));
        if (log == NULL)
            fail_msg("open - (forwarded %d): %s", forwarded, err);
        h2o_globalconf_t gc;
        h2o_config_init(&gc);
        h2o_hostconf_t *host = h2o_config_register_host(&gc, h2o_iovec_init(H2O_STRLIT("default")), 65535);
        h2o_config_register_path(host, "/a", 0);
        orderd_app_t app = {0};
        size_t path_filters = host->paths.entries[0].filters.size, fallback_filters = host->fallback_path.filters.size;
        orderd_access_log_register(log, host, &app);
        assert_int_equal(host->paths.entries[0].loggers.size, 1);
        assert_int_equal(host->paths.entries[0].filters.size, path_filters + (size_t)forwarded);
        assert_int_equal(host->fallback_path.filters.size, fallback_filters + (size_t)forwarded);
        orderd_access_log_free(log);
        h2o_config_dispose(&gc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_fails_with_one_line),
        cmocka_unit_test(test_register_and_reopen),
        cmocka_unit_test(test_stdout_is_not_reopened),
        cmocka_unit_test(test_forwarded_registers_client_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
