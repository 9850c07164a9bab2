#ifndef PACA_CCRC32C_H
#define PACA_CCRC32C_H

// CRC-32C with the processor's instruction: SSE 4.2 `crc32` on x86-64, the ARMv8 CRC extension
// on arm64. Static inline only (no library to link): Swift's importer compiles these into the
// module that calls them. `paca_crc32c_hardware()` says whether the instruction exists; when it
// does not, PacaCore's table-driven CRC32C is used instead.
//
// The state is the raw register (the caller inverts before and after), as in the table code.

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>

static inline int paca_crc32c_hardware(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    return (ecx & bit_SSE4_2) != 0;
}

__attribute__((target("sse4.2")))
static inline uint32_t paca_crc32c_update(uint32_t crc, const uint8_t *bytes, size_t count) {
    uint64_t state = crc;
    while (count >= 8) {
        uint64_t word;
        memcpy(&word, bytes, 8);
        state = __builtin_ia32_crc32di(state, word);
        bytes += 8;
        count -= 8;
    }
    uint32_t narrow = (uint32_t)state;
    while (count > 0) {
        narrow = __builtin_ia32_crc32qi(narrow, *bytes);
        bytes += 1;
        count -= 1;
    }
    return narrow;
}

#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif

static inline int paca_crc32c_hardware(void) {
    return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
}

__attribute__((target("crc")))
static inline uint32_t paca_crc32c_update(uint32_t crc, const uint8_t *bytes, size_t count) {
    while (count >= 8) {
        uint64_t word;
        memcpy(&word, bytes, 8);
        crc = __builtin_arm_crc32cd(crc, word);
        bytes += 8;
        count -= 8;
    }
    while (count > 0) {
        crc = __builtin_arm_crc32cb(crc, *bytes);
        bytes += 1;
        count -= 1;
    }
    return crc;
}

#else

static inline int paca_crc32c_hardware(void) { return 0; }

static inline uint32_t paca_crc32c_update(uint32_t crc, const uint8_t *bytes, size_t count) {
    (void)bytes;
    (void)count;
    return crc;
}

#endif

#endif
