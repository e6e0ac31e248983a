#ifndef ORDERD_INTERNAL_CRC32C_H
#define ORDERD_INTERNAL_CRC32C_H

/* CRC32C (Castagnoli) with the CPU's instruction: SSE4.2 crc32 on x86-64,
 * the ARMv8 CRC extension on aarch64. */

#include <stddef.h>
#include <stdint.h>

/** Extends `crc` (0 to start) over [p, p+len). */
uint32_t orderd_crc32c(uint32_t crc, const void *p, size_t len);

/** Whether this CPU has the instruction; orderd refuses to start without it. */
int orderd_crc32c_available(void);

#endif
