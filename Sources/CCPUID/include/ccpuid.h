#ifndef PIPE_CCPUID_H
#define PIPE_CCPUID_H
// The two x86 instructions Swift cannot issue itself: CPUID (what the processor offers) and XGETBV (which
// register state the operating system saves on a context switch). On other architectures both report zeros.
#include <stdint.h>

/// Registers EAX, EBX, ECX, EDX of CPUID leaf `leaf`, sub-leaf `subleaf`, into `registers[0...3]`; zeros when the
/// leaf is above the highest one the processor reports.
void pipe_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t registers[4]);

/// The extended control register `index` (0: XCR0, the state components the OS enables). Only valid when CPUID
/// leaf 1 reports OSXSAVE (ECX bit 27); 0 otherwise.
uint64_t pipe_xgetbv(uint32_t index);

#endif
