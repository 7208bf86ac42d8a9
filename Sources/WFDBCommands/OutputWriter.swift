import ArgumentParser
import Foundation
import JSONText

/// A `pipe wfdb` command: it prints through an `OutputWriter`, standard output when run, a closure in the tests.
public protocol PrintingCommand: ParsableCommand {
    func execute(into output: inout OutputWriter) throws
}

extension PrintingCommand {
    /// Prints to standard output; what was printed before a failure still goes out.
    public func run() throws {
        var output = OutputWriter.standardOutput()
        defer { output.flush() }
        try execute(into: &output)
    }
}

/// Buffered text output: commands append bytes and numbers; the buffer goes out in large writes.
public struct OutputWriter {
    private var buffer: [UInt8] = []
    private let sink: ([UInt8]) -> Void
    private let limit = 1 << 16

    /// Writes to standard output.
    public static func standardOutput() -> OutputWriter {
        OutputWriter { bytes in
            bytes.withUnsafeBufferPointer { pointer in
                _ = fwrite(pointer.baseAddress, 1, pointer.count, stdout)
            }
            fflush(stdout)
        }
    }

    /// Writes to a closure (tests collect output with it).
    public init(sink: @escaping ([UInt8]) -> Void) {
        self.sink = sink
        buffer.reserveCapacity(limit + 256)
    }

    public mutating func write(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= limit { flush() }
    }

    public mutating func line(_ text: String) {
        write(text)
        byte(0x0A)
    }

    public mutating func byte(_ value: UInt8) {
        buffer.append(value)
        if buffer.count >= limit { flush() }
    }

    /// Appends a decimal integer without going through String.
    public mutating func integer(_ value: Int) {
        var magnitude = value.magnitude
        if value < 0 { buffer.append(0x2D) }
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { scratch in
            repeat {
                scratch[count] = UInt8(truncatingIfNeeded: magnitude % 10) + 0x30
                magnitude /= 10
                count += 1
            } while magnitude > 0
            for index in stride(from: count - 1, through: 0, by: -1) { buffer.append(scratch[index]) }
        }
        if buffer.count >= limit { flush() }
    }

    /// Appends `value` with exactly `decimals` digits after the point; NaN as `nan` is left to callers.
    public mutating func fixed(_ value: Double, decimals: Int) {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9e17 else {
            write(String(value))
            return
        }
        let units = Int(scaled)
        if value < 0 && units != 0 { buffer.append(0x2D) }
        let factor = Int(scale)
        integer(units / max(factor, 1))
        if decimals > 0 {
            buffer.append(0x2E)
            var fraction = units % max(factor, 1)
            var divisor = factor / 10
            while divisor > 0 {
                buffer.append(UInt8(truncatingIfNeeded: fraction / divisor) + 0x30)
                fraction %= divisor
                divisor /= 10
            }
        }
    }

    /// A JSON string literal.
    public mutating func jsonString(_ text: String) { write(JSONString.literal(text)) }

    /// A CSV field, quoted when it holds a comma, quote or newline.
    public mutating func csvField(_ text: String) {
        if text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            write("\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"")
        } else {
            write(text)
        }
    }

    public mutating func flush() {
        if buffer.isEmpty { return }
        sink(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}
