/* tscr shim, fd kinds (owner: fdkinds, issue 4): pipes, unix sockets,
 * eventfd, epoll, timerfd, signalfd, inotify, memfd.
 * Conventions of tscr.h: return >= 0 or -errno, caller-owned buffers. */
#define _GNU_SOURCE
#include "tscr.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stddef.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>

#define RET(x) ({ __typeof__(x) r_ = (x); r_ < 0 ? -errno : r_; })

int tscr_fcntl(int fd, int cmd, int64_t arg) { return RET(fcntl(fd, cmd, (long)arg)); }
int64_t tscr_lseek(int fd, int64_t off, int whence) { off_t r = lseek(fd, off, whence); return r < 0 ? -errno : r; }
int tscr_ioctl_int(int fd, uint64_t req, int *out) { return RET(ioctl(fd, (unsigned long)req, out)); }
int tscr_ioctl_ptr(int fd, uint64_t req, void *arg) { return RET(ioctl(fd, (unsigned long)req, arg)); }
int tscr_ftruncate(int fd, int64_t len) { return RET(ftruncate(fd, len)); }
int tscr_fchmod(int fd, uint32_t mode) { return RET(fchmod(fd, mode)); }
int tscr_fchown(int fd, uint32_t uid, uint32_t gid) { return RET(fchown(fd, uid, gid)); }

int tscr_pipe2(int *out2, int flags) { return RET(pipe2(out2, flags)); }

/* Copy the bytes queued in the pipe `fd` into buf (at most len) without
 * consuming them: tee(2) into a private pipe of the same capacity, then read. */
int tscr_pipe_peek(int fd, void *buf, int len) {
  int tmp[2];
  if (pipe2(tmp, O_CLOEXEC | O_NONBLOCK) < 0) return -errno;
  int sz = fcntl(fd, F_GETPIPE_SZ);
  if (sz > 0 && fcntl(tmp[1], F_SETPIPE_SZ, sz) < 0) { int e = errno; close(tmp[0]); close(tmp[1]); return -e; }
  ssize_t t = tee(fd, tmp[1], (size_t)len, SPLICE_F_NONBLOCK);
  int rc;
  if (t < 0) rc = errno == EAGAIN ? 0 : -errno;
  else {
    size_t got = 0;
    while (got < (size_t)t) {
      ssize_t r = read(tmp[0], (char *)buf + got, (size_t)t - got);
      if (r <= 0) break;
      got += (size_t)r;
    }
    rc = (int)got;
  }
  close(tmp[0]);
  close(tmp[1]);
  return rc;
}

int tscr_eventfd(uint32_t init, int flags) { return RET(eventfd(init, flags)); }

int tscr_timerfd_create(int clock, int flags) { return RET(timerfd_create(clock, flags)); }
/* v4: value sec, nsec, interval sec, nsec */
int tscr_timerfd_settime(int fd, int flags, const int64_t *v4) {
  struct itimerspec t = {.it_value = {v4[0], v4[1]}, .it_interval = {v4[2], v4[3]}};
  return RET(timerfd_settime(fd, flags, &t, NULL));
}
int tscr_timerfd_gettime(int fd, int64_t *out4) {
  struct itimerspec t;
  if (timerfd_gettime(fd, &t) < 0) return -errno;
  out4[0] = t.it_value.tv_sec; out4[1] = t.it_value.tv_nsec; out4[2] = t.it_interval.tv_sec; out4[3] = t.it_interval.tv_nsec;
  return 0;
}

int tscr_signalfd(uint64_t mask, int flags) {
  return RET((int)syscall(SYS_signalfd4, -1, &mask, (size_t)8, flags));
}

int tscr_epoll_create(int flags) { return RET(epoll_create1(flags)); }

/* Register every item in epfd under the target's fd number (items[i].tfd),
 * as the target had it: epoll keys its watches by (file, fd number), and
 * EPOLL_CTL_MOD/DEL in the restored program look them up by its own number.
 * The registrations are made in a short-lived child that shares epfd's open
 * file description (fd numbers of the child are its own, so tscr's fds are
 * untouched). A watch lives as long as its file does, not the child's fd. */
struct ep_job { int epfd; const struct tscr_ep_item *items; int n; int err; int at; };
static int ep_child(void *arg) {
  struct ep_job *j = arg;
  int maxfd = j->epfd;
  for (int i = 0; i < j->n; i++) {
    if (j->items[i].tfd > maxfd) maxfd = j->items[i].tfd;
    if (j->items[i].local > maxfd) maxfd = j->items[i].local;
  }
  int base = maxfd + 1;
  int ep = fcntl(j->epfd, F_DUPFD, base);
  if (ep < 0) { j->err = errno; j->at = -1; return 1; }
  base = ep + 1;
  int high[j->n > 0 ? j->n : 1];
  for (int i = 0; i < j->n; i++) {
    high[i] = fcntl(j->items[i].local, F_DUPFD, base);
    if (high[i] < 0) { j->err = errno; j->at = i; return 1; }
    base = high[i] + 1;
  }
  for (int i = 0; i < j->n; i++) {
    const struct tscr_ep_item *it = &j->items[i];
    if (dup2(high[i], it->tfd) < 0) { j->err = errno; j->at = i; return 1; }
    struct epoll_event ev = {.events = it->events, .data.u64 = it->data};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, it->tfd, &ev) < 0) { j->err = errno; j->at = i; return 1; }
  }
  return 0;
}
int tscr_epoll_build(int epfd, const struct tscr_ep_item *items, int n) {
  if (n < 0 || n > 65536) return -EINVAL;
  struct ep_job j = {epfd, items, n, 0, 0};
  size_t ssz = 256 * 1024;
  char *stack = mmap(NULL, ssz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return -errno;
  /* CLONE_VM|CLONE_VFORK: the child shares memory and runs to completion first;
   * no CLONE_FILES: it gets its own copy of the fd table. */
  pid_t pid = clone(ep_child, stack + ssz, CLONE_VM | CLONE_VFORK | SIGCHLD, &j);
  int rc = 0;
  if (pid < 0) rc = -errno;
  else {
    int st = 0;
    while (waitpid(pid, &st, __WALL) < 0 && errno == EINTR) {}
    if (j.err) rc = -(j.err);
    else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) rc = -ECHILD;
  }
  munmap(stack, ssz);
  return rc;
}

int tscr_inotify_init(int flags) { return RET(inotify_init1(flags)); }
/* Add a watch and make it get watch descriptor `wd` (the kernel hands them out
 * cyclically: add and remove until the counter reaches it). */
int tscr_inotify_add_wd(int ifd, const char *path, uint32_t mask, int wd) {
  for (int tries = 0; tries < (1 << 20); tries++) {
    int got = inotify_add_watch(ifd, path, mask);
    if (got < 0) return -errno;
    if (got == wd || wd <= 0) return got;
    inotify_rm_watch(ifd, got);
    if (got > wd) return -ERANGE; /* the counter passed it already */
  }
  return -ERANGE;
}
/* Open a file by its handle (name_to_handle_at) on the mount that holds `mnt`. */
int tscr_open_by_handle(const char *mnt, int type, const void *handle, int bytes, int flags) {
  if (bytes < 0 || bytes > 128) return -EINVAL;
  int mfd = open(mnt, O_RDONLY | O_CLOEXEC);
  if (mfd < 0) return -errno;
  char raw[sizeof(struct file_handle) + 128];
  struct file_handle *fh = (struct file_handle *)raw;
  fh->handle_bytes = (unsigned)bytes;
  fh->handle_type = type;
  memcpy(fh->f_handle, handle, (size_t)bytes);
  int fd = open_by_handle_at(mfd, fh, flags | O_CLOEXEC);
  int e = errno;
  close(mfd);
  return fd < 0 ? -e : fd;
}

int tscr_memfd_create(const char *name, uint32_t flags) { return RET(memfd_create(name, flags)); }
/* A new open file description of the file behind fd, with the given flags. */
int tscr_reopen(int fd, int flags) {
  char p[64];
  snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
  return RET(open(p, flags | O_CLOEXEC));
}

/* ---- unix sockets ---- */
static socklen_t mk_un(struct sockaddr_un *sa, const void *name, int len) {
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  if (len > (int)sizeof sa->sun_path) len = sizeof sa->sun_path;
  if (len > 0) memcpy(sa->sun_path, name, (size_t)len);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (len > 0 ? len : 0));
}
int tscr_socket(int domain, int type, int proto) { return RET(socket(domain, type | SOCK_CLOEXEC, proto)); }
int tscr_socketpair(int type, int *out2) { return RET(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, out2)); }
int tscr_bind_un(int fd, const void *name, int len) {
  struct sockaddr_un sa; socklen_t l = mk_un(&sa, name, len);
  return RET(bind(fd, (struct sockaddr *)&sa, l));
}
int tscr_connect_un(int fd, const void *name, int len) {
  struct sockaddr_un sa; socklen_t l = mk_un(&sa, name, len);
  return RET(connect(fd, (struct sockaddr *)&sa, l));
}
int tscr_sk_listen(int fd, int backlog) { return RET(listen(fd, backlog)); }
int tscr_accept(int fd, int flags) { return RET(accept4(fd, NULL, NULL, flags | SOCK_CLOEXEC)); }
int tscr_shutdown(int fd, int how) { return RET(shutdown(fd, how)); }
int tscr_getsockopt(int fd, int level, int opt, void *buf, int len) {
  socklen_t l = (socklen_t)len;
  if (getsockopt(fd, level, opt, buf, &l) < 0) return -errno;
  return (int)l;
}
int tscr_setsockopt(int fd, int level, int opt, const void *buf, int len) { return RET(setsockopt(fd, level, opt, buf, (socklen_t)len)); }
/* Name (sun_path bytes, abstract ones start with NUL) of the socket (peer=0) or its peer. */
int tscr_sockname(int fd, int peer, void *out108) {
  struct sockaddr_un sa; socklen_t l = sizeof sa;
  memset(&sa, 0, sizeof sa);
  int r = peer ? getpeername(fd, (struct sockaddr *)&sa, &l) : getsockname(fd, (struct sockaddr *)&sa, &l);
  if (r < 0) return -errno;
  int n = (int)l - (int)offsetof(struct sockaddr_un, sun_path);
  if (n < 0) n = 0;
  if (n > 0 && sa.sun_path[0] != 0 && sa.sun_path[n - 1] == 0) n--;  /* path names: drop the NUL */
  memcpy(out108, sa.sun_path, (size_t)n);
  return n;
}
int64_t tscr_send(int fd, const void *buf, int64_t len, int flags) {
  ssize_t r = send(fd, buf, (size_t)len, flags | MSG_NOSIGNAL);
  return r < 0 ? -errno : r;
}
int64_t tscr_sendto_un(int fd, const void *buf, int64_t len, const void *name, int namelen) {
  struct sockaddr_un sa; socklen_t l = mk_un(&sa, name, namelen);
  ssize_t r = sendto(fd, buf, (size_t)len, MSG_NOSIGNAL, (struct sockaddr *)&sa, l);
  return r < 0 ? -errno : r;
}

/* Copy a socket's receive queue without consuming it: SO_PEEK_OFF + MSG_PEEK.
 * Datagram/seqpacket boundaries: lens[i] is the size of message i (stream: the
 * chunks as read). Returns total bytes; *nmsgs = messages. -EBADMSG when a
 * message carries file descriptors (SCM_RIGHTS; they are closed again), -ENOSPC
 * when buf or lens is too small. The socket's peek offset is put back. */
int64_t tscr_sk_peek(int fd, int stream, void *buf, int64_t len, int *lens, int maxmsgs, int *nmsgs) {
  int old = -1, zero = 0, dis = -1;
  socklen_t ol = sizeof old;
  if (getsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &old, &ol) < 0) return -errno;
  if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof zero) < 0) return -errno;
  int64_t total = 0;
  int n = 0;
  int64_t rc = 0;
  for (;;) {
    if (n >= maxmsgs) { rc = -ENOSPC; break; }
    char cbuf[CMSG_SPACE(sizeof(int) * 253)];
    struct iovec iov = {(char *)buf + total, (size_t)(len - total)};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    ssize_t r = recvmsg(fd, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (r < 0) { if (errno != EAGAIN) rc = -errno; break; }
    int rights = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int *fds = (int *)CMSG_DATA(c);
        for (int i = 0; i < k; i++) close(fds[i]);
        rights = 1;
      }
    }
    if (rights) { rc = -EBADMSG; break; }
    if (mh.msg_flags & MSG_TRUNC) { rc = -ENOSPC; break; }
    if (r == 0 && stream) break;  /* stream: end. A zero-length datagram is a message (peeked once) */
    lens[n++] = (int)r;
    total += r;
    if (total >= len) { rc = -ENOSPC; break; }
  }
  setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, old < 0 ? &dis : &old, sizeof old);
  *nmsgs = n;
  return rc < 0 ? rc : total;
}

/* Every unix socket of tscr's network namespace, from NETLINK_SOCK_DIAG. */
int tscr_unix_diag(struct tscr_unix_diag *out, int max) {
  int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0) return -errno;
  struct { struct nlmsghdr h; struct unix_diag_req r; } req;
  memset(&req, 0, sizeof req);
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.h.nlmsg_seq = 1;
  req.r.sdiag_family = AF_UNIX;
  req.r.udiag_states = ~0u;
  req.r.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS | UDIAG_SHOW_RQLEN | UDIAG_SHOW_UID;
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  if (sendto(nl, &req, sizeof req, 0, (struct sockaddr *)&sa, sizeof sa) < 0) { int e = errno; close(nl); return -e; }
  size_t bsz = 64 * 1024;
  char *b = malloc(bsz);
  if (!b) { close(nl); return -ENOMEM; }
  int n = 0, rc = 0, done = 0;
  while (!done) {
    ssize_t r = recv(nl, b, bsz, 0);
    if (r < 0) { if (errno == EINTR) continue; rc = -errno; break; }
    for (struct nlmsghdr *h = (struct nlmsghdr *)b; NLMSG_OK(h, (size_t)r); h = NLMSG_NEXT(h, r)) {
      if (h->nlmsg_type == NLMSG_DONE) { done = 1; break; }
      if (h->nlmsg_type == NLMSG_ERROR) { struct nlmsgerr *e = NLMSG_DATA(h); rc = e->error; done = 1; break; }
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
      struct unix_diag_msg *m = NLMSG_DATA(h);
      if (n >= max) { rc = -ENOSPC; done = 1; break; }
      struct tscr_unix_diag *o = &out[n++];
      memset(o, 0, sizeof *o);
      o->ino = m->udiag_ino;
      o->type = m->udiag_type;
      o->state = m->udiag_state;
      o->shutdown = 0;
      int alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
      for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
        void *d = RTA_DATA(a);
        int dl = (int)RTA_PAYLOAD(a);
        switch (a->rta_type) {
        case UNIX_DIAG_NAME: o->namelen = (uint32_t)(dl > 108 ? 108 : dl); memcpy(o->name, d, o->namelen); break;
        case UNIX_DIAG_VFS: { struct unix_diag_vfs *v = d; o->vfs_dev = v->udiag_vfs_dev; o->vfs_ino = v->udiag_vfs_ino; break; }
        case UNIX_DIAG_PEER: o->peer = *(uint32_t *)d; break;
        case UNIX_DIAG_ICONS: o->nicons = (uint32_t)(dl / 4); break;
        case UNIX_DIAG_RQLEN: { struct unix_diag_rqlen *q = d; o->rqlen = q->udiag_rqueue; o->wqlen = q->udiag_wqueue; break; }
        case UNIX_DIAG_SHUTDOWN: o->shutdown = *(uint8_t *)d; break;
        case UNIX_DIAG_UID: o->uid = *(uint32_t *)d; break;
        }
      }
    }
  }
  free(b);
  close(nl);
  return rc < 0 ? rc : n;
}

/* Start a program with the given fds (map: pairs of local fd, fd number in
 * the program); every other fd is closed, stdio without a mapping is
 * /dev/null. Returns the pid (a child of the caller). For tests and helpers;
 * the restore engine installs fds by injection instead. */
int tscr_spawn_fds(const char *path, const char *argv_block, int argc, const int *map, int n) {
  if (argc < 0 || argc > 255 || n < 0 || n > 1024) return -EINVAL;
  char *argv[256];
  const char *p = argv_block;
  for (int i = 0; i < argc; i++) { argv[i] = (char *)p; p += strlen(p) + 1; }
  argv[argc] = NULL;
  extern char **environ;
  int maxfd = 2;
  for (int i = 0; i < n; i++) { if (map[2 * i] > maxfd) maxfd = map[2 * i]; if (map[2 * i + 1] > maxfd) maxfd = map[2 * i + 1]; }
  pid_t pid = fork();
  if (pid < 0) return -errno;
  if (pid == 0) {
    sigset_t all; sigemptyset(&all); sigprocmask(SIG_SETMASK, &all, NULL);
    setsid();
    int base = maxfd + 1, high[1024];
    for (int i = 0; i < n; i++) { high[i] = fcntl(map[2 * i], F_DUPFD, base); if (high[i] < 0) _exit(126); base = high[i] + 1; }
    int nul = fcntl(open("/dev/null", O_RDWR), F_DUPFD, base);
    int have[3] = {0, 0, 0};
    for (int i = 0; i < n; i++) { if (dup2(high[i], map[2 * i + 1]) < 0) _exit(126); if (map[2 * i + 1] < 3) have[map[2 * i + 1]] = 1; }
    for (int s = 0; s < 3; s++) if (!have[s]) dup2(nul, s);
    for (int fd = 3; fd < base + 1; fd++) {
      int keep = 0;
      for (int i = 0; i < n; i++) if (map[2 * i + 1] == fd) keep = 1;
      if (!keep) close(fd);
    }
    syscall(SYS_close_range, base + 1, ~0U, 0);
    execve(path, argv, environ);
    _exit(127);
  }
  return pid;
}

/* Copy len bytes from in (at in_off) to out (at out_off) inside the kernel side
 * of tscr: pread/pwrite through one reused buffer, no JS memory touched.
 * Returns bytes copied (short only at end of input). */
int64_t tscr_fd_copy(int in, int64_t in_off, int out, int64_t out_off, int64_t len) {
  static __thread char *buf;
  const size_t BS = 1 << 20;
  if (!buf && !(buf = malloc(BS))) return -ENOMEM;
  int64_t done = 0;
  while (done < len) {
    size_t want = (size_t)(len - done) < BS ? (size_t)(len - done) : BS;
    ssize_t r = pread(in, buf, want, in_off + done);
    if (r < 0) { if (errno == EINTR) continue; return -errno; }
    if (r == 0) break;
    ssize_t w = 0;
    while (w < r) {
      ssize_t k = pwrite(out, buf + w, (size_t)(r - w), out_off + done + w);
      if (k < 0) { if (errno == EINTR) continue; return -errno; }
      w += k;
    }
    done += r;
  }
  return done;
}

/* Dump a shmem file (memfd, shared mapping) of `size` bytes: copy every data
 * extent (SEEK_DATA/SEEK_HOLE: holes were never written) to the end of `out`
 * with sendfile(2), in the kernel. runs receives (offset, length) pairs, page
 * aligned; returns the number of runs, -ENOSPC if max is too small. */
int tscr_shmem_copy(int in, int64_t size, int out, uint64_t *runs, int max) {
  int n = 0;
  off_t pos = 0;
  off_t base = lseek(out, 0, SEEK_CUR);
  if (base < 0) return -errno;
  while (pos < size) {
    off_t d = lseek(in, pos, SEEK_DATA);
    if (d < 0) { if (errno == ENXIO) break; return -errno; }
    if (d >= size) break;
    off_t h = lseek(in, d, SEEK_HOLE);
    if (h < 0) return -errno;
    if (h > size) h = size;
    d &= ~(off_t)4095;
    h = (h + 4095) & ~(off_t)4095;
    if (n > 0 && runs[2 * (n - 1)] + runs[2 * (n - 1) + 1] == (uint64_t)d) {
      /* extends the previous run */
    } else {
      if (n >= max) { /* undo: the caller retries with more room */
        if (ftruncate(out, base) < 0 || lseek(out, base, SEEK_SET) < 0) return -errno;
        return -ENOSPC;
      }
      runs[2 * n] = (uint64_t)d; runs[2 * n + 1] = 0; n++;
    }
    off_t o = d;
    while (o < h) {
      ssize_t r = sendfile(out, in, &o, (size_t)(h - o));
      if (r < 0) { if (errno == EINTR) continue; return -errno; }
      if (r == 0) { /* past EOF of the source: pad with zeros up to the page end */
        static const char zero[4096];
        ssize_t z = write(out, zero, (size_t)(h - o) < sizeof zero ? (size_t)(h - o) : sizeof zero);
        if (z <= 0) return z < 0 ? -errno : -EIO;
        o += z;
      }
    }
    runs[2 * (n - 1) + 1] += (uint64_t)(h - d);
    pos = h;
  }
  return n;
}
