// C reference for bench/udp.js: the same traffic tunio's UDP path produces, written directly
// against the kernel. Sender: sendmsg with UDP_SEGMENT (up to 44 x 1400 bytes per call).
// Receiver: recvmmsg (64 messages of 64 KiB) with UDP_GRO. Prints one JSON line when done.
//   udp_reference send <dst-ip> <port> <size> <seconds>
//   udp_reference recv <bind-ip> <port> <seconds>
#include "reference_common.h"

#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int do_send(const char* ip, int port, int size, double seconds) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, ip, &dst.sin_addr);
  int sndbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  int segs = 65507 / size;
  if (segs > 64) segs = 64;
  size_t total = (size_t)segs * size;
  char* buf = malloc(total);
  memset(buf, 0xab, total);
  char ctrl[CMSG_SPACE(sizeof(uint16_t))];
  uint64_t sent = 0, calls = 0, errors = 0;
  double start = now(), end = start + seconds;
  while (now() < end) {
    for (int k = 0; k < 64; k++) {
      struct iovec iov = {buf, total};
      struct msghdr m = {.msg_name = &dst, .msg_namelen = sizeof dst, .msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = ctrl, .msg_controllen = sizeof ctrl};
      struct cmsghdr* c = CMSG_FIRSTHDR(&m);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      *(uint16_t*)CMSG_DATA(c) = (uint16_t)size;
      calls++;
      if (sendmsg(fd, &m, 0) < 0) {
        errors++;
        if (errno == ENOBUFS || errno == EAGAIN) { usleep(50); continue; }
      } else {
        sent += segs;
      }
    }
  }
  double el = now() - start;
  printf("{\"sent\":%llu,\"seconds\":%.4f,\"calls\":%llu,\"errors\":%llu}\n",
         (unsigned long long)sent, el, (unsigned long long)calls, (unsigned long long)errors);
  return 0;
}

static int do_recv(const char* ip, int port, double seconds) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, ip, &a.sin_addr);
  int one = 1, rcvbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) != 0) perror("UDP_GRO");
  if (bind(fd, (struct sockaddr*)&a, sizeof a) != 0) { perror("bind"); return 1; }
  struct timeval tv = {0, 100000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  enum { N = 64, SLOT = 65536 };
  char* bufs = malloc((size_t)N * SLOT);
  struct mmsghdr msgs[N];
  struct iovec iovs[N];
  char ctrls[N][CMSG_SPACE(sizeof(int))];
  printf("READY\n");
  fflush(stdout);
  uint64_t dgrams = 0, bytes = 0, calls = 0;
  double first = 0, last = 0, deadline = now() + seconds + 5;
  while (now() < deadline) {
    prepare_recvmmsg(msgs, iovs, N, bufs, SLOT, ctrls[0], sizeof ctrls[0]);
    int n = recvmmsg(fd, msgs, N, 0, NULL);
    calls++;
    if (n <= 0) {
      if (dgrams > 0 && now() - last > 0.3) break;  // the sender stopped
      continue;
    }
    double t = now();
    if (dgrams == 0) first = t;
    last = t;
    for (int i = 0; i < n; i++) {
      unsigned len = msgs[i].msg_len;
      int seg = 0;
      for (struct cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) seg = *(int*)CMSG_DATA(c);
      }
      dgrams += (seg > 0 && len > 0) ? (len + seg - 1) / seg : 1;
      bytes += len;
    }
  }
  printf("{\"datagrams\":%llu,\"bytes\":%llu,\"seconds\":%.4f,\"calls\":%llu}\n",
         (unsigned long long)dgrams, (unsigned long long)bytes, last - first, (unsigned long long)calls);
  return 0;
}

int main(int argc, char** argv) {
  if (argc >= 6 && strcmp(argv[1], "send") == 0) return do_send(argv[2], atoi(argv[3]), atoi(argv[4]), atof(argv[5]));
  if (argc >= 5 && strcmp(argv[1], "recv") == 0) return do_recv(argv[2], atoi(argv[3]), atof(argv[4]));
  fprintf(stderr, "usage: %s send <ip> <port> <size> <seconds> | recv <ip> <port> <seconds>\n", argv[0]);
  return 2;
}
