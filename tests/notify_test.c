/* Unit tests for orderd/notify.h: READY=1 and STOPPING=1 reach
 * $NOTIFY_SOCKET, nothing happens without it, a dead socket is reported. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "orderd/notify.h"

typedef struct manager {
    char dir[64];
    char path[128];
    int fd;
} manager_t;

/* A stand-in service manager: a Unix datagram socket named by $NOTIFY_SOCKET. */
static int manager_setup(void **state)
{
    manager_t *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    strcpy(m->dir, "/tmp/orderd-notify-XXXXXX");
    assert_non_null(mkdtemp(m->dir));
    snprintf(m->path, sizeof(m->path), "%s/notify", m->dir);
    m->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(m->fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, m->path);
    assert_int_equal(bind(m->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(setenv("NOTIFY_SOCKET", m->path, 1), 0);
    *state = m;
    return 0;
}

static int manager_teardown(void **state)
{
    manager_t *m = *state;
    unsetenv("NOTIFY_SOCKET");
    close(m->fd);
    unlink(m->path);
    rmdir(m->dir);
    free(m);
    return 0;
}

/* The next datagram, as a string; fails the test when none is waiting. */
static void expect_message(manager_t *m, const char *want)
{
    char buf[256];
    ssize_t n = recv(m->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, want);
}

static void test_ready_then_stopping(void **state)
{
    manager_t *m = *state;
    assert_int_equal(orderd_notify(ORDERD_NOTIFY_READY), 1);
    expect_message(m, "READY=1");
    /* the first call leaves $NOTIFY_SOCKET in place for the second */
    assert_string_equal(getenv("NOTIFY_SOCKET"), m->path);
    assert_int_equal(orderd_notify(ORDERD_NOTIFY_STOPPING), 1);
    expect_message(m, "STOPPING=1");
}

static void test_no_manager_is_a_no_op(void **state)
{
    manager_t *m = *state;
    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(orderd_notify(ORDERD_NOTIFY_READY), 0);
    char c;
    assert_true(recv(m->fd, &c, 1, MSG_DONTWAIT) < 0);
}

static void test_dead_socket_fails(void **state)
{
    manager_t *m = *state;
    char gone[160];
    snprintf(gone, sizeof(gone), "%s/nobody-listens", m->dir);
    assert_int_equal(setenv("NOTIFY_SOCKET", gone, 1), 0);
    assert_int_equal(orderd_notify(ORDERD_NOTIFY_READY), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ready_then_stopping, manager_setup, manager_teardown),
        cmocka_unit_test_setup_teardown(test_no_manager_is_a_no_op, manager_setup, manager_teardown),
        cmocka_unit_test_setup_teardown(test_dead_socket_fails, manager_setup, manager_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
