/* Register map of the QEMU mps2-an385 peripherals used by the firmware. */
#ifndef HW_H
#define HW_H

#include <stdint.h>

#define REG32(addr) (*(volatile uint32_t *)(addr))

/* ---- System clock: PCLK of the APB peripherals ---- */
#define SYSCLK_HZ 25000000u

/* ---- NVIC / SCB ---- */
#define NVIC_ISER0   REG32(0xE000E100)
#define NVIC_ICER0   REG32(0xE000E180)
#define NVIC_ICPR0   REG32(0xE000E280)
#define SCB_VTOR     REG32(0xE000ED08)
#define SCB_AIRCR    REG32(0xE000ED0C)
#define AIRCR_VECTKEY   (0x05FAu << 16)
#define AIRCR_SYSRESETREQ (1u << 2)

/* IRQ numbers (mps2-an385) */
#define IRQ_UART0_RX 0
#define IRQ_UART0_TX 1
#define IRQ_TIMER0   8
#define IRQ_TIMER1   9
#define IRQ_ETH      13

/* ---- CMSDK APB UART ---- */
#define UART0_BASE 0x40004000u
#define UART_DATA(b)     REG32((b) + 0x00)
#define UART_STATE(b)    REG32((b) + 0x04)
#define UART_CTRL(b)     REG32((b) + 0x08)
#define UART_INTSTATUS(b) REG32((b) + 0x0C)
#define UART_BAUDDIV(b)  REG32((b) + 0x10)
#define UART_STATE_TXFULL (1u << 0)
#define UART_STATE_RXFULL (1u << 1)
#define UART_CTRL_TXEN    (1u << 0)
#define UART_CTRL_RXEN    (1u << 1)
#define UART_CTRL_TXIE    (1u << 2)
#define UART_CTRL_RXIE    (1u << 3)
#define UART_INT_TX       (1u << 0)
#define UART_INT_RX       (1u << 1)

/* ---- CMSDK APB timers ---- */
#define TIMER0_BASE 0x40000000u
#define TIMER1_BASE 0x40001000u
#define TIMER_CTRL(b)    REG32((b) + 0x00)
#define TIMER_VALUE(b)   REG32((b) + 0x04)
#define TIMER_RELOAD(b)  REG32((b) + 0x08)
#define TIMER_INT(b)     REG32((b) + 0x0C)
#define TIMER_CTRL_EN    (1u << 0)
#define TIMER_CTRL_IE    (1u << 3)

/* ---- SMSC LAN9118 ---- */
#define ETH_BASE 0x40200000u
#define ETH_RX_DATA_FIFO   REG32(ETH_BASE + 0x00)
#define ETH_TX_DATA_FIFO   REG32(ETH_BASE + 0x20)
#define ETH_RX_STATUS_FIFO REG32(ETH_BASE + 0x40)
#define ETH_TX_STATUS_FIFO REG32(ETH_BASE + 0x48)
#define ETH_ID_REV         REG32(ETH_BASE + 0x50)
#define ETH_IRQ_CFG        REG32(ETH_BASE + 0x54)
#define ETH_INT_STS        REG32(ETH_BASE + 0x58)
#define ETH_INT_EN         REG32(ETH_BASE + 0x5C)
#define ETH_BYTE_TEST      REG32(ETH_BASE + 0x64)
#define ETH_FIFO_INT       REG32(ETH_BASE + 0x68)
#define ETH_RX_CFG         REG32(ETH_BASE + 0x6C)
#define ETH_TX_CFG         REG32(ETH_BASE + 0x70)
#define ETH_HW_CFG         REG32(ETH_BASE + 0x74)
#define ETH_RX_FIFO_INF    REG32(ETH_BASE + 0x7C)
#define ETH_TX_FIFO_INF    REG32(ETH_BASE + 0x80)
#define ETH_PMT_CTRL       REG32(ETH_BASE + 0x84)
#define ETH_RX_DROP        REG32(ETH_BASE + 0xA0)
#define ETH_MAC_CSR_CMD    REG32(ETH_BASE + 0xA4)
#define ETH_MAC_CSR_DATA   REG32(ETH_BASE + 0xA8)

#define ETH_BYTE_TEST_VALUE 0x87654321u
#define ETH_ID_CHIP_9118    0x0118u

#define IRQ_CFG_IRQ_EN   (1u << 8)
#define IRQ_CFG_IRQ_POL  (1u << 4)   /* active high */
#define IRQ_CFG_IRQ_TYPE (1u << 0)   /* push-pull */

#define INT_RSFL  (1u << 3)    /* RX status FIFO level */
#define INT_RXDF  (1u << 6)    /* RX dropped frame */
#define INT_TSFF  (1u << 8)    /* TX status FIFO full */
#define INT_TDFO  (1u << 10)   /* TX data FIFO overrun */
#define INT_TXE   (1u << 13)   /* transmitter error */
#define INT_RXE   (1u << 14)   /* receiver error */

#define HW_CFG_SRST      (1u << 0)
#define PMT_CTRL_READY   (1u << 0)
#define TX_CFG_TX_ON     (1u << 1)

#define MAC_CSR_BUSY     (1u << 31)
#define MAC_CSR_READ     (1u << 30)
#define MAC_CR     1
#define MAC_ADDRH  2
#define MAC_ADDRL  3
#define MAC_MII_ACC  6
#define MAC_MII_DATA 7
#define MAC_CR_FDPX  (1u << 20)
#define MAC_CR_TXEN  (1u << 3)
#define MAC_CR_RXEN  (1u << 2)

#define TXCMD_A_FIRST (1u << 13)
#define TXCMD_A_LAST  (1u << 12)
#define RXSTS_ES      (1u << 15)   /* error summary */
#define TXSTS_ES      (1u << 15)

static inline void nvic_enable(unsigned irq) { NVIC_ISER0 = 1u << irq; }
static inline void irq_disable(void) { __asm volatile("cpsid i" ::: "memory"); }
static inline void irq_enable(void) { __asm volatile("cpsie i" ::: "memory"); }
static inline void cpu_wfi(void) { __asm volatile("wfi" ::: "memory"); }

#endif
