/* lwipopts.h, variant "tuned": a product-style build tuned for throughput:
 * TCP_MSS 1460, a 70 KB receive window with window scaling (LWIP_WND_SCALE,
 * TCP_RCV_SCALE 2), SACK blocks sent for out-of-order data (LWIP_TCP_SACK_OUT),
 * a 46 KB send buffer and more pcbs. Timers (TCP_MSL, SYNMAXRTX, MAXRTX) keep
 * their lwIP 2.1.3 defaults.
 * This file is self-contained: the build id hashes it. */
#ifndef HILBENCH_LWIPOPTS_H
#define HILBENCH_LWIPOPTS_H

#define HB_VARIANT "tuned"

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
#define MEM_SIZE                  (256 * 1024)
#define MEMP_NUM_PBUF             64
#define MEMP_NUM_UDP_PCB          8
#define MEMP_NUM_TCP_SEG          256
#define PBUF_POOL_SIZE            128
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

/* ---- TCP: tuned ---- */
#define TCP_MSS                   1460
#define LWIP_WND_SCALE            1
#define TCP_RCV_SCALE             2
#define TCP_WND                   (48 * TCP_MSS)
#define TCP_SND_BUF               (32 * TCP_MSS)
#define TCP_SND_QUEUELEN          ((4 * (TCP_SND_BUF) + (TCP_MSS - 1)) / (TCP_MSS))
#define LWIP_TCP_SACK_OUT         1
#define MEMP_NUM_TCP_PCB          16
#define MEMP_NUM_TCP_PCB_LISTEN   16
#define TCP_OVERSIZE              TCP_MSS

#endif
