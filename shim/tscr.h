/* tscr native shim: the Linux boundary.
 *
 * Conventions
 * - Every function returns int (or int64_t): >= 0 on success, -errno on failure.
 * - Structs are flat (fixed-size fields only), declared here, mirrored once in
 *   shim/native.ts.
 * - Buffers are owned by the caller. No function keeps a pointer it was given
 *   after it returns, and none returns memory the caller must free.
 * - One .c file per area: ptrace.c (dump owner), restore.c, fds.c, tcp.c.
 */
#ifndef TSCR_H
#define TSCR_H
#include <stdint.h>
#include <sys/types.h>

/* ---- process control, ptrace, memory (owner: dump; shim/ptrace.c) ---- */
#define TSCR_INJ_POKE 1          /* tscr_inject: write 0f 05 at gadget, restore after */
#define TSCR_SPAWN_SETSID 1
#define TSCR_SPAWN_DAEMON 2      /* double fork: the program is not our child */
#define TSCR_SPAWN_NULLIO 4
int tscr_seize(int tid, uint32_t options);
int tscr_interrupt(int tid);
int tscr_detach(int tid, int sig);
int tscr_cont(int tid, int sig);
int tscr_listen(int tid);
int tscr_set_options(int tid, uint32_t options);
int tscr_geteventmsg(int tid, uint64_t *msg);
int tscr_getsiginfo(int tid, void *si128);
int tscr_peeksiginfo(int tid, int shared, uint64_t off, int max, void *out);
int tscr_wait(int tid, int timeout_ms, int *status);
int tscr_getregset(int tid, int nt, void *buf, int len);
int tscr_setregset(int tid, int nt, const void *buf, int len);
int tscr_get_rseq(int tid, void *out32);
int tscr_seccomp_filter(int tid, int idx, void *buf);
int tscr_seccomp_flags(int tid, int idx, uint64_t *flags);
int tscr_peek(int tid, uint64_t addr, uint64_t *word);
int tscr_poke(int tid, uint64_t addr, uint64_t word);
int tscr_inject(int tid, int64_t nr, const int64_t *args, uint64_t gadget, int flags, int64_t *ret, int *sig_out);
int64_t tscr_vm_readv(int pid, void *local, const uint64_t *ranges, int n);
int64_t tscr_vm_writev(int pid, const void *local, const uint64_t *ranges, int n);
int64_t tscr_vm_read(int pid, uint64_t remote, void *local, uint64_t len);
int64_t tscr_vm_write(int pid, uint64_t remote, const void *local, uint64_t len);
int64_t tscr_pread(int fd, void *buf, uint64_t len, uint64_t off);
int64_t tscr_pwrite(int fd, const void *buf, uint64_t len, uint64_t off);
int tscr_pagemap_scan(int fd, uint64_t start, uint64_t end, uint64_t anyof, uint64_t retmask, uint64_t *out, int max, uint64_t *walk_end);
int tscr_alloc_pages(uint64_t len, uint64_t *addr);
int tscr_free_pages(uint64_t addr, uint64_t len);
int tscr_copy_out(uint64_t addr, void *dst, uint64_t len);
int64_t tscr_write_mem(int fd, uint64_t addr, uint64_t len);
int tscr_is_zero(uint64_t addr, uint64_t len);
int tscr_pidfd_open(int pid, uint32_t flags);
int tscr_pidfd_getfd(int pidfd, int fd);
int tscr_close(int fd);
int tscr_kill(int pid, int sig);
int tscr_tgkill(int tgid, int tid, int sig);
int tscr_getrlimit(int pid, int res, uint64_t *cur_max);
int tscr_spawn(const char *path, const char *argv_block, int argc, int flags);
int tscr_waitpid(int pid, int options, int *status);
int tscr_kcmp(int pid1, int pid2, int type, uint64_t idx1, uint64_t idx2);
int tscr_clock(int clk, int64_t *out);
int tscr_cpuid(uint32_t leaf, uint32_t sub, uint32_t *out);
int64_t tscr_scan_zero(int pid, uint64_t addr, uint64_t npages, uint8_t *out);
int64_t tscr_copy_pages(int pid, const uint64_t *ranges, int n, int out_fd, int mem_fd, uint64_t *fail_addr);
int64_t tscr_copy_pages_wb(int pid, const uint64_t *ranges, int n, int out_fd, int mem_fd, uint64_t *fail_addr, uint64_t wb_bytes);
/* ---- end dump block ---- */
/* ---- restore (owner: restore, issue 3): shim/restore.c ---- */
int tscr_rs_spawn(int pid, const char *stub);
int tscr_rs_syscall(int tid, uint64_t gadget, int64_t nr, const int64_t *args, int64_t *out);
int tscr_rs_getregs(int tid, void *regs216);
int tscr_rs_setregs(int tid, const void *regs216);
int tscr_rs_getregset(int tid, int nt, void *buf, int len);
int tscr_rs_setregset(int tid, int nt, const void *buf, int len);
int tscr_rs_setsigmask(int tid, uint64_t mask);
int tscr_rs_detach(int tid, int sig);
int tscr_rs_kill(int pid, int sig);
int tscr_rs_pid_free(int pid);
int tscr_rs_wait(int pid, int flags, int *status);
int64_t tscr_rs_vm_write(int pid, uint64_t remote, const void *local, uint64_t len);
int64_t tscr_rs_vm_read(int pid, uint64_t remote, void *local, uint64_t len);
int64_t tscr_rs_fill(int pid, int fd, const uint64_t *runs, int n);
int tscr_rs_prlimit(int pid, int res, uint64_t cur, uint64_t max);
int tscr_rs_start(const char *path, const char *arg1, const char *logpath);
/* ---- end restore ---- */

/* ---- TCP repair and inet sockets (owner: tcp; shim/tcp.c) ---- */
struct tscr_tcp_state {        /* all u32; field names as in CRIU's tcp_stream_entry */
  uint32_t state;              /* TCP_ESTABLISHED = 1, ... (tcpi_state) */
  uint32_t inq_len, inq_seq, outq_len, outq_seq, unsq_len;
  uint32_t opt_mask, snd_wscale, rcv_wscale, mss_clamp, timestamp;
  uint32_t has_window, snd_wl1, snd_wnd, max_window, rcv_wnd, rcv_wup;
};                              /* 18 x u32 = 72 bytes */
struct tscr_tcp_addrs {
  int32_t family, src_port, dst_port, skip_bind;
  uint32_t scope;
  uint8_t src[16], dst[16];
};                              /* 52 bytes */
struct tscr_sockname { int32_t family, port; uint32_t scope; uint8_t addr[16]; };  /* 28 bytes */
int tscr_tcp_repair(int fd, int mode);
int tscr_tcp_save(int fd, struct tscr_tcp_state *st);
int tscr_tcp_peek_queue(int fd, int queue, void *buf, int len);
int tscr_tcp_restore(int fd, const struct tscr_tcp_state *st, const struct tscr_tcp_addrs *a,
                     const void *inq, const void *outq, int *step);
int tscr_sock_bind(int fd, int family, const uint8_t *addr16, int port, uint32_t scope);
int tscr_sock_connect(int fd, int family, const uint8_t *addr16, int port, uint32_t scope);
int tscr_sock_listen(int fd, int backlog);
int tscr_sock_accept(int fd);
/* socket, getsockopt, setsockopt, shutdown: see the fdkinds block (shim/fds.c) */
int tscr_sock_name(int fd, int peer, struct tscr_sockname *out);
struct tscr_inet_diag { uint32_t state, rqueue, wqueue, shutdown; };
int tscr_inet_diag(int family, int proto, uint32_t ino, struct tscr_inet_diag *out);
int tscr_fd_dup(int fd);
int tscr_net_setns(int nsfd);
int tscr_fd_setfl(int fd, int flags);
int tscr_tcp_inject(int family, const uint8_t *src16, int sport, const uint8_t *dst16, int dport,
                    uint32_t seq, uint32_t ack, int flags, int win, uint32_t mark);
/* ---- end tcp block ---- */

/* ---- fd kinds (owner: fdkinds; shim/fds.c) ---- */
struct tscr_ep_item {            /* 24 bytes */
  int32_t local;                 /* tscr's fd of the watched file */
  int32_t tfd;                   /* the fd number the target watches it under */
  uint32_t events;
  uint32_t pad;
  uint64_t data;
};
struct tscr_unix_diag {          /* 160 bytes */
  uint32_t ino, peer, type, state, rqlen, wqlen, shutdown, vfs_dev, vfs_ino, nicons, namelen, uid;
  uint8_t name[112];             /* sun_path bytes (abstract: leading NUL), namelen of them */
};
int tscr_fcntl(int fd, int cmd, int64_t arg);
int64_t tscr_lseek(int fd, int64_t off, int whence);
int tscr_ioctl_int(int fd, uint64_t req, int *out);
int tscr_ioctl_ptr(int fd, uint64_t req, void *arg);
int tscr_ftruncate(int fd, int64_t len);
int tscr_fchmod(int fd, uint32_t mode);
int tscr_fchown(int fd, uint32_t uid, uint32_t gid);
int tscr_pipe2(int *out2, int flags);
int tscr_pipe_peek(int fd, void *buf, int len);
int tscr_eventfd(uint32_t init, int flags);
int tscr_timerfd_create(int clock, int flags);
int tscr_timerfd_settime(int fd, int flags, const int64_t *v4);
int tscr_timerfd_gettime(int fd, int64_t *out4);
int tscr_signalfd(uint64_t mask, int flags);
int tscr_epoll_create(int flags);
int tscr_epoll_build(int epfd, const struct tscr_ep_item *items, int n);
int tscr_inotify_init(int flags);
int tscr_inotify_add_wd(int ifd, const char *path, uint32_t mask, int wd);
int tscr_open_by_handle(const char *mnt, int type, const void *handle, int bytes, int flags);
int tscr_memfd_create(const char *name, uint32_t flags);
int tscr_reopen(int fd, int flags);
int tscr_socket(int domain, int type, int proto);
int tscr_socketpair(int type, int *out2);
int tscr_bind_un(int fd, const void *name, int len);
int tscr_connect_un(int fd, const void *name, int len);
int tscr_sk_listen(int fd, int backlog);
int tscr_accept(int fd, int flags);
int tscr_shutdown(int fd, int how);
int tscr_getsockopt(int fd, int level, int opt, void *buf, int len);
int tscr_setsockopt(int fd, int level, int opt, const void *buf, int len);
int tscr_sockname(int fd, int peer, void *out108);
int64_t tscr_send(int fd, const void *buf, int64_t len, int flags);
int64_t tscr_sendto_un(int fd, const void *buf, int64_t len, const void *name, int namelen);
int64_t tscr_sk_peek(int fd, int stream, void *buf, int64_t len, int *lens, int maxmsgs, int *nmsgs);
int tscr_unix_diag(struct tscr_unix_diag *out, int max);
int tscr_spawn_fds(const char *path, const char *argv_block, int argc, const int *map, int n);
int tscr_shmem_copy(int in, int64_t size, int out, uint64_t *runs, int max);
int64_t tscr_fd_copy(int in, int64_t in_off, int out, int64_t out_off, int64_t len);
/* ---- end fdkinds block ---- */

/* ---- memory write tracking (owner: uffd, issue 7; shim/uffd.c) ---- */
int tscr_uffd_api(int fd, uint64_t features, uint64_t *got);
int tscr_uffd_register_wp(int fd, uint64_t start, uint64_t len);
int tscr_uffd_unregister(int fd, uint64_t start, uint64_t len);
int tscr_uffd_writeprotect(int fd, uint64_t start, uint64_t len, int on);
/* PAGEMAP_SCAN with flags (PM_SCAN_WP_MATCHING 1, PM_SCAN_CHECK_WPASYNC 2) and all masks;
 * out: (start, end, categories) u64 triples; returns the region count. */
int tscr_pm_scan(int fd, uint64_t start, uint64_t end, uint64_t flags, uint64_t mask, uint64_t anyof,
                 uint64_t retmask, uint64_t *out, int max, uint64_t *walk_end);
int64_t tscr_uffd_probe(uint64_t features);
/* ---- end uffd block ---- */

#endif
