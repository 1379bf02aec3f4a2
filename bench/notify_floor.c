// notify_floor [--durable FILE] -- CMD ARGS...: runs CMD with every execve/execveat answered
// by the least any exec governor must do on this machine, for bench/exec.sh's "floor" columns.
//
// Each exec waits in a seccomp user notification (as under `warden sandbox --govern`); this
// process reads the path (one process_vm_readv), answers a path that is not there with ENOENT
// (as Warden does for `PATH` searches) and lets every other exec continue. With --durable, it
// first writes one 4 KiB block into FILE (256 KiB, pre-written, O_DIRECT, the blocks taken in
// turn) and flushes it with fdatasync: the cheapest durable record of the exec before it runs.
// No sandbox, no classification, no audit format: a machine's floor, not a design.
//
// Run outside any sandbox; compare with CMD run plainly.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP 1
#endif

#define RING (256 * 1024)
#define BLOCK 4096

static int install_filter(void) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_execve, 1, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_execveat, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof f[0], f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
}

static void send_fd(int sock, int fd) {
    char byte = 0, ctl[CMSG_SPACE(sizeof(int))];
    struct iovec io = {&byte, 1};
    struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    if (sendmsg(sock, &m, 0) != 1) _exit(126);
}

static int recv_fd(int sock) {
    char byte, ctl[CMSG_SPACE(sizeof(int))];
    struct iovec io = {&byte, 1};
    struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
    if (recvmsg(sock, &m, 0) != 1) return -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    if (!c) return -1;
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof(int));
    return fd;
}

int main(int argc, char **argv) {
    const char *durable = NULL;
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "--durable") == 0) {
        durable = argv[i + 1];
        i += 2;
    }
    if (i < argc && strcmp(argv[i], "--") == 0) i++;
    if (i >= argc) {
        fprintf(stderr, "usage: notify_floor [--durable FILE] -- CMD ARGS...\n");
        return 2;
    }
    int ring = -1;
    void *block = NULL;
    if (durable) {
        ring = open(durable, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (ring < 0 || posix_memalign(&block, BLOCK, BLOCK) != 0) {
            perror(durable);
            return 1;
        }
        memset(block, 0, BLOCK);
        for (int off = 0; off < RING; off += BLOCK) pwrite(ring, block, BLOCK, off);
        fsync(ring);
        close(ring);
        ring = open(durable, O_RDWR | O_DIRECT | O_CLOEXEC);
        if (ring < 0) ring = open(durable, O_RDWR | O_CLOEXEC);
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return 1;
    pid_t child = fork();
    if (child == 0) {
        int l = install_filter();
        if (l < 0) _exit(125);
        send_fd(sv[1], l);
        close(l);
        char ok;
        if (read(sv[1], &ok, 1) != 1) _exit(126);
        execvp(argv[i], argv + i);
        _exit(127);
    }
    close(sv[1]);
    int listener = recv_fd(sv[0]);
    if (listener < 0) {
        fprintf(stderr, "notify_floor: no listener (seccomp user notification unavailable?)\n");
        return 1;
    }
    ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, 0);
    if (write(sv[0], "g", 1) != 1) return 1;
    struct seccomp_notif_sizes sz;
    syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz);
    struct seccomp_notif *req = calloc(1, sz.seccomp_notif);
    struct seccomp_notif_resp *resp = calloc(1, sz.seccomp_notif_resp);
    long notified = 0, absent = 0, synced = 0;
    off_t next = 0;
    char path[4097];
    for (;;) {
        struct pollfd p = {listener, POLLIN, 0};
        if (poll(&p, 1, -1) < 0) continue;
        if (!(p.revents & POLLIN)) break;
        memset(req, 0, sz.seccomp_notif);
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) != 0) {
            if (errno == EINTR || errno == ENOENT) continue;
            break;
        }
        notified++;
        unsigned long addr = req->data.nr == SYS_execveat ? req->data.args[1] : req->data.args[0];
        size_t room = 4096 - (addr & 4095);
        struct iovec local = {path, room}, remote = {(void *)addr, room};
        ssize_t got = process_vm_readv(req->pid, &local, 1, &remote, 1, 0);
        memset(resp, 0, sz.seccomp_notif_resp);
        resp->id = req->id;
        resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        struct stat st;
        if (got > 0 && memchr(path, 0, got) && path[0] == '/' && stat(path, &st) != 0) {
            resp->flags = 0;
            resp->error = -ENOENT;
            absent++;
        } else if (ring >= 0) {
            pwrite(ring, block, BLOCK, next);
            fdatasync(ring);
            next = (next + BLOCK) % RING;
            synced++;
        }
        ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp);
    }
    int status;
    waitpid(child, &status, 0);
    fprintf(stderr, "notify_floor: %ld execs notified, %ld absent, %ld synced\n", notified, absent, synced);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
