/* Restore primitives (owner: restore, issue 3).
 *
 * Everything here runs on the tracer thread (the thread that calls
 * tscr_rs_spawn is the ptrace tracer of every process the restore makes).
 * Processes are made with clone3 + set_tid in C; the child never returns to
 * JS: it asks to be traced and execs the static stub (build/tscr-stub), so
 * the tracer holds it at the exec stop before it runs one instruction.
 * Conventions of tscr.h: return >= 0 or -errno, caller-owned buffers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/sched.h>
#include <elf.h>
#include "tscr.h"

#ifndef CLONE_CLEAR_SIGHAND
#define CLONE_CLEAR_SIGHAND 0x100000000ULL
#endif
#ifndef PTRACE_SETSIGMASK
#define PTRACE_SETSIGMASK 0x420b
#endif

#ifndef PTRACE_O_SUSPEND_SECCOMP
#define PTRACE_O_SUSPEND_SECCOMP (1 << 21)
#endif
/* SUSPEND_SECCOMP: restored filters must not filter the injected syscalls that follow them */
#define RS_OPTS (PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_EXITKILL | PTRACE_O_SUSPEND_SECCOMP)

static int neg(void) { return -errno; }

int tscr_rs_spawn(int pid, const char *stub)
{
	struct clone_args ca;
	pid_t tid[1] = { pid };
	memset(&ca, 0, sizeof ca);
	ca.exit_signal = SIGCHLD;
	if (pid > 0) {
		ca.set_tid = (uint64_t)(uintptr_t)tid;
		ca.set_tid_size = 1;
	}
	long r = syscall(SYS_clone3, &ca, sizeof ca);
	if (r < 0)
		return neg();
	if (r == 0) {
		/* Child: only raw syscalls from here on. */
		sigset_t none;
		sigemptyset(&none);
		syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);
		if (syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0) < 0)
			syscall(SYS_exit_group, 120);
		char *argv[] = { (char *)"tscr-stub", NULL };
		char *envp[] = { NULL };
		syscall(SYS_execve, stub, argv, envp);
		syscall(SYS_exit_group, 121);
	}
	int st = 0;
	for (;;) {
		pid_t w = waitpid((pid_t)r, &st, __WALL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return neg();
		break;
	}
	if (!WIFSTOPPED(st) || WSTOPSIG(st) != SIGTRAP) {
		if (WIFSTOPPED(st))
			kill((pid_t)r, SIGKILL);
		return WIFEXITED(st) && WEXITSTATUS(st) == 121 ? -ENOEXEC : -ECHILD;
	}
	if (ptrace(PTRACE_SETOPTIONS, (pid_t)r, 0, (void *)(long)RS_OPTS) < 0) {
		int e = errno;
		kill((pid_t)r, SIGKILL);
		return -e;
	}
	return (int)r;
}

static int wait_stop(pid_t tid, int *st)
{
	for (;;) {
		pid_t w = waitpid(tid, st, __WALL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return neg();
		return 0;
	}
}

/* Run one syscall in a stopped tracee through the `syscall` instruction at
 * `gadget`. The registers are left as the syscall left them (stubs need no
 * saving). out[0] = return value, out[1] = pid of a new child/thread made by
 * a fork/clone (0 if none; it is left in its first stop), out[2] = a signal
 * that stopped the tracee meanwhile and must be delivered later (0 if none).
 * Returns 0, or -errno if ptrace failed, -ESRCH if the tracee died. */
int tscr_rs_syscall(int tid, uint64_t gadget, int64_t nr, const int64_t *args, int64_t *out)
{
	struct user_regs_struct r;
	int st;
	out[0] = out[1] = out[2] = 0;
	if (ptrace(PTRACE_GETREGS, tid, 0, &r) < 0)
		return neg();
	r.rip = gadget;
	r.rax = (uint64_t)nr;
	r.orig_rax = (uint64_t)-1;
	r.rdi = args[0]; r.rsi = args[1]; r.rdx = args[2];
	r.r10 = args[3]; r.r8 = args[4]; r.r9 = args[5];
	r.eflags &= ~(0x100UL | 0x400UL);
	if (ptrace(PTRACE_SETREGS, tid, 0, &r) < 0)
		return neg();
	if (ptrace(PTRACE_SINGLESTEP, tid, 0, 0) < 0)
		return neg();
	for (;;) {
		if (wait_stop(tid, &st) < 0)
			return neg();
		if (!WIFSTOPPED(st))
			return -ESRCH;
		int sig = WSTOPSIG(st);
		int ev = st >> 16;
		if (sig == SIGTRAP && ev) {
			unsigned long msg = 0;
			ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg);
			out[1] = (int64_t)msg;
		} else if (sig == SIGTRAP) {
			break;
		} else {
			out[2] = sig;
		}
		if (ptrace(PTRACE_SINGLESTEP, tid, 0, 0) < 0)
			return neg();
	}
	if (ptrace(PTRACE_GETREGS, tid, 0, &r) < 0)
		return neg();
	out[0] = (int64_t)r.rax;
	if (out[1] > 0) {
		/* The new task starts with a SIGSTOP (auto-attached). */
		if (wait_stop((pid_t)out[1], &st) < 0)
			return neg();
		if (!WIFSTOPPED(st))
			return -ECHILD;
	}
	return 0;
}

int tscr_rs_getregs(int tid, void *regs216)
{
	return ptrace(PTRACE_GETREGS, tid, 0, regs216) < 0 ? neg() : 0;
}

int tscr_rs_setregs(int tid, const void *regs216)
{
	return ptrace(PTRACE_SETREGS, tid, 0, regs216) < 0 ? neg() : 0;
}

/* NT_X86_XSTATE and friends. Returns the size the kernel used. */
int tscr_rs_getregset(int tid, int nt, void *buf, int len)
{
	struct iovec iov = { buf, (size_t)len };
	if (ptrace(PTRACE_GETREGSET, tid, (void *)(long)nt, &iov) < 0)
		return neg();
	return (int)iov.iov_len;
}

int tscr_rs_setregset(int tid, int nt, const void *buf, int len)
{
	struct iovec iov = { (void *)buf, (size_t)len };
	return ptrace(PTRACE_SETREGSET, tid, (void *)(long)nt, &iov) < 0 ? neg() : 0;
}

int tscr_rs_setsigmask(int tid, uint64_t mask)
{
	return ptrace(PTRACE_SETSIGMASK, tid, (void *)8, &mask) < 0 ? neg() : 0;
}

int tscr_rs_detach(int tid, int sig)
{
	return ptrace(PTRACE_DETACH, tid, 0, (void *)(long)sig) < 0 ? neg() : 0;
}

int tscr_rs_kill(int pid, int sig)
{
	return kill(pid, sig) < 0 ? neg() : 0;
}

/* Is the pid free? 1 yes, 0 taken. */
int tscr_rs_pid_free(int pid)
{
	if (kill(pid, 0) == 0 || errno == EPERM)
		return 0;
	return 1;
}

/* Reap a process we made (after SIGKILL) or wait for the restored root.
 * flags: 0 = block, 1 = WNOHANG. Returns the raw wait status, or -errno;
 * -EAGAIN if WNOHANG and it is still running. */
int tscr_rs_wait(int pid, int flags, int *status)
{
	for (;;) {
		pid_t w = waitpid(pid, status, __WALL | (flags & 1 ? WNOHANG : 0));
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return neg();
		if (w == 0)
			return -EAGAIN;
		return 0;
	}
}

int64_t tscr_rs_vm_write(int pid, uint64_t remote, const void *local, uint64_t len)
{
	struct iovec l = { (void *)local, len }, r = { (void *)(uintptr_t)remote, len };
	ssize_t n = process_vm_writev(pid, &l, 1, &r, 1, 0);
	return n < 0 ? neg() : n;
}

int64_t tscr_rs_vm_read(int pid, uint64_t remote, void *local, uint64_t len)
{
	struct iovec l = { local, len }, r = { (void *)(uintptr_t)remote, len };
	ssize_t n = process_vm_readv(pid, &l, 1, &r, 1, 0);
	return n < 0 ? neg() : n;
}

/* Fill a target's memory from a pages image. runs = n triples
 * (vaddr, file offset, length), page multiples. The file is mapped in
 * windows and written with process_vm_writev straight from the page cache.
 * Returns the bytes written, or -errno (-EFAULT if the target's memory at a
 * run is missing or not writable, -ENODATA if the file is too short). */
#define RS_WIN (64ULL << 20)
int64_t tscr_rs_fill(int pid, int fd, const uint64_t *runs, int n)
{
	int64_t total = 0;
	for (int i = 0; i < n; i++) {
		uint64_t va = runs[3 * i], off = runs[3 * i + 1], len = runs[3 * i + 2];
		while (len) {
			uint64_t chunk = len < RS_WIN ? len : RS_WIN;
			uint64_t aoff = off & ~4095ULL, skew = off - aoff;
			void *m = mmap(NULL, chunk + skew, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, (off_t)aoff);
			if (m == MAP_FAILED)
				return neg();
			struct iovec l = { (char *)m + skew, chunk }, r = { (void *)(uintptr_t)va, chunk };
			ssize_t w = process_vm_writev(pid, &l, 1, &r, 1, 0);
			int e = errno;
			munmap(m, chunk + skew);
			if (w < 0)
				return e == EFAULT ? -EFAULT : -e;
			if ((uint64_t)w != chunk)
				return -EFAULT;
			total += w;
			va += chunk; off += chunk; len -= chunk;
		}
	}
	return total;
}

int tscr_rs_prlimit(int pid, int res, uint64_t cur, uint64_t max)
{
	struct rlimit64 { uint64_t cur, max; } nl = { cur, max };
	return syscall(SYS_prlimit64, pid, res, &nl, NULL) < 0 ? neg() : 0;
}

/* Start a program in its own session, not traced, with stdin from /dev/null
 * and stdout/stderr to `logpath` (appended; NULL keeps tscr's). The child
 * is made in C so that libuv never sees it. Returns its pid. */
int tscr_rs_start(const char *path, const char *arg1, const char *logpath)
{
	pid_t p = fork();
	if (p < 0)
		return neg();
	if (p == 0) {
		setsid();
		int in = open("/dev/null", O_RDONLY);
		if (in >= 0) { dup2(in, 0); if (in > 2) close(in); }
		if (logpath) {
			int o = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
			if (o >= 0) { dup2(o, 1); dup2(o, 2); if (o > 2) close(o); }
		}
		syscall(SYS_close_range, 3, ~0U, 0);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		char *argv[] = { (char *)path, (char *)arg1, NULL };
		execv(path, argv);
		_exit(127);
	}
	return p;
}
