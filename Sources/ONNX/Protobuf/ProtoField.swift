import Foundation

/// A message coded from a table of its fields: one `ProtoField` per known field, in field-number order. Decoding
/// finds the field by number (unknown numbers are skipped by the reader); encoding writes the table in order, which
/// is the order onnx.proto's own serializers use.
protocol TableCodedMessage: ProtoMessage {
    static var fields: [ProtoField<Self>] { get }
}

extension TableCodedMessage {
    mutating func decodeField(_ field: Int, _ wireType: WireType, _ reader: inout ProtoReader) throws -> Bool {
        guard let entry = Self.fields.first(where: { $0.number == field }) else { return false }
        try entry.decode(&self, wireType, &reader)
        return true
    }

    func encode(to writer: inout ProtoWriter) {
        for entry in Self.fields { entry.encode(self, &writer) }
    }
}

/// When a singular scalar is written. proto2 has presence, so a field whose presence matters (an attribute's value,
/// an opset version) is written even when it holds the default.
enum ProtoPresence<Message>: Sendable {
    /// Written whatever it holds.
    case always
    /// Written unless it holds the default (0, "", no bytes).
    case unlessDefault
    /// Written when it holds something else than the default, or when the message says it is set.
    case alsoWhen(@Sendable (Message) -> Bool)

    func isWritten<Value: Equatable>(_ value: Value, default defaultValue: Value, in message: Message) -> Bool {
        switch self {
        case .always: return true
        case .unlessDefault: return value != defaultValue
        case .alsoWhen(let isSet): return value != defaultValue || isSet(message)
        }
    }
}

/// One row of a message's table: the field number, how a value read from the wire lands in the message, and how the
/// message writes it.
struct ProtoField<Message>: Sendable {
    typealias Path<Value> = WritableKeyPath<Message, Value> & Sendable
    typealias Presence = ProtoPresence<Message>

    let number: Int
    let decode: @Sendable (inout Message, WireType, inout ProtoReader) throws -> Void
    let encode: @Sendable (Message, inout ProtoWriter) -> Void

    init(
        _ number: Int, decode: @escaping @Sendable (inout Message, WireType, inout ProtoReader) throws -> Void,
        encode: @escaping @Sendable (Message, inout ProtoWriter) -> Void
    ) {
        self.number = number
        self.decode = decode
        self.encode = encode
    }

    // MARK: Singular fields

    private static func scalar<Value: Equatable>(
        _ number: Int, _ path: Path<Value>, _ presence: Presence, _ defaultValue: Value,
        _ read: @escaping @Sendable (inout ProtoReader, WireType, Int) throws -> Value,
        _ write: @escaping @Sendable (inout ProtoWriter, Int, Value) -> Void
    ) -> ProtoField {
        ProtoField(
            number,
            decode: { message, wireType, reader in message[keyPath: path] = try read(&reader, wireType, number) },
            encode: { message, writer in
                let value = message[keyPath: path]
                if presence.isWritten(value, default: defaultValue, in: message) { write(&writer, number, value) }
            })
    }

    static func int64(_ number: Int, _ path: Path<Int64>, _ presence: Presence = .unlessDefault) -> Self {
        scalar(number, path, presence, 0, { try $0.readInt64($1, field: $2) }, { $0.writeInt64($1, $2) })
    }

    static func int32(_ number: Int, _ path: Path<Int32>, _ presence: Presence = .unlessDefault) -> Self {
        scalar(number, path, presence, 0, { try $0.readInt32($1, field: $2) }, { $0.writeInt32($1, $2) })
    }

    static func float(_ number: Int, _ path: Path<Float>, _ presence: Presence = .unlessDefault) -> Self {
        scalar(number, path, presence, 0, { try $0.readFloat($1, field: $2) }, { $0.writeFloat($1, $2) })
    }

    static func string(_ number: Int, _ path: Path<String>, _ presence: Presence = .unlessDefault) -> Self {
        scalar(number, path, presence, "", { try $0.readString($1, field: $2) }, { $0.writeString($1, $2) })
    }

    static func bytes(_ number: Int, _ path: Path<[UInt8]>, _ presence: Presence = .unlessDefault) -> Self {
        scalar(number, path, presence, [], { try $0.readBytes($1, field: $2) }, { $0.writeBytes($1, $2) })
    }

    /// An optional submessage, written when set.
    static func message<Child: ProtoMessage>(_ number: Int, _ path: Path<Child?>) -> Self {
        ProtoField(
            number,
            decode: { message, wireType, reader in
                message[keyPath: path] = try reader.readMessage(wireType, field: number, as: Child.self)
            },
            encode: { message, writer in
                if let child = message[keyPath: path] { writer.writeMessage(number, child) }
            })
    }

    // MARK: Repeated fields

    /// One tag per element, in order.
    private static func each<Element>(
        _ number: Int, _ path: Path<[Element]>,
        _ read: @escaping @Sendable (inout ProtoReader, WireType, Int) throws -> Element,
        _ write: @escaping @Sendable (inout ProtoWriter, Int, Element) -> Void
    ) -> ProtoField {
        ProtoField(
            number,
            decode: { message, wireType, reader in message[keyPath: path].append(try read(&reader, wireType, number)) },
            encode: { message, writer in
                for element in message[keyPath: path] { write(&writer, number, element) }
            })
    }

    static func repeated<Child: ProtoMessage>(_ number: Int, _ path: Path<[Child]>) -> Self {
        each(number, path, { try $0.readMessage($1, field: $2, as: Child.self) }, { $0.writeMessage($1, $2) })
    }

    static func repeated(_ number: Int, _ path: Path<[String]>) -> Self {
        each(number, path, { try $0.readString($1, field: $2) }, { $0.writeString($1, $2) })
    }

    static func repeated(_ number: Int, _ path: Path<[[UInt8]]>) -> Self {
        each(number, path, { try $0.readBytes($1, field: $2) }, { $0.writeBytes($1, $2) })
    }

    /// Numbers: read packed or one tag each; written packed (proto3 style; proto2 readers accept both forms, and
    /// packed is smaller). Empty is not written.
    private static func packed<Element>(
        _ number: Int, _ path: Path<[Element]>,
        _ append: @escaping @Sendable (inout ProtoReader, WireType, Int, inout [Element]) throws -> Void,
        _ write: @escaping @Sendable (inout ProtoWriter, Int, [Element]) -> Void
    ) -> ProtoField {
        ProtoField(
            number,
            decode: { message, wireType, reader in try append(&reader, wireType, number, &message[keyPath: path]) },
            encode: { message, writer in write(&writer, number, message[keyPath: path]) })
    }

    static func packed(_ number: Int, _ path: Path<[Int64]>) -> Self {
        packed(number, path, { try $0.appendInt64s($1, field: $2, to: &$3) }, { $0.writePackedInt64s($1, $2) })
    }

    static func packed(_ number: Int, _ path: Path<[Int32]>) -> Self {
        packed(number, path, { try $0.appendInt32s($1, field: $2, to: &$3) }, { $0.writePackedInt32s($1, $2) })
    }

    static func packed(_ number: Int, _ path: Path<[Float]>) -> Self {
        packed(number, path, { try $0.appendFloats($1, field: $2, to: &$3) }, { $0.writePackedFloats($1, $2) })
    }
}
