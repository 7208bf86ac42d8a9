import CBLAS
import Foundation
import Parallel

/// Process-wide settings of the ONNX runtime.
public enum ONNXRuntime {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var configuredThreads: Int?

    /// Worker threads used by the kernels and by OpenBLAS. Until `setThreadCount` is called this is OpenBLAS's
    /// own setting (its default: all processors, or `OPENBLAS_NUM_THREADS`). The value is process-wide, like
    /// OpenBLAS's.
    public static var threadCount: Int {
        lock.lock()
        defer { lock.unlock() }
        if let configuredThreads { return configuredThreads }
        return min(max(Int(openblas_get_num_threads()), 1), maximumWorkers)
    }

    /// Sets the number of threads for kernels and for OpenBLAS (`openblas_set_num_threads`). Values below 1
    /// are taken as 1; values above the number of processors as that number.
    public static func setThreadCount(_ count: Int) {
        let clamped = min(max(count, 1), ProcessInfo.processInfo.activeProcessorCount)
        lock.lock()
        defer { lock.unlock() }
        configuredThreads = clamped
        openblas_set_num_threads(Int32(clamped))
    }

    /// Runs `body` with OpenBLAS single-threaded, restoring its setting afterwards (nested and concurrent runs
    /// share one save/restore). The runtime splits work across its own workers, each calling BLAS on a slice;
    /// OpenBLAS's pthread pool would otherwise be entered by several callers at once (and a pool wake-up for a
    /// batch-1 product costs more than the product).
    static func withSingleThreadedBLAS<T>(_ body: () throws -> T) rethrows -> T {
        blasLock.lock()
        if blasUsers == 0 {
            savedBLASThreads = openblas_get_num_threads()
            if savedBLASThreads != 1 { openblas_set_num_threads(1) }
        }
        blasUsers += 1
        blasLock.unlock()
        defer {
            blasLock.lock()
            blasUsers -= 1
            if blasUsers == 0 && savedBLASThreads != 1 { openblas_set_num_threads(savedBLASThreads) }
            blasLock.unlock()
        }
        return try body()
    }

    private static let blasLock = NSLock()
    nonisolated(unsafe) private static var blasUsers = 0
    nonisolated(unsafe) private static var savedBLASThreads: Int32 = 1

    /// OpenBLAS's build and the core it chose (`openblas_get_config`), for `pipe --version --verbose`.
    public static var blasConfiguration: String {
        guard let configuration = openblas_get_config() else { return "OpenBLAS (no configuration string)" }
        return String(cString: configuration)
    }

    /// The most workers a kernel's scratch space is sized for.
    static let maximumWorkers = max(1, ProcessInfo.processInfo.activeProcessorCount)
}

/// Splits `0..<count` into contiguous ranges, one per worker, and runs `body(worker, range)` on them in
/// parallel. Runs inline when one worker suffices or the work is small (`count < minimumPerWorker * 2`).
@inline(__always)
func parallelFor(
    _ count: Int, workers: Int, minimumPerWorker: Int = 1, _ body: (_ worker: Int, _ range: Range<Int>) -> Void
) {
    let workerCount = min(workers, ONNXRuntime.maximumWorkers, count / max(minimumPerWorker, 1))
    if workerCount <= 1 {
        if count > 0 { body(0, 0..<count) }
        return
    }
    Parallel.parallelFor(count: count, parts: workerCount, body)
}
