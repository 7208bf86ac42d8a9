import VectorKernels

/// The marker of the AVX-512 specializations; only this target, compiled with `-target-cpu skylake-avx512`, uses it.
public enum AVX512: InstructionSet {
    public static let name = "avx512"
    public static var twoVectorsPerFilter: Bool { true }
}

/// The kernels compiled for AVX-512 F/DQ/BW/VL. Only a processor that has them (CPUFeatures.supportsAVX512) may
/// call into this table.
public let avx512Kernels = VectorKernelTable(AVX512.self)
