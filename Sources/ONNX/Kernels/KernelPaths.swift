import CPUFeatures
import VectorKernels
import VectorKernelsAVX512

/// The marker of the baseline specializations of VectorKernels: this target's own, compiled for the package's
/// SIMD level (haswell, AVX2 + FMA, on x86-64; the architecture's default elsewhere).
enum BaselineInstructions: InstructionSet {
    #if arch(x86_64)
    static let name = KernelPath.avx2.rawValue
    #else
    static let name = KernelPath.portable.rawValue
    #endif
    /// Sixteen registers: four filters' accumulators of two YMM registers each, and room for the operands.
    static var twoVectorsPerFilter: Bool { false }
}

let baselineKernels = VectorKernelTable(BaselineInstructions.self)

extension ONNXRuntime {
    /// Whether this CPU can run `path`'s kernels.
    public static func supports(_ path: KernelPath) -> Bool {
        switch path {
        case .avx512: return CPUFeatures.current.supportsAVX512
        case .avx2: return KernelDispatch.best(for: .current) != .portable
        case .portable: return KernelDispatch.best(for: .current) == .portable
        }
    }

    /// The kernels of `path`, which `supports(path)` must allow: an AVX-512 instruction on a CPU without it
    /// stops the process.
    static func kernels(for path: KernelPath) -> VectorKernelTable {
        path == .avx512 && CPUFeatures.current.supportsAVX512 ? avx512Kernels : baselineKernels
    }
}
