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

    /// A kernel that reads input 0 and writes output 0, both floats (an element-wise op, a softmax, a pool).
    static func reading(
        _ outputType: ValueType, inPlace: Bool = false,
        _ work: @escaping (_ source: UnsafeMutablePointer<Float>, _ destination: UnsafeMutablePointer<Float>) -> Void
    ) -> KernelPlan {
        KernelPlan(
            outputTypes: [outputType],
            kind: .compute { inputs, outputs in
                let source = (inputs[0] ?? outputs[0]).floats
                let destination = outputs[0].floats
                return { work(source, destination) }
            },
            inPlace: inPlace)
    }
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

    /// Inputs 1 and 2 of a product (A and B, X and W), both required to be float32.
    func floatOperands(_ first: String, _ second: String) throws -> (KernelInput, KernelInput) {
        let operands = (try input(0), try input(1))
        try requireFloat(operands.0, first)
        try requireFloat(operands.1, second)
        return operands
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

/// The operators the runtime has a kernel for, by ONNX op type (default domain): each checks the node against its
/// input types and returns what it computes.
let kernelFactories: [String: @Sendable (KernelContext) throws -> KernelPlan] = [
    "Conv": convolutionKernel,
    "MaxPool": { try poolKernel($0, kind: .max) },
    "AveragePool": { try poolKernel($0, kind: .average) },
    "GlobalAveragePool": globalAveragePoolKernel,
    "Gemm": gemmKernel,
    "MatMul": matMulKernel,
    "Relu": reluKernel,
    "Add": { try binaryKernel($0, .add) },
    "Sub": { try binaryKernel($0, .subtract) },
    "Mul": { try binaryKernel($0, .multiply) },
    "Div": { try binaryKernel($0, .divide) },
    "BatchNormalization": batchNormalizationKernel,
    "Softmax": softmaxKernel,
    "Cast": castKernel,
    "Reshape": reshapeKernel,
    "Flatten": flattenKernel,
    "Squeeze": squeezeKernel,
    "Unsqueeze": unsqueezeKernel,
    "Identity": identityKernel,
    "Dropout": dropoutKernel,
    "Shape": shapeKernel,
    "Constant": constantKernel,
    "Concat": concatKernel,
    "Gather": gatherKernel,
]

/// The kernel factory: the node's operator's kernel, or an error naming an operator the runtime lacks.
func makeKernel(_ context: KernelContext) throws -> KernelPlan {
    guard let factory = kernelFactories[context.node.opType] else {
        throw ONNXError.unsupportedOperator(opType: context.node.opType, domain: "", node: context.node.name)
    }
    return try factory(context)
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
