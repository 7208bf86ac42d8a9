/// Activation, gradient and scratch buffers for batches of up to `capacity` samples, allocated once and reused by
/// every step (a smaller batch uses the front of each buffer, since all layouts are batch-major or [rows, B*…]).
final class Workspace {
    let capacity: Int
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

    init(layers: [LayerInfo], inputLength: Int, featureCount: Int, classCount: Int, capacity B: Int) {
        capacity = B
        func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
            let pointer = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
            pointer.initialize(repeating: 0, count: max(count, 1))
            return pointer
        }
        var acts = [floats(B * inputLength)]
        var grads = [floats(B * inputLength)]
        var scratch: [UnsafeMutablePointer<Float>] = []
        var scratch2: [UnsafeMutablePointer<Float>] = []
        var indices: [UnsafeMutablePointer<Int32>] = []
        for layer in layers {
            acts.append(floats(B * layer.output.count))
            grads.append(floats(B * layer.output.count))
            var first = 1
            var second = 1
            var indexCount = 1
            switch (layer.spec, layer.input, layer.output) {
            case (.conv1d(let outChannels, let kernel, _, _), .sequence(let channels, _), .sequence(_, let outLength)):
                first = channels * kernel * B * outLength
                second = outChannels * B * outLength
            case (.maxPool1d, _, _):
                indexCount = B * layer.output.count
            case (.batchNorm1d, _, _):
                first = 2 * layer.parameters[0].count
            case (.dropout, _, _):
                first = B * layer.output.count
            default:
                break
            }
            scratch.append(floats(first))
            scratch2.append(floats(second))
            let index = UnsafeMutablePointer<Int32>.allocate(capacity: indexCount)
            index.initialize(repeating: 0, count: indexCount)
            indices.append(index)
        }
        self.acts = acts
        self.grads = grads
        self.scratch = scratch
        self.scratch2 = scratch2
        self.indices = indices
        features = floats(B * featureCount)
        probs = floats(B * classCount)
        classWeights = floats(classCount)
        targets = UnsafeMutablePointer<Int32>.allocate(capacity: B)
        targets.initialize(repeating: 0, count: B)
        owned = acts + grads + scratch + scratch2 + [features, probs, classWeights]
    }

    deinit {
        for pointer in owned {
            pointer.deallocate()
        }
        for pointer in indices {
            pointer.deallocate()
        }
        targets.deallocate()
    }
}
