/*
 * The bench's reference server: the same libh2o, threads and listeners as
 * orderd, answering every request with one fixed response and doing nothing
 * else. Its throughput under a load is the most HTTP can give on the machine
 * for that load; bench/run reports orderd's throughput as a ratio to it.
 *
 *   limit [--listen HOST:PORT] [--threads N] [--status CODE] [--body-bytes N]
 *         [--header 'NAME: VALUE']
 *
 * The body is application/json of exactly --body-bytes bytes (a JSON object
 * padded with 'x' when N >= 8). --header (up to 8 times) adds response
 * headers, so that the headers can be as long as orderd's (its Location on
 * 201, its ETag and X-Request-Id, or padding of the same length).
 * SIGINT or SIGTERM ends the process at once.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <h2o.h>

#define LIMIT_MAX_HEADERS 8

typedef struct limit_conf {
    char host[256];
    char port[8];
    unsigned threads;
    int status;
    const char *reason; /* orderd's phrase for the usual codes: the status line weighs the same */
    h2o_iovec_t body;
    struct {
        h2o_iovec_t name, value;
    } headers[LIMIT_MAX_HEADERS];
    size_t n_headers;
    h2o_globalconf_t globalconf;
    pthread_barrier_t ready;
} limit_conf_t;

typedef struct limit_handler {
    h2o_handler_t super;
    const limit_conf_t *conf;
} limit_handler_t;

typedef struct limit_worker {
    limit_conf_t *conf;
    int listen_fd;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
} limit_worker_t;

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    static h2o_generator_t generator = {NULL, NULL};
    const limit_conf_t *c = ((limit_handler_t *)self)->conf;
    h2o_iovec_t body = c->body;

    req->res.status = c->status;
    req->res.reason = c->reason;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    for (size_t i = 0; i < c->n_headers; ++i)
        h2o_add_header_by_str(&req->pool, &req->res.headers, c->headers[i].name.base, c->headers[i].name.len, 1, NULL,
                              c->headers[i].value.base, c->headers[i].value.len);
    /* before h2o_start_response, as orderd does: otherwise h2o chunks the body */
    req->res.content_length = body.len;
    h2o_start_response(req, &generator);
    h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    limit_worker_t *w = listener->data;
    h2o_socket_t *sock;
    if (err != NULL)
        return;
    for (int i = 0; i < 64 && (sock = h2o_evloop_socket_accept(listener)) != NULL; ++i)
        h2o_accept(&w->accept_ctx, sock);
}

/* Each worker builds its loop and context on its own thread, as orderd's do:
 * h2o's buffer recycling is per thread. */
static void *worker_main(void *arg)
{
    limit_worker_t *w = arg;
    h2o_evloop_t *loop = h2o_evloop_create();
    h2o_context_init(&w->ctx, loop, &w->conf->globalconf);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = w->conf->globalconf.hosts;
    h2o_socket_t *listener = h2o_evloop_socket_create(loop, w->listen_fd, H2O_SOCKET_FLAG_DONT_READ);
    listener->data = w;
    h2o_socket_read_start(listener, on_accept);
    pthread_barrier_wait(&w->conf->ready);
    for (;;)
        h2o_evloop_run(loop, INT32_MAX);
    return NULL;
}

static int open_listener(const limit_conf_t *c)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
    int fd = -1, on = 1, err = getaddrinfo(c->host, c->port, &hints, &ai);
    if (err != 0) {
        fprintf(stderr, "limit: cannot resolve %s: %s\n", c->host, gai_strerror(err));
        return -1;
    }
    if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) != 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        listen(fd, SOMAXCONN) != 0) {
        fprintf(stderr, "limit: cannot listen on %s:%s: %s\n", c->host, c->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

static h2o_iovec_t make_body(size_t n)
{
    char *b = malloc(n + 1);
    if (b == NULL)
        abort();
    memset(b, n >= 8 ? 'x' : ' ', n);
    if (n >= 8) {
        memcpy(b, "{\"p\":\"", 6);
        memcpy(b + n - 2, "\"}", 2);
    }
    return h2o_iovec_init(b, n);
}

static void usage_exit(const char *why)
{
    fprintf(stderr, "limit: %s\nusage: limit [--listen HOST:PORT] [--threads N] [--status CODE] [--body-bytes N] "
                    "[--header 'NAME: VALUE']\n", why);
    exit(2);
}

static long number_arg(const char *s, long lo, long hi, const char *flag)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *s == '\0' || *end != '\0' || v < lo || v > hi)
        usage_exit(flag);
    return v;
}

static void parse_args(limit_conf_t *c, int argc, char **argv)
{
    const char *listen = "127.0.0.1:8081";
    long body_bytes = 0;
    c->threads = 1;
    c->status = 200;
    for (int i = 1; i < argc; ++i) {
        const char *flag = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (val == NULL)
            usage_exit(flag);
        ++i;
        if (strcmp(flag, "--listen") == 0) {
            listen = val;
        } else if (strcmp(flag, "--threads") == 0) {
            c->threads = (unsigned)number_arg(val, 1, 1024, flag);
        } else if (strcmp(flag, "--status") == 0) {
            c->status = (int)number_arg(val, 100, 599, flag);
        } else if (strcmp(flag, "--body-bytes") == 0) {
            body_bytes = number_arg(val, 0, 64L << 20, flag);
        } else if (strcmp(flag, "--header") == 0) {
            const char *colon = strchr(val, ':');
            if (colon == NULL || colon == val || c->n_headers == LIMIT_MAX_HEADERS)
                usage_exit(flag);
            h2o_iovec_t name = h2o_strdup(NULL, val, (size_t)(colon - val));
            h2o_strtolower(name.base, name.len);
            c->headers[c->n_headers].name = name;
            c->headers[c->n_headers++].value = h2o_str_stripws(colon + 1, strlen(colon + 1));
        } else {
            usage_exit(flag);
        }
    }
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || (size_t)(colon - listen) >= sizeof(c->host) || strlen(colon + 1) >= sizeof(c->port))
        usage_exit("--listen");
    memcpy(c->host, listen, (size_t)(colon - listen));
    if (c->host[0] == '[') { /* [::1] */
        memmove(c->host, c->host + 1, strlen(c->host));
        c->host[strcspn(c->host, "]")] = '\0';
    }
    strcpy(c->port, colon + 1);
    if (number_arg(c->port, 1, 65535, "--listen") == 0) /* every thread binds the same, fixed port */
        usage_exit("--listen");
    c->body = make_body((size_t)body_bytes);
    c->reason = c->status == 200 ? "OK" : c->status == 201 ? "Created" : "Error";
}

int main(int argc, char **argv)
{
    static limit_conf_t c;
    sigset_t set;
    int sig;

    parse_args(&c, argc, argv);
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    h2o_config_init(&c.globalconf);
    /* the same Server header as orderd's, so the headers weigh the same */
    c.globalconf.server_name = h2o_iovec_init(H2O_STRLIT("orderd"));
    h2o_hostconf_t *host = h2o_config_register_host(&c.globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    limit_handler_t *h = (limit_handler_t *)h2o_create_handler(h2o_config_register_path(host, "/", 0), sizeof(*h));
    h->super.on_req = on_req;
    h->conf = &c;

    limit_worker_t *workers = calloc(c.threads, sizeof(*workers));
    pthread_barrier_init(&c.ready, NULL, c.threads + 1);
    for (unsigned i = 0; i < c.threads; ++i) {
        workers[i].conf = &c;
        if ((workers[i].listen_fd = open_listener(&c)) < 0)
            return 1;
        pthread_t tid;
        h2o_multithread_create_thread(&tid, NULL, worker_main, &workers[i]);
    }
    pthread_barrier_wait(&c.ready);
    int v6 = strchr(c.host, ':') != NULL;
    fprintf(stderr, "limit: %u threads, status %d, %zu-byte body; listening on http://%s%s%s:%s\n", c.threads,
            c.status, c.body.len, v6 ? "[" : "", c.host, v6 ? "]" : "", c.port);
    fflush(stderr);
    while (sigwait(&set, &sig) != 0)
        ;
    return 0;
}
