#include "internal/listen.h"

#include "orderd/log.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void set_port(struct sockaddr_storage *addr, const struct addrinfo *ai, uint16_t port)
{
    memcpy(addr, ai->ai_addr, ai->ai_addrlen);
    if (addr->ss_family == AF_INET)
        ((struct sockaddr_in *)addr)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)addr)->sin6_port = htons(port);
}

/* One SO_REUSEPORT socket; the kernel spreads connections over them. */
static int open_one(const struct addrinfo *ai, uint16_t port)
{
    struct sockaddr_storage addr;
    set_port(&addr, ai, port);
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) != 0 ||
        bind(fd, (struct sockaddr *)&addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static struct addrinfo *resolve(const char *host)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
    int err = getaddrinfo(host, NULL, &hints, &ai);
    if (err != 0) {
        orderd_log(ORDERD_LOG_ERROR, "cannot resolve %s: %s", host, gai_strerror(err));
        return NULL;
    }
    return ai;
}

int orderd_listen_probe(const char *host, uint16_t port)
{
    if (port == 0)
        return 0; /* the kernel picks a free port */
    struct addrinfo *ai = resolve(host);
    if (ai == NULL)
        return -1;
    struct sockaddr_storage addr;
    set_port(&addr, ai, port);
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1, ret = 0;
    /* SO_REUSEADDR lets it past connections in TIME_WAIT, not past a listener */
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        bind(fd, (struct sockaddr *)&addr, ai->ai_addrlen) != 0) {
        if (errno == EADDRINUSE)
            orderd_log(ORDERD_LOG_ERROR, "cannot listen on %s:%u: another process already serves it", host, port);
        else
            orderd_log(ORDERD_LOG_ERROR, "cannot listen on %s:%u: %s", host, port, strerror(errno));
        ret = -1;
    }
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return ret;
}

int orderd_listen_open(const char *host, uint16_t port, int *fds, unsigned n, uint16_t *bound)
{
    struct addrinfo *ai = resolve(host);
    if (ai == NULL)
        return -1;
    int ret = 0;
    for (unsigned i = 0; i < n; ++i) {
        if ((fds[i] = open_one(ai, port)) < 0) {
            orderd_log(ORDERD_LOG_ERROR, "cannot listen on %s:%u: %s", host, port, strerror(errno));
            ret = -1;
            break;
        }
        if (port == 0) {
            struct sockaddr_storage ss;
            socklen_t len = sizeof(ss);
            getsockname(fds[i], (struct sockaddr *)&ss, &len);
            port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                 : ((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
    freeaddrinfo(ai);
    *bound = port;
    return ret;
}
