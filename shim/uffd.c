/* Memory write tracking for incremental dumps (owner: uffd, issue 7).
 *
 * The userfaultfd itself is created inside the target (injected syscall, so
 * it is bound to the target's mm); tscr takes a copy with pidfd_getfd() and
 * issues the ioctls below on it from outside. With UFFD_FEATURE_WP_ASYNC the
 * kernel resolves write faults by itself (no handler), and PAGEMAP_SCAN on
 * /proc/PID/pagemap reports PAGE_IS_WRITTEN for pages written since they were
 * write-protected. Constants are spelled out: the build host's uapi headers
 * may predate them (kernel 6.7+). */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/userfaultfd.h>
#include "tscr.h"

struct tscr_pm_scan_arg2 {
  uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
  uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define TSCR_PAGEMAP_SCAN2 _IOWR('f', 16, struct tscr_pm_scan_arg2)

int tscr_uffd_api(int fd, uint64_t features, uint64_t *got) {
  struct uffdio_api a;
  memset(&a, 0, sizeof a);
  a.api = UFFD_API;
  a.features = features;
  if (ioctl(fd, UFFDIO_API, &a) < 0) return -errno;
  *got = a.features;
  return 0;
}

int tscr_uffd_register_wp(int fd, uint64_t start, uint64_t len) {
  struct uffdio_register r;
  memset(&r, 0, sizeof r);
  r.range.start = start;
  r.range.len = len;
  r.mode = UFFDIO_REGISTER_MODE_WP;
  return ioctl(fd, UFFDIO_REGISTER, &r) < 0 ? -errno : 0;
}

int tscr_uffd_unregister(int fd, uint64_t start, uint64_t len) {
  struct uffdio_range r = { .start = start, .len = len };
  return ioctl(fd, UFFDIO_UNREGISTER, &r) < 0 ? -errno : 0;
}

int tscr_uffd_writeprotect(int fd, uint64_t start, uint64_t len, int on) {
  struct uffdio_writeprotect w;
  memset(&w, 0, sizeof w);
  w.range.start = start;
  w.range.len = len;
  w.mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0;
  return ioctl(fd, UFFDIO_WRITEPROTECT, &w) < 0 ? -errno : 0;
}

int tscr_pm_scan(int fd, uint64_t start, uint64_t end, uint64_t flags, uint64_t mask, uint64_t anyof,
                 uint64_t retmask, uint64_t *out, int max, uint64_t *walk_end) {
  struct tscr_pm_scan_arg2 a;
  memset(&a, 0, sizeof a);
  a.size = sizeof a;
  a.flags = flags;
  a.start = start; a.end = end;
  a.vec = (uint64_t)(uintptr_t)out; a.vec_len = (uint64_t)max;
  a.category_mask = mask;
  a.category_anyof_mask = anyof;
  a.return_mask = retmask;
  int r = ioctl(fd, TSCR_PAGEMAP_SCAN2, &a);
  if (r < 0) return -errno;
  *walk_end = a.walk_end;
  return r;
}

/* Can this kernel track writes this way? A userfaultfd of our own with the
 * features the tracker needs (closed again). Returns the features granted. */
int64_t tscr_uffd_probe(uint64_t features) {
  int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | 1 /* UFFD_USER_MODE_ONLY */);
  if (fd < 0) return -errno;
  uint64_t got = 0;
  int r = tscr_uffd_api(fd, features, &got);
  close(fd);
  return r < 0 ? r : (int64_t)got;
}
