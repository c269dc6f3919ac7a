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

#endif
