/* SMSC LAN9118 driver (as QEMU's mps2-an385 models it) and lwIP netif glue.
 * RX: RX_FIFO_INF / RX_STATUS_FIFO / RX_DATA_FIFO, drained from the main loop
 * after the RSFL interrupt wakes it. TX: command words A/B then the frame through
 * TX_DATA_FIFO, after checking TX_FIFO_INF for space; TX_STATUS drained. */
#include <string.h>
#include "hw.h"
#include "lan9118.h"
#include "board.h"
#include "lwip/opt.h"
#include "lwip/pbuf.h"
#include "lwip/stats.h"
#include "lwip/etharp.h"
#include "netif/ethernet.h"

struct lan9118_stats g_eth_stats;

#define RX_DATA_FIFO_BYTES 10560u  /* 2640 words in QEMU's model */
#define MAX_FRAME 1536u

static uint32_t frame_buf[MAX_FRAME / 4 + 2];

static uint32_t mac_read(uint32_t reg)
{
    ETH_MAC_CSR_CMD = MAC_CSR_BUSY | MAC_CSR_READ | (reg & 0xffu);
    for (int i = 0; i < 100000 && (ETH_MAC_CSR_CMD & MAC_CSR_BUSY); i++) {
    }
    return ETH_MAC_CSR_DATA;
}

static void mac_write(uint32_t reg, uint32_t val)
{
    ETH_MAC_CSR_DATA = val;
    ETH_MAC_CSR_CMD = MAC_CSR_BUSY | (reg & 0xffu);
    for (int i = 0; i < 100000 && (ETH_MAC_CSR_CMD & MAC_CSR_BUSY); i++) {
    }
}

static uint32_t phy_read(uint32_t reg)
{
    /* PHY address 1, MIIBZY set, read */
    mac_write(MAC_MII_ACC, (1u << 11) | ((reg & 0x1fu) << 6) | 1u);
    for (int i = 0; i < 100000 && (mac_read(MAC_MII_ACC) & 1u); i++) {
    }
    return mac_read(MAC_MII_DATA) & 0xffffu;
}

int lan9118_link_up(void)
{
    return (phy_read(1) & (1u << 2)) ? 1 : 0;
}

void eth_irq(void)
{
    uint32_t sts = ETH_INT_STS;
    if (sts & INT_RXDF) {
        g_eth_stats.int_rxdf++;
    }
    if (sts & INT_RXE) {
        g_eth_stats.int_rxe++;
    }
    if (sts & INT_TXE) {
        g_eth_stats.int_txe++;
    }
    ETH_INT_STS = sts;   /* write 1 to clear */
    g_wake_eth = 1;
}

int lan9118_probe(uint8_t mac[6], uint32_t *id_rev)
{
    if (ETH_BYTE_TEST != ETH_BYTE_TEST_VALUE) {
        return -1;
    }
    *id_rev = ETH_ID_REV;
    if ((*id_rev >> 16) != ETH_ID_CHIP_9118) {
        return -2;
    }
    /* wait until the chip is ready (PMT_CTRL.READY) */
    int i;
    for (i = 0; i < 1000000 && !(ETH_PMT_CTRL & PMT_CTRL_READY); i++) {
    }
    if (!(ETH_PMT_CTRL & PMT_CTRL_READY)) {
        return -3;
    }
    /* soft reset keeps the MAC address loaded from the EEPROM (QEMU: -nic mac=) */
    ETH_HW_CFG = HW_CFG_SRST;
    for (i = 0; i < 1000000 && (ETH_HW_CFG & HW_CFG_SRST); i++) {
    }
    for (i = 0; i < 1000000 && !(ETH_PMT_CTRL & PMT_CTRL_READY); i++) {
    }
    uint32_t lo = mac_read(MAC_ADDRL);
    uint32_t hi = mac_read(MAC_ADDRH);
    mac[0] = (uint8_t)lo;
    mac[1] = (uint8_t)(lo >> 8);
    mac[2] = (uint8_t)(lo >> 16);
    mac[3] = (uint8_t)(lo >> 24);
    mac[4] = (uint8_t)hi;
    mac[5] = (uint8_t)(hi >> 8);
    return 0;
}

static void tx_status_drain(void)
{
    while ((ETH_TX_FIFO_INF >> 16) & 0xffu) {
        uint32_t st = ETH_TX_STATUS_FIFO;
        if (st & TXSTS_ES) {
            g_eth_stats.tx_errors++;
        }
    }
}

static err_t lan9118_output(struct netif *netif, struct pbuf *p)
{
    (void)netif;
    uint32_t len = p->tot_len;
    if (len > MAX_FRAME - 4u) {
        g_eth_stats.tx_errors++;
        LINK_STATS_INC(link.err);
        return ERR_IF;
    }
    pbuf_copy_partial(p, frame_buf, (u16_t)len, 0);
    uint32_t words = (len + 3u) / 4u;
    /* space for the two command words and the data */
    uint32_t need = words * 4u + 8u;
    if ((ETH_TX_FIFO_INF & 0xffffu) < need) {
        g_eth_stats.tx_fifo_wait++;
        int i;
        for (i = 0; i < 1000000 && (ETH_TX_FIFO_INF & 0xffffu) < need; i++) {
            tx_status_drain();
        }
        if ((ETH_TX_FIFO_INF & 0xffffu) < need) {
            g_eth_stats.tx_fifo_timeout++;
            g_eth_stats.tx_errors++;
            LINK_STATS_INC(link.drop);
            return ERR_MEM;
        }
    }
    static uint16_t tag;
    tag++;
    ETH_TX_DATA_FIFO = TXCMD_A_FIRST | TXCMD_A_LAST | len;
    ETH_TX_DATA_FIFO = ((uint32_t)tag << 16) | len;
    for (uint32_t i = 0; i < words; i++) {
        ETH_TX_DATA_FIFO = frame_buf[i];
    }
    tx_status_drain();
    g_eth_stats.tx_frames++;
    LINK_STATS_INC(link.xmit);
    return ERR_OK;
}

void lan9118_poll(struct netif *netif)
{
    uint32_t inf = ETH_RX_FIFO_INF;
    if ((inf & 0xffffu) + MAX_FRAME > RX_DATA_FIFO_BYTES) {
        g_eth_stats.rx_fifo_full++;
    }
    while ((inf >> 16) & 0xffu) {
        uint32_t st = ETH_RX_STATUS_FIFO;
        uint32_t len = (st >> 16) & 0x3fffu;   /* includes the 4-byte CRC */
        uint32_t words = (len + 3u) / 4u;
        if ((st & RXSTS_ES) || len < 18u || len > MAX_FRAME) {
            for (uint32_t i = 0; i < words; i++) {
                (void)ETH_RX_DATA_FIFO;
            }
            g_eth_stats.rx_errors++;
            LINK_STATS_INC(link.err);
        } else {
            for (uint32_t i = 0; i < words; i++) {
                frame_buf[i] = ETH_RX_DATA_FIFO;
            }
            uint16_t flen = (uint16_t)(len - 4u);
            struct pbuf *p = pbuf_alloc(PBUF_RAW, flen, PBUF_POOL);
            if (p == NULL) {
                g_eth_stats.rx_dropped++;
                LINK_STATS_INC(link.memerr);
                LINK_STATS_INC(link.drop);
            } else {
                pbuf_take(p, frame_buf, flen);
                g_eth_stats.rx_frames++;
                LINK_STATS_INC(link.recv);
                if (netif->input(p, netif) != ERR_OK) {
                    pbuf_free(p);
                }
            }
        }
        inf = ETH_RX_FIFO_INF;
    }
    g_eth_stats.rx_hw_dropped += ETH_RX_DROP;
}

err_t lan9118_netif_init(struct netif *netif)
{
    netif->name[0] = 'e';
    netif->name[1] = '0';
    netif->output = etharp_output;
    netif->linkoutput = lan9118_output;
    netif->mtu = 1500;
    netif->hwaddr_len = 6;
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;

    /* MAC: full duplex, TX and RX enabled; exact address filter, broadcast on */
    mac_write(MAC_CR, MAC_CR_FDPX | MAC_CR_TXEN | MAC_CR_RXEN);
    ETH_TX_CFG = TX_CFG_TX_ON;
    ETH_RX_CFG = 0;
    ETH_FIFO_INT = 0x48000000u;   /* RX status level 0: interrupt per frame */
    ETH_INT_STS = 0xffffffffu;
    ETH_INT_EN = INT_RSFL | INT_RXDF | INT_RXE | INT_TXE | INT_TDFO | INT_TSFF;
    ETH_IRQ_CFG = IRQ_CFG_IRQ_EN | IRQ_CFG_IRQ_POL | IRQ_CFG_IRQ_TYPE;
    nvic_enable(IRQ_ETH);
    return ERR_OK;
}
