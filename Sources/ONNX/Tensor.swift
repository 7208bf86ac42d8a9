import Foundation

/// Element types the runtime computes with (ONNX `TensorProto.DataType` numbering).
public enum ElementType: Int32, Sendable, CustomStringConvertible {
    case float32 = 1
    case int64 = 7

    public var description: String {
        switch self {
        case .float32: return "float32"
        case .int64: return "int64"
        }
    }

    var byteSize: Int { self == .float32 ? 4 : 8 }
}

/// A dense row-major tensor of float32 or int64 elements: the values passed to and returned by
/// `ONNXModel.run`.
public struct Tensor: Equatable, Sendable, CustomStringConvertible {
    /// The elements, row-major.
    public enum Storage: Equatable, Sendable {
        case float32([Float])
        case int64([Int64])
    }

    public let shape: [Int]
    public let storage: Storage

    /// A float32 tensor. The element count must equal the product of `shape` (a programming error otherwise).
    public init(shape: [Int], floats: [Float]) {
        self.init(shape: shape, storage: .float32(floats), count: floats.count)
    }

    /// An int64 tensor. The element count must equal the product of `shape` (a programming error otherwise).
    public init(shape: [Int], int64s: [Int64]) {
        self.init(shape: shape, storage: .int64(int64s), count: int64s.count)
    }

    private init(shape: [Int], storage: Storage, count: Int) {
        precondition(
            shape.allSatisfy { $0 >= 0 } && shape.reduce(1, *) == count,
            "shape \(shape) needs \(shape.reduce(1, *)) elements, got \(count)")
        self.shape = shape
        self.storage = storage
    }

    public var elementType: ElementType {
        switch storage {
        case .float32: return .float32
        case .int64: return .int64
        }
    }

    public var count: Int { shape.reduce(1, *) }

    /// The elements as floats, or nil for an int64 tensor.
    public var floats: [Float]? {
        if case .float32(let values) = storage { return values }
        return nil
    }

    /// The elements as int64s, or nil for a float32 tensor.
    public var int64s: [Int64]? {
        if case .int64(let values) = storage { return values }
        return nil
    }

    public var description: String { "Tensor<\(elementType)>\(shape)" }
}
