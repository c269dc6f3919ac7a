/* TCP repair and inet socket helpers (owner: tcp, issue 5).
 *
 * The kernel's TCP repair mode (TCP_REPAIR, Linux >= 3.11) lets a privileged
 * process read a connected socket's sequence numbers and queues, and build a
 * socket with the same state again without a packet on the wire:
 *
 *   dump:    repair on -> tscr_tcp_save (TCP_INFO, SIOC*Q, seqs, options,
 *            window) -> tscr_tcp_peek_queue (recv and send queue bytes)
 *   restore: socket -> repair on -> tscr_tcp_restore (bind, queue seqs,
 *            connect, options, timestamp, queues, window) -> repair off
 *
 * Sequence bookkeeping (same meaning as CRIU's tcp-stream image):
 *   inq_seq  = rcv_nxt,   inq_len  = rcv_nxt - copied_seq (unread bytes)
 *   outq_seq = write_seq, outq_len = write_seq - snd_una (unacked + unsent)
 *   unsq_len = write_seq - snd_nxt (never sent)
 * The kernel's TCP_QUEUE_SEQ is the *start* of each queue on restore; writing
 * the queue bytes in repair mode advances it to the saved end.
 *
 * Conventions of shim/tscr.h: return >= 0 or -errno; flat structs.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "tscr.h"

#ifndef TCP_REPAIR_WINDOW
#define TCP_REPAIR_WINDOW 29
#endif
/* TCP option kinds (RFC 793/7323/2018) as TCP_REPAIR_OPTIONS codes */
#define ROPT_MAXSEG 2
#define ROPT_WINDOW 3
#define ROPT_SACK_PERM 4
#define ROPT_TIMESTAMP 8
#define OPT_TIMESTAMPS 1 /* TCPI_OPT_* bits of tcpi_options */
#define OPT_SACK 2
#define OPT_WSCALE 4

struct repair_window { uint32_t snd_wl1, snd_wnd, max_window, rcv_wnd, rcv_wup; };
struct repair_opt { uint32_t code, val; };

int tscr_tcp_repair(int fd, int mode) {
  int v = mode;
  return setsockopt(fd, SOL_TCP, TCP_REPAIR, &v, sizeof v) ? -errno : 0;
}

static int set_queue(int fd, int q) {
  return setsockopt(fd, SOL_TCP, TCP_REPAIR_QUEUE, &q, sizeof q) ? -errno : 0;
}

int tscr_tcp_save(int fd, struct tscr_tcp_state *st) {
  struct tcp_info ti;
  socklen_t l = sizeof ti;
  int v;
  memset(st, 0, sizeof *st);
  memset(&ti, 0, sizeof ti);
  if (getsockopt(fd, SOL_TCP, TCP_INFO, &ti, &l)) return -errno;
  st->state = ti.tcpi_state;
  if (ioctl(fd, SIOCINQ, &v)) return -errno;
  st->inq_len = v;
  if (ioctl(fd, SIOCOUTQ, &v)) return -errno;
  st->outq_len = v;
  if (ioctl(fd, SIOCOUTQNSD, &v)) return -errno;
  st->unsq_len = v;
  st->opt_mask = ti.tcpi_options;
  if (ti.tcpi_options & OPT_WSCALE) { st->snd_wscale = ti.tcpi_snd_wscale; st->rcv_wscale = ti.tcpi_rcv_wscale; }
  l = sizeof v;
  if (getsockopt(fd, SOL_TCP, TCP_MAXSEG, &v, &l)) return -errno;
  st->mss_clamp = v;
  if (ti.tcpi_options & OPT_TIMESTAMPS) {
    l = sizeof v;
    if (getsockopt(fd, SOL_TCP, TCP_TIMESTAMP, &v, &l)) return -errno;
    st->timestamp = v;
  }
  struct repair_window w;
  l = sizeof w;
  if (getsockopt(fd, SOL_TCP, TCP_REPAIR_WINDOW, &w, &l) == 0) {
    st->has_window = 1;
    st->snd_wl1 = w.snd_wl1; st->snd_wnd = w.snd_wnd; st->max_window = w.max_window;
    st->rcv_wnd = w.rcv_wnd; st->rcv_wup = w.rcv_wup;
  } else if (errno != ENOPROTOOPT) return -errno;
  /* queue sequence numbers (repair mode only) */
  int r;
  if ((r = set_queue(fd, TCP_RECV_QUEUE))) return r;
  l = sizeof v;
  if (getsockopt(fd, SOL_TCP, TCP_QUEUE_SEQ, &v, &l)) return -errno;
  st->inq_seq = v;
  if ((r = set_queue(fd, TCP_SEND_QUEUE))) return r;
  l = sizeof v;
  if (getsockopt(fd, SOL_TCP, TCP_QUEUE_SEQ, &v, &l)) return -errno;
  st->outq_seq = v;
  set_queue(fd, TCP_NO_QUEUE);
  return 0;
}

/* Copy `len` bytes of a queue (TCP_RECV_QUEUE=1 / TCP_SEND_QUEUE=2) without
 * consuming them. Returns the number of bytes copied; a short count means the
 * queue changed under us (the caller must treat that as an error). */
int tscr_tcp_peek_queue(int fd, int queue, void *buf, int len) {
  int r = set_queue(fd, queue);
  if (r) return r;
  if (len == 0) { set_queue(fd, TCP_NO_QUEUE); return 0; }
  ssize_t n = recv(fd, buf, (size_t)len, MSG_PEEK | MSG_DONTWAIT);
  int e = errno;
  set_queue(fd, TCP_NO_QUEUE);
  if (n < 0) return -e;
  return (int)n;
}

static int make_addr(int family, const uint8_t *addr16, int port, uint32_t scope, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    memcpy(&a->sin_addr, addr16, 4);
    *len = sizeof *a;
  } else if (family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    memcpy(&a->sin6_addr, addr16, 16);
    a->sin6_scope_id = scope;
    *len = sizeof *a;
  } else return -EAFNOSUPPORT;
  return 0;
}

int tscr_sock_bind(int fd, int family, const uint8_t *addr16, int port, uint32_t scope) {
  struct sockaddr_storage ss; socklen_t l;
  int r = make_addr(family, addr16, port, scope, &ss, &l);
  if (r) return r;
  return bind(fd, (struct sockaddr *)&ss, l) ? -errno : 0;
}

int tscr_sock_connect(int fd, int family, const uint8_t *addr16, int port, uint32_t scope) {
  struct sockaddr_storage ss; socklen_t l;
  int r = make_addr(family, addr16, port, scope, &ss, &l);
  if (r) return r;
  if (connect(fd, (struct sockaddr *)&ss, l) && errno != EINPROGRESS) return -errno;
  return 0;
}

/* tscr_socket, tscr_getsockopt, tscr_setsockopt, tscr_shutdown: shim/fds.c */

/* getsockname (peer=0) or getpeername (peer=1) into a flat struct. */
int tscr_sock_name(int fd, int peer, struct tscr_sockname *out) {
  struct sockaddr_storage ss; socklen_t l = sizeof ss;
  memset(out, 0, sizeof *out);
  memset(&ss, 0, sizeof ss);
  if ((peer ? getpeername : getsockname)(fd, (struct sockaddr *)&ss, &l)) return -errno;
  out->family = ss.ss_family;
  if (ss.ss_family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    out->port = ntohs(a->sin_port);
    memcpy(out->addr, &a->sin_addr, 4);
  } else if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    out->port = ntohs(a->sin6_port);
    memcpy(out->addr, &a->sin6_addr, 16);
    out->scope = a->sin6_scope_id;
  }
  return 0;
}

int tscr_sock_listen(int fd, int backlog) { return listen(fd, backlog) ? -errno : 0; }
int tscr_sock_accept(int fd) {
  int r = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  return r < 0 ? -errno : r;
}

static int send_all(int fd, const uint8_t *buf, uint32_t len) {
  uint32_t off = 0, chunk = len;
  while (off < len) {
    uint32_t n = len - off < chunk ? len - off : chunk;
    ssize_t w = send(fd, buf + off, n, MSG_DONTWAIT);
    if (w <= 0) {
      /* repair-mode queue writes allocate one linear skb per call: retry smaller */
      if ((w < 0 && (errno == ENOMEM || errno == EAGAIN || errno == ENOBUFS)) && chunk > 1024) { chunk >>= 1; continue; }
      return w < 0 ? -errno : -EIO;
    }
    off += (uint32_t)w;
  }
  return 0;
}

/* Rebuild an established connection on `fd`, a fresh socket already in repair
 * mode (and bound to the source address if the caller wants another order).
 * inq holds inq_len bytes, outq outq_len bytes. Leaves the socket in repair
 * mode; the caller turns it off with tscr_tcp_repair(fd, 0) (or -1 for "no
 * window probe") once the network may carry its packets.
 * Returns 0, or -errno with *step set to the failed step (1 bind, 2 recv seq,
 * 3 send seq, 4 connect, 5 options, 6 timestamp, 7 recv queue, 8 send queue,
 * 9 window, 10 unsent data). */
int tscr_tcp_restore(int fd, const struct tscr_tcp_state *st, const struct tscr_tcp_addrs *a,
                     const void *inq, const void *outq, int *step) {
  int r;
  uint32_t v;
  *step = 1;
  if (!a->skip_bind && (r = tscr_sock_bind(fd, a->family, a->src, a->src_port, a->scope))) return r;
  *step = 2;
  if ((r = set_queue(fd, TCP_RECV_QUEUE))) return r;
  v = st->inq_seq - st->inq_len;
  if (setsockopt(fd, SOL_TCP, TCP_QUEUE_SEQ, &v, sizeof v)) return -errno;
  *step = 3;
  if ((r = set_queue(fd, TCP_SEND_QUEUE))) return r;
  v = st->outq_seq - st->outq_len;
  if (setsockopt(fd, SOL_TCP, TCP_QUEUE_SEQ, &v, sizeof v)) return -errno;
  *step = 4;
  if ((r = tscr_sock_connect(fd, a->family, a->dst, a->dst_port, a->scope))) return r;
  *step = 5;
  struct repair_opt o[4];
  int n = 0;
  if (st->opt_mask & OPT_SACK) { o[n].code = ROPT_SACK_PERM; o[n].val = 0; n++; }
  if (st->opt_mask & OPT_WSCALE) { o[n].code = ROPT_WINDOW; o[n].val = st->snd_wscale | (st->rcv_wscale << 16); n++; }
  if (st->opt_mask & OPT_TIMESTAMPS) { o[n].code = ROPT_TIMESTAMP; o[n].val = 0; n++; }
  o[n].code = ROPT_MAXSEG; o[n].val = st->mss_clamp; n++;
  if (setsockopt(fd, SOL_TCP, TCP_REPAIR_OPTIONS, o, (socklen_t)(n * sizeof o[0]))) return -errno;
  /* The kernel computed the MSS at connect time, before these options: empty IP
   * options make it compute it again (icsk_sync_mss) with the saved MSS clamp.
   * Best effort: without it the MSS only grows back over a few round trips. */
  if (a->family == AF_INET) setsockopt(fd, IPPROTO_IP, IP_OPTIONS, NULL, 0);
  else setsockopt(fd, IPPROTO_IPV6, IPV6_HOPOPTS, NULL, 0);
  *step = 6;
  if (st->opt_mask & OPT_TIMESTAMPS) {
    v = st->timestamp;
    if (setsockopt(fd, SOL_TCP, TCP_TIMESTAMP, &v, sizeof v)) return -errno;
  }
  *step = 7;
  if (st->inq_len) {
    if ((r = set_queue(fd, TCP_RECV_QUEUE))) return r;
    if ((r = send_all(fd, inq, st->inq_len))) return r;
  }
  *step = 8;
  uint32_t unsent = st->unsq_len <= st->outq_len ? st->unsq_len : st->outq_len;
  uint32_t sent = st->outq_len - unsent;
  if (sent) {
    if ((r = set_queue(fd, TCP_SEND_QUEUE))) return r;
    if ((r = send_all(fd, outq, sent))) return r;
  }
  set_queue(fd, TCP_NO_QUEUE);
  *step = 9;
  if (st->has_window) {
    struct repair_window w = { st->snd_wl1, st->snd_wnd, st->max_window, st->rcv_wnd, st->rcv_wup };
    if (setsockopt(fd, SOL_TCP, TCP_REPAIR_WINDOW, &w, sizeof w)) return -errno;
  }
  *step = 10;
  if (unsent) {
    /* never sent: queue it as ordinary data, outside repair mode */
    if ((r = tscr_tcp_repair(fd, 0))) return r;
    r = send_all(fd, (const uint8_t *)outq + sent, unsent);
    int r2 = tscr_tcp_repair(fd, 1);
    if (r) return r;
    if (r2) return r2;
  }
  *step = 0;
  return 0;
}

/* ---- sock_diag: what only the kernel's socket table knows ---- */
#include <linux/rtnetlink.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

/* Look up the inet socket with inode `ino` (family AF_INET/AF_INET6, proto
 * IPPROTO_TCP/UDP) in the caller's network namespace. Fills state, rqueue
 * (listener: connections waiting in accept queue), wqueue (listener: backlog),
 * shutdown bits. Returns 1 if found, 0 if not, -errno on error. */
int tscr_inet_diag(int family, int proto, uint32_t ino, struct tscr_inet_diag *out) {
  memset(out, 0, sizeof *out);
  int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0) return -errno;
  struct { struct nlmsghdr h; struct inet_diag_req_v2 r; } req;
  memset(&req, 0, sizeof req);
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.r.sdiag_family = (uint8_t)family;
  req.r.sdiag_protocol = (uint8_t)proto;
  req.r.idiag_states = ~0u;
  struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
  if (sendto(nl, &req, sizeof req, 0, (struct sockaddr *)&sa, sizeof sa) < 0) { int e = errno; close(nl); return -e; }
  static __thread char buf[32768];
  int found = 0, done = 0, err = 0;
  while (!done) {
    ssize_t n = recv(nl, buf, sizeof buf, 0);
    if (n < 0) { if (errno == EINTR) continue; err = -errno; break; }
    if (n == 0) break;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE) { done = 1; break; }
      if (h->nlmsg_type == NLMSG_ERROR) { struct nlmsgerr *e = NLMSG_DATA(h); err = e->error ? e->error : -EIO; done = 1; break; }
      struct inet_diag_msg *m = NLMSG_DATA(h);
      if (found || m->idiag_inode != ino) continue;
      found = 1;
      out->state = m->idiag_state;
      out->rqueue = m->idiag_rqueue;
      out->wqueue = m->idiag_wqueue;
      int alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
      for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, alen); a = RTA_NEXT(a, alen))
        if (a->rta_type == INET_DIAG_SHUTDOWN) out->shutdown = *(uint8_t *)RTA_DATA(a);
    }
  }
  close(nl);
  if (err) return err;
  return found;
}

#include <fcntl.h>
int tscr_fd_dup(int fd) { int r = fcntl(fd, F_DUPFD_CLOEXEC, 3); return r < 0 ? -errno : r; }

#include <sched.h>
/* Move the calling thread into the network namespace `nsfd` refers to (an fd of
 * /proc/PID/ns/net or /run/netns/NAME). Sockets created afterwards live there;
 * existing ones stay where they were made. */
int tscr_net_setns(int nsfd) { return setns(nsfd, CLONE_NEWNET) ? -errno : 0; }
int tscr_fd_setfl(int fd, int flags) { return fcntl(fd, F_SETFL, flags) ? -errno : 0; }

/* ---- a TCP segment from the peer, made up locally (restore of half-closed connections) ----
 * CLOSE_WAIT and LAST_ACK sockets had received their peer's FIN: a rebuilt socket
 * gets it back from a FIN segment that tscr writes with a raw socket, with the
 * peer's address as source, to the local address (it travels over loopback).
 * `mark` is set on the packet so the network lock lets it through. */
#include <netinet/ip.h>
#include <netinet/ip6.h>

static uint32_t csum_add(uint32_t sum, const void *data, size_t len) {
  const uint8_t *p = data;
  while (len > 1) { sum += (uint32_t)((p[0] << 8) | p[1]); p += 2; len -= 2; }
  if (len) sum += (uint32_t)(p[0] << 8);
  return sum;
}
static uint16_t csum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

int tscr_tcp_inject(int family, const uint8_t *src16, int sport, const uint8_t *dst16, int dport,
                    uint32_t seq, uint32_t ack, int flags, int win, uint32_t mark) {
  uint8_t pkt[80];
  memset(pkt, 0, sizeof pkt);
  size_t iph = family == AF_INET ? 20 : 40;
  uint8_t *t = pkt + iph;
  /* TCP header, 20 bytes */
  t[0] = (uint8_t)(sport >> 8); t[1] = (uint8_t)sport;
  t[2] = (uint8_t)(dport >> 8); t[3] = (uint8_t)dport;
  uint32_t nseq = htonl(seq), nack = htonl(ack);
  memcpy(t + 4, &nseq, 4); memcpy(t + 8, &nack, 4);
  t[12] = 5 << 4;
  t[13] = (uint8_t)flags;
  t[14] = (uint8_t)(win >> 8); t[15] = (uint8_t)win;
  uint32_t sum = 0;
  if (family == AF_INET) {
    sum = csum_add(sum, src16, 4); sum = csum_add(sum, dst16, 4);
    sum += IPPROTO_TCP; sum += 20;
  } else {
    sum = csum_add(sum, src16, 16); sum = csum_add(sum, dst16, 16);
    sum += 20; sum += IPPROTO_TCP;
  }
  sum = csum_add(sum, t, 20);
  uint16_t c = csum_fold(sum);
  t[16] = (uint8_t)(c >> 8); t[17] = (uint8_t)c;
  int fd, r = 0;
  struct sockaddr_storage ss; socklen_t sl;
  memset(&ss, 0, sizeof ss);
  if (family == AF_INET) {
    struct iphdr *ip = (struct iphdr *)pkt;
    ip->version = 4; ip->ihl = 5; ip->ttl = 64; ip->protocol = IPPROTO_TCP;
    ip->tot_len = htons((uint16_t)(iph + 20));
    memcpy(&ip->saddr, src16, 4); memcpy(&ip->daddr, dst16, 4);
    fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);   /* IPPROTO_RAW: header included */
    struct sockaddr_in *a = (struct sockaddr_in *)&ss; a->sin_family = AF_INET; memcpy(&a->sin_addr, dst16, 4); sl = sizeof *a;
  } else {
    struct ip6_hdr *ip = (struct ip6_hdr *)pkt;
    ip->ip6_flow = htonl(6u << 28); ip->ip6_plen = htons(20); ip->ip6_nxt = IPPROTO_TCP; ip->ip6_hlim = 64;
    memcpy(&ip->ip6_src, src16, 16); memcpy(&ip->ip6_dst, dst16, 16);
    fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss; a->sin6_family = AF_INET6; memcpy(&a->sin6_addr, dst16, 16); sl = sizeof *a;
  }
  if (fd < 0) return -errno;
  if (mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark)) r = -errno;
  if (!r && sendto(fd, pkt, iph + 20, 0, (struct sockaddr *)&ss, sl) < 0) r = -errno;
  close(fd);
  return r;
}
