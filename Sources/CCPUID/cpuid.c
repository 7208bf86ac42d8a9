#include "ccpuid.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

void pipe_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t registers[4]) {
    unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
    // __get_cpuid_count checks the leaf against the maximum (basic or extended) and leaves zeros above it.
    if (!__get_cpuid_count(leaf, subleaf, &eax, &ebx, &ecx, &edx)) { eax = ebx = ecx = edx = 0; }
    registers[0] = eax;
    registers[1] = ebx;
    registers[2] = ecx;
    registers[3] = edx;
}

uint64_t pipe_xgetbv(uint32_t index) {
    unsigned int eax = 0, ecx = 0, edx = 0, ebx = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & (1u << 27))) { return 0; }
    uint32_t low = 0, high = 0;
    // Encoded as bytes: the instruction needs no -mxsave, and this file is compiled for the baseline CPU.
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(low), "=d"(high) : "c"(index));
    return ((uint64_t)high << 32) | low;
}

#else

void pipe_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t registers[4]) {
    (void)leaf;
    (void)subleaf;
    registers[0] = registers[1] = registers[2] = registers[3] = 0;
}

uint64_t pipe_xgetbv(uint32_t index) {
    (void)index;
    return 0;
}

#endif
