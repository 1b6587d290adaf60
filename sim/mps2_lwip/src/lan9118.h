#ifndef LAN9118_H
#define LAN9118_H
#include <stdint.h>
#include "lwip/netif.h"

struct lan9118_stats {
    uint32_t rx_frames, tx_frames;
    uint32_t rx_errors, tx_errors;
    uint32_t rx_dropped;      /* no pbuf for a received frame */
    uint32_t rx_fifo_full;    /* RX data FIFO found without room for a full frame */
    uint32_t rx_hw_dropped;   /* RX_DROP register (frames the MAC dropped) */
    uint32_t tx_fifo_wait;    /* TX had to wait for TX data FIFO space */
    uint32_t tx_fifo_timeout; /* ... and gave up */
    uint32_t int_rxdf, int_rxe, int_txe;
};

extern struct lan9118_stats g_eth_stats;

/* 0 on success, <0 when the chip is not found */
int lan9118_probe(uint8_t mac[6], uint32_t *id_rev);
err_t lan9118_netif_init(struct netif *netif);
void lan9118_poll(struct netif *netif);   /* drain the RX FIFO into lwIP */
int lan9118_link_up(void);

#endif
