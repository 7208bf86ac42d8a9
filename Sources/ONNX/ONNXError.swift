import Foundation

/// Everything that can go wrong while decoding, validating, planning or running an ONNX model.
///
/// Each case names what it is about (byte offset, message, node, value) so that a user can find the
/// problem in the file or the graph without a debugger.
public enum ONNXError: Error, Equatable, CustomStringConvertible {
    /// The bytes are not a well-formed protobuf message of the expected type.
    case malformedProtobuf(message: String, offset: Int, reason: String)
    /// The file could not be read.
    case unreadableFile(path: String, reason: String)
    /// The protobuf is well formed but is not a usable ONNX model (no graph, no opset, bad tensor, …).
    case invalidModel(String)
    /// A node uses an operator this runtime does not implement.
    case unsupportedOperator(opType: String, domain: String, node: String)
    /// A tensor, input or attribute uses an element type other than float32 or int64.
    case unsupportedDataType(dataType: Int32, context: String)
    /// An attribute value that the operator does not support here (for example `group` ≠ 1 in Conv).
    case unsupportedAttribute(node: String, reason: String)
    /// A node reads a value that no node, initializer or graph input defines.
    case undefinedValue(name: String, node: String)
    /// The graph has a cycle; the nodes named could not be ordered.
    case cyclicGraph(nodes: [String])
    /// Shapes or element types do not fit the operator.
    case shapeMismatch(node: String, reason: String)
    /// A value that must be known when the graph is planned (a Reshape target, Unsqueeze axes) depends on
    /// run-time data.
    case notConstant(node: String, input: String)
    /// The inputs passed to `run` do not match the graph's inputs.
    case invalidInput(name: String, reason: String)
    /// A value computed at run time is out of range (a Gather index, for example).
    case runtimeFailure(node: String, reason: String)
    /// A model file that cannot be used: `error` says why.
    indirect case unusableFile(path: String, error: ONNXError)

    public var description: String {
        switch self {
        case .malformedProtobuf(let message, let offset, let reason):
            return "malformed ONNX protobuf: \(message) at byte \(offset): \(reason)"
        case .unreadableFile(let path, let reason):
            return "cannot read ONNX file \(path): \(reason)"
        case .invalidModel(let reason):
            return "invalid ONNX model: \(reason)"
        case .unsupportedOperator(let opType, let domain, let node):
            let qualified = domain.isEmpty ? opType : "\(domain).\(opType)"
            return "unsupported ONNX operator \(qualified) in node '\(node)'"
        case .unsupportedDataType(let dataType, let context):
            return "unsupported ONNX data type \(dataType) (\(Self.dataTypeName(dataType))) in \(context); "
                + "only float32 and int64 are supported"
        case .unsupportedAttribute(let node, let reason):
            return "node '\(node)': \(reason)"
        case .undefinedValue(let name, let node):
            return "node '\(node)' reads '\(name)', which no node, initializer or graph input defines"
        case .cyclicGraph(let nodes):
            return "the graph has a cycle through nodes \(nodes.joined(separator: ", "))"
        case .shapeMismatch(let node, let reason):
            return "shape mismatch in node '\(node)': \(reason)"
        case .notConstant(let node, let input):
            return "node '\(node)': input '\(input)' must be a constant or computable from shapes when planning"
        case .invalidInput(let name, let reason):
            return "input '\(name)': \(reason)"
        case .runtimeFailure(let node, let reason):
            return "node '\(node)': \(reason)"
        case .unusableFile(let path, let error):
            return "\(path): \(error)"
        }
    }

    static func dataTypeName(_ dataType: Int32) -> String {
        let names: [Int32: String] = [
            0: "UNDEFINED", 1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32", 7: "INT64",
            8: "STRING", 9: "BOOL", 10: "FLOAT16", 11: "DOUBLE", 12: "UINT32", 13: "UINT64", 16: "BFLOAT16",
        ]
        return names[dataType] ?? "unknown"
    }
}
