/* LD_PRELOAD shim of the rmq node agent (test code): a bind() to the wildcard address (IPv4
 * 0.0.0.0 or IPv6 ::) becomes a bind to the pod's own loopback address RMQ_BIND_IP
 * (127.x.y.z), so pods that all listen on 0.0.0.0:10911 -- as they would in their own network
 * namespaces -- can run side by side on one host. Built by tests/k8s-e2e/run.sh with cc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int pod_ip(struct in_addr *out) {
    const char *ip = getenv("RMQ_BIND_IP");
    return ip && inet_pton(AF_INET, ip, out) == 1 && (ntohl(out->s_addr) >> 24) == 127;
}

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    static int (*real_bind)(int, const struct sockaddr *, socklen_t);
    if (!real_bind) real_bind = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
    struct in_addr want;
    if (addr && addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in) && pod_ip(&want)) {
        struct sockaddr_in a;
        memcpy(&a, addr, sizeof a);
        if (a.sin_addr.s_addr == htonl(INADDR_ANY)) {
            a.sin_addr = want;
            return real_bind(fd, (const struct sockaddr *)&a, sizeof a);
        }
    } else if (addr && addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6) && pod_ip(&want)) {
        struct sockaddr_in6 a;
        memcpy(&a, addr, sizeof a);
        if (memcmp(&a.sin6_addr, &in6addr_any, sizeof a.sin6_addr) == 0) {
            unsigned char mapped[16] = {0,0,0,0,0,0,0,0,0,0,0xff,0xff,0,0,0,0};
            memcpy(mapped + 12, &want.s_addr, 4);
            memcpy(&a.sin6_addr, mapped, sizeof mapped);
            return real_bind(fd, (const struct sockaddr *)&a, sizeof a);
        }
    }
    return real_bind(fd, addr, len);
}
