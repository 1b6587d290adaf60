/* Startup code for the Cortex-M3 of mps2-an385: vector table and reset handler. */
#include <stdint.h>
#include <string.h>

extern uint32_t __etext, __data_start__, __data_end__, __bss_start__, __bss_end__;
extern uint32_t __stack_top__;
extern int main(void);

void Reset_Handler(void);
void Default_Handler(void);
void HardFault_Handler(void);
void uart0_rx_irq(void) __attribute__((weak, alias("Default_Handler")));
void timer1_irq(void) __attribute__((weak, alias("Default_Handler")));
void eth_irq(void) __attribute__((weak, alias("Default_Handler")));

typedef void (*vector_t)(void);

__attribute__((section(".isr_vector"), used))
const vector_t vector_table[16 + 32] = {
    (vector_t)&__stack_top__,
    Reset_Handler,
    Default_Handler,   /* NMI */
    HardFault_Handler, /* HardFault */
    HardFault_Handler, /* MemManage */
    HardFault_Handler, /* BusFault */
    HardFault_Handler, /* UsageFault */
    0, 0, 0, 0,
    Default_Handler,   /* SVC */
    Default_Handler,   /* DebugMon */
    0,
    Default_Handler,   /* PendSV */
    Default_Handler,   /* SysTick */
    /* external interrupts */
    [16 + 0] = uart0_rx_irq,
    [16 + 1] = Default_Handler,
    [16 + 2] = Default_Handler, [16 + 3] = Default_Handler,
    [16 + 4] = Default_Handler, [16 + 5] = Default_Handler,
    [16 + 6] = Default_Handler, [16 + 7] = Default_Handler,
    [16 + 8] = Default_Handler,
    [16 + 9] = timer1_irq,
    [16 + 10] = Default_Handler, [16 + 11] = Default_Handler,
    [16 + 12] = Default_Handler,
    [16 + 13] = eth_irq,
    [16 + 14 ... 16 + 31] = Default_Handler,
};

void Reset_Handler(void)
{
    uint32_t *src = &__etext;
    uint32_t *dst = &__data_start__;
    while (dst < &__data_end__) {
        *dst++ = *src++;
    }
    for (dst = &__bss_start__; dst < &__bss_end__; dst++) {
        *dst = 0;
    }
    main();
    for (;;) {
    }
}

void Default_Handler(void)
{
    for (;;) {
    }
}

/* A fault resets the board: the host sees a new EVT boot (and the banner). */
void HardFault_Handler(void)
{
    extern void board_fault(void);
    board_fault();
}
