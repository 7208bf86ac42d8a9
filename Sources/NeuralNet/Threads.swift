import CBLAS
import Parallel

/// Swift-side workers for the element-wise and data-movement kernels (set with `setThreadCount`).
nonisolated(unsafe) private var workerCount = 1

/// Sets how many threads training and inference use: OpenBLAS's thread count for the matrix products, and the number
/// of contiguous ranges the other kernels split their rows into. Every output element is computed by one thread with
/// the same arithmetic in the same order whatever the split, and OpenBLAS splits a product over rows and columns,
/// never over the summed dimension, so the same count gives bit-identical results from run to run.
/// Call it before training, not while a model is running.
public func setThreadCount(_ count: Int) {
    let threads = max(1, count)
    openblas_set_num_threads(Int32(threads))
    workerCount = threads
}

/// The Swift kernels' worker count. Until `setThreadCount` is called it is 1, while OpenBLAS uses its own default
/// (OPENBLAS_NUM_THREADS, or every core).
public func threadCount() -> Int {
    workerCount
}

/// The thread count OpenBLAS currently uses.
public func blasThreadCount() -> Int {
    Int(openblas_get_num_threads())
}

/// Runs `body` over 0..<count split into one contiguous range per worker (in parallel when there are several
/// workers and at least `grain` items each). Ranges never overlap, so bodies that write only their own rows need no
/// synchronisation and give the same result for any split.
@inline(__always)
func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
    let workers = min(workerCount, count / max(grain, 1))
    guard workers > 1 else {
        body(0..<count)
        return
    }
    Parallel.parallelFor(count: count, parts: workers) { _, range in body(range) }
}

/// Zeroes buffer [count], split between workers.
func parallelZero(_ buffer: UnsafeMutablePointer<Float>, count: Int) {
    parallelFor(count, grain: 65_536) { range in
        (buffer + range.lowerBound).update(repeating: 0, count: range.count)
    }
}

/// Runs `body` with OpenBLAS and the Swift kernels on one thread each, for work the caller already splits between
/// threads, and restores both counts afterwards.
func withSerialKernels<Result>(_ body: () -> Result) -> Result {
    let blasThreads = openblas_get_num_threads()
    let workers = workerCount
    openblas_set_num_threads(1)
    workerCount = 1
    defer {
        openblas_set_num_threads(blasThreads)
        workerCount = workers
    }
    return body()
}
