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

#endif
