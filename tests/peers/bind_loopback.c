/* LD_PRELOAD shim for test peers: a bind() to the wildcard address is turned into a bind to
 * loopback, so a third-party server that hard-codes INADDR_ANY (the Apache broker's HA port)
 * listens on 127.0.0.1 only (or on the loopback address named by RMQ_BIND_IP, e.g. 127.0.0.2).
 * Built and used by tests/peers/apache.sh. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    static int (*real_bind)(int, const struct sockaddr *, socklen_t);
    if (!real_bind) real_bind = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
    if (addr && addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        struct sockaddr_in a;
        memcpy(&a, addr, sizeof a);
        if (a.sin_addr.s_addr == htonl(INADDR_ANY)) {
            const char *ip = getenv("RMQ_BIND_IP");
            struct in_addr want;
            if (ip && inet_pton(AF_INET, ip, &want) == 1 && (ntohl(want.s_addr) >> 24) == 127)
                a.sin_addr = want;
            else
                a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            return real_bind(fd, (const struct sockaddr *)&a, sizeof a);
        }
    } else if (addr && addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 a;
        memcpy(&a, addr, sizeof a);
        if (memcmp(&a.sin6_addr, &in6addr_any, sizeof a.sin6_addr) == 0) {
            /* v4-mapped 127.0.0.1: IPv4 clients of a dual-stack socket still reach it */
            static const unsigned char mapped[16] = {0,0,0,0,0,0,0,0,0,0,0xff,0xff,127,0,0,1};
            memcpy(&a.sin6_addr, mapped, sizeof mapped);
            return real_bind(fd, (const struct sockaddr *)&a, sizeof a);
        }
    }
    return real_bind(fd, addr, len);
}
