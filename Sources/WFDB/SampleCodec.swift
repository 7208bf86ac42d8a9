/// Bulk conversion between packed signal-file bytes and a flat stream of digital samples.
///
/// The stream is the file's interleaved samples (frame by frame, signal by signal). Decoding starts
/// at a packing-unit boundary. Format 8 yields the stored first differences; the caller accumulates.
enum SampleCodec {
    /// Decodes `count` samples from `bytes` (which start at a unit boundary) into `out`.
    /// `bytes` must hold `format.bytesNeeded(samples: count)` bytes.
    static func decode(
        _ format: SignalFormat, bytes: UnsafeRawBufferPointer, count: Int, into out: UnsafeMutablePointer<Int32>
    ) {
        guard count > 0, let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        let spu = format.samplesPerUnit
        let bpu = format.bytesPerUnit
        let fullUnits = count / spu
        decodeUnits(format, base, fullUnits, out)
        let rest = count - fullUnits * spu
        if rest > 0 {
            // Copy the partial last unit into a zero-padded scratch so no read passes the buffer.
            var tail: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
            let available = min(bytes.count - fullUnits * bpu, 4)
            withUnsafeMutableBytes(of: &tail) { scratch in
                for i in 0..<max(available, 0) { scratch[i] = base[fullUnits * bpu + i] }
            }
            var values: (Int32, Int32, Int32) = (0, 0, 0)
            withUnsafeBytes(of: &tail) { scratch in
                withUnsafeMutablePointer(to: &values) { pointer in
                    pointer.withMemoryRebound(to: Int32.self, capacity: 3) { decoded in
                        if let tailBase = scratch.baseAddress?.assumingMemoryBound(to: UInt8.self) {
                            decodeUnits(format, tailBase, 1, decoded)
                        }
                        for i in 0..<rest { out[fullUnits * spu + i] = decoded[i] }
                    }
                }
            }
        }
    }

    /// Format 212 with two signals per frame: frame f is bytes 3f..<3f+3.
    /// (Index arithmetic in the decoding loops wraps: indices are bounded by the buffer, and overflow
    /// checks there cost more than the decoding.)
    static func decode212Pair(
        _ bytes: UnsafeRawBufferPointer, frames: Int, first: UnsafeMutablePointer<Int32>,
        second: UnsafeMutablePointer<Int32>
    ) {
        guard frames > 0, bytes.count >= frames * 3, let p = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        else { return }
        for f in 0..<frames {
            let b0 = UInt32(p[3 &* f])
            let b1 = UInt32(p[3 &* f &+ 1])
            let b2 = UInt32(p[3 &* f &+ 2])
            first[f] = Int32(bitPattern: (b0 | (b1 & 0x0F) << 8) << 20) >> 20
            second[f] = Int32(bitPattern: (b2 | (b1 & 0xF0) << 4) << 20) >> 20
        }
    }

    /// One of the two signals of format-212 frames (`member` 0: the low 12 bits, 1: the high ones).
    static func decode212One(
        _ bytes: UnsafeRawBufferPointer, frames: Int, member: Int, into output: UnsafeMutablePointer<Int32>
    ) {
        guard frames > 0, bytes.count >= frames * 3, let p = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        else { return }
        if member == 0 {
            for f in 0..<frames {
                let raw = UInt32(p[3 &* f]) | (UInt32(p[3 &* f &+ 1]) & 0x0F) << 8
                output[f] = Int32(bitPattern: raw << 20) >> 20
            }
        } else {
            for f in 0..<frames {
                let raw = UInt32(p[3 &* f &+ 2]) | (UInt32(p[3 &* f &+ 1]) & 0xF0) << 4
                output[f] = Int32(bitPattern: raw << 20) >> 20
            }
        }
    }

    @inline(__always)
    private static func decodeUnits(
        _ format: SignalFormat, _ p: UnsafePointer<UInt8>, _ units: Int, _ out: UnsafeMutablePointer<Int32>
    ) {
        switch format {
        case .null:
            for i in 0..<units { out[i] = Int32(Int16.min) }
        case .diff8:
            for i in 0..<units { out[i] = Int32(Int8(bitPattern: p[i])) }
        case .offset8:
            for i in 0..<units { out[i] = Int32(p[i]) &- 128 }
        case .int16:
            for i in 0..<units {
                out[i] = Int32(Int16(bitPattern: UInt16(p[2 &* i]) | UInt16(p[2 &* i &+ 1]) << 8))
            }
        case .int16BigEndian:
            for i in 0..<units {
                out[i] = Int32(Int16(bitPattern: UInt16(p[2 &* i]) << 8 | UInt16(p[2 &* i &+ 1])))
            }
        case .offset16:
            for i in 0..<units { out[i] = Int32(UInt16(p[2 &* i]) | UInt16(p[2 &* i &+ 1]) << 8) &- 32768 }
        case .int24:
            for i in 0..<units {
                let raw = UInt32(p[3 &* i]) | UInt32(p[3 &* i &+ 1]) << 8 | UInt32(p[3 &* i &+ 2]) << 16
                out[i] = Int32(bitPattern: raw << 8) >> 8
            }
        case .int32:
            for i in 0..<units {
                out[i] = Int32(
                    bitPattern: UInt32(p[4 &* i]) | UInt32(p[4 &* i &+ 1]) << 8
                        | UInt32(p[4 &* i &+ 2]) << 16 | UInt32(p[4 &* i &+ 3]) << 24)
            }
        case .packed212:
            for i in 0..<units {
                let b0 = UInt32(p[3 &* i])
                let b1 = UInt32(p[3 &* i &+ 1])
                let b2 = UInt32(p[3 &* i &+ 2])
                out[2 &* i] = Int32(bitPattern: (b0 | (b1 & 0x0F) << 8) << 20) >> 20
                out[2 &* i &+ 1] = Int32(bitPattern: (b2 | (b1 & 0xF0) << 4) << 20) >> 20
            }
        case .packed310:
            for i in 0..<units {
                let w0 = UInt32(p[4 &* i]) | UInt32(p[4 &* i &+ 1]) << 8
                let w1 = UInt32(p[4 &* i &+ 2]) | UInt32(p[4 &* i &+ 3]) << 8
                out[3 &* i] = Int32(bitPattern: ((w0 >> 1) & 0x3FF) << 22) >> 22
                out[3 &* i &+ 1] = Int32(bitPattern: ((w1 >> 1) & 0x3FF) << 22) >> 22
                out[3 &* i &+ 2] = Int32(bitPattern: ((w0 >> 11) | (w1 >> 11) << 5) << 22) >> 22
            }
        case .packed311:
            for i in 0..<units {
                let w =
                    UInt32(p[4 &* i]) | UInt32(p[4 &* i &+ 1]) << 8 | UInt32(p[4 &* i &+ 2]) << 16
                    | UInt32(p[4 &* i &+ 3]) << 24
                out[3 &* i] = Int32(bitPattern: (w & 0x3FF) << 22) >> 22
                out[3 &* i &+ 1] = Int32(bitPattern: ((w >> 10) & 0x3FF) << 22) >> 22
                out[3 &* i &+ 2] = Int32(bitPattern: ((w >> 20) & 0x3FF) << 22) >> 22
            }
        }
    }

    /// Encodes a flat sample stream. Values must already be in `format.valueRange`
    /// (for format 8: first differences in -128...127).
    static func encode(_ format: SignalFormat, _ samples: [Int32]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(format.bytesNeeded(samples: samples.count) + 4)
        let spu = format.samplesPerUnit
        var i = 0
        while i < samples.count {
            let s0 = UInt32(bitPattern: samples[i])
            let s1 = i + 1 < samples.count ? UInt32(bitPattern: samples[i + 1]) : 0
            let s2 = i + 2 < samples.count ? UInt32(bitPattern: samples[i + 2]) : 0
            switch format {
            case .null:
                break
            case .diff8:
                bytes.append(UInt8(truncatingIfNeeded: s0))
            case .offset8:
                bytes.append(UInt8(truncatingIfNeeded: s0 &+ 128))
            case .int16:
                bytes += [UInt8(truncatingIfNeeded: s0), UInt8(truncatingIfNeeded: s0 >> 8)]
            case .int16BigEndian:
                bytes += [UInt8(truncatingIfNeeded: s0 >> 8), UInt8(truncatingIfNeeded: s0)]
            case .offset16:
                let v = s0 &+ 32768
                bytes += [UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8)]
            case .int24:
                for shift in [0, 8, 16] as [UInt32] { bytes.append(UInt8(truncatingIfNeeded: s0 >> shift)) }
            case .int32:
                for shift in [0, 8, 16, 24] as [UInt32] { bytes.append(UInt8(truncatingIfNeeded: s0 >> shift)) }
            case .packed212:
                let a = s0 & 0xFFF
                let b = s1 & 0xFFF
                bytes.append(UInt8(truncatingIfNeeded: a))
                bytes.append(UInt8(truncatingIfNeeded: (a >> 8) | ((b >> 8) << 4)))
                bytes.append(UInt8(truncatingIfNeeded: b))
            case .packed310:
                let a = s0 & 0x3FF
                let b = s1 & 0x3FF
                let c = s2 & 0x3FF
                let w0 = (a << 1) | ((c & 0x1F) << 11)
                let w1 = (b << 1) | ((c >> 5) << 11)
                bytes += [UInt8(truncatingIfNeeded: w0), UInt8(truncatingIfNeeded: w0 >> 8)]
                bytes += [UInt8(truncatingIfNeeded: w1), UInt8(truncatingIfNeeded: w1 >> 8)]
            case .packed311:
                let w = (s0 & 0x3FF) | (s1 & 0x3FF) << 10 | (s2 & 0x3FF) << 20
                for shift in [0, 8, 16, 24] as [UInt32] { bytes.append(UInt8(truncatingIfNeeded: w >> shift)) }
            }
            i += spu
        }
        // Trim a partial last unit to the bytes its samples occupy, as the WFDB library writes it.
        let needed = format.bytesNeeded(samples: samples.count)
        if bytes.count > needed { bytes.removeLast(bytes.count - needed) }
        return bytes
    }
}
