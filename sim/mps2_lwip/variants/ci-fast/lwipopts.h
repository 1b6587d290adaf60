/* lwipopts.h, variant "ci-fast": the "stock" build with timers short enough for
 * CI: TCP_MSL 1 s (TIME_WAIT = 2*TCP_MSL = 2 s). (TCP_FIN_WAIT_TIMEOUT is not
 * overridable in lwIP 2.1.3: tcp_priv.h defines it unconditionally, 20 s.)
 * Every other TCP constant keeps its lwIP 2.1.3 opt.h default (TCP_MSS 536,
 * TCP_WND 4*TCP_MSS, TCP_SND_BUF 2*TCP_MSS, TCP_SYNMAXRTX 6, TCP_MAXRTX 12,
 * MEMP_NUM_TCP_PCB 5, no window scaling, no SACK).
 * This file is self-contained: the build id hashes it. */
#ifndef HILBENCH_LWIPOPTS_H
#define HILBENCH_LWIPOPTS_H

#define HB_VARIANT "ci-fast"

/* ---- system ---- */
#define NO_SYS                    1
#define SYS_LIGHTWEIGHT_PROT      0
#define LWIP_SOCKET               0
#define LWIP_NETCONN              0
#define LWIP_NETIF_API            0
#define LWIP_SINGLE_NETIF         1
#define LWIP_HAVE_LOOPIF          0

/* ---- protocols ---- */
#define LWIP_IPV4                 1
#define LWIP_IPV6                 0
#define LWIP_ARP                  1
#define LWIP_ETHERNET             1
#define ARP_QUEUEING              1
#define LWIP_ICMP                 1
#define LWIP_UDP                  1
#define LWIP_TCP                  1
#define LWIP_RAW                  0
#define LWIP_DHCP                 0
#define LWIP_AUTOIP               0
#define LWIP_IGMP                 0
#define LWIP_DNS                  0
#define TCP_LISTEN_BACKLOG        1
#define LWIP_RANDOMIZE_INITIAL_LOCAL_PORTS 1

/* ---- memory (not TCP protocol constants) ---- */
#define MEM_ALIGNMENT             4
#define MEM_SIZE                  (64 * 1024)
#define MEMP_NUM_PBUF             32
#define MEMP_NUM_UDP_PCB          8
#define MEMP_NUM_TCP_SEG          64
#define PBUF_POOL_SIZE            48
#define PBUF_POOL_BUFSIZE         1536
#define ETH_PAD_SIZE              0
#define LWIP_CHKSUM_ALGORITHM     3

/* ---- statistics for the `counters` command ---- */
#define LWIP_STATS                1
#define LWIP_STATS_DISPLAY        0
#define LINK_STATS                1
#define ETHARP_STATS              1
#define IP_STATS                  1
#define ICMP_STATS                1
#define UDP_STATS                 1
#define TCP_STATS                 1
#define MEM_STATS                 1
#define MEMP_STATS                1

/* ---- TCP: opt.h defaults except the CI timers ---- */
#define TCP_MSL                   1000UL   /* ms; TIME_WAIT lasts 2*TCP_MSL */

#endif
