/* lwipopts.h, variant "stock": lwIP 2.1.3 opt.h defaults for every TCP protocol
 * constant (TCP_MSS 536, TCP_WND 4*TCP_MSS, TCP_SND_BUF 2*TCP_MSS, TCP_MSL 60 s,
 * TCP_SYNMAXRTX 6, TCP_MAXRTX 12, MEMP_NUM_TCP_PCB 5, no window scaling, no
 * SACK). Only the memory pools are sized for the bench (1 MiB transfers).
 * This file is self-contained: the build id hashes it. */
#ifndef HILBENCH_LWIPOPTS_H
#define HILBENCH_LWIPOPTS_H

#define HB_VARIANT "stock"

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

/* ---- TCP: opt.h defaults (nothing defined here) ---- */

#endif
