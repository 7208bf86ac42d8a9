import Foundation
import VectorKernels

/// One planned unit of work: a kernel bound to fixed input and output addresses.
typealias Step = () throws -> Void

/// Binds a kernel to the addresses the planner chose: `inputs` follow the node's inputs (nil for an absent
/// optional input), `outputs` the kernel's outputs.
typealias Binder = (_ inputs: [UnsafeMutableRawPointer?], _ outputs: [UnsafeMutableRawPointer]) -> Step

/// What a node becomes once its input types are known.
struct KernelPlan {
    enum Kind {
        /// Work to do at run time (or at plan time when every input is constant).
        case compute(Binder)
        /// Output 0 is input 0's bytes under another shape (Reshape, Flatten, Identity, …): no work.
        case view
        /// The outputs are known now, whatever the input data (Shape, Constant).
        case constant([ConstantValue])
    }

    var outputTypes: [ValueType]
    var kind: Kind
    /// The kernel may write output 0 over input 0 (same size, element by element).
    var inPlace = false
}

/// A node input as the planner knows it: its type, and its data when it is known before running.
struct KernelInput {
    let type: ValueType
    let constant: ConstantValue?
}

/// Everything a kernel factory may look at.
struct KernelContext {
    let node: GraphNode
    /// Aligned with `node.inputs`; nil for an absent optional input.
    let inputs: [KernelInput?]
    let opset: Int64
    /// A Relu that reads only this node's output has been folded into it.
    let fuseRelu: Bool
    /// The SIMD loops of the instruction set the plan runs on.
    let kernels: VectorKernelTable

    var attributes: Attributes { node.attributes }

    func input(_ index: Int) throws -> KernelInput {
        guard index < inputs.count, let input = inputs[index] else {
            throw ONNXError.shapeMismatch(node: node.name, reason: "\(node.opType) needs input \(index + 1)")
        }
        return input
    }

    func optionalInput(_ index: Int) -> KernelInput? {
        index < inputs.count ? inputs[index] : nil
    }

    /// A plan-time constant input, or an error saying it must be one.
    func constantInput(_ index: Int) throws -> ConstantValue {
        guard let constant = try input(index).constant else {
            throw ONNXError.notConstant(node: node.name, input: node.inputs[index])
        }
        return constant
    }

    func mismatch(_ reason: String) -> ONNXError {
        .shapeMismatch(node: node.name, reason: reason)
    }

    func unsupported(_ reason: String) -> ONNXError {
        .unsupportedAttribute(node: node.name, reason: reason)
    }

    func requireFloat(_ input: KernelInput, _ role: String) throws {
        guard input.type.element == .float32 else {
            throw mismatch("\(role) must be float32, got \(input.type.element)")
        }
    }

    /// Fails when the node asks for more outputs than the operator produces here.
    func limitOutputs(to count: Int) throws {
        if node.outputs.count > count, node.outputs[count...].contains(where: { !$0.isEmpty }) {
            throw unsupported("\(node.opType) output \(count + 1) ('\(node.outputs[count])') is not supported")
        }
    }

    /// Normalises a possibly negative axis against `rank`.
    func axis(_ value: Int, rank: Int) throws -> Int {
        let normalised = value < 0 ? value + rank : value
        guard normalised >= 0, normalised < rank else {
            throw mismatch("axis \(value) is out of range for rank \(rank)")
        }
        return normalised
    }
}

/// The kernel factory: checks the node against its input types and returns what it computes.
func makeKernel(_ context: KernelContext) throws -> KernelPlan {
    switch context.node.opType {
    case "Conv": return try convolutionKernel(context)
    case "MaxPool": return try poolKernel(context, kind: .max)
    case "AveragePool": return try poolKernel(context, kind: .average)
    case "GlobalAveragePool": return try globalAveragePoolKernel(context)
    case "Gemm": return try gemmKernel(context)
    case "MatMul": return try matMulKernel(context)
    case "Relu": return try reluKernel(context)
    case "Add": return try binaryKernel(context, .add)
    case "Sub": return try binaryKernel(context, .subtract)
    case "Mul": return try binaryKernel(context, .multiply)
    case "Div": return try binaryKernel(context, .divide)
    case "BatchNormalization": return try batchNormalizationKernel(context)
    case "Softmax": return try softmaxKernel(context)
    case "Cast": return try castKernel(context)
    case "Reshape": return try reshapeKernel(context)
    case "Flatten": return try flattenKernel(context)
    case "Squeeze": return try squeezeKernel(context)
    case "Unsqueeze": return try unsqueezeKernel(context)
    case "Identity": return try identityKernel(context)
    case "Dropout": return try dropoutKernel(context)
    case "Shape": return try shapeKernel(context)
    case "Constant": return try constantKernel(context)
    case "Concat": return try concatKernel(context)
    case "Gather": return try gatherKernel(context)
    default:
        throw ONNXError.unsupportedOperator(opType: context.node.opType, domain: "", node: context.node.name)
    }
}

/// Numpy-style broadcast of two shapes, or nil when they do not broadcast.
func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
    let rank = max(a.count, b.count)
    var result = [Int](repeating: 1, count: rank)
    for index in 0..<rank {
        let x = index - (rank - a.count) >= 0 ? a[index - (rank - a.count)] : 1
        let y = index - (rank - b.count) >= 0 ? b[index - (rank - b.count)] : 1
        if x == y || y == 1 {
            result[index] = x
        } else if x == 1 {
            result[index] = y
        } else {
            return nil
        }
    }
    return result
}

/// Element strides of `shape` read as if broadcast to `target` (0 along broadcast dimensions).
func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
    var strides = [Int](repeating: 0, count: target.count)
    var elementStride = 1
    for index in stride(from: shape.count - 1, through: 0, by: -1) {
        let targetIndex = index + target.count - shape.count
        strides[targetIndex] = shape[index] == 1 ? 0 : elementStride
        elementStride *= shape[index]
    }
    return strides
}

extension UnsafeMutableRawPointer {
    var floats: UnsafeMutablePointer<Float> { assumingMemoryBound(to: Float.self) }
    var int64s: UnsafeMutablePointer<Int64> { assumingMemoryBound(to: Int64.self) }
}
