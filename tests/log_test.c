/* Unit tests for orderd/log.h: the lines on standard error. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "orderd/log.h"

/* 2026-12-01T20:17:15.123Z */
static const int64_t when = 1796156235123LL;

static void test_text_line(void **state)
{
    char out[256];
    size_t n = orderd_log_format(out, sizeof(out), 0, when, ORDERD_LOG_INFO, "listening on http://127.0.0.1:8080");
    assert_string_equal(out, "2026-12-01T20:17:15.123Z INFO listening on http://127.0.0.1:8080\n");
    assert_int_equal(n, strlen(out));
    orderd_log_format(out, sizeof(out), 0, when - 123, ORDERD_LOG_WARN, "w");
    assert_string_equal(out, "2026-12-01T20:17:15.000Z WARN w\n");
    orderd_log_format(out, sizeof(out), 0, 0, ORDERD_LOG_ERROR, "e");
    assert_string_equal(out, "1970-01-01T00:00:00.000Z ERROR e\n");
}

static void test_json_line(void **state)
{
    char out[256], errbuf[128];
    size_t n = orderd_log_format(out, sizeof(out), 1, when, ORDERD_LOG_ERROR, "cannot open \"a\\b\"\tnow");
    assert_int_equal(n, strlen(out));
    assert_int_equal(out[n - 1], '\n');
    assert_null(strchr(out, '\t')); /* escaped */
    out[n - 1] = '\0';
    yajl_val v = yajl_tree_parse(out, errbuf, sizeof(errbuf));
    assert_non_null(v);
    const char *time_path[] = {"time", NULL}, *level_path[] = {"level", NULL}, *msg_path[] = {"msg", NULL};
    assert_string_equal(YAJL_GET_STRING(yajl_tree_get(v, time_path, yajl_t_string)), "2026-12-01T20:17:15.123Z");
    assert_string_equal(YAJL_GET_STRING(yajl_tree_get(v, level_path, yajl_t_string)), "ERROR");
    assert_string_equal(YAJL_GET_STRING(yajl_tree_get(v, msg_path, yajl_t_string)), "cannot open \"a\\b\"\tnow");
    yajl_tree_free(v);
}

static void test_json_invalid_utf8_is_replaced(void **state)
{
    char out[256], errbuf[128];
    size_t n = orderd_log_format(out, sizeof(out), 1, when, ORDERD_LOG_WARN, "bad \xc3 byte");
    assert_true(n > 0);
    out[n - 1] = '\0';
    yajl_val v = yajl_tree_parse(out, errbuf, sizeof(errbuf));
    assert_non_null(v);
    const char *msg_path[] = {"msg", NULL};
    const char *msg = YAJL_GET_STRING(yajl_tree_get(v, msg_path, yajl_t_string));
    assert_non_null(msg);
    assert_non_null(strstr(msg, "not valid UTF-8"));
    yajl_tree_free(v);
}

static void test_long_message_is_cut_with_newline(void **state)
{
    char msg[600], out[128];
    memset(msg, 'm', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    size_t n = orderd_log_format(out, sizeof(out), 0, when, ORDERD_LOG_INFO, msg);
    assert_int_equal(n, sizeof(out) - 1);
    assert_int_equal(strlen(out), n);
    assert_int_equal(out[n - 1], '\n');
    /* JSON that does not fit: the message is cut, the object stays whole */
    char errbuf[128];
    n = orderd_log_format(out, sizeof(out), 1, when, ORDERD_LOG_INFO, msg);
    assert_true(n > 60 && n < sizeof(out));
    assert_int_equal(out[n - 1], '\n');
    out[n - 1] = '\0';
    yajl_val v = yajl_tree_parse(out, errbuf, sizeof(errbuf));
    assert_non_null(v);
    yajl_tree_free(v);
    /* cut at a character boundary: a message of 2-byte characters stays UTF-8 */
    for (size_t i = 0; i + 2 < sizeof(msg); i += 2)
        msg[i] = '\xc3', msg[i + 1] = '\xa9';
    msg[sizeof(msg) - 1 - (sizeof(msg) - 1) % 2] = '\0';
    n = orderd_log_format(out, sizeof(out), 1, when, ORDERD_LOG_INFO, msg);
    out[n - 1] = '\0';
    v = yajl_tree_parse(out, errbuf, sizeof(errbuf));
    assert_non_null(v);
    const char *msg_path[] = {"msg", NULL};
    const char *got = YAJL_GET_STRING(yajl_tree_get(v, msg_path, yajl_t_string));
    assert_non_null(got);
    assert_int_equal(strncmp(got, "\xc3\xa9\xc3\xa9", 4), 0);
    yajl_tree_free(v);
}

/* orderd_log writes the formatted line, whole, to descriptor 2. */
static void test_log_writes_one_line_to_stderr(void **state)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fds[1], STDERR_FILENO) >= 0);
    orderd_log_set_json(0);
    orderd_log(ORDERD_LOG_WARN, "journal %s: %d", "x", 42);
    orderd_log_set_json(1);
    orderd_log(ORDERD_LOG_INFO, "second");
    orderd_log_set_json(0);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[1]);
    char buf[512] = {0};
    ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    assert_true(n > 0);
    char *nl = strchr(buf, '\n');
    assert_non_null(nl);
    *nl = '\0';
    assert_int_equal(strlen(buf), strlen("2026-12-01T20:17:15.123Z WARN journal x: 42"));
    assert_string_equal(buf + 24, " WARN journal x: 42");
    assert_int_equal(buf[10], 'T');
    assert_int_equal(buf[23], 'Z');
    assert_non_null(strstr(nl + 1, "\"level\":\"INFO\",\"msg\":\"second\"}\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_line),
        cmocka_unit_test(test_json_line),
        cmocka_unit_test(test_json_invalid_utf8_is_replaced),
        cmocka_unit_test(test_long_message_is_cut_with_newline),
        cmocka_unit_test(test_log_writes_one_line_to_stderr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
