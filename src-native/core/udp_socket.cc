#include "udp_socket.h"

#include "cmsg_writer.h"
#include "fast_syscall.h"
#include "reuseport_steering.h"
#include "udp_gro_split.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <net/if.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#ifndef SOL_UDP
#define SOL_UDP IPPROTO_UDP
#endif

namespace tunio {

namespace {

// Errors that describe one peer or one datagram rather than the socket. On receive they are
// ICMP-originated (the kernel converts port/host/net unreachable, frag-needed, parameter
// problem, admin-prohibited into these); on send they can also come straight from routing.
// Either way the socket is fine and the next datagram may well succeed.
bool is_icmp_error(int e) {
  switch (e) {
    case ECONNREFUSED: case EHOSTUNREACH: case EHOSTDOWN: case ENONET: case ENETUNREACH:
    case ENETDOWN: case EMSGSIZE: case EPROTO: case EACCES: case ENOPROTOOPT: case EOPNOTSUPP:
      return true;
    default:
      return false;
  }
}

// Errors a UDP send can only return as an earlier datagram's pending ICMP error: routing,
// neighbour resolution and netfilter never produce these for a send of our own.
bool only_from_icmp(int e) {
  return e == ECONNREFUSED || e == EHOSTDOWN || e == ENONET || e == EPROTO || e == ENOPROTOOPT;
}

// Errors that mean the socket itself is unusable (or our memory is wrong): no point going on.
bool is_fatal_send_error(int e) { return e == EBADF || e == ENOTSOCK || e == EFAULT; }

int setopt_int(int fd, int level, int name, int value) {
  return ::setsockopt(fd, level, name, &value, sizeof value);
}

int pmtu_value(PmtuMode mode) {
  switch (mode) {
    case PmtuMode::kDo: return IP_PMTUDISC_DO;
    case PmtuMode::kProbe: return IP_PMTUDISC_PROBE;
    case PmtuMode::kWant: return IP_PMTUDISC_WANT;
    case PmtuMode::kDont:
    default: return IP_PMTUDISC_DONT;
  }
}

class KernelSendCalls : public UdpSendCalls {
 public:
  ssize_t sendmsg(int fd, const msghdr* msg, int flags) override { return sys::sendmsg(fd, msg, flags); }
  int sendmmsg(int fd, mmsghdr* msgs, unsigned n, int flags) override { return sys::sendmmsg(fd, msgs, n, flags); }
};

}  // namespace

UdpSendCalls& kernel_send_calls() {
  static KernelSendCalls calls;  // stateless: one for every socket and thread
  return calls;
}

void PeerErrorCounts::add(int err, uint64_t n) {
  switch (err) {
    case ECONNREFUSED: conn_refused += n; break;
    case EHOSTUNREACH: case EHOSTDOWN: case ENONET: case EACCES: host_unreach += n; break;
    case ENETUNREACH: case ENETDOWN: net_unreach += n; break;
    case EMSGSIZE: msg_size += n; break;
    default: other += n; break;
  }
}

// --- open ------------------------------------------------------------------------------------

UdpOpenResult UdpSocket::open(const UdpOptions& options) {
  UdpOpenResult result;
  std::unique_ptr<UdpSocket> sock(new (std::nothrow) UdpSocket());
  if (!sock) {
    result.error = SysError::make(ENOMEM, "new UdpSocket");
    return result;
  }
  result.error = sock->init(options);
  if (result.error.ok()) result.socket = std::move(sock);
  return result;  // on failure `sock` closes the fd
}

UdpSocket::~UdpSocket() = default;

SysError UdpSocket::init(const UdpOptions& o) {
  if (o.bind.family != 4 && o.bind.family != 6) return SysError::make(EINVAL, "options(bind)");
  if (o.batch_size == 0 || o.batch_size > kMaxUdpBatch) {
    return SysError::make(EINVAL, "options(batch_size)");
  }
  family_ = o.bind.family == 4 ? AF_INET : AF_INET6;
  batch_ = o.batch_size;
  has_fwmark_ = o.set_fwmark;
  fwmark_ = o.fwmark;
  bind_device_ = o.bind_device;
  // Non-blocking: the addon waits with uv_poll. Close-on-exec: a child_process must not
  // inherit (and keep open) the VPN's socket.
  fd_.reset(::socket(family_, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP));
  if (!fd_) return SysError::from_errno("socket");
  const int fd = fd_.get();
  const bool v6 = family_ == AF_INET6;
  const bool dual = v6 && !o.ipv6_only;

  if (v6 && setopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, o.ipv6_only ? 1 : 0) != 0) {
    return SysError::from_errno("setsockopt(IPV6_V6ONLY)");
  }
  if (o.reuse_port && setopt_int(fd, SOL_SOCKET, SO_REUSEPORT, 1) != 0) {
    return SysError::from_errno("setsockopt(SO_REUSEPORT)");
  }
  // Before bind(): both change which routes apply. SO_MARK needs CAP_NET_ADMIN (EPERM without);
  // SO_BINDTODEVICE answers ENODEV for a device this namespace does not have.
  if (o.set_fwmark && setopt_int(fd, SOL_SOCKET, SO_MARK, static_cast<int>(o.fwmark)) != 0) {
    return SysError::from_errno("setsockopt(SO_MARK)");
  }
  if (!o.bind_device.empty() &&
      ::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, o.bind_device.c_str(),
                   static_cast<socklen_t>(o.bind_device.size())) != 0) {
    return SysError::from_errno("setsockopt(SO_BINDTODEVICE)");
  }
  // The FORCE variants pass net.core.[rw]mem_max (needs CAP_NET_ADMIN); a VPN at line rate
  // wants several MiB. Without the capability, fall back to the capped plain option.
  if (o.recv_buffer > 0 && setopt_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, o.recv_buffer) != 0 &&
      setopt_int(fd, SOL_SOCKET, SO_RCVBUF, o.recv_buffer) != 0) {
    return SysError::from_errno("setsockopt(SO_RCVBUF)");
  }
  if (o.send_buffer > 0 && setopt_int(fd, SOL_SOCKET, SO_SNDBUFFORCE, o.send_buffer) != 0 &&
      setopt_int(fd, SOL_SOCKET, SO_SNDBUF, o.send_buffer) != 0) {
    return SysError::from_errno("setsockopt(SO_SNDBUF)");
  }
  // Destination address + ifindex of each datagram: lets a server on 0.0.0.0/[::] answer from
  // the address the peer wrote to (sticky source, like wireguard-go). On a dual-stack socket
  // IPV6_RECVPKTINFO also covers IPv4 datagrams (as v4-mapped).
  if (v6) {
    if (setopt_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1) != 0) {
      return SysError::from_errno("setsockopt(IPV6_RECVPKTINFO)");
    }
    if (setopt_int(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, 1) != 0) {
      return SysError::from_errno("setsockopt(IPV6_RECVTCLASS)");
    }
    // IPv4 datagrams on a dual-stack socket report their TOS only through the IPv4 option.
    if (dual && setopt_int(fd, IPPROTO_IP, IP_RECVTOS, 1) != 0) {
      return SysError::from_errno("setsockopt(IP_RECVTOS)");
    }
  } else {
    if (setopt_int(fd, IPPROTO_IP, IP_PKTINFO, 1) != 0) {
      return SysError::from_errno("setsockopt(IP_PKTINFO)");
    }
    if (setopt_int(fd, IPPROTO_IP, IP_RECVTOS, 1) != 0) {
      return SysError::from_errno("setsockopt(IP_RECVTOS)");
    }
  }
  if (o.pmtu != PmtuMode::kSystem) {
    const int value = pmtu_value(o.pmtu);  // IPV6_PMTUDISC_* have the same values
    if ((!v6 || dual) && setopt_int(fd, IPPROTO_IP, IP_MTU_DISCOVER, value) != 0) {
      return SysError::from_errno("setsockopt(IP_MTU_DISCOVER)");
    }
    if (v6 && setopt_int(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, value) != 0) {
      return SysError::from_errno("setsockopt(IPV6_MTU_DISCOVER)");
    }
  }
  // SO_RXQ_OVFL: every datagram read carries the socket's drop counter (datagrams the kernel
  // dropped because the receive buffer was full), the one sign of receive overload a reader
  // can see on its own socket. Not fatal when refused: the counter then stays 0.
  setopt_int(fd, SOL_SOCKET, SO_RXQ_OVFL, 1);
  // IP_RECVERR / IPV6_RECVERR: ICMP errors (port/host/net unreachable, prohibited, frag
  // needed) for every peer of an UNCONNECTED socket are queued with the peer's address, and
  // local send errors with their detail (EMSGSIZE + MTU). A VPN server talks to all peers
  // through one unconnected socket, so this is the only way it can tell which peer is gone.
  // The cost: queued errors are charged to the receive buffer until read, so they are drained
  // as soon as any syscall reports one or the fd polls POLLERR (see drain_error_queue), and
  // each ICMP error also leaves a pending socket error that fails the next send or receive
  // once (send_batch re-sends that message; recv_batch reads on). It also makes the kernel
  // report ENOBUFS when a qdisc drops a datagram (without it: silent success), which the
  // caller already treats as "not sent, retry shortly". The tunnel must still not tear a peer
  // down on an ICMP error alone: ICMP is unauthenticated; these are reports, not verdicts.
  if ((!v6 || dual) && setopt_int(fd, IPPROTO_IP, IP_RECVERR, 1) != 0) {
    return SysError::from_errno("setsockopt(IP_RECVERR)");
  }
  if (v6 && setopt_int(fd, IPPROTO_IPV6, IPV6_RECVERR, 1) != 0) {
    return SysError::from_errno("setsockopt(IPV6_RECVERR)");
  }

  if (o.gso != Offload::kOff) {
    features_.gso = udp_probe_gso(fd);
    if (!features_.gso && o.gso == Offload::kOn) {
      return SysError::make(errno ? errno : EOPNOTSUPP, "getsockopt(UDP_SEGMENT) (gso: on)");
    }
    if (features_.gso) {
      features_.max_gso_segments = udp_max_gso_segments();
      segment_limit_.reset(features_.max_gso_segments);
    }
  }
  if (o.gro != Offload::kOff) {
    features_.gro = udp_enable_gro(fd);
    if (!features_.gro && o.gro == Offload::kOn) {
      return SysError::from_errno("setsockopt(UDP_GRO) (gro: on)");
    }
  }

  sockaddr_in6 sa;
  socklen_t len = endpoint_to_sockaddr(o.bind, family_, &sa);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0) return SysError::from_errno("bind");
  len = sizeof sa;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    return SysError::from_errno("getsockname");
  }
  local_ = endpoint_from_sockaddr(reinterpret_cast<sockaddr*>(&sa), len);
  if (o.inner_flow_steering > 0) {
    if (!o.reuse_port) return SysError::make(EINVAL, "options(inner_flow_steering without reuse_port)");
    SysError e = attach_inner_flow_steering(fd, o.inner_flow_steering);
    if (e) return e;
  }
  if (!o.connect.empty()) {
    len = endpoint_to_sockaddr(o.connect, family_, &sa);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0) {
      return SysError::from_errno("connect");
    }
    peer_ = endpoint_from_sockaddr(reinterpret_cast<sockaddr*>(&sa), len);
    // connect() may have bound a specific source address (it was a wildcard).
    len = sizeof sa;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0) {
      local_ = endpoint_from_sockaddr(reinterpret_cast<sockaddr*>(&sa), len);
    }
  }

  // All scratch for the hot path, once. (Throws only on OOM at open; built with
  // -fno-exceptions that is an abort, as for any allocation in the addon.)
  send_window_ = static_cast<size_t>(batch_) * kSendWindowPerMessage;
  plan_.reserve(batch_);
  send_msgs_.resize(batch_);
  send_iov_.resize(send_window_);
  send_names_.resize(batch_);
  send_cmsg_.resize(batch_ * kSendCmsgSpace);
  recv_msgs_.resize(batch_);
  recv_iov_.resize(batch_);
  recv_names_.resize(batch_);
  recv_cmsg_.resize(batch_ * kRecvCmsgSpace);
  recv_slots_.assign(batch_, nullptr);
  return SysError::none();
}

int UdpSocket::recv_buffer_size() const {
  int v = 0;
  socklen_t len = sizeof v;
  return ::getsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &v, &len) == 0 ? v : -1;
}

int UdpSocket::send_buffer_size() const {
  int v = 0;
  socklen_t len = sizeof v;
  return ::getsockopt(fd_.get(), SOL_SOCKET, SO_SNDBUF, &v, &len) == 0 ? v : -1;
}

bool UdpSocket::set_gso(bool on) {
  if (!on) {
    features_.gso = false;
    return false;
  }
  if (!features_.gso && udp_probe_gso(fd_.get())) {
    features_.gso = true;
    // Opened without GSO: the segment limit policy starts now, from the kernel's probed limit.
    if (segment_limit_.current() == 0) segment_limit_.reset(udp_max_gso_segments());
    features_.max_gso_segments = segment_limit_.current();
  }
  return features_.gso;
}

bool UdpSocket::set_gro(bool on) {
  if (on) {
    gro_off_pending_ = false;
    if (!features_.gro) features_.gro = udp_enable_gro(fd_.get());
    return features_.gro;
  }
  if (!features_.gro) return false;
  gro_off_pending_ = true;
  try_gro_off();
  return features_.gro;
}

void UdpSocket::try_gro_off() {
  // After UDP_GRO is off the kernel splits coalesced datagrams when it queues them, but the
  // ones it queued before keep their size and lose the cmsg that says how to split them. So
  // switch, then look: an empty queue means nothing coalesced can come any more; otherwise
  // switch back and try again when a read finds the queue empty.
  int zero = 0;
  if (::setsockopt(fd_.get(), SOL_UDP, UDP_GRO, &zero, sizeof zero) != 0) return;
  char probe;
  iovec iov{&probe, 0};
  msghdr h{};
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  const ssize_t queued = ::recvmsg(fd_.get(), &h, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
  if (queued >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {  // queued, or cannot tell
    udp_enable_gro(fd_.get());
    return;
  }
  features_.gro = false;
  gro_off_pending_ = false;
}

uint32_t UdpSocket::fwmark() const {
  int v = 0;
  socklen_t len = sizeof v;
  return ::getsockopt(fd_.get(), SOL_SOCKET, SO_MARK, &v, &len) == 0 ? static_cast<uint32_t>(v) : 0;
}

std::string UdpSocket::bound_device() const {
  char name[IFNAMSIZ + 1] = {0};
  socklen_t len = IFNAMSIZ;
  if (::getsockopt(fd_.get(), SOL_SOCKET, SO_BINDTODEVICE, name, &len) != 0) return std::string();
  return std::string(name, strnlen(name, IFNAMSIZ));
}

// --- errors ----------------------------------------------------------------------------------

uint32_t UdpSocket::query_path_mtu(const IpEndpoint& dest) const {
  if (dest.empty()) return 0;
  auto read_mtu = [](int fd, bool v6) -> uint32_t {
    int mtu = 0;
    socklen_t len = sizeof mtu;
    const int r = v6 ? ::getsockopt(fd, IPPROTO_IPV6, IPV6_MTU, &mtu, &len)
                     : ::getsockopt(fd, IPPROTO_IP, IP_MTU, &mtu, &len);
    return r == 0 && mtu > 0 ? static_cast<uint32_t>(mtu) : 0;
  };
  if (!peer_.empty() && same_address(peer_, dest)) {
    // Connected: the socket's own route. A dual-stack socket connected to an IPv4 peer holds
    // an IPv4 route, which IPV6_MTU reads as well.
    return read_mtu(fd_.get(), family_ == AF_INET6);
  }
  // Unconnected: the kernel keeps learnt path MTUs per destination in its route cache, which
  // any socket with the same routing inputs (mark, device) sees once connected to the address.
  const int family = dest.family == 4 ? AF_INET : AF_INET6;
  UniqueFd probe(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP));
  if (!probe) return 0;
  if (has_fwmark_) setopt_int(probe.get(), SOL_SOCKET, SO_MARK, static_cast<int>(fwmark_));
  if (!bind_device_.empty()) {
    ::setsockopt(probe.get(), SOL_SOCKET, SO_BINDTODEVICE, bind_device_.c_str(),
                 static_cast<socklen_t>(bind_device_.size()));
  }
  IpEndpoint to = dest;
  if (to.port == 0) to.port = 9;  // connect() needs a port; nothing is sent
  sockaddr_in6 sa;
  const socklen_t len = endpoint_to_sockaddr(to, family, &sa);
  if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&sa), len) != 0) return 0;
  return read_mtu(probe.get(), family == AF_INET6);
}

void UdpSocket::record_error(const SocketError& e) {
  reported_.add(e.err);
  if (e.err == EMSGSIZE && e.info > 0 && !e.remote.empty()) {
    // Every entry, before repeats are merged: the table itself reports only changes.
    const MtuSource source = e.origin == ErrorOrigin::kIcmp    ? MtuSource::kIcmp
                             : e.origin == ErrorOrigin::kIcmp6 ? MtuSource::kIcmp6
                                                               : MtuSource::kLocal;
    path_mtu_.report(e.remote, e.info, source);
  }
  // Repeats of one error within kErrorRepeatMs are merged (see error_repeats_): the first is
  // queued now, the others are counted and queued as one event when the interval ends.
  const uint64_t now = monotonic_ms();
  flush_error_repeats(now);
  for (ErrorRepeat& r : error_repeats_) {
    if (r.sample.err == e.err && r.sample.origin == e.origin && r.sample.remote.same_address_port(e.remote)) {
      r.repeats++;
      error_repeats_merged_++;
      return;
    }
  }
  if (error_repeats_.size() >= kMaxErrorRepeats) {
    // Full (errors to many peers at once): the oldest interval ends early.
    flush_error_repeats(now, true);
  }
  error_repeats_.push_back(ErrorRepeat{e, now, 0});
  queue_error(e);
}

void UdpSocket::flush_error_repeats(uint64_t now_ms, bool oldest_now) {
  for (size_t i = 0; i < error_repeats_.size();) {
    ErrorRepeat& r = error_repeats_[i];
    const bool due = now_ms - r.since_ms >= kErrorRepeatMs || (oldest_now && i == 0);
    if (!due) {
      i++;
      continue;
    }
    if (r.repeats == 0) {  // quiet for a whole interval: the next one is a first again
      error_repeats_.erase(error_repeats_.begin() + static_cast<std::ptrdiff_t>(i));
      continue;
    }
    SocketError merged = r.sample;
    merged.count = r.repeats;
    queue_error(merged);
    r.since_ms = now_ms;
    r.repeats = 0;
    if (oldest_now) {
      error_repeats_.erase(error_repeats_.begin() + static_cast<std::ptrdiff_t>(i));
      oldest_now = false;
      continue;
    }
    i++;
  }
}

uint64_t UdpSocket::next_error_flush_ms() const {
  uint64_t next = 0;
  for (const ErrorRepeat& r : error_repeats_) {
    if (r.repeats == 0) continue;
    const uint64_t at = r.since_ms + kErrorRepeatMs;
    if (next == 0 || at < next) next = at;
  }
  return next;
}

void UdpSocket::queue_error(const SocketError& e) {
  if (errors_count_ == kErrorQueue) {  // full: overwrite the oldest
    errors_[errors_head_] = e;
    errors_head_ = (errors_head_ + 1) % kErrorQueue;
    errors_overwritten_++;
  } else {
    errors_[(errors_head_ + errors_count_) % kErrorQueue] = e;
    errors_count_++;
  }
}

void UdpSocket::record_error(int err, const char* call, const IpEndpoint* remote) {
  SocketError e;
  e.err = err;
  e.call = call;
  e.origin = ErrorOrigin::kLocal;
  if (remote) e.remote = *remote;
  record_error(e);
}

ErrorDrain UdpSocket::drain_error_queue(const IpEndpoint* send_dest) {
  ErrorDrain d;
  for (size_t i = 0; i < kMaxDrainPerCall; i++) {
    SocketError e;
    int failed = 0;
    errq_stats_.reads++;
    const ErrorQueueRead r = read_error_queue_entry(fd_.get(), &e, &failed);
    if (r == ErrorQueueRead::kEmpty) break;
    if (r == ErrorQueueRead::kFailed) {
      errq_stats_.read_failures++;
      break;
    }
    switch (e.origin) {
      case ErrorOrigin::kIcmp: errq_stats_.icmp++; d.icmp++; break;
      case ErrorOrigin::kIcmp6: errq_stats_.icmp6++; d.icmp++; break;
      default:
        errq_stats_.local++;
        d.local++;
        d.local_err = e.err;
        // A local error of an unconnected socket carries the destination address but port 0
        // (the kernel fills in the connected port): the send that just failed knows it.
        if (send_dest && e.remote.port == 0 && same_address(e.remote, *send_dest)) {
          e.remote = *send_dest;
        }
        break;
    }
    if (e.remote.empty() && !peer_.empty()) e.remote = peer_;
    record_error(e);
  }
  return d;
}

ErrorDrain UdpSocket::on_peer_error(int err, const char* call, const IpEndpoint* remote) {
  ErrorDrain d = drain_error_queue(remote);
  // Nothing queued: the entry was lost (no room in the receive buffer to charge it to).
  if (d.icmp == 0 && d.local == 0) record_error_from_socket(err, call);
  return d;
}

void UdpSocket::record_error_from_socket(int err, const char* call) {
  SocketError e;
  e.err = err;
  e.call = call;
  e.origin = ErrorOrigin::kSocket;
  e.remote = peer_;
  record_error(e);
}

std::vector<SocketError> UdpSocket::take_errors() {
  if (!error_repeats_.empty()) flush_error_repeats(monotonic_ms());
  std::vector<SocketError> out;
  out.reserve(errors_count_);
  for (size_t i = 0; i < errors_count_; i++) out.push_back(errors_[(errors_head_ + i) % kErrorQueue]);
  errors_head_ = 0;
  errors_count_ = 0;
  return out;
}

// --- receive ---------------------------------------------------------------------------------

IoResult UdpSocket::recv_batch(BufferPool& pool, std::vector<Packet>& out, size_t max_messages,
                               RecvStats& stats) {
  // One slot reference per datagram: recvmmsg's, plus count - 1 taken at once; each Packet
  // adopts one. All datagrams but the last are segment_size() long.
  return recv_messages(pool, max_messages, stats,
                       [&out](Slot* slot, const msghdr& h, uint32_t len, const UdpGroSplit& split,
                              const IpEndpoint& local, uint8_t ecn) {
                         const IpEndpoint remote =
                             endpoint_from_sockaddr(reinterpret_cast<const sockaddr*>(h.msg_name), h.msg_namelen);
                         const uint32_t count = split.count();
                         slot->refs += count - 1;
                         const uint32_t seg = split.segment_size();
                         uint32_t off = 0;
                         for (uint32_t k = 1; k < count; k++, off += seg) {
                           out.emplace_back(SlotRef(slot), off, seg, remote, local, ecn);
                         }
                         out.emplace_back(SlotRef(slot), off, len - off, remote, local, ecn);
                       });
}

IoResult UdpSocket::recv_views(BufferPool& pool, ViewBatch& out, size_t max_messages, RecvStats& stats) {
  // The slot's one reference goes to the batch; the sender, destination and ECN are not kept
  // (the TUN write reads none of them).
  return recv_messages(pool, max_messages, stats,
                       [&out](Slot* slot, const msghdr&, uint32_t len, const UdpGroSplit& split, const IpEndpoint&,
                              uint8_t) { out.add_read(slot, split.count(), split.segment_size(), len); });
}

template <typename Emit>
IoResult UdpSocket::recv_messages(BufferPool& pool, size_t max_messages, RecvStats& stats, Emit&& emit) {
  IoResult result;
  const size_t want = std::min<size_t>(max_messages, batch_);
  if (want == 0) return result;
  // One large slot per message: the kernel needs room for a whole GRO read (up to 64 KiB).
  // Fewer slots than wanted just means a smaller batch; none at all is backpressure.
  size_t slots = 0;
  while (slots < want) {
    Slot* s = pool.acquire_large();
    if (!s) break;
    recv_slots_[slots++] = s;
  }
  if (slots == 0) {
    stats.pool_exhausted++;
    result.status = IoStatus::kPoolExhausted;
    return result;
  }
  auto release_from = [this](size_t from, size_t to) {
    for (size_t i = from; i < to; i++) {
      BufferPool::unref(recv_slots_[i]);
      recv_slots_[i] = nullptr;
    }
  };

  int n = -1;
  int peer_errors = 0;
  for (;;) {
    for (size_t i = 0; i < slots; i++) {
      recv_iov_[i].iov_base = recv_slots_[i]->data;
      recv_iov_[i].iov_len = recv_slots_[i]->capacity;
      msghdr& h = recv_msgs_[i].msg_hdr;
      h.msg_name = &recv_names_[i];
      h.msg_namelen = sizeof(sockaddr_in6);
      h.msg_iov = &recv_iov_[i];
      h.msg_iovlen = 1;
      h.msg_control = &recv_cmsg_[i * kRecvCmsgSpace];
      h.msg_controllen = kRecvCmsgSpace;
      h.msg_flags = 0;
      recv_msgs_[i].msg_len = 0;
    }
    n = sys::recvmmsg(fd_.get(), recv_msgs_.data(), static_cast<unsigned>(slots), 0);
    stats.recvmmsg_calls++;
    if (n >= 0) break;
    const int e = errno;
    if (e == EINTR) continue;
    if (e == EAGAIN || e == EWOULDBLOCK) {
      release_from(0, slots);
      stats.would_block++;
      if (gro_off_pending_) try_gro_off();  // the queue was just empty: the moment to switch
      result.status = IoStatus::kWouldBlock;
      result.error = SysError::make(e, "recvmmsg");
      return result;
    }
    // A pending ICMP error: the kernel hands it out once, instead of data (which stays
    // queued): __skb_recv_udp (net/ipv4/udp.c, also for IPv6, as of Linux 6.18) returns
    // sock_error() before it looks at the queue, and do_recvmmsg (net/socket.c) returns it
    // only when no datagram was read yet. Its details are on the error queue: drain that, then
    // read on. Bounded so a storm of errors cannot keep this loop spinning.
    if (is_icmp_error(e) && peer_errors < 8) {
      peer_errors++;
      stats.errors.add(e);
      on_peer_error(e, "recvmmsg", peer_.empty() ? nullptr : &peer_);
      continue;
    }
    release_from(0, slots);
    if (is_icmp_error(e)) return result;  // kOk, nothing read: the caller may try again
    result.status = IoStatus::kError;
    result.error = SysError::make(e, "recvmmsg");
    return result;
  }

  for (int i = 0; i < n; i++) {
    Slot* slot = recv_slots_[i];
    recv_slots_[i] = nullptr;
    const mmsghdr& m = recv_msgs_[i];
    const msghdr& h = m.msg_hdr;
    const uint32_t len = m.msg_len;
    stats.messages++;
    if (h.msg_flags & MSG_TRUNC) {
      stats.dropped_truncated++;
      BufferPool::unref(slot);
      continue;
    }
    int32_t gro_size = 0;  // UDP_GRO cmsg: 0 = not coalesced
    IpEndpoint local;
    uint8_t ecn = 0;
    for (cmsghdr* cm = CMSG_FIRSTHDR(&h); cm; cm = CMSG_NXTHDR(const_cast<msghdr*>(&h), cm)) {
      if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
        std::memcpy(&gro_size, CMSG_DATA(cm), sizeof gro_size);
      } else if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
        in_pktinfo pi;
        std::memcpy(&pi, CMSG_DATA(cm), sizeof pi);
        // ipi_spec_dst, not ipi_addr: the local address to answer from (they differ only for
        // broadcast/multicast destinations, which are not valid sources).
        local.family = 4;
        std::memcpy(local.addr, &pi.ipi_spec_dst, 4);
        local.ifindex = static_cast<uint32_t>(pi.ipi_ifindex);
      } else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
        in6_pktinfo pi;
        std::memcpy(&pi, CMSG_DATA(cm), sizeof pi);
        set_endpoint_address(local, pi.ipi6_addr);
        local.ifindex = pi.ipi6_ifindex;
      } else if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_RXQ_OVFL) {
        uint32_t drops;
        std::memcpy(&drops, CMSG_DATA(cm), sizeof drops);
        if (drops > stats.kernel_drops) stats.kernel_drops = drops;  // cumulative per socket
      } else if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_TOS) {
        ecn = *CMSG_DATA(cm) & 0x3;  // one byte on receive
      } else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_TCLASS) {
        int v;
        std::memcpy(&v, CMSG_DATA(cm), sizeof v);
        ecn = static_cast<uint8_t>(v & 0x3);
      }
    }
    if ((h.msg_flags & MSG_CTRUNC) && features_.gro) {
      // The GRO segment size may be what got cut off: splitting wrongly would hand the
      // tunnel garbage datagrams, so this read is dropped (cannot happen with our buffer size).
      stats.dropped_ctrunc++;
      BufferPool::unref(slot);
      continue;
    }
    const UdpGroSplit split(len, gro_size);
    const uint32_t count = split.count();
    if (count > 1) stats.gro_reads++;
    emit(slot, h, len, split, local, ecn);  // takes the slot's reference
    stats.datagrams += count;
    stats.bytes += len;
    result.done += count;
  }
  release_from(static_cast<size_t>(n), slots);
  return result;
}

// --- send ------------------------------------------------------------------------------------

size_t UdpSocket::fill_send_cmsgs(size_t m, const Packet& first, const IpEndpoint& dest) {
  CmsgWriter out(&send_cmsg_[m * kSendCmsgSpace], kSendCmsgSpace);
  const SendGroup& g = plan_[m];
  if (g.gso_size) {
    const uint16_t size = g.gso_size;
    out.put(SOL_UDP, UDP_SEGMENT, &size, sizeof size);
  }
  // Which IP layer handles this datagram: an IPv4 destination on a dual-stack socket takes
  // the IPv4 path, which reads only SOL_IP options (plus IPV6_PKTINFO).
  const uint8_t path = dest.empty() ? (peer_.empty() ? (family_ == AF_INET ? 4 : 6) : peer_.family)
                                    : dest.family;
  // The source to send from (a received datagram's destination: the reply leaves from the
  // address the peer used). One of the other family cannot source this datagram: left out.
  if (first.local.family == 4 && path == 4) {
    in_pktinfo pi{};
    pi.ipi_ifindex = static_cast<int>(first.local.ifindex);
    std::memcpy(&pi.ipi_spec_dst, first.local.addr, 4);
    out.put(IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi);
  } else if (first.local.family == 6 && path == 6) {
    in6_pktinfo pi{};
    std::memcpy(&pi.ipi6_addr, first.local.addr, 16);
    pi.ipi6_ifindex = first.local.ifindex;
    out.put(IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof pi);
  }
  if (first.ecn) {
    const int tos = first.ecn & 0x3;
    if (path == 4) {
      out.put(IPPROTO_IP, IP_TOS, &tos, sizeof tos);
    } else {
      out.put(IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos);
    }
  }
  // kSendCmsgSpace is checked at compile time against the largest set (udp_socket.h); a
  // refusal here means that check and this function disagree: count it, never overrun.
  if (out.overflowed()) cmsg_overflows_++;
  return out.size();
}

void UdpSocket::build_send_messages(const Packet* pkts, const IpEndpoint* default_to) {
  size_t iov = 0;
  for (size_t m = 0; m < plan_.size(); m++) {
    const SendGroup& g = plan_[m];
    msghdr& h = send_msgs_[m].msg_hdr;
    send_msgs_[m].msg_len = 0;
    h.msg_flags = 0;
    h.msg_iov = &send_iov_[iov];
    h.msg_iovlen = 0;
    h.msg_control = nullptr;
    h.msg_controllen = 0;
    h.msg_name = nullptr;
    h.msg_namelen = 0;
    if (g.invalid) continue;
    const Packet& first = pkts[g.first];
    const IpEndpoint& dest = send_destination(first, default_to);
    const socklen_t nl = endpoint_to_sockaddr(dest, family_, &send_names_[m]);
    if (nl) {
      h.msg_name = &send_names_[m];
      h.msg_namelen = nl;
    }
    // Scatter-gather straight from the packets; packets that sit back to back in one slot
    // (segments of one superpacket) collapse into one iovec.
    size_t used = 0;
    for (uint32_t k = g.first; k < g.first + g.count; k++) {
      const Packet& p = pkts[k];
      uint8_t* base = p.valid() ? p.data() : nullptr;
      if (used > 0) {
        iovec& last = send_iov_[iov + used - 1];
        if (base && last.iov_base &&
            static_cast<uint8_t*>(last.iov_base) + last.iov_len == base) {
          last.iov_len += p.length;
          continue;
        }
      }
      send_iov_[iov + used].iov_base = base;
      send_iov_[iov + used].iov_len = p.length;
      used++;
    }
    h.msg_iovlen = used;
    iov += used;
    const size_t clen = fill_send_cmsgs(m, first, dest);
    if (clen) {
      h.msg_control = &send_cmsg_[m * kSendCmsgSpace];
      h.msg_controllen = clen;
    }
  }
}

// --- send: one call of send_batch, in rounds of planned messages ---------------------------
//
// Each round plans up to batch_ messages from the packets not consumed yet, then sends the runs
// of valid messages between invalid ones, each run with one sendmsg/sendmmsg. A syscall that
// fails stops at its first failing message; on_send_refused() decides what that refusal means
// (the kernel behaviour it follows is cited where it decides), and whether the round goes on
// with the same or the next message, plans again from the first packet not consumed (after a
// fallback changed what the packets need), or ends the call.

// The progress of one send_batch call, shared by its steps.
struct UdpSocket::SendRound {
  std::vector<Packet>& pkts;
  const IpEndpoint* default_to;
  SendStats& stats;
  IoResult result;
  size_t consumed = 0;  // packets [0, consumed) are sent or dropped
  size_t base = 0;      // the plan's packet 0 is pkts[base]
  size_t retried_m = SIZE_MAX;  // the message being re-sent after pending errors, and how often
  int retries = 0;
  bool stop = false;    // the caller must see result.status before anything more is sent

  SendRound(std::vector<Packet>& p, const IpEndpoint* to, SendStats& s) : pkts(p), default_to(to), stats(s) {}
  const Packet& first_of(const SendGroup& g) const { return pkts[base + g.first]; }
  void consume(const SendGroup& g) { consumed = base + g.first + g.count; }
};

IoResult UdpSocket::send_batch(std::vector<Packet>& pkts, const IpEndpoint* default_to,
                               SendStats& stats) {
  SendRound r(pkts, default_to, stats);
  while (!r.stop && r.consumed < pkts.size()) {
    plan_round(r);
    send_round(r);
  }
  pkts.erase(pkts.begin(), pkts.begin() + static_cast<std::ptrdiff_t>(r.consumed));
  r.result.done = r.consumed;
  return r.result;
}

SendPlanLimits UdpSocket::send_plan_limits(SendStats& stats) {
  SendPlanLimits limits;
  limits.gso = features_.gso;
  // A lowered segment limit is probed upward again after a back-off (GsoSegmentLimit).
  if (segment_limit_.waiting_for_probe()) {
    features_.max_gso_segments = segment_limit_.limit(monotonic_ms());
    stats.segment_limit = segment_limit_.stats();
  }
  limits.max_segments = features_.max_gso_segments;
  limits.max_messages = batch_;
  if (!gso_backoff_.empty()) {
    limits.backoff = &gso_backoff_;
    limits.now_ms = monotonic_ms();
    limits.peer = &peer_;
  }
  return limits;
}

void UdpSocket::plan_round(SendRound& r) {
  r.base = r.consumed;
  r.retried_m = SIZE_MAX;
  r.retries = 0;
  // Plan at most batch_ messages from a window of packets wide enough for batch_ runs: the
  // next round starts at the first packet they did not cover, so no run is cut short by the
  // window unless batch_ messages of kSendWindowPerMessage datagrams each did not fill it.
  const size_t window = std::min<size_t>(r.pkts.size() - r.base, send_window_);
  plan_udp_sends(r.pkts.data() + r.base, window, r.default_to, send_plan_limits(r.stats), plan_);
  build_send_messages(r.pkts.data() + r.base, r.default_to);
}

void UdpSocket::send_round(SendRound& r) {
  size_t m = 0;
  while (m < plan_.size()) {
    if (plan_[m].invalid) {
      drop_invalid(r, m++);
      continue;
    }
    size_t end = m + 1;
    while (end < plan_.size() && !plan_[end].invalid) end++;
    const SendCall call = send_messages(m, end, r.stats);
    if (call.sent > 0) {
      // sendmmsg stops at the first failing message and returns the count before it; the
      // next call starts at that message and gets its error directly.
      account_sent(r, m, static_cast<size_t>(call.sent));
      m += static_cast<size_t>(call.sent);
      continue;
    }
    switch (on_send_refused(r, m, call.err, call.name)) {
      case SendNext::kContinue: break;
      case SendNext::kReplan: return;
      case SendNext::kStop: r.stop = true; return;
    }
  }
}

UdpSocket::SendCall UdpSocket::send_messages(size_t m, size_t end, SendStats& stats) {
  SendCall call;
  if (end - m == 1) {
    call.name = "sendmsg";
    stats.sendmsg_calls++;
    call.sent = send_calls_->sendmsg(fd_.get(), &send_msgs_[m].msg_hdr, 0) >= 0 ? 1 : -1;
  } else {
    call.name = "sendmmsg";
    stats.sendmmsg_calls++;
    call.sent = send_calls_->sendmmsg(fd_.get(), &send_msgs_[m], static_cast<unsigned>(end - m), 0);
  }
  if (call.sent < 0) call.err = errno;
  // sendmmsg never returns 0 for vlen >= 1; if it ever did, looping would spin.
  if (call.sent == 0) call.err = EAGAIN;
  return call;
}

const IpEndpoint& UdpSocket::send_dest(const SendRound& r, size_t m) const {
  const IpEndpoint& dest = send_destination(r.first_of(plan_[m]), r.default_to);
  return dest.empty() ? peer_ : dest;
}

// Messages [m, m + count) went out. One call for the whole run that a syscall took, with the
// datagram and byte counts summed in locals: called per message, with the sums going through
// SendRound's references (which the compiler must reload after every store), this cost about
// 50 instructions per datagram without GSO, where every message is one datagram
// (bench/datapath-instructions.js, docs/bench/send-path-instructions.md).
void UdpSocket::account_sent(SendRound& r, size_t m, size_t count) {
  const Packet* pkts = r.pkts.data() + r.base;
  uint64_t datagrams = 0;
  uint64_t bytes = 0;
  const size_t end = m + count;
  for (; m < end; m++) {
    const SendGroup& g = plan_[m];
    datagrams += g.count;
    for (uint32_t k = g.first; k < g.first + g.count; k++) bytes += pkts[k].length;
    if (g.gso_size) {
      r.stats.gso_sends++;
      r.stats.gso_segments += g.count;
      if (!gso_backoff_.empty()) gso_backoff_.on_sent(send_dest(r, m));  // a probe went out
      if (g.count > 1 && !segment_limit_.steady()) {
        segment_limit_.on_sent(g.count, monotonic_ms());
        features_.max_gso_segments = segment_limit_.current();
        r.stats.segment_limit = segment_limit_.stats();
      }
    }
  }
  r.stats.datagrams += datagrams;
  r.stats.bytes += bytes;
  r.consume(plan_[end - 1]);
}

void UdpSocket::drop_invalid(SendRound& r, size_t m) {
  const SendGroup& g = plan_[m];
  r.stats.dropped_invalid += g.count;
  r.result.dropped += g.count;
  r.consume(g);
}

void UdpSocket::drop_for_peer(SendRound& r, size_t m, int err, const char* call, bool reported) {
  const SendGroup& g = plan_[m];
  r.stats.dropped.add(err, g.count);
  if (!reported) record_error(err, call, &send_dest(r, m));
  r.result.dropped += g.count;
  r.consume(g);
}

UdpSocket::SendNext UdpSocket::on_send_refused(SendRound& r, size_t& m, int err, const char* call) {
  if (err == EINTR) return SendNext::kContinue;
  if (err == EAGAIN || err == EWOULDBLOCK) {
    r.stats.would_block++;
    r.result.status = IoStatus::kWouldBlock;
    r.result.error = SysError::make(err, call);
    return SendNext::kStop;
  }
  // ENOBUFS: skb allocation or a device queue refused, or a qdisc dropped the datagram. The
  // last is reported only because IP_RECVERR is on: udp_send_skb (net/ipv4/udp.c; the same in
  // udp_v6_send_skb, net/ipv6/udp.c, Linux 4.18 to 6.18) turns `-ENOBUFS && !recverr` into a
  // silent success counted in SNDBUFERRORS. In every case this message did not go out: the
  // caller retries it shortly, so a full qdisc costs a retry, not a lost datagram.
  if (err == ENOBUFS || err == ENOMEM) {
    r.stats.no_buffers++;
    r.result.status = IoStatus::kNoBuffers;
    r.result.error = SysError::make(err, call);
    return SendNext::kStop;
  }
  if (is_fatal_send_error(err)) {
    r.result.status = IoStatus::kError;
    r.result.error = SysError::make(err, call);
    return SendNext::kStop;
  }
  ErrorDrain drain;
  if (is_icmp_error(err) && retry_after_pending_error(r, m, err, call, &drain)) return SendNext::kContinue;
  // A local error entry with this errno was just recorded (EMSGSIZE + MTU): that is the
  // report of this very failure, so it is not reported twice.
  const bool reported = drain.local > 0 && drain.local_err == err;
  if (source_refused(r, m, err)) {
    fall_back_to_route_source(r, m);
    return SendNext::kReplan;
  }
  if ((err == EIO || err == EINVAL || err == EMSGSIZE) && plan_[m].gso_size) {
    fall_back_from_gso(r, m, err, call, reported);
    return SendNext::kReplan;
  }
  // Anything else concerns this datagram or its peer (no route: ENETUNREACH/EHOSTUNREACH,
  // a prohibit route: EACCES, EMSGSIZE, EPERM from a firewall, ...): drop it, count it,
  // report it (origin local), keep the socket and the rest of the batch going.
  drop_for_peer(r, m++, err, call, reported);
  return SendNext::kContinue;
}

bool UdpSocket::retry_after_pending_error(SendRound& r, size_t m, int err, const char* call, ErrorDrain* drain) {
  // With IP_RECVERR every ICMP error about an EARLIER datagram (to any peer) also leaves a
  // pending socket error: __udp4_lib_err (net/ipv4/udp.c; __udp6_lib_err in net/ipv6/udp.c)
  // sets sk_err after queueing the entry, and the next send's skb allocation
  // (sock_alloc_send_pskb, net/core/sock.c, as of Linux 6.18) returns it instead of sending:
  // this message never left. The error's details and real peer are on the error queue: read
  // them, then send the very same message again. ECONNREFUSED and friends can only come from
  // ICMP, so they are pending errors even when their queue entry was lost. Bounded per
  // message, so an error storm cannot pin this loop.
  const IpEndpoint& dest = send_dest(r, m);
  *drain = drain_error_queue(dest.empty() ? nullptr : &dest);
  const bool pending = drain->icmp > 0 || only_from_icmp(err);
  if (r.retried_m != m) {
    r.retried_m = m;
    r.retries = 0;
  }
  if (!pending || r.retries >= kMaxPendingRetries) return false;
  r.retries++;
  r.stats.pending_errors++;
  if (drain->icmp == 0 && drain->local == 0) {
    // Lost entry: the errno is all there is, and for an unconnected socket not even whose
    // datagram it was (certainly not this message's: it was never sent).
    record_error_from_socket(err, call);
  }
  return true;
}

bool UdpSocket::source_refused(const SendRound& r, size_t m, int err) const {
  // The source these datagrams were to leave from (IP_PKTINFO, e.g. a received lease's
  // destination) may be no address of this host (any more): removed since, or another
  // socket's. IPv4 answers that with ENETUNREACH: the output route lookup for a source no
  // device has (ip_route_output_key_hash_rcu, net/ipv4/route.c, as of Linux 6.18) fails with
  // its default -ENETUNREACH. IPv6 answers EINVAL (ip6_datagram_send_ctl, net/ipv6/datagram.c:
  // IPV6_PKTINFO with an address this host does not have) or EADDRNOTAVAIL. EINVAL on a GSO
  // send is first taken for a path MTU refusal (fall_back_from_gso); its datagrams come back
  // here one by one if the source was the cause. If the source was not the cause, the retry
  // without one fails the same way and is handled as a peer error (one syscall more).
  const SendGroup& g = plan_[m];
  if (r.first_of(g).local.empty()) return false;
  return err == ENETUNREACH || err == EADDRNOTAVAIL || (err == EINVAL && g.gso_size == 0);
}

void UdpSocket::fall_back_to_route_source(SendRound& r, size_t m) {
  // Send them from the address the route picks instead, as wireguard-go clears a stale sticky
  // source: losing the reply would be worse than its source changing.
  const SendGroup& g = plan_[m];
  for (uint32_t k = g.first; k < g.first + g.count; k++) r.pkts[r.base + k].local = IpEndpoint{};
  r.stats.source_fallbacks += g.count;
}

void UdpSocket::fall_back_from_gso(SendRound& r, size_t m, int err, const char* call, bool reported) {
  // The kernel refused the UDP_SEGMENT send as a whole (udp_send_skb, net/ipv4/udp.c, and
  // udp_v6_send_skb, net/ipv6/udp.c, check before anything is queued): none of its datagrams
  // left, and each of them alone can still go out (fragmented where larger than the path
  // MTU). Why it refused decides what changes (the kernel's reasons, by version, in
  // gso_backoff.h):
  const SendGroup& g = plan_[m];
  const IpEndpoint& dest = send_dest(r, m);
  r.stats.gso_fallbacks++;
  if (err == EINVAL && segment_limit_.on_einval(g.count)) {
    // Perhaps more segments than this kernel takes (`datalen > gso_size * UDP_MAX_SEGMENTS`;
    // UDP_MAX_SEGMENTS is 64 before v6.9, 128 from it): re-send in runs of at most 64. If one
    // of those goes out, that was it: the limit is lowered (and probed upward again later).
    // If it is refused with EINVAL too, the cause was something else (a blackhole route
    // answers EINVAL as well): the limit comes back.
    features_.max_gso_segments = segment_limit_.current();
  } else {
    segment_limit_.on_other_refusal();
    features_.max_gso_segments = segment_limit_.current();
    r.stats.segment_limit = segment_limit_.stats();
    // A segment larger than the path MTU (EMSGSIZE since v6.14's "udp: gso: do not drop small
    // packets when PMTU reduces", EINVAL before), or a route whose device cannot segment
    // (EIO: an xfrm route; before v6.11 also a device without checksum offload): suspend GSO
    // to this destination only, re-send these datagrams without it, and probe again after a
    // back-off.
    gso_backoff_.on_refused(dest, err, monotonic_ms());
    if (err != EIO) {
      // Too large for the path: a GSO refusal leaves no error-queue entry, so the path MTU
      // that caused it is read from the route (reported only when it changed).
      const uint32_t mtu = query_path_mtu(dest);
      if (mtu) path_mtu_.report(dest, mtu, MtuSource::kRoute);
    }
  }
  if (!reported) record_error(err, call, &dest);
}

}  // namespace tunio
