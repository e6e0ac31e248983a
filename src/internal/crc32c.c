#include "internal/crc32c.h"

#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>

int orderd_crc32c_available(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2");
}

__attribute__((target("sse4.2"))) uint32_t orderd_crc32c(uint32_t crc, const void *p, size_t len)
{
    const unsigned char *s = p;
    uint64_t c = ~crc;
    for (; len >= 8; s += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        c = _mm_crc32_u64(c, w);
    }
    uint32_t c32 = (uint32_t)c;
    for (; len > 0; ++s, --len)
        c32 = _mm_crc32_u8(c32, *s);
    return ~c32;
}

#elif defined(__aarch64__)
#include <arm_acle.h>

int orderd_crc32c_available(void)
{
    return 1;
}

__attribute__((target("+crc"))) uint32_t orderd_crc32c(uint32_t crc, const void *p, size_t len)
{
    const unsigned char *s = p;
    uint32_t c = ~crc;
    for (; len >= 8; s += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        c = __crc32cd(c, w);
    }
    for (; len > 0; ++s, --len)
        c = __crc32cb(c, *s);
    return ~c;
}

#else
#error "orderd computes CRC32C with the CPU instruction: x86-64 (SSE4.2) or aarch64"
#endif
