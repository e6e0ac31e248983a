/* Unit tests for orderd/accept.h: the default --max-connections from the fd
 * limit, and a worker's accepting on a real event loop: the budget resets
 * what is past it, a closed connection gives its place back, and running
 * out of file descriptors pauses accepting instead of spinning. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "orderd/accept.h"
#include "orderd/http.h"

static void test_fd_reserve(void **state)
{
    assert_int_equal(orderd_accept_fd_reserve(1, 1), ORDERD_ACCEPT_FD_RESERVE + 8);
    assert_int_equal(orderd_accept_fd_reserve(2, 1), ORDERD_ACCEPT_FD_RESERVE + 16);
    assert_int_equal(orderd_accept_fd_reserve(16, 8), ORDERD_ACCEPT_FD_RESERVE + 16 * 15);
}

static void test_default_max_from_the_fd_limit(void **state)
{
    /* the hostile test's case: ulimit -n 1024, 2 threads, one --listen */
    assert_int_equal(orderd_accept_default_max(1024, 2, 1), 1024 - 64 - 16);
    /* systemd's default hard limit */
    assert_int_equal(orderd_accept_default_max(524288, 8, 2), 524288 - 64 - 8 * 9);
    /* a limit the reserve eats whole still accepts one */
    assert_int_equal(orderd_accept_default_max(64, 1, 1), 1);
    assert_int_equal(orderd_accept_default_max(72, 1, 1), 1);
    assert_int_equal(orderd_accept_default_max(73, 1, 1), 1);
    assert_int_equal(orderd_accept_default_max(74, 1, 1), 2);
    assert_int_equal(orderd_accept_default_max(0, 1, 1), 1);
    /* no limit (RLIM_INFINITY) or a huge one: the flag's own maximum */
    assert_int_equal(orderd_accept_default_max(RLIM_INFINITY, 4, 1), ORDERD_CONFIG_MAX_CONNECTIONS);
    assert_int_equal(orderd_accept_default_max((uint64_t)ORDERD_CONFIG_MAX_CONNECTIONS * 4, 4, 1),
                     ORDERD_CONFIG_MAX_CONNECTIONS);
}

/* --- a worker on a real loop --- */

typedef struct fixture {
    h2o_globalconf_t gc;
    orderd_http_thread_t thread; /* no metrics block: counting is a no-op */
    h2o_evloop_t *loop;
    orderd_accept_budget_t budget;
    orderd_accept_worker_t w;
    struct sockaddr_in addr;
    struct rlimit nofile; /* restored by teardown, whatever failed */
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &f->nofile), 0);
    h2o_config_init(&f->gc);
    h2o_config_register_host(&f->gc, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    f->loop = h2o_evloop_create();
    h2o_context_init(&f->thread.ctx, f->loop, &f->gc);

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    f->addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(f->addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&f->addr, sizeof(f->addr)), 0);
    assert_int_equal(listen(fd, 64), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&f->addr, &len), 0);
    f->w.nlisteners = 1;
    f->w.listeners[0].fd = fd;
    f->w.listeners[0].accept_ctx.ctx = &f->thread.ctx;
    f->w.listeners[0].accept_ctx.hosts = f->gc.hosts;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    setrlimit(RLIMIT_NOFILE, &f->nofile);
    orderd_accept_stop(&f->w);
    for (int i = 0; i < 10; ++i)
        h2o_evloop_run(f->loop, 0);
    /* a test that failed may have left a connection open: h2o's timers
     * would assert on it, so its context and loop are left as they are */
    if (atomic_load(&f->budget.open) == 0) {
        h2o_context_dispose(&f->thread.ctx);
        free(f->thread.ctx.queue); /* h2o 2.2.5's evloop build leaves that to the caller */
        h2o_evloop_run(f->loop, 0); /* the queue's pipe socket is closed on the loop */
        h2o_config_dispose(&f->gc);
        h2o_evloop_destroy(f->loop);
    }
    free(f);
    return 0;
}

static int client(fixture_t *f)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&f->addr, sizeof(f->addr)), 0);
    return fd;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Runs the loop for about `ms`; returns how many times it woke. */
static int run_for(fixture_t *f, double ms)
{
    int wakeups = 0;
    for (double end = now_ms() + ms; now_ms() < end; ++wakeups)
        h2o_evloop_run(f->loop, (int32_t)(end - now_ms()) + 1);
    return wakeups;
}

/* "open" (nothing to read yet), "reset" or "closed". */
static const char *peer_state(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return "open";
    if (n < 0 && errno == ECONNRESET)
        return "reset";
    return n == 0 ? "closed" : "data";
}

static void test_budget_resets_past_max_and_gives_places_back(void **state)
{
    fixture_t *f = *state;
    f->budget.max = 2;
    orderd_accept_start(&f->w, f->loop, &f->budget);
    int a = client(f), b = client(f), c = client(f);
    run_for(f, 50);
    assert_int_equal(atomic_load(&f->budget.open), 2);
    assert_string_equal(peer_state(a), "open");
    assert_string_equal(peer_state(b), "open");
    assert_string_equal(peer_state(c), "reset");

    /* a client that leaves: h2o closes its socket, its place is free again */
    close(a);
    run_for(f, 50);
    assert_int_equal(atomic_load(&f->budget.open), 1);
    int d = client(f);
    run_for(f, 50);
    assert_int_equal(atomic_load(&f->budget.open), 2);
    assert_string_equal(peer_state(d), "open");
    close(b);
    close(c);
    close(d);
    run_for(f, 50);
    assert_int_equal(atomic_load(&f->budget.open), 0);
}

/* The descriptor the next open would get: as a limit, every new one fails (EMFILE). */
static int lowest_free_fd(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    close(fd);
    return fd;
}

static void test_out_of_descriptors_pauses_then_resumes(void **state)
{
    fixture_t *f = *state;
    f->budget.max = 100;
    orderd_accept_start(&f->w, f->loop, &f->budget);
    run_for(f, 10);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);

    /* the lowest free descriptor becomes the limit: accept() gets EMFILE */
    struct rlimit low = {.rlim_cur = (rlim_t)lowest_free_fd(), .rlim_max = f->nofile.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&f->addr, sizeof(f->addr)), 0);

    /* a spinning loop would wake thousands of times in 250 ms; paused, it
     * wakes for each 100 ms pause's end and fails once more */
    int wakeups = run_for(f, 250);
    assert_int_equal(atomic_load(&f->budget.open), 0);
    assert_true(wakeups <= 8);
    assert_true(f->w._paused_logged_at != 0); /* it did pause (and said so) */

    /* descriptors again: the connection waiting is taken at the next try */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &f->nofile), 0);
    run_for(f, ORDERD_ACCEPT_PAUSE_MS + 50);
    assert_int_equal(atomic_load(&f->budget.open), 1);
    assert_string_equal(peer_state(fd), "open");
    close(fd);
    run_for(f, 50);
    assert_int_equal(atomic_load(&f->budget.open), 0);
}

static void test_stop_ends_a_pause_for_good(void **state)
{
    fixture_t *f = *state;
    f->budget.max = 100;
    orderd_accept_start(&f->w, f->loop, &f->budget);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct rlimit low = {.rlim_cur = (rlim_t)lowest_free_fd(), .rlim_max = f->nofile.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&f->addr, sizeof(f->addr)), 0);
    run_for(f, 30);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &f->nofile), 0);
    orderd_accept_stop(&f->w); /* mid-pause: the resume must not touch the closed listener */
    run_for(f, ORDERD_ACCEPT_PAUSE_MS + 50);
    assert_int_equal(atomic_load(&f->budget.open), 0);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_reserve),
        cmocka_unit_test(test_default_max_from_the_fd_limit),
        cmocka_unit_test_setup_teardown(test_budget_resets_past_max_and_gives_places_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_descriptors_pauses_then_resumes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_ends_a_pause_for_good, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
