#ifndef BOARD_H
#define BOARD_H
#include <stdint.h>

void board_init(void);
uint32_t board_ms(void);          /* free-running ms clock (Timer0 based) */
void board_reset(void) __attribute__((noreturn));
void board_fault(void) __attribute__((noreturn));

/* UART0 console */
void uart_init(void);
void uart_putc(char c);
void uart_write(const char *s, unsigned n);
int uart_getc(void);              /* -1 when the RX ring is empty */
uint32_t uart_rx_overruns(void);

/* wake-up flags set by interrupts, consumed by the main loop */
extern volatile uint32_t g_wake_tick;
extern volatile uint32_t g_wake_eth;
int board_has_work(void);
void board_idle(void);            /* WFI unless work is pending */

#endif
