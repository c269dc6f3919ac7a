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

/* ---- seccomp (dump side) ------------------------------------------------ */

/* Filter number idx of a stopped tracee (0 = the oldest, i.e. the first one
 * installed). Copies its BPF program into buf, which must hold BPF_MAXINSNS
 * (4096) instructions of 8 bytes; returns the instruction count, -ENOENT
 * past the newest filter, -EINVAL when the thread has no filter. */
int tscr_seccomp_filter(int tid, int idx, void *buf) {
  long n = ptrace((enum __ptrace_request)0x420c /* PTRACE_SECCOMP_GET_FILTER */, tid, (void *)(long)idx, buf);
  return n < 0 ? -errno : (int)n;
}

/* Flags of filter idx (SECCOMP_FILTER_FLAG_LOG is the one the kernel keeps). */
int tscr_seccomp_flags(int tid, int idx, uint64_t *flags) {
  uint64_t md[2] = { (uint64_t)idx, 0 }; /* struct seccomp_metadata {filter_off, flags} */
  long r = ptrace((enum __ptrace_request)0x420d /* PTRACE_SECCOMP_GET_METADATA */, tid, (void *)sizeof md, md);
  if (r < 0) return -errno;
  *flags = md[1];
  return 0;
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
    if ((st >> 16) != 0) {
      /* An event stop (a pending PTRACE_INTERRUPT, ...) came first. Where is the thread?
       * At the gadget: the syscall has not run yet, step again. Right after it: the
       * syscall ran and the stop was taken on the way out; never step further (that
       * would run whatever instruction follows the gadget). */
      struct user_regs_struct cur;
      struct iovec io3 = { &cur, sizeof cur };
      if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRSTATUS, &io3) < 0) { rc = -errno; goto out; }
      if (cur.rip == gadget + 2) break;
      if (cur.rip != gadget || tries > 16) { rc = -EIO; goto out; }
      continue;
    }
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
 * Copy remote ranges (n pairs of addr,len; in order) of pid into out_fd,
 * starting at its current position, which is left at the end. The copy goes
 * through a small (128 KiB) buffer that stays in the CPU cache: the target's
 * memory is read once with process_vm_readv and the page cache written once,
 * with no third trip through RAM. Large copies are split in two halves done by
 * two threads with pwrite at their own offsets, which overlaps the two
 * streams when a second core is free. Ranges process_vm_readv cannot read
 * (PROT_NONE, exec-only) are read with pread on mem_fd (/proc/PID/mem,
 * opened by the caller; -1 to fail instead). Returns bytes written or -errno;
 * *fail_addr is the remote address that could not be read (0 for a write
 * error). (Measured here: 32 MiB double buffers ran 3-5x slower than this.) */
#include <pthread.h>
#define CP_CHUNK (128UL << 10)
struct cp_job {
  int pid, out_fd, mem_fd;
  const uint64_t *ranges;
  int first, last;          /* ranges [first, last) */
  uint64_t first_off;       /* start inside ranges[first] */
  uint64_t last_len;        /* bytes to take from ranges[last-1] (0 = all) */
  uint64_t file_off;
  uint64_t wb;              /* start writeback every wb bytes (0 = never) */
  int64_t done;
  int rc;
  uint64_t fail_addr;
};

static int cp_fill(int pid, int mem_fd, char *dst, const uint64_t *rg, int k, uint64_t *fail_addr) {
  struct iovec liov, riov[64];
  size_t want = 0;
  for (int j = 0; j < k; j++) { riov[j].iov_base = (void *)rg[2 * j]; riov[j].iov_len = rg[2 * j + 1]; want += rg[2 * j + 1]; }
  liov.iov_base = dst; liov.iov_len = want;
  ssize_t got = process_vm_readv(pid, &liov, 1, riov, k, 0);
  if (got == (ssize_t)want) return 0;
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

static void *cp_run(void *arg) {
  struct cp_job *j = arg;
  char *buf = mmap(NULL, CP_CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (buf == MAP_FAILED) { j->rc = -ENOMEM; return NULL; }
  uint64_t rg[2 * 64];
  uint64_t fo = j->file_off, wb_from = j->file_off;
  int i = j->first;
  uint64_t off = j->first_off;
  while (i < j->last && !j->rc) {
    size_t fill = 0;
    int k = 0;
    while (i < j->last && fill < CP_CHUNK && k < 64) {
      uint64_t end = (i == j->last - 1 && j->last_len) ? j->last_len : j->ranges[2 * i + 1];
      uint64_t left = end - off;
      uint64_t take = left < CP_CHUNK - fill ? left : CP_CHUNK - fill;
      rg[2 * k] = j->ranges[2 * i] + off; rg[2 * k + 1] = take;
      k++; fill += take; off += take;
      if (off >= end) { i++; off = 0; }
    }
    int r = cp_fill(j->pid, j->mem_fd, buf, rg, k, &j->fail_addr);
    if (r) { j->rc = r; break; }
    size_t w = 0;
    while (w < fill) {
      ssize_t n = pwrite(j->out_fd, buf + w, fill - w, (off_t)(fo + w));
      if (n < 0) { if (errno == EINTR) continue; j->rc = -errno; break; }
      w += n;
    }
    fo += fill;
    j->done += fill;
    /* early writeback: the disk starts on what is written while the copy goes
     * on, so the final fsync finds little left (asynchronous; the kernel only
     * blocks here when the device queue is full) */
    if (j->wb && fo - wb_from >= j->wb) {
      sync_file_range(j->out_fd, (off_t)wb_from, (off_t)(fo - wb_from), SYNC_FILE_RANGE_WRITE);
      wb_from = fo;
    }
  }
  munmap(buf, CP_CHUNK);
  return NULL;
}

int64_t tscr_copy_pages(int pid, const uint64_t *ranges, int n, int out_fd, int mem_fd, uint64_t *fail_addr) {
  return tscr_copy_pages_wb(pid, ranges, n, out_fd, mem_fd, fail_addr, 0);
}

/* tscr_copy_pages that also starts writeback of every wb_bytes written
 * (sync_file_range WRITE), for dumps that fsync at the end: the disk works
 * while pages are still being copied. */
int64_t tscr_copy_pages_wb(int pid, const uint64_t *ranges, int n, int out_fd, int mem_fd, uint64_t *fail_addr, uint64_t wb_bytes) {
  *fail_addr = 0;
  off_t base = lseek(out_fd, 0, SEEK_CUR);
  if (base < 0) return -errno;
  uint64_t total = 0;
  for (int i = 0; i < n; i++) total += ranges[2 * i + 1];
  struct cp_job jobs[2];
  memset(jobs, 0, sizeof jobs);
  int nj = total >= (64UL << 20) ? 2 : 1;
  /* split point: the middle byte, rounded to a page */
  uint64_t half = (total / 2) & ~4095ULL, acc = 0;
  int si = n; uint64_t soff = 0;
  if (nj == 2) {
    for (int i = 0; i < n; i++) {
      if (acc + ranges[2 * i + 1] > half) { si = i; soff = half - acc; break; }
      acc += ranges[2 * i + 1];
    }
    if (si >= n) nj = 1;
  }
  for (int t = 0; t < nj; t++) { jobs[t].pid = pid; jobs[t].out_fd = out_fd; jobs[t].mem_fd = mem_fd; jobs[t].ranges = ranges; jobs[t].wb = wb_bytes; }
  if (nj == 1) {
    jobs[0].first = 0; jobs[0].last = n; jobs[0].file_off = base;
    cp_run(&jobs[0]);
  } else {
    jobs[0].first = 0; jobs[0].last = si + 1; jobs[0].last_len = soff; jobs[0].file_off = base;
    if (soff == 0) { jobs[0].last = si; jobs[0].last_len = 0; }
    jobs[1].first = si; jobs[1].first_off = soff; jobs[1].last = n; jobs[1].file_off = base + half;
    pthread_t th;
    if (pthread_create(&th, NULL, cp_run, &jobs[1])) { cp_run(&jobs[1]); cp_run(&jobs[0]); }
    else { cp_run(&jobs[0]); pthread_join(th, NULL); }
  }
  for (int t = 0; t < nj; t++) {
    if (jobs[t].rc) { *fail_addr = jobs[t].fail_addr; return jobs[t].rc; }
  }
  int64_t done = jobs[0].done + (nj == 2 ? jobs[1].done : 0);
  if (lseek(out_fd, base + done, SEEK_SET) < 0) return -errno;
  return done;
}

/* Which of npages pages at addr in pid are all zero: out[i] = 1 for a zero
 * page. Reads through a cache-resident 128 KiB buffer. Returns the number of
 * zero pages, or -errno. (Used for huge-page-backed ranges, where untouched
 * 4 KiB parts are present but zero.) */
int64_t tscr_scan_zero(int pid, uint64_t addr, uint64_t npages, uint8_t *out) {
  static __thread char *buf;
  if (!buf) {
    buf = mmap(NULL, 128 << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) { buf = NULL; return -ENOMEM; }
  }
  int64_t zeros = 0;
  for (uint64_t p = 0; p < npages; p += 32) {
    uint64_t n = npages - p < 32 ? npages - p : 32;
    struct iovec l = { buf, n * 4096 }, r = { (void *)(addr + p * 4096), n * 4096 };
    ssize_t got = process_vm_readv(pid, &l, 1, &r, 1, 0);
    if (got != (ssize_t)(n * 4096)) return got < 0 ? -errno : -EFAULT;
    for (uint64_t i = 0; i < n; i++) {
      int z = tscr_is_zero((uint64_t)(uintptr_t)(buf + i * 4096), 4096);
      out[p + i] = (uint8_t)z;
      zeros += z;
    }
  }
  return zeros;
}
