/// Activation, gradient and scratch buffers for batches of up to `capacity` samples, allocated once and reused by
/// every step (a smaller batch uses the front of each buffer, since all layouts are batch-major or [rows, B*…]).
///
/// A buffer is only as big as its `Purpose` needs, since the activations of a large batch are most of training's
/// memory:
/// - `.training`: every layer's output is kept for the backward pass, but the gradients of the activations live in
///   two buffers used alternately (layer i reads ∂acts[i+1] and writes ∂acts[i], and nothing reads a gradient
///   again), the conv products' `tmp` is one buffer shared by the conv layers (each uses it only inside its own
///   call), and a single-channel conv, which runs its own SIMD loop, gets no im2col scratch.
/// - `.inference`: no gradients; the activations alternate between two buffers too (layer i reads only acts[i]),
///   and the conv scratch and the pooling indices are shared by all layers, since nothing reads them afterwards.
/// - `.batchInputs`: only what a data-parallel step fills for its shards: the windows (acts[0]), features,
///   targets, class weights and the dropout masks.
final class Workspace {
    enum Purpose {
        case training
        case inference
        case batchInputs
    }

    let capacity: Int
    let purpose: Purpose
    /// acts[0]: the input windows [B, 1, L]; acts[i + 1]: layer i's output [B, layers[i].output].
    let acts: [UnsafeMutablePointer<Float>]
    /// grads[i]: ∂loss/∂acts[i], same shapes (grads[0] is only scratch: the input needs no gradient).
    let grads: [UnsafeMutablePointer<Float>]
    /// Per layer scratch; a layer that needs none gets a 1-element buffer.
    /// conv1d: col [C*K, B*LO]; batchnorm: mean and rstd, [2C]; dropout: mask [B, F]
    let scratch: [UnsafeMutablePointer<Float>]
    /// conv1d: tmp [OC, B*LO]
    let scratch2: [UnsafeMutablePointer<Float>]
    /// maxpool: argmax [B, C, LO]
    let indices: [UnsafeMutablePointer<Int32>]
    /// features: [B, E]; probs: [B, NC]; targets: [B]; classWeights: [NC]
    let features: UnsafeMutablePointer<Float>
    let probs: UnsafeMutablePointer<Float>
    let targets: UnsafeMutablePointer<Int32>
    let classWeights: UnsafeMutablePointer<Float>
    private var owned: [UnsafeMutablePointer<Float>] = []
    private var ownedIndices: [UnsafeMutablePointer<Int32>] = []

    init(
        layers: [LayerInfo], inputLength: Int, featureCount: Int, classCount: Int, capacity B: Int,
        purpose: Purpose = .training
    ) {
        capacity = B
        self.purpose = purpose
        var owned: [UnsafeMutablePointer<Float>] = []
        func floats(_ count: Int) -> UnsafeMutablePointer<Float> { Self.zeroed(count, keptIn: &owned) }
        var ownedIndices: [UnsafeMutablePointer<Int32>] = []
        func int32s(_ count: Int) -> UnsafeMutablePointer<Int32> { Self.zeroed(count, keptIn: &ownedIndices) }
        let sizes = Workspace.sizes(layers, inputLength: inputLength, batch: B)
        let largestActivation = sizes.activations.max() ?? 1
        let unused = floats(1)
        let unusedIndices = int32s(1)

        switch purpose {
        case .training:
            acts = sizes.activations.map { floats($0) }
            let pair = [floats(largestActivation), floats(largestActivation)]
            grads = sizes.activations.indices.map { pair[$0 % 2] }
        case .inference:
            let pair = [floats(largestActivation), floats(largestActivation)]
            acts = sizes.activations.indices.map { pair[$0 % 2] }
            grads = sizes.activations.map { _ in unused }
        case .batchInputs:
            acts = [floats(sizes.activations[0])] + layers.map { _ in unused }
            grads = acts.map { _ in unused }
        }
        let sharedTmp = purpose == .batchInputs ? unused : floats(sizes.tmp.max() ?? 1)
        scratch2 = sizes.tmp.map { $0 > 0 ? sharedTmp : unused }
        switch purpose {
        case .training:
            scratch = sizes.scratch.map { $0 > 0 ? floats($0) : unused }
            indices = sizes.indices.map { $0 > 0 ? int32s($0) : unusedIndices }
        case .inference:
            let sharedCol = floats(sizes.col.max() ?? 1)
            scratch = layers.indices.map { i in
                sizes.col[i] > 0 ? sharedCol : sizes.scratch[i] > 0 ? floats(sizes.scratch[i]) : unused
            }
            let sharedIndices = int32s(sizes.indices.max() ?? 1)
            indices = sizes.indices.map { $0 > 0 ? sharedIndices : unusedIndices }
        case .batchInputs:
            scratch = layers.indices.map { i in
                if case .dropout = layers[i].spec { return floats(sizes.scratch[i]) }
                return unused
            }
            indices = layers.map { _ in unusedIndices }
        }
        features = floats(B * featureCount)
        probs = floats(B * classCount)
        classWeights = floats(classCount)
        targets = int32s(B)
        self.owned = owned
        self.ownedIndices = ownedIndices
    }

    /// A zeroed buffer of `count` elements (at least one), kept in `owner` so that the workspace frees it.
    private static func zeroed<Element: Numeric>(
        _ count: Int, keptIn owner: inout [UnsafeMutablePointer<Element>]
    ) -> UnsafeMutablePointer<Element> {
        let pointer = UnsafeMutablePointer<Element>.allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
        owner.append(pointer)
        return pointer
    }

    /// Per-layer float counts for a batch of B. activations: [layers + 1] (the input, then each output);
    /// scratch: [layers], a conv's im2col (also in `col`), batchnorm's statistics, dropout's mask, else 0;
    /// tmp: [layers], a conv's product buffer, else 0; indices: [layers], a maxpool's argmax, else 0.
    private static func sizes(_ layers: [LayerInfo], inputLength: Int, batch B: Int) -> (
        activations: [Int], scratch: [Int], col: [Int], tmp: [Int], indices: [Int]
    ) {
        var activations = [B * inputLength]
        var scratch: [Int] = []
        var col: [Int] = []
        var tmp: [Int] = []
        var indices: [Int] = []
        for layer in layers {
            activations.append(B * layer.output.count)
            var first = 0
            var product = 0
            var indexCount = 0
            var isCol = false
            switch (layer.spec, layer.input, layer.output) {
            case (
                .conv1d(let outChannels, let kernel, let stride, _), .sequence(let channels, _),
                .sequence(_, let outLength)
            ):
                // The single-channel, unit-stride conv runs its own loop without im2col (Conv1d.swift).
                if channels != 1 || stride != 1 {
                    first = channels * kernel * B * outLength
                    product = outChannels * B * outLength
                    isCol = true
                }
            case (.maxPool1d, _, _):
                indexCount = B * layer.output.count
            case (.batchNorm1d, _, _):
                first = 2 * layer.parameters[0].count
            case (.dropout, _, _):
                first = B * layer.output.count
            default:
                break
            }
            scratch.append(first)
            col.append(isCol ? first : 0)
            tmp.append(product)
            indices.append(indexCount)
        }
        return (activations, scratch, col, tmp, indices)
    }

    deinit {
        for pointer in owned {
            pointer.deallocate()
        }
        for pointer in ownedIndices {
            pointer.deallocate()
        }
    }
}
