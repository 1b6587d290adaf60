/* Board support: UART0 console (interrupt-driven RX ring, polled TX that never
 * drops a byte), Timer0 as a free-running 25 MHz down-counter for the ms clock
 * (wrap-safe), Timer1 as a 10 ms wake-up tick, reset. */
#include "board.h"
#include "hw.h"

#define RX_RING_SIZE 1024u   /* power of two */
static volatile uint8_t rx_ring[RX_RING_SIZE];
static volatile uint32_t rx_head, rx_tail;  /* head: ISR writes, tail: main */
static volatile uint32_t rx_overruns;

volatile uint32_t g_wake_tick;
volatile uint32_t g_wake_eth;

static void uart_rx_drain(void)
{
    while (UART_STATE(UART0_BASE) & UART_STATE_RXFULL) {
        uint8_t c = (uint8_t)UART_DATA(UART0_BASE);
        uint32_t next = (rx_head + 1) & (RX_RING_SIZE - 1);
        if (next != rx_tail) {
            rx_ring[rx_head] = c;
            rx_head = next;
        } else {
            rx_overruns++;
        }
    }
}

void uart0_rx_irq(void)
{
    /* Clear first, then drain: a byte that arrives after the last RXFULL check
     * raises the interrupt again instead of being stranded in the holding
     * register (the UART then never receives another byte). */
    UART_INTSTATUS(UART0_BASE) = UART_INT_RX;
    uart_rx_drain();
}

void uart_init(void)
{
    UART_CTRL(UART0_BASE) = 0;
    UART_BAUDDIV(UART0_BASE) = SYSCLK_HZ / 115200u;
    UART_INTSTATUS(UART0_BASE) = UART_INT_RX | UART_INT_TX;
    UART_CTRL(UART0_BASE) = UART_CTRL_TXEN | UART_CTRL_RXEN | UART_CTRL_RXIE;
    nvic_enable(IRQ_UART0_RX);
}

void uart_putc(char c)
{
    while (UART_STATE(UART0_BASE) & UART_STATE_TXFULL) {
    }
    UART_DATA(UART0_BASE) = (uint8_t)c;
}

void uart_write(const char *s, unsigned n)
{
    while (n--) {
        uart_putc(*s++);
    }
}

int uart_getc(void)
{
    uint32_t t = rx_tail;
    if (t == rx_head) {
        /* belt and braces: pick up a byte the interrupt did not announce */
        irq_disable();
        uart_rx_drain();
        irq_enable();
    }
    if (t == rx_head) {
        return -1;
    }
    int c = rx_ring[t];
    rx_tail = (t + 1) & (RX_RING_SIZE - 1);
    return c;
}

uint32_t uart_rx_overruns(void) { return rx_overruns; }

/* ---- time ---- */
static uint32_t last_count;
static uint32_t now_ms;
static uint32_t sub_ticks;
#define TICKS_PER_MS (SYSCLK_HZ / 1000u)

uint32_t board_ms(void)
{
    /* Timer0 counts down from 0xFFFFFFFF and reloads 0xFFFFFFFF: its period is
     * exactly 2^32 ticks, so the unsigned difference handles the wrap as long
     * as this is called at least once every 171 s (the main loop wakes every
     * 10 ms). Only called from the main loop, never from an interrupt. */
    uint32_t v = TIMER_VALUE(TIMER0_BASE);
    uint32_t delta = last_count - v;
    last_count = v;
    now_ms += delta / TICKS_PER_MS;
    sub_ticks += delta % TICKS_PER_MS;
    if (sub_ticks >= TICKS_PER_MS) {
        sub_ticks -= TICKS_PER_MS;
        now_ms++;
    }
    return now_ms;
}

void timer1_irq(void)
{
    TIMER_INT(TIMER1_BASE) = 1;
    g_wake_tick = 1;
}

void board_init(void)
{
    /* Timer0: free running */
    TIMER_CTRL(TIMER0_BASE) = 0;
    TIMER_RELOAD(TIMER0_BASE) = 0xFFFFFFFFu;
    TIMER_VALUE(TIMER0_BASE) = 0xFFFFFFFFu;
    TIMER_CTRL(TIMER0_BASE) = TIMER_CTRL_EN;
    last_count = TIMER_VALUE(TIMER0_BASE);
    /* Timer1: 10 ms wake-up tick (only wakes the CPU; not a time base) */
    TIMER_CTRL(TIMER1_BASE) = 0;
    TIMER_RELOAD(TIMER1_BASE) = SYSCLK_HZ / 100u - 1u;
    TIMER_VALUE(TIMER1_BASE) = SYSCLK_HZ / 100u - 1u;
    TIMER_INT(TIMER1_BASE) = 1;
    TIMER_CTRL(TIMER1_BASE) = TIMER_CTRL_EN | TIMER_CTRL_IE;
    nvic_enable(IRQ_TIMER1);
    uart_init();
}

int board_has_work(void)
{
    return g_wake_tick || g_wake_eth || rx_head != rx_tail;
}

void board_idle(void)
{
    irq_disable();
    if (!board_has_work()) {
        cpu_wfi();   /* a pending interrupt wakes us even with PRIMASK set */
    }
    irq_enable();
}

void board_reset(void)
{
    __asm volatile("dsb" ::: "memory");
    SCB_AIRCR = AIRCR_VECTKEY | AIRCR_SYSRESETREQ;
    __asm volatile("dsb" ::: "memory");
    for (;;) {
    }
}

void board_fault(void)
{
    static const char msg[] = "\r\n!fault: resetting\r\n";
    uart_write(msg, sizeof msg - 1);
    board_reset();
}
