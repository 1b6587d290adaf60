/* lwIP architecture port: Cortex-M3, arm-none-eabi-gcc, newlib (bare metal). */
#ifndef HILBENCH_ARCH_CC_H
#define HILBENCH_ARCH_CC_H

#include <stdint.h>
#include <stdlib.h>

#define BYTE_ORDER LITTLE_ENDIAN

/* Bare metal: no <sys/time.h> timeval needed, errno values from lwIP */
#define LWIP_TIMEVAL_PRIVATE 0
#define LWIP_PROVIDE_ERRNO 1
#define LWIP_NO_UNISTD_H 1

void hb_platform_assert(const char *msg, const char *file, int line);
#define LWIP_PLATFORM_DIAG(x) do { } while (0)
#define LWIP_PLATFORM_ASSERT(x) hb_platform_assert((x), __FILE__, __LINE__)

/* Random numbers for everything but the TCP ISN (lwIP 2.1 keeps its
 * counter-based tcp_next_iss(): the bench reports that as a finding). */
#define LWIP_RAND() ((u32_t)rand())

#endif
