import Parallel

/// Why a model call was refused. Messages say which argument is wrong and how.
public enum ModelError: Error, Equatable, CustomStringConvertible {
    case invalidBatch(Int)
    case inputSize(argument: String, expected: Int, got: Int)
    case labelOutOfRange(sample: Int, label: Int, classCount: Int)
    case unknownTensor(String)
    case tensorSize(name: String, expected: Int, got: Int)

    public var description: String {
        switch self {
        case .invalidBatch(let batch):
            return "batch size \(batch) must be > 0"
        case .inputSize(let argument, let expected, let got):
            return "\(argument) has \(got) values, expected \(expected)"
        case .labelOutOfRange(let sample, let label, let classCount):
            return "label \(label) of sample \(sample) is outside 0..<\(classCount)"
        case .unknownTensor(let name):
            return "no tensor named '\(name)' (names are '<layer index>.<weight|bias|running_mean|running_var>')"
        case .tensorSize(let name, let expected, let got):
            return "tensor '\(name)' has \(expected) values, got \(got)"
        }
    }
}

/// What one training step did.
public struct TrainingStepResult: Equatable, Sendable {
    /// The (weighted) mean cross-entropy of the batch, before the update.
    public var loss: Float
    /// How many samples of the batch the pre-update logits classified correctly.
    public var correct: Int
}

/// A named tensor in PyTorch layout, as `state_dict()` would list it.
public struct NamedTensor: Equatable, Sendable {
    /// `"<layer index>.<name>"`, e.g. `"0.weight"`, `"3.running_var"`.
    public let key: String
    public let layer: Int
    public let info: TensorInfo
    /// True for BatchNorm running statistics (held in `Model.buffers`, not trained by the optimizer).
    public let isBuffer: Bool
    public let values: [Float]
}

/// A 1D CNN over one-lead beat windows, with optional extra per-sample features, trained with softmax cross-entropy
/// and Adam/AdamW. All trainable values live in one flat `parameters` buffer laid out by `layers` (PyTorch order:
/// layer by layer, weight then bias); gradients and the optimizer moments are parallel buffers of the same size.
///
/// Inputs: `windows` [B, inputLength] (one lead, read as [B, 1, inputLength]) and `features` [B, featureCount]
/// (appended by the `concat_features` layer; empty when featureCount is 0). Output: logits [B, classCount].
///
/// For an exporter: walk `layers` in order; each `LayerInfo` gives the spec (the operator and its hyperparameters),
/// the per-sample input and output shapes, and the names, PyTorch shapes and offsets of its tensors. `stateDict()`
/// returns the same tensors with their values, keyed `"<layer index>.<name>"` as an `nn.Sequential` would name them
/// (conv weight [out, in, kernel], linear weight [out, in], biases [out], BatchNorm weight/bias/running_mean/
/// running_var [channels]); `LayerSpec.batchNormEpsilon` is BatchNorm's epsilon.
///
/// Not thread-safe: one model, one caller. Deterministic: the same specs, seed, data order and BLAS thread count
/// give bit-identical parameters. Activation buffers are allocated for the largest batch seen and then reused.
public final class Model {
    /// Every layer with its shapes and tensor offsets.
    public let layers: [LayerInfo]
    public let inputLength: Int
    public let featureCount: Int
    public let classCount: Int
    /// Number of trainable floats (the size of `parameters`, `gradients` and each Adam moment).
    public let parameterCount: Int
    /// Number of BatchNorm running-statistics floats.
    public let bufferCount: Int
    /// Optimizer settings; changing them mid-training keeps the moments.
    public var optimizer: OptimizerConfig
    /// Number of optimizer steps taken (Adam's t).
    public internal(set) var optimizerStep: Int = 0
    /// The stream for dropout masks; a training loop may draw its shuffles from it too so one state covers both.
    public var random: RandomGenerator

    let params: UnsafeMutablePointer<Float>  // [parameterCount]
    let grads: UnsafeMutablePointer<Float>  // [parameterCount]
    let adamM: UnsafeMutablePointer<Float>  // [parameterCount]
    let adamV: UnsafeMutablePointer<Float>  // [parameterCount]
    let runningStats: UnsafeMutablePointer<Float>  // [bufferCount]
    /// One workspace per purpose, each grown to the largest batch it has served.
    private var workspaces: [Workspace.Purpose: Workspace] = [:]
    private var shardWorkspaces: [Workspace] = []
    private var shardGradients: [ShardGradients] = []

    /// The layer specs, in order.
    public var specs: [LayerSpec] { layers.map(\.spec) }

    /// Builds a model and initialises it like PyTorch: conv and linear weights and biases uniform in
    /// ±1/√fan_in (kaiming_uniform with a = √5), BatchNorm weight 1, bias 0, running mean 0, running var 1.
    /// Draws come from `RandomGenerator(seed:)` layer by layer, weight before bias; the generator then drives dropout.
    public init(
        specs: [LayerSpec], inputLength: Int, featureCount: Int = 0, classCount: Int, seed: UInt64,
        optimizer: OptimizerConfig = OptimizerConfig()
    ) throws {
        layers = try Architectures.plan(
            specs, inputLength: inputLength, featureCount: featureCount, classCount: classCount)
        self.inputLength = inputLength
        self.featureCount = featureCount
        self.classCount = classCount
        self.optimizer = optimizer
        parameterCount = layers.flatMap(\.parameters).reduce(0) { $0 + $1.count }
        bufferCount = layers.flatMap(\.buffers).reduce(0) { $0 + $1.count }
        func zeros(_ count: Int) -> UnsafeMutablePointer<Float> {
            let pointer = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
            pointer.initialize(repeating: 0, count: max(count, 1))
            return pointer
        }
        params = zeros(parameterCount)
        grads = zeros(parameterCount)
        adamM = zeros(parameterCount)
        adamV = zeros(parameterCount)
        runningStats = zeros(bufferCount)
        random = RandomGenerator(seed: seed)
        for layer in layers {
            switch (layer.spec, layer.input) {
            case (.conv1d(_, let kernel, _, _), .sequence(let channels, _)):
                initialiseUniform(layer, fanIn: channels * kernel)
            case (.linear, .features(let inFeatures)):
                initialiseUniform(layer, fanIn: inFeatures)
            case (.batchNorm1d, _):
                (params + layer.parameters[0].offset).update(repeating: 1, count: layer.parameters[0].count)
                (runningStats + layer.buffers[1].offset).update(repeating: 1, count: layer.buffers[1].count)
            default:
                break
            }
        }
    }

    deinit {
        params.deallocate()
        grads.deallocate()
        adamM.deallocate()
        adamV.deallocate()
        runningStats.deallocate()
    }

    private func initialiseUniform(_ layer: LayerInfo, fanIn: Int) {
        let bound = 1 / Float(fanIn).squareRoot()
        for tensor in layer.parameters {
            for i in 0..<tensor.count {
                params[tensor.offset + i] = random.uniform(-bound, bound)
            }
        }
    }

    // MARK: - Values

    /// All trainable values, laid out by `layers[i].parameters`.
    public var parameters: [Float] { Array(UnsafeBufferPointer(start: params, count: parameterCount)) }
    /// The gradients from the last backward pass, parallel to `parameters`.
    public var gradients: [Float] { Array(UnsafeBufferPointer(start: grads, count: parameterCount)) }
    /// BatchNorm running statistics, laid out by `layers[i].buffers`.
    public var buffers: [Float] { Array(UnsafeBufferPointer(start: runningStats, count: bufferCount)) }
    /// Adam's first and second moment estimates, parallel to `parameters`.
    public var optimizerMoments: (m: [Float], v: [Float]) {
        (
            Array(UnsafeBufferPointer(start: adamM, count: parameterCount)),
            Array(UnsafeBufferPointer(start: adamV, count: parameterCount))
        )
    }

    /// Replaces all trainable values.
    public func setParameters(_ values: [Float]) throws {
        try copy(values, into: params, count: parameterCount, name: "parameters")
    }

    /// Replaces all BatchNorm running statistics.
    public func setBuffers(_ values: [Float]) throws {
        try copy(values, into: runningStats, count: bufferCount, name: "buffers")
    }

    /// Replaces the optimizer state (moments parallel to `parameters`, and the step count).
    public func setOptimizerState(m: [Float], v: [Float], step: Int) throws {
        try copy(m, into: adamM, count: parameterCount, name: "optimizer m")
        try copy(v, into: adamV, count: parameterCount, name: "optimizer v")
        optimizerStep = step
    }

    private func copy(_ values: [Float], into pointer: UnsafeMutablePointer<Float>, count: Int, name: String) throws {
        guard values.count == count else { throw ModelError.tensorSize(name: name, expected: count, got: values.count) }
        values.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { pointer.update(from: base, count: count) }
        }
    }

    /// Every tensor in PyTorch `state_dict()` order and layout: for each layer, its parameters then its buffers.
    /// This is what an exporter needs: `key` is the `nn.Sequential` key, `info.shape` the PyTorch shape.
    public func stateDict() -> [NamedTensor] {
        var result: [NamedTensor] = []
        for layer in layers {
            for (tensors, base, isBuffer) in [(layer.parameters, params, false), (layer.buffers, runningStats, true)] {
                for tensor in tensors {
                    let values = Array(UnsafeBufferPointer(start: base + tensor.offset, count: tensor.count))
                    result.append(
                        NamedTensor(
                            key: "\(layer.index).\(tensor.name)", layer: layer.index, info: tensor,
                            isBuffer: isBuffer, values: values))
                }
            }
        }
        return result
    }

    /// One tensor's values by `state_dict` key (`"0.weight"`), or nil.
    public func tensor(_ key: String) -> [Float]? {
        stateDict().first { $0.key == key }?.values
    }

    /// Overwrites one tensor by `state_dict` key, e.g. to load PyTorch weights.
    public func setTensor(_ key: String, _ values: [Float]) throws {
        for layer in layers {
            for (tensors, base) in [(layer.parameters, params), (layer.buffers, runningStats)] {
                for tensor in tensors where "\(layer.index).\(tensor.name)" == key {
                    try copy(values, into: base + tensor.offset, count: tensor.count, name: key)
                    return
                }
            }
        }
        throw ModelError.unknownTensor(key)
    }

    // MARK: - Forward, backward, step

    /// Logits [B, classCount] for windows [B, inputLength] and features [B, featureCount].
    /// `training` selects batch statistics and dropout (and updates BatchNorm running statistics).
    public func forward(windows: [Float], features: [Float], batch B: Int, training: Bool) throws -> [Float] {
        let ws = try prepare(windows: windows, features: features, labels: nil, batch: B, purpose: .inference)
        forwardPass(ws, B: B, training: training)
        return Array(UnsafeBufferPointer(start: ws.acts[layers.count], count: B * classCount))
    }

    /// Forward in training mode, loss, and backward: leaves ∂loss/∂parameters in `gradients` (overwritten, not
    /// accumulated across calls) without updating the parameters. classWeights: [classCount] or nil.
    @discardableResult
    public func computeGradients(
        windows: [Float], features: [Float], labels: [Int], batch B: Int, classWeights: [Float]? = nil
    ) throws -> TrainingStepResult {
        // A sharded step only stages the batch here; each shard runs in its own workspace.
        let shards = shardCount(batch: B)
        let ws = try prepare(
            windows: windows, features: features, labels: labels, batch: B,
            purpose: shards > 1 ? .batchInputs : .training)
        let weights = try loadClassWeights(classWeights, ws)
        let weightSum = classWeightSum(targets: ws.targets, classWeights: weights, B: B)
        if shards > 1 {
            return computeGradientsInShards(ws, B: B, classWeights: weights, weightSum: weightSum, shards: shards)
        }
        let totals = pass(ws, B: B, grads: grads, classWeights: weights, weightSum: weightSum, dropoutMasksDrawn: false)
        return TrainingStepResult(loss: Float(totals.weightedLoss / totals.weight), correct: totals.correct)
    }

    /// Forward in training mode, loss and backward over the B samples in `ws`, leaving the parameter gradients in
    /// `grads` [parameterCount] (overwritten). weightSum: Σ w[y] over the whole batch these samples belong to.
    private func pass(
        _ ws: Workspace, B: Int, grads: UnsafeMutablePointer<Float>, classWeights: UnsafePointer<Float>?,
        weightSum: Float, dropoutMasksDrawn: Bool
    ) -> ShardTotals {
        forwardPass(ws, B: B, training: true, dropoutMasksDrawn: dropoutMasksDrawn)
        let logits = ws.acts[layers.count]  // [B, NC]
        let (weightedLoss, weight) = crossEntropySums(
            probs: ws.probs, logits: logits, targets: ws.targets, classWeights: classWeights, B: B, NC: classCount)
        var correct = 0
        for b in 0..<B where argmax(logits + b * classCount, classCount) == Int(ws.targets[b]) {
            correct += 1
        }
        parallelZero(grads, count: parameterCount)
        let dlogits = ws.grads[layers.count]  // [B, NC]
        dlogits.update(repeating: 0, count: B * classCount)
        crossEntropyBackward(
            dlogits: dlogits, probs: ws.probs, targets: ws.targets, classWeights: classWeights, B: B, NC: classCount,
            weightSum: weightSum)
        backwardPass(ws, B: B, grads: grads)
        return ShardTotals(weightedLoss: weightedLoss, weight: weight, correct: correct)
    }

    // MARK: - Data-parallel steps

    /// Samples below which a batch is not worth splitting.
    static let minimumShardSize = 8

    /// The most samples a shard takes once a batch is split. A larger batch is cut into more shards than workers,
    /// each worker taking the next: a shard of 32 beats of the original CNN keeps its activations (about 9 MB) in
    /// the caches, where a worker's half of a batch of 256 (about 40 MB) streams through memory at every layer.
    /// Batches of up to 32 samples per worker (the default pipeline's 32 on 2 threads) are split as before.
    static let maximumShardSize = 32

    /// How many shards a training batch of B is split into: one per worker (`setThreadCount`) when every shard gets
    /// at least `minimumShardSize` samples, more when that leaves a shard over `maximumShardSize`, and 1 (the whole
    /// batch in one pass, each kernel parallel inside) on one thread or for a model with BatchNorm, whose batch
    /// statistics need the whole batch.
    func shardCount(batch B: Int) -> Int {
        guard !layers.contains(where: { if case .batchNorm1d = $0.spec { return true } else { return false } })
        else { return 1 }
        let workers = max(1, min(threadCount(), B / Self.minimumShardSize))
        guard workers > 1 else { return 1 }
        return max(workers, (B + Self.maximumShardSize - 1) / Self.maximumShardSize)
    }

    /// A small batch keeps two cores busy poorly when every layer forks and joins its own kernels (the OpenBLAS
    /// products and the Swift loops each split a few microseconds of work): here each worker instead runs the whole
    /// forward and backward pass over its contiguous share of the samples, single-threaded, into its own gradient
    /// buffer, and the buffers are summed in shard order. Dropout masks are drawn first for the whole batch in the
    /// order the one-pass step draws them, and the loss is normalised by the whole batch's class-weight sum, so the
    /// step computes the same function; only the order of the gradient sums differs, fixed for a worker count, so
    /// the same thread count still gives bit-identical training.
    private func computeGradientsInShards(
        _ ws: Workspace, B: Int, classWeights: UnsafePointer<Float>?, weightSum: Float, shards: Int
    ) -> TrainingStepResult {
        drawDropoutMasks(ws, B: B)
        let workers = min(shards, threadCount())
        let state = shardState(shards: shards, workers: workers, capacity: (B + shards - 1) / shards)
        let bounds = (0...shards).map { B * $0 / shards }
        let totals = withSerialKernels {
            parallelMap(count: shards, workerStates: state.workspaces) { workspace, shard in
                let first = bounds[shard]
                let count = bounds[shard + 1] - first
                copyShardInputs(from: ws, to: workspace, first: first, count: count)
                return pass(
                    workspace, B: count, grads: state.gradients[shard].values, classWeights: classWeights,
                    weightSum: weightSum, dropoutMasksDrawn: true)
            }
        }
        // grads = Σ shard gradients, in shard order for every element, whichever worker sums it.
        let gradients = state.gradients.map(\.values)
        parallelFor(parameterCount, grain: 16_384) { range in
            let base = range.lowerBound
            (grads + base).update(from: gradients[0] + base, count: range.count)
            for source in gradients.dropFirst() {
                for i in range {
                    grads[i] += source[i]
                }
            }
        }
        let loss = totals.reduce(0.0) { $0 + $1.weightedLoss } / totals.reduce(0.0) { $0 + $1.weight }
        return TrainingStepResult(loss: Float(loss), correct: totals.reduce(0) { $0 + $1.correct })
    }

    /// Each dropout layer's training mask for the whole batch, into the layer's scratch [B, F], drawn layer by layer
    /// in sample order: the draws `forwardPass` would make.
    private func drawDropoutMasks(_ ws: Workspace, B: Int) {
        for (i, layer) in layers.enumerated() {
            guard case .dropout(let probability) = layer.spec else { continue }
            fillDropoutMask(ws.scratch[i], N: B * layer.input.count, probability: Float(probability), random: &random)
        }
    }

    /// Copies samples first..<first+count of the batch in `source` (inputs, features, targets, dropout masks) to the
    /// front of a shard's workspace.
    private func copyShardInputs(from source: Workspace, to target: Workspace, first: Int, count: Int) {
        target.acts[0].update(from: source.acts[0] + first * inputLength, count: count * inputLength)
        target.features.update(from: source.features + first * featureCount, count: count * featureCount)
        target.targets.update(from: source.targets + first, count: count)
        for (i, layer) in layers.enumerated() {
            guard case .dropout = layer.spec else { continue }
            let width = layer.input.count
            target.scratch[i].update(from: source.scratch[i] + first * width, count: count * width)
        }
    }

    /// What a pass over (part of) a batch adds to the step's loss and accuracy.
    struct ShardTotals {
        var weightedLoss: Double
        var weight: Double
        var correct: Int
    }

    /// One shard's parameter gradients [parameterCount], kept for the next step.
    final class ShardGradients {
        let values: UnsafeMutablePointer<Float>

        init(parameterCount: Int) {
            values = UnsafeMutablePointer<Float>.allocate(capacity: max(parameterCount, 1))
            values.initialize(repeating: 0, count: max(parameterCount, 1))
        }

        deinit { values.deallocate() }
    }

    /// A workspace per worker (each pass runs in the worker's, so a shard's result does not depend on which worker
    /// ran it) and a gradient buffer per shard.
    private func shardState(shards: Int, workers: Int, capacity: Int) -> (
        workspaces: [Workspace], gradients: [ShardGradients]
    ) {
        if shardWorkspaces.count != workers || (shardWorkspaces.first?.capacity ?? 0) < capacity {
            shardWorkspaces = []  // freed before the replacements are allocated
            shardWorkspaces = (0..<workers).map { _ in
                Workspace(
                    layers: layers, inputLength: inputLength, featureCount: featureCount, classCount: classCount,
                    capacity: capacity)
            }
        }
        if shardGradients.count != shards {
            shardGradients = (0..<shards).map { _ in ShardGradients(parameterCount: parameterCount) }
        }
        return (shardWorkspaces, shardGradients)
    }

    /// Applies one optimizer update from `gradients` at the schedule's rate for `epoch` (0-based), clipping first
    /// when configured.
    public func applyOptimizerStep(epoch: Int) {
        if let maxNorm = optimizer.gradientClipNorm {
            clipGradientNorm(grads, count: parameterCount, maxNorm: maxNorm)
        }
        optimizerStep += 1
        let rate = optimizer.learningRate(epoch: epoch)
        adamUpdate(
            params: params, grads: grads, m: adamM, v: adamV, count: parameterCount, step: optimizerStep,
            learningRate: rate, config: optimizer)
    }

    /// One training step: forward (training mode), loss with optional class weights, backward, optimizer update.
    /// windows: [B, inputLength]; features: [B, featureCount]; labels: [B] in 0..<classCount.
    @discardableResult
    public func trainStep(
        windows: [Float], features: [Float], labels: [Int], batch B: Int, epoch: Int, classWeights: [Float]? = nil
    ) throws -> TrainingStepResult {
        let result = try computeGradients(
            windows: windows, features: features, labels: labels, batch: B, classWeights: classWeights)
        applyOptimizerStep(epoch: epoch)
        return result
    }

    /// Eval-mode logits [count, classCount] for `count` windows, in chunks of at most `chunkSize` samples.
    public func predict(windows: [Float], features: [Float], count: Int, chunkSize: Int = 256) throws -> [Float] {
        guard count >= 0 else { throw ModelError.invalidBatch(count) }
        try checkSize("windows", windows.count, count * inputLength)
        try checkSize("features", features.count, count * featureCount)
        var logits = [Float](repeating: 0, count: count * classCount)
        let chunk = max(1, chunkSize)
        let ws = workspace(capacity: min(chunk, max(count, 1)), purpose: .inference)
        var start = 0
        while start < count {
            let B = min(chunk, count - start)
            windows.withUnsafeBufferPointer { source in
                if let base = source.baseAddress {
                    ws.acts[0].update(from: base + start * inputLength, count: B * inputLength)
                }
            }
            features.withUnsafeBufferPointer { source in
                if let base = source.baseAddress {
                    ws.features.update(from: base + start * featureCount, count: B * featureCount)
                }
            }
            forwardPass(ws, B: B, training: false)
            logits.withUnsafeMutableBufferPointer { target in
                if let base = target.baseAddress {
                    (base + start * classCount).update(from: ws.acts[layers.count], count: B * classCount)
                }
            }
            start += B
        }
        return logits
    }

    /// The predicted class of each sample (argmax of `predict`).
    public func predictClasses(windows: [Float], features: [Float], count: Int, chunkSize: Int = 256) throws -> [Int] {
        let logits = try predict(windows: windows, features: features, count: count, chunkSize: chunkSize)
        return logits.withUnsafeBufferPointer { buffer -> [Int] in
            guard let base = buffer.baseAddress else { return [] }
            return (0..<count).map { argmax(base + $0 * classCount, classCount) }
        }
    }

    // MARK: - Internals

    private func checkSize(_ argument: String, _ got: Int, _ expected: Int) throws {
        guard got == expected else { throw ModelError.inputSize(argument: argument, expected: expected, got: got) }
    }

    private func workspace(capacity: Int, purpose: Workspace.Purpose) -> Workspace {
        if let existing = workspaces[purpose], existing.capacity >= capacity { return existing }
        workspaces[purpose] = nil  // freed before its replacement is allocated
        let created = Workspace(
            layers: layers, inputLength: inputLength, featureCount: featureCount, classCount: classCount,
            capacity: capacity, purpose: purpose)
        workspaces[purpose] = created
        return created
    }

    /// Validates a batch and copies it into the workspace for `purpose`.
    private func prepare(
        windows: [Float], features: [Float], labels: [Int]?, batch B: Int, purpose: Workspace.Purpose
    ) throws -> Workspace {
        guard B > 0 else { throw ModelError.invalidBatch(B) }
        try checkSize("windows", windows.count, B * inputLength)
        try checkSize("features", features.count, B * featureCount)
        let ws = workspace(capacity: B, purpose: purpose)
        if let labels {
            try checkSize("labels", labels.count, B)
            for (b, label) in labels.enumerated() {
                guard label >= 0 && label < classCount else {
                    throw ModelError.labelOutOfRange(sample: b, label: label, classCount: classCount)
                }
                ws.targets[b] = Int32(label)
            }
        }
        windows.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { ws.acts[0].update(from: base, count: B * inputLength) }
        }
        features.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { ws.features.update(from: base, count: B * featureCount) }
        }
        return ws
    }

    private func loadClassWeights(_ classWeights: [Float]?, _ ws: Workspace) throws -> UnsafePointer<Float>? {
        guard let classWeights else { return nil }
        try checkSize("classWeights", classWeights.count, classCount)
        classWeights.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { ws.classWeights.update(from: base, count: classCount) }
        }
        return UnsafePointer(ws.classWeights)
    }

    /// `dropoutMasksDrawn`: the dropout layers' masks are already in their scratch (a shard of a sharded step).
    private func forwardPass(_ ws: Workspace, B: Int, training: Bool, dropoutMasksDrawn: Bool = false) {
        for (i, layer) in layers.enumerated() {
            let inp = ws.acts[i]  // [B, layer.input]
            let out = ws.acts[i + 1]  // [B, layer.output]
            let N = B * layer.input.count
            switch (layer.spec, layer.input) {
            case (.conv1d(let outChannels, let kernel, let stride, let padding), .sequence(let channels, let length)):
                conv1dForward(
                    out: out, inp: inp, weight: params + layer.parameters[0].offset,
                    bias: params + layer.parameters[1].offset, col: ws.scratch[i], tmp: ws.scratch2[i],
                    B: B, C: channels, L: length, OC: outChannels, K: kernel, S: stride, P: padding)
            case (.maxPool1d(let kernel, let stride), .sequence(let channels, let length)):
                maxPool1dForward(
                    out: out, argmax: ws.indices[i], inp: inp, B: B, C: channels, L: length, K: kernel, S: stride)
            case (.avgPool1d(let kernel, let stride), .sequence(let channels, let length)):
                avgPool1dForward(out: out, inp: inp, B: B, C: channels, L: length, K: kernel, S: stride)
            case (.globalAvgPool, .sequence(let channels, let length)):
                globalAvgPoolForward(out: out, inp: inp, B: B, C: channels, L: length)
            case (.relu, _):
                reluForward(out: out, inp: inp, N: N)
            case (.flatten, _):
                out.update(from: inp, count: N)
            case (.dropout(let probability), _):
                if dropoutMasksDrawn {
                    applyDropoutMask(out: out, mask: ws.scratch[i], inp: inp, N: N)
                } else {
                    dropoutForward(
                        out: out, mask: ws.scratch[i], inp: inp, N: N, probability: Float(probability),
                        training: training, random: &random)
                }
            case (.linear(let outFeatures), .features(let inFeatures)):
                linearForward(
                    out: out, inp: inp, weight: params + layer.parameters[0].offset,
                    bias: params + layer.parameters[1].offset, B: B, F: inFeatures, OF: outFeatures)
            case (.concatFeatures, .features(let inFeatures)):
                concatFeaturesForward(out: out, inp: inp, features: ws.features, B: B, F: inFeatures, E: featureCount)
            case (.batchNorm1d, _):
                let (channels, length) = channelsAndLength(layer.input)
                batchNorm1dForward(
                    out: out, mean: ws.scratch[i], rstd: ws.scratch[i] + channels, inp: inp,
                    weight: params + layer.parameters[0].offset, bias: params + layer.parameters[1].offset,
                    runningMean: runningStats + layer.buffers[0].offset,
                    runningVar: runningStats + layer.buffers[1].offset, B: B, C: channels, L: length,
                    training: training, momentum: LayerSpec.batchNormMomentum, eps: LayerSpec.batchNormEpsilon)
            default:
                preconditionFailure(
                    "layer \(i) \(layer.spec) does not fit input \(layer.input); plan() should have refused it")
            }
        }
    }

    /// Leaves the parameter gradients in `grads` [parameterCount] (accumulated: zero it first).
    private func backwardPass(_ ws: Workspace, B: Int, grads: UnsafeMutablePointer<Float>) {
        for (i, layer) in layers.enumerated().reversed() {
            let inp = ws.acts[i]  // [B, layer.input]
            let out = ws.acts[i + 1]  // [B, layer.output]
            let dout = ws.grads[i + 1]  // [B, layer.output]
            let N = B * layer.input.count
            // The network input needs no gradient; layers without parameters have nothing else to compute.
            let dinp: UnsafeMutablePointer<Float>? = i > 0 ? ws.grads[i] : nil
            if let dinp { parallelZero(dinp, count: N) }
            if dinp == nil && layer.parameters.isEmpty { continue }
            let dweight = grads + (layer.parameters.first?.offset ?? 0)
            let dbias = grads + (layer.parameters.last?.offset ?? 0)
            switch (layer.spec, layer.input, dinp) {
            case (.conv1d(let outChannels, let kernel, let stride, let padding), .sequence(let channels, let length), _):
                conv1dBackward(
                    dinp: dinp, dweight: dweight, dbias: dbias, dout: dout, inp: inp,
                    weight: params + layer.parameters[0].offset, col: ws.scratch[i], tmp: ws.scratch2[i],
                    B: B, C: channels, L: length, OC: outChannels, K: kernel, S: stride, P: padding)
            case (.maxPool1d, .sequence(let channels, let length), let dinp?):
                maxPool1dBackward(
                    dinp: dinp, dout: dout, argmax: ws.indices[i], B: B, C: channels, L: length,
                    LO: layer.output.count / channels)
            case (.avgPool1d(let kernel, let stride), .sequence(let channels, let length), let dinp?):
                avgPool1dBackward(dinp: dinp, dout: dout, B: B, C: channels, L: length, K: kernel, S: stride)
            case (.globalAvgPool, .sequence(let channels, let length), let dinp?):
                globalAvgPoolBackward(dinp: dinp, dout: dout, B: B, C: channels, L: length)
            case (.relu, _, let dinp?):
                reluBackward(dinp: dinp, dout: dout, out: out, N: N)
            case (.flatten, _, let dinp?):
                for j in 0..<N {
                    dinp[j] += dout[j]
                }
            case (.dropout, _, let dinp?):
                dropoutBackward(dinp: dinp, dout: dout, mask: ws.scratch[i], N: N)
            case (.linear(let outFeatures), .features(let inFeatures), _):
                linearBackward(
                    dinp: dinp, dweight: dweight, dbias: dbias, dout: dout, inp: inp,
                    weight: params + layer.parameters[0].offset, B: B, F: inFeatures, OF: outFeatures)
            case (.concatFeatures, .features(let inFeatures), let dinp?):
                concatFeaturesBackward(dinp: dinp, dout: dout, B: B, F: inFeatures, E: featureCount)
            case (.batchNorm1d, _, _):
                let (channels, length) = channelsAndLength(layer.input)
                // The input gradient is needed for the weight gradients too; a first-layer BatchNorm gets scratch.
                batchNorm1dBackward(
                    dinp: dinp ?? ws.grads[0], dweight: dweight, dbias: dbias, dout: dout, inp: inp,
                    weight: params + layer.parameters[0].offset, mean: ws.scratch[i], rstd: ws.scratch[i] + channels,
                    B: B, C: channels, L: length)
            default:
                preconditionFailure(
                    "layer \(i) \(layer.spec) does not fit input \(layer.input); plan() should have refused it")
            }
        }
    }
}

private func channelsAndLength(_ shape: ActivationShape) -> (Int, Int) {
    switch shape {
    case .sequence(let channels, let length): return (channels, length)
    case .features(let count): return (count, 1)
    }
}

/// Index of the largest of `count` values (the first on ties).
func argmax(_ values: UnsafePointer<Float>, _ count: Int) -> Int {
    var best = 0
    for i in 1..<max(count, 1) where values[i] > values[best] {
        best = i
    }
    return best
}
