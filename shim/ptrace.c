/* tscr shim: process control, ptrace, syscall injection, memory access.
 * Owner: dump (issue 3). Conventions in tscr.h: >= 0 or -errno, caller-owned
 * buffers, flat structs. Every ptrace call here must come from the one OS
 * thread that seized the target (the tracer worker). */
#define _GNU_SOURCE
#include "tscr.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <elf.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>

#define NEG(x) ((x) < 0 ? -errno : (x))

#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION 0x420f
#endif

/* ---- attach / stop / detach ------------------------------------------- */

int tscr_seize(int tid, uint32_t options) {
  long r = ptrace(PTRACE_SEIZE, tid, 0, (void *)(uintptr_t)options);
  return r < 0 ? -errno : 0;
}

int tscr_interrupt(int tid) {
  long r = ptrace(PTRACE_INTERRUPT, tid, 0, 0);
  return r < 0 ? -errno : 0;
}

int tscr_detach(int tid, int sig) {
  long r = ptrace(PTRACE_DETACH, tid, 0, (void *)(uintptr_t)sig);
  return r < 0 ? -errno : 0;
}

int tscr_cont(int tid, int sig) {
  long r = ptrace(PTRACE_CONT, tid, 0, (void *)(uintptr_t)sig);
  return r < 0 ? -errno : 0;
}

int tscr_listen(int tid) {
  long r = ptrace(PTRACE_LISTEN, tid, 0, 0);
  return r < 0 ? -errno : 0;
}

int tscr_set_options(int tid, uint32_t options) {
  long r = ptrace(PTRACE_SETOPTIONS, tid, 0, (void *)(uintptr_t)options);
  return r < 0 ? -errno : 0;
}

/* Event message (new tid after PTRACE_EVENT_CLONE/FORK, exit status...). */
int tscr_geteventmsg(int tid, uint64_t *msg) {
  unsigned long m = 0;
  long r = ptrace(PTRACE_GETEVENTMSG, tid, 0, &m);
  if (r < 0) return -errno;
  *msg = m;
  return 0;
}

/* The siginfo of the current signal-delivery stop (128 bytes). */
int tscr_getsiginfo(int tid, void *si128) {
  long r = ptrace(PTRACE_GETSIGINFO, tid, 0, si128);
  return r < 0 ? -errno : 0;
}

/* Pending queued signals via PTRACE_PEEKSIGINFO: flags 0 = thread's queue,
 * 1 (PTRACE_PEEKSIGINFO_SHARED) = process-wide queue. Fills up to max
 * siginfos (128 bytes each) starting at index off; returns the count. */
int tscr_peeksiginfo(int tid, int shared, uint64_t off, int max, void *out) {
  struct { uint64_t off; uint32_t flags; int32_t nr; } a = { off, shared ? 1u : 0u, max };
  long r = ptrace(PTRACE_PEEKSIGINFO, tid, &a, out);
  return r < 0 ? -errno : (int)r;
}

/* Wait for a state change of tid (__WALL). timeout_ms < 0 waits forever.
 * Returns the tid that changed (tid > 0 form) and the raw status, or
 * -ETIMEDOUT. With tid == -1 waits for any traced child/tracee. */
int tscr_wait(int tid, int timeout_ms, int *status) {
  struct timespec t0, now;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  long sleep_ns = 10000;
  for (;;) {
    int st = 0;
    pid_t r = waitpid(tid, &st, __WALL | (timeout_ms < 0 ? 0 : WNOHANG));
    if (r < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (r > 0) { *status = st; return r; }
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
    if (ms >= timeout_ms) return -ETIMEDOUT;
    struct timespec ts = { 0, sleep_ns };
    nanosleep(&ts, NULL);
    if (sleep_ns < 1000000) sleep_ns *= 2;
  }
}

/* ---- registers ---------------------------------------------------------- */

/* Generic GETREGSET: note type nt (NT_PRSTATUS=1, NT_PRFPREG=2,
 * NT_X86_XSTATE=0x202), into buf of len bytes. Returns the size the kernel
 * filled in (for XSTATE this is the CPU's xstate size). */
int tscr_getregset(int tid, int nt, void *buf, int len) {
  struct iovec iov = { buf, (size_t)len };
  long r = ptrace(PTRACE_GETREGSET, tid, (void *)(uintptr_t)nt, &iov);
  return r < 0 ? -errno : (int)iov.iov_len;
}

int tscr_setregset(int tid, int nt, const void *buf, int len) {
  struct iovec iov = { (void *)buf, (size_t)len };
  long r = ptrace(PTRACE_SETREGSET, tid, (void *)(uintptr_t)nt, &iov);
  return r < 0 ? -errno : 0;
}

/* struct ptrace_rseq_configuration (32 bytes: rseq_abi_pointer u64,
 * rseq_abi_size u32, signature u32, flags u32, pad u32). Returns its size. */
int tscr_get_rseq(int tid, void *out32) {
  long r = ptrace(PTRACE_GET_RSEQ_CONFIGURATION, tid, (void *)32, out32);
  return r < 0 ? -errno : (int)r;
}

/* ---- text peek/poke ----------------------------------------------------- */

int tscr_peek(int tid, uint64_t addr, uint64_t *word) {
  errno = 0;
  long v = ptrace(PTRACE_PEEKDATA, tid, (void *)addr, 0);
  if (v == -1 && errno) return -errno;
  *word = (uint64_t)v;
  return 0;
}

int tscr_poke(int tid, uint64_t addr, uint64_t word) {
  long r = ptrace(PTRACE_POKEDATA, tid, (void *)addr, (void *)word);
  return r < 0 ? -errno : 0;
}

/* ---- syscall injection -------------------------------------------------- */

/* Leave a thread that sits in the SIGTRAP signal-delivery-stop of a single
 * step in a plain PTRACE_EVENT_STOP instead: PTRACE_INTERRUPT, then PTRACE_CONT
 * with no signal (which also clears the kernel's single-step state); the
 * pending interrupt stops the thread again before it runs any user code.
 * Without this, a tracer that dies (SIGKILL) would leave the thread to take
 * the stale SIGTRAP and die. A signal that arrives meanwhile is reported in
 * *sig (re-sent by the caller on detach). */
static int settle(int tid, int *sig) {
  if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0) return -errno;
  if (ptrace(PTRACE_CONT, tid, 0, 0) < 0) return -errno;
  for (int i = 0; i < 64; i++) {
    int st;
    pid_t w;
    do { w = waitpid(tid, &st, __WALL); } while (w < 0 && errno == EINTR);
    if (w < 0) return -errno;
    if (!WIFSTOPPED(st)) return -ESRCH;
    if ((st >> 16) == PTRACE_EVENT_STOP) return 0;
    if ((st >> 16) == 0 && WSTOPSIG(st) != SIGTRAP) *sig = WSTOPSIG(st);
    if (ptrace(PTRACE_CONT, tid, 0, 0) < 0) return -errno;
  }
  return -EIO;
}

/* Run one syscall `nr` with args[6] in stopped thread tid, using a `0f 05`
 * at gadget. flags & TSCR_INJ_POKE: write `0f 05` at gadget first and put
 * the original bytes back afterwards (otherwise gadget must already point at
 * a syscall instruction). The thread's registers (and code) are restored
 * before returning, whatever happens. Signals that arrive during the step
 * are suppressed and reported in *sig_out (the caller re-sends them), so the
 * target's state is unchanged. Returns 0 with the syscall's rax in *ret, or
 * -errno of a ptrace failure. */
int tscr_inject(int tid, int64_t nr, const int64_t *args, uint64_t gadget, int flags, int64_t *ret, int *sig_out) {
  struct user_regs_struct saved, r;
  struct iovec iov = { &saved, sizeof saved };
  uint64_t orig_word = 0;
  int rc = 0, poked = 0, sig = 0;
  if (sig_out) *sig_out = 0;
  if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRSTATUS, &iov) < 0) return -errno;
  if (flags & TSCR_INJ_POKE) {
    errno = 0;
    long w = ptrace(PTRACE_PEEKTEXT, tid, (void *)gadget, 0);
    if (w == -1 && errno) return -errno;
    orig_word = (uint64_t)w;
    uint64_t nw = (orig_word & ~0xffffULL) | 0x050fULL;
    if (ptrace(PTRACE_POKETEXT, tid, (void *)gadget, (void *)nw) < 0) return -errno;
    poked = 1;
  }
  r = saved;
  r.rip = gadget;
  r.rax = (uint64_t)nr;
  r.orig_rax = (uint64_t)-1; /* not in a syscall: no restart logic on resume */
  r.rdi = args[0]; r.rsi = args[1]; r.rdx = args[2];
  r.r10 = args[3]; r.r8 = args[4]; r.r9 = args[5];
  r.eflags &= ~(0x100ULL | 0x400ULL); /* TF, DF */
  iov.iov_base = &r; iov.iov_len = sizeof r;
  if (ptrace(PTRACE_SETREGSET, tid, (void *)NT_PRSTATUS, &iov) < 0) { rc = -errno; goto out; }
  for (int tries = 0; ; tries++) {
    if (ptrace(PTRACE_SINGLESTEP, tid, 0, 0) < 0) { rc = -errno; goto out; }
    int st;
    pid_t w;
    do { w = waitpid(tid, &st, __WALL); } while (w < 0 && errno == EINTR);
    if (w < 0) { rc = -errno; goto out; }
    if (WIFEXITED(st) || WIFSIGNALED(st)) { rc = -ESRCH; goto done_noregs; }
    if (!WIFSTOPPED(st)) { rc = -EIO; goto out; }
    int s = WSTOPSIG(st);
    if (s == SIGTRAP && (st >> 16) == 0) break;              /* step finished */
    if ((st >> 16) != 0) { if (tries > 16) { rc = -EIO; goto out; } continue; } /* event stop: step again */
    /* signal-delivery-stop before the step ran: suppress, report */
    sig = s;
    if (tries > 64) { rc = -EAGAIN; goto out; }
  }
  {
    struct user_regs_struct after;
    struct iovec io2 = { &after, sizeof after };
    if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRSTATUS, &io2) < 0) { rc = -errno; goto out; }
    if (after.rip != gadget + 2) { rc = -EFAULT; goto out; }
    *ret = (int64_t)after.rax;
  }
out:
  iov.iov_base = &saved; iov.iov_len = sizeof saved;
  if (ptrace(PTRACE_SETREGSET, tid, (void *)NT_PRSTATUS, &iov) < 0 && rc == 0) rc = -errno;
done_noregs:
  if (poked && rc != -ESRCH) {
    if (ptrace(PTRACE_POKETEXT, tid, (void *)gadget, (void *)orig_word) < 0 && rc == 0) rc = -errno;
  }
  if (rc != -ESRCH) {
    int r2 = settle(tid, &sig);
    if (r2 < 0 && rc == 0) rc = r2;
  }
  if (sig_out) *sig_out = sig;
  return rc;
}

/* ---- memory --------------------------------------------------------------- */

/* Read remote ranges into one contiguous local buffer. ranges: n pairs of
 * (addr, len) as u64. Returns bytes read (short on a fault: the caller reads
 * the rest another way) or -errno. Splits into IOV_MAX chunks. */
int64_t tscr_vm_readv(int pid, void *local, const uint64_t *ranges, int n) {
  struct iovec liov, riov[1024];
  int64_t total = 0;
  char *dst = local;
  for (int i = 0; i < n;) {
    int k = 0;
    size_t want = 0;
    while (i + k < n && k < 1024) {
      riov[k].iov_base = (void *)ranges[2 * (i + k)];
      riov[k].iov_len = ranges[2 * (i + k) + 1];
      want += riov[k].iov_len;
      k++;
    }
    liov.iov_base = dst; liov.iov_len = want;
    ssize_t r = process_vm_readv(pid, &liov, 1, riov, k, 0);
    if (r < 0) return total ? total : -errno;
    total += r; dst += r;
    if ((size_t)r < want) return total;
    i += k;
  }
  return total;
}

int64_t tscr_vm_writev(int pid, const void *local, const uint64_t *ranges, int n) {
  struct iovec liov, riov[1024];
  int64_t total = 0;
  const char *src = local;
  for (int i = 0; i < n;) {
    int k = 0;
    size_t want = 0;
    while (i + k < n && k < 1024) {
      riov[k].iov_base = (void *)ranges[2 * (i + k)];
      riov[k].iov_len = ranges[2 * (i + k) + 1];
      want += riov[k].iov_len;
      k++;
    }
    liov.iov_base = (void *)src; liov.iov_len = want;
    ssize_t r = process_vm_writev(pid, &liov, 1, riov, k, 0);
    if (r < 0) return total ? total : -errno;
    total += r; src += r;
    if ((size_t)r < want) return total;
    i += k;
  }
  return total;
}

/* Simple single-range forms. */
int64_t tscr_vm_read(int pid, uint64_t remote, void *local, uint64_t len) {
  uint64_t rg[2] = { remote, len };
  return tscr_vm_readv(pid, local, rg, 1);
}
int64_t tscr_vm_write(int pid, uint64_t remote, const void *local, uint64_t len) {
  uint64_t rg[2] = { remote, len };
  return tscr_vm_writev(pid, local, rg, 1);
}

/* pread/pwrite on an open /proc/PID/mem fd (reaches PROT_NONE pages). */
int64_t tscr_pread(int fd, void *buf, uint64_t len, uint64_t off) {
  uint64_t done = 0;
  while (done < len) {
    ssize_t r = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
    if (r < 0) { if (errno == EINTR) continue; return done ? (int64_t)done : -errno; }
    if (r == 0) break;
    done += r;
  }
  return (int64_t)done;
}
int64_t tscr_pwrite(int fd, const void *buf, uint64_t len, uint64_t off) {
  uint64_t done = 0;
  while (done < len) {
    ssize_t r = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));
    if (r < 0) { if (errno == EINTR) continue; return done ? (int64_t)done : -errno; }
    if (r == 0) break;
    done += r;
  }
  return (int64_t)done;
}

/* PAGEMAP_SCAN ioctl on an open /proc/PID/pagemap fd. Fills out with up to
 * max regions of (start, end, categories) u64 triples for pages in
 * [start, end) that have any of `anyof` categories; *walk_end gets where the
 * walk stopped (call again from there if < end). Returns the region count. */
struct tscr_pm_scan_arg {
  uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
  uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define TSCR_PAGEMAP_SCAN _IOWR('f', 16, struct tscr_pm_scan_arg)
int tscr_pagemap_scan(int fd, uint64_t start, uint64_t end, uint64_t anyof, uint64_t retmask,
                      uint64_t *out, int max, uint64_t *walk_end) {
  struct tscr_pm_scan_arg a;
  memset(&a, 0, sizeof a);
  a.size = sizeof a;
  a.start = start; a.end = end;
  a.vec = (uint64_t)(uintptr_t)out; a.vec_len = (uint64_t)max;
  a.category_anyof_mask = anyof;
  a.return_mask = retmask;
  int r = ioctl(fd, TSCR_PAGEMAP_SCAN, &a);
  if (r < 0) return -errno;
  *walk_end = a.walk_end;
  return r;
}

/* Page-aligned memory for fast process_vm_readv; returns the address as u64. */
int tscr_alloc_pages(uint64_t len, uint64_t *addr) {
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return -errno;
  *addr = (uint64_t)(uintptr_t)p;
  return 0;
}
int tscr_free_pages(uint64_t addr, uint64_t len) {
  return munmap((void *)(uintptr_t)addr, len) < 0 ? -errno : 0;
}
/* Copy from shim memory into a caller buffer (JS reads page-aligned memory). */
int tscr_copy_out(uint64_t addr, void *dst, uint64_t len) {
  memcpy(dst, (void *)(uintptr_t)addr, len);
  return 0;
}
/* Write len bytes at addr (shim memory) to fd, fully. */
int64_t tscr_write_mem(int fd, uint64_t addr, uint64_t len) {
  uint64_t done = 0;
  while (done < len) {
    ssize_t r = write(fd, (char *)(uintptr_t)addr + done, len - done);
    if (r < 0) { if (errno == EINTR) continue; return -errno; }
    done += r;
  }
  return (int64_t)done;
}
/* Is [addr, addr+len) all zero bytes? Returns 1 / 0. */
int tscr_is_zero(uint64_t addr, uint64_t len) {
  const uint64_t *p = (const uint64_t *)(uintptr_t)addr;
  for (uint64_t i = 0; i < len / 8; i += 8) {
    if (p[i] | p[i + 1] | p[i + 2] | p[i + 3] | p[i + 4] | p[i + 5] | p[i + 6] | p[i + 7]) return 0;
  }
  return 1;
}

/* ---- pidfd, kill, wait --------------------------------------------------- */

int tscr_pidfd_open(int pid, uint32_t flags) {
  long r = syscall(SYS_pidfd_open, pid, flags);
  return r < 0 ? -errno : (int)r;
}
int tscr_pidfd_getfd(int pidfd, int fd) {
  long r = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
  return r < 0 ? -errno : (int)r;
}
int tscr_close(int fd) { return close(fd) < 0 ? -errno : 0; }
int tscr_kill(int pid, int sig) { return kill(pid, sig) < 0 ? -errno : 0; }
int tscr_tgkill(int tgid, int tid, int sig) {
  long r = syscall(SYS_tgkill, tgid, tid, sig);
  return r < 0 ? -errno : 0;
}
int tscr_getrlimit(int pid, int res, uint64_t *cur_max) {
  struct rlimit rl;
  if (prlimit(pid, res, NULL, &rl) < 0) return -errno;
  cur_max[0] = rl.rlim_cur; cur_max[1] = rl.rlim_max;
  return 0;
}

/* ---- spawn (fork+exec in C, never returning to JS in the child) ---------- */

/* argv: n NUL-terminated strings packed one after another. flags:
 * TSCR_SPAWN_SETSID: new session; TSCR_SPAWN_DAEMON: double-fork so the
 * program is not our child (returns the grandchild's pid read through a
 * pipe); TSCR_SPAWN_NULLIO: stdin/stdout/stderr to /dev/null.
 * Returns the pid. */
int tscr_spawn(const char *path, const char *argv_block, int argc, int flags) {
  if (argc < 0 || argc > 255) return -EINVAL;
  char *argv[256];
  const char *p = argv_block;
  for (int i = 0; i < argc; i++) { argv[i] = (char *)p; p += strlen(p) + 1; }
  argv[argc] = NULL;
  extern char **environ;
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) < 0) return -errno;
  pid_t pid = fork();
  if (pid < 0) { int e = errno; close(pfd[0]); close(pfd[1]); return -e; }
  if (pid == 0) {
    /* child: async-signal-safe calls only */
    sigset_t all; sigemptyset(&all); sigprocmask(SIG_SETMASK, &all, NULL);
    if (flags & TSCR_SPAWN_SETSID) setsid();
    if (flags & TSCR_SPAWN_NULLIO) {
      int n = open("/dev/null", O_RDWR);
      if (n >= 0) { dup2(n, 0); dup2(n, 1); dup2(n, 2); if (n > 2) close(n); }
    }
    if (flags & TSCR_SPAWN_DAEMON) {
      pid_t g = fork();
      if (g < 0) _exit(127);
      if (g > 0) { int gg = g; (void)!write(pfd[1], &gg, sizeof gg); _exit(0); }
    } else {
      int me = getpid(); (void)!write(pfd[1], &me, sizeof me);
    }
    syscall(SYS_close_range, 3, ~0U, 0);
    execve(path, argv, environ);
    _exit(127);
  }
  close(pfd[1]);
  int got = 0;
  ssize_t r;
  do { r = read(pfd[0], &got, sizeof got); } while (r < 0 && errno == EINTR);
  close(pfd[0]);
  if (flags & TSCR_SPAWN_DAEMON) { int st; waitpid(pid, &st, 0); }
  if (r != sizeof got) return -ECHILD;
  return got;
}

/* waitpid for a plain child (not a ptrace wait): status into *status. */
int tscr_waitpid(int pid, int options, int *status) {
  int st = 0;
  pid_t r;
  do { r = waitpid(pid, &st, options); } while (r < 0 && errno == EINTR);
  if (r < 0) return -errno;
  *status = st;
  return r;
}

/* kcmp(pid1, pid2, type, idx1, idx2): 0 equal, 1/2 ordering, 3 not equal
 * (KCMP_FILE = 0 compares open file descriptions). */
int tscr_kcmp(int pid1, int pid2, int type, uint64_t idx1, uint64_t idx2) {
  long r = syscall(SYS_kcmp, pid1, pid2, type, idx1, idx2);
  return r < 0 ? -errno : (int)r;
}

/* clock_gettime(clk) into out[0]=sec, out[1]=nsec. */
int tscr_clock(int clk, int64_t *out) {
  struct timespec ts;
  if (clock_gettime(clk, &ts) < 0) return -errno;
  out[0] = ts.tv_sec; out[1] = ts.tv_nsec;
  return 0;
}

/* cpuid(leaf, subleaf) -> out[0..3] = eax, ebx, ecx, edx (xsave layout: leaf 0xd). */
#include <cpuid.h>
int tscr_cpuid(uint32_t leaf, uint32_t sub, uint32_t *out) {
  unsigned a, b, c, d;
  __cpuid_count(leaf, sub, a, b, c, d);
  out[0] = a; out[1] = b; out[2] = c; out[3] = d;
  return 0;
}

/* ---- page copy engine ----------------------------------------------------
 * Copy remote ranges (n pairs of addr,len; in order) of pid into out_fd at its
 * current position: process_vm_readv into one of two page-aligned buffers
 * while a writer thread writes the other, so reading the target and writing
 * the page cache overlap. Ranges process_vm_readv cannot read (PROT_NONE,
 * exec-only) are read with pread on mem_fd (/proc/PID/mem, opened by the
 * caller; -1 to fail instead). Returns bytes written or -errno; on error
 * *fail_addr is the remote address that could not be read (0 for a write
 * error). */
#include <pthread.h>
#define CP_BUF (8UL << 20)
struct cp_writer {
  int fd;
  pthread_mutex_t m;
  pthread_cond_t c;
  char *buf[2];
  size_t len[2];
  int full[2];
  int done;
  int err;
};
static void *cp_write_main(void *arg) {
  struct cp_writer *w = arg;
  int i = 0;
  for (;;) {
    pthread_mutex_lock(&w->m);
    while (!w->full[i] && !w->done) pthread_cond_wait(&w->c, &w->m);
    if (!w->full[i] && w->done) { pthread_mutex_unlock(&w->m); break; }
    pthread_mutex_unlock(&w->m);
    size_t off = 0;
    while (off < w->len[i] && !w->err) {
      ssize_t r = write(w->fd, w->buf[i] + off, w->len[i] - off);
      if (r < 0) { if (errno == EINTR) continue; w->err = -errno; break; }
      off += r;
    }
    pthread_mutex_lock(&w->m);
    w->full[i] = 0;
    pthread_cond_broadcast(&w->c);
    pthread_mutex_unlock(&w->m);
    i ^= 1;
  }
  return NULL;
}

static int cp_fill(int pid, int mem_fd, char *dst, const uint64_t *rg, int k, uint64_t *fail_addr) {
  struct iovec liov, riov[1024];
  size_t want = 0;
  for (int j = 0; j < k; j++) { riov[j].iov_base = (void *)rg[2 * j]; riov[j].iov_len = rg[2 * j + 1]; want += rg[2 * j + 1]; }
  liov.iov_base = dst; liov.iov_len = want;
  ssize_t got = process_vm_readv(pid, &liov, 1, riov, k, 0);
  if (got == (ssize_t)want) return 0;
  /* slow path: range by range through /proc/PID/mem */
  size_t o = 0;
  for (int j = 0; j < k; j++) {
    uint64_t a = rg[2 * j], l = rg[2 * j + 1];
    if (mem_fd < 0) { *fail_addr = a; return -EFAULT; }
    int64_t r = tscr_pread(mem_fd, dst + o, l, a);
    if (r != (int64_t)l) { *fail_addr = a; return r < 0 ? (int)r : -EFAULT; }
    o += l;
  }
  return 0;
}

int64_t tscr_copy_pages(int pid, const uint64_t *ranges, int n, int out_fd, int mem_fd, uint64_t *fail_addr) {
  struct cp_writer w;
  memset(&w, 0, sizeof w);
  w.fd = out_fd;
  *fail_addr = 0;
  for (int b = 0; b < 2; b++) {
    void *p = mmap(NULL, CP_BUF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { if (b) munmap(w.buf[0], CP_BUF); return -ENOMEM; }
    w.buf[b] = p;
  }
  pthread_mutex_init(&w.m, NULL);
  pthread_cond_init(&w.c, NULL);
  pthread_t th;
  int64_t total = 0;
  int rc = 0;
  if (pthread_create(&th, NULL, cp_write_main, &w)) { rc = -EAGAIN; goto free_bufs; }
  int cur = 0;
  int i = 0;
  uint64_t off = 0; /* offset inside range i */
  uint64_t rg[2 * 1024];
  while (i < n && !rc) {
    /* wait until buffer cur is free */
    pthread_mutex_lock(&w.m);
    while (w.full[cur]) pthread_cond_wait(&w.c, &w.m);
    pthread_mutex_unlock(&w.m);
    if (w.err) { rc = w.err; break; }
    size_t fill = 0;
    int k = 0;
    while (i < n && fill < CP_BUF && k < 1024) {
      uint64_t left = ranges[2 * i + 1] - off;
      uint64_t take = left < CP_BUF - fill ? left : CP_BUF - fill;
      rg[2 * k] = ranges[2 * i] + off; rg[2 * k + 1] = take;
      k++; fill += take; off += take;
      if (off >= ranges[2 * i + 1]) { i++; off = 0; }
    }
    rc = cp_fill(pid, mem_fd, w.buf[cur], rg, k, fail_addr);
    if (rc) break;
    pthread_mutex_lock(&w.m);
    w.len[cur] = fill;
    w.full[cur] = 1;
    pthread_cond_broadcast(&w.c);
    pthread_mutex_unlock(&w.m);
    total += fill;
    cur ^= 1;
  }
  pthread_mutex_lock(&w.m);
  w.done = 1;
  pthread_cond_broadcast(&w.c);
  pthread_mutex_unlock(&w.m);
  pthread_join(th, NULL);
  if (!rc && w.err) rc = w.err;
free_bufs:
  munmap(w.buf[0], CP_BUF);
  munmap(w.buf[1], CP_BUF);
  pthread_mutex_destroy(&w.m);
  pthread_cond_destroy(&w.c);
  return rc ? rc : total;
}
