import CCPUID
import Foundation

/// What the processor offers the SIMD kernels, and what the operating system saves of it on a context switch
/// (CPUID leaves 1 and 7, XGETBV's XCR0). Read once per process through `current`.
public struct CPUFeatures: Equatable, Sendable {
    public var vendor = ""
    public var avx2 = false
    public var fma = false
    public var avx512f = false
    public var avx512dq = false
    public var avx512bw = false
    public var avx512vl = false
    /// XCR0 bits 1 and 2: XMM and YMM state.
    public var osSavesYMM = false
    /// XCR0 bits 5, 6 and 7: the opmask registers and both halves of the ZMM state.
    public var osSavesZMM = false

    public init() {}

    /// The processor this process runs on, read once.
    public static let current = detect()

    /// Reads CPUID and XGETBV now.
    public static func detect() -> CPUFeatures {
        var features = CPUFeatures()
        #if arch(x86_64)
        let base = cpuid(0)
        features.vendor = vendorString(ebx: base[1], edx: base[3], ecx: base[2])
        guard base[0] >= 7 else { return features }
        let leaf1 = cpuid(1)
        let leaf7 = cpuid(7)
        let xcr0 = pipe_xgetbv(0)
        features.fma = bit(leaf1[2], 12)
        features.avx2 = bit(leaf7[1], 5)
        features.avx512f = bit(leaf7[1], 16)
        features.avx512dq = bit(leaf7[1], 17)
        features.avx512bw = bit(leaf7[1], 30)
        features.avx512vl = bit(leaf7[1], 31)
        features.osSavesYMM = xcr0 & 0b110 == 0b110
        features.osSavesZMM = features.osSavesYMM && xcr0 & 0b1110_0000 == 0b1110_0000
        #endif
        return features
    }

    /// AVX2 and FMA usable: the x86-64-v3 level the baseline kernels are compiled for.
    public var supportsAVX2: Bool { avx2 && fma && osSavesYMM }

    /// AVX-512 F, DQ, BW and VL usable (the skylake-avx512 level the wide kernels are compiled for), with the
    /// ZMM state saved by the OS.
    public var supportsAVX512: Bool { supportsAVX2 && avx512f && avx512dq && avx512bw && avx512vl && osSavesZMM }

    /// The instruction-set extensions found, for `pipe --version --verbose`.
    public var summary: String {
        let names = [
            ("avx2", avx2), ("fma", fma), ("avx512f", avx512f), ("avx512dq", avx512dq), ("avx512bw", avx512bw),
            ("avx512vl", avx512vl),
        ]
        let found = names.filter(\.1).map(\.0)
        let state = osSavesZMM ? "OS saves ZMM state" : osSavesYMM ? "OS saves YMM state only" : "no AVX state saved"
        return (found.isEmpty ? "none" : found.joined(separator: " ")) + " (\(state))"
    }

    private static func cpuid(_ leaf: UInt32) -> [UInt32] {
        var registers: [UInt32] = [0, 0, 0, 0]
        registers.withUnsafeMutableBufferPointer { buffer in
            if let base = buffer.baseAddress { pipe_cpuid(leaf, 0, base) }
        }
        return registers
    }

    private static func bit(_ register: UInt32, _ index: UInt32) -> Bool { register >> index & 1 == 1 }

    private static func vendorString(ebx: UInt32, edx: UInt32, ecx: UInt32) -> String {
        let bytes = [ebx, edx, ecx].flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> ($0 * 8)) } }
        return String(decoding: bytes.filter { $0 != 0 }, as: UTF8.self)
    }
}

/// The family of SIMD kernels a process runs.
public enum KernelPath: String, Sendable, CaseIterable {
    /// AVX-512 F/DQ/BW/VL, 512-bit vectors (the kernels compiled with `-target-cpu skylake-avx512`).
    case avx512
    /// AVX2 + FMA, 256-bit vectors (the x86-64-v3 baseline every x86-64 build needs).
    case avx2
    /// Another architecture: the baseline kernels, compiled for it.
    case portable
}

/// The kernel path, chosen once at start-up from the processor and `PIPE_CPU`.
public enum KernelDispatch {
    /// The environment variable that forces a path: `avx2` (the baseline, for testing it on an AVX-512 machine),
    /// `avx512`, or `auto` (the default: the widest the processor and the OS support).
    public static let variable = "PIPE_CPU"

    /// The path this process runs; a bad `PIPE_CPU` is reported once on stderr when it is first read.
    public static let path: KernelPath = {
        let choice = choose(request: ProcessInfo.processInfo.environment[variable], features: .current)
        if let warning = choice.warning { FileHandle.standardError.write(Data("pipe: warning: \(warning)\n".utf8)) }
        return choice.path
    }()

    /// The widest path `features` allow.
    public static func best(for features: CPUFeatures) -> KernelPath {
        #if arch(x86_64)
        return features.supportsAVX512 ? .avx512 : .avx2
        #else
        return .portable
        #endif
    }

    /// The path for a `PIPE_CPU` value (nil or empty: auto), and a warning naming the variable when the value is
    /// unknown or asks for what the processor lacks (the best available path runs instead).
    public static func choose(request: String?, features: CPUFeatures) -> (path: KernelPath, warning: String?) {
        let detected = best(for: features)
        let value = (request ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        switch value {
        case "", "auto":
            return (detected, nil)
        case KernelPath.avx2.rawValue where detected != .portable, KernelPath.avx512.rawValue where detected == .avx512:
            return (KernelPath(rawValue: value) ?? detected, nil)
        case KernelPath.avx2.rawValue, KernelPath.avx512.rawValue:
            return (
                detected,
                "\(variable)=\(value): this CPU does not support it (\(features.summary)); using \(detected.rawValue)"
            )
        default:
            return (
                detected, "\(variable)='\(request ?? "")' is not one of auto, avx2, avx512; using \(detected.rawValue)"
            )
        }
    }
}
