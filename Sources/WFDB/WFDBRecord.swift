import Foundation

/// An opened WFDB record: its header, the effective signal lines, and its length in frames.
///
/// Opening reads only header files (and, for a record whose header leaves out the sample count,
/// the size of its first signal file). `read` decodes only the requested frame range.
public struct WFDBRecord: Sendable {
    public let location: RecordLocation
    /// The record's own header (for a multi-segment record, the master header).
    public let header: RecordHeader
    /// The record's signals. For a multi-segment record, the layout's (or first segment's) lines.
    public let signals: [SignalSpec]
    /// Number of frames in the record.
    public let frameCount: Int
    let groups: [SignalGroup]
    let segments: [LoadedSegment]

    public var isMultiSegment: Bool { header.segments != nil }
    public var headerPath: String { location.headerPath }

    /// Signals that share one file: they are interleaved frame by frame.
    struct SignalGroup: Sendable {
        var fileName: String
        var format: SignalFormat
        var byteOffset: Int
        var members: [Int]
        var line: Int
        var frameSize: Int
    }

    struct LoadedSegment: Sendable {
        var spec: SegmentSpec
        var start: Int
        /// nil for a null (`~`) segment.
        var record: WFDBRecordBox?
        /// For each record signal, the segment's signal index that carries it (nil: absent).
        var signalMap: [Int?]
    }

    /// Most frames all null (`~`) segments of a record may have together (2^26: over 2 days at
    /// 360 Hz). They have no file to bound them, and reading them yields one marker per sample.
    public static let maxNullFrames = 1 << 26

    /// Most frames a multi-segment record may have (2^31). Its segments may name the same file many
    /// times, so the files do not bound it.
    public static let maxSegmentedFrames = 1 << 31

    /// Opens a record from a path without extension or ending in `.hea`.
    public static func open(_ path: String) throws -> WFDBRecord {
        try open(RecordLocation(path: path), allowSegments: true)
    }

    static func open(_ location: RecordLocation, allowSegments: Bool) throws -> WFDBRecord {
        let headerPath = location.headerPath
        let bytes = try FileAccess.readAll(headerPath)
        let header = try HeaderParser.parse(Data(bytes), file: headerPath)
        if let segmentSpecs = header.segments {
            guard allowSegments else {
                throw WFDBError.segmentMismatch(
                    file: headerPath, segment: location.name, reason: "a segment may not itself have segments")
            }
            return try openMultiSegment(location, header: header, segmentSpecs: segmentSpecs)
        }
        let groups = makeGroups(header.signals)
        var frameCount = header.specifiedSampleCount ?? 0
        for group in groups where group.format != .null && group.fileName != "~" {
            let path = location.path(for: group.fileName)
            guard let size = FileAccess.size(of: path) else {
                throw FileAccess.missingFileError(
                    path,
                    notFound: .signalFileNotFound(header: headerPath, line: group.line, file: group.fileName))
            }
            if header.specifiedSampleCount == nil && group.members.first == groups.first?.members.first {
                let data = max(size - group.byteOffset, 0)
                frameCount = group.format.samplesHeld(bytes: data) / max(group.frameSize, 1)
            }
        }
        return WFDBRecord(
            location: location, header: header, signals: header.signals, frameCount: frameCount,
            groups: groups, segments: [])
    }

    static func makeGroups(_ signals: [SignalSpec]) -> [SignalGroup] {
        var groups: [SignalGroup] = []
        for (index, signal) in signals.enumerated() {
            if var last = groups.last, last.fileName == signal.fileName, signal.fileName != "~" {
                last.members.append(index)
                last.frameSize += signal.samplesPerFrame
                groups[groups.count - 1] = last
            } else {
                groups.append(
                    SignalGroup(
                        fileName: signal.fileName, format: signal.format, byteOffset: signal.byteOffset,
                        members: [index], line: signal.line, frameSize: signal.samplesPerFrame))
            }
        }
        return groups
    }

    static func openMultiSegment(
        _ location: RecordLocation, header: RecordHeader, segmentSpecs: [SegmentSpec]
    ) throws -> WFDBRecord {
        let headerPath = location.headerPath
        var specs = segmentSpecs[...]
        var layout: WFDBRecord?
        // Variable layout: the first segment has length 0 and only describes the signals.
        if let first = specs.first, first.sampleCount == 0, !first.isNull {
            layout = try open(RecordLocation(directory: location.directory, name: first.name), allowSegments: false)
            specs = specs.dropFirst()
        }
        var opened: [(SegmentSpec, WFDBRecord?)] = []
        var nullFrames = 0
        for spec in specs {
            if spec.isNull {
                // A null segment has no file to bound it, so its length is bounded here: reading it
                // allocates one invalid marker per sample.
                guard spec.sampleCount <= Self.maxNullFrames - nullFrames else {
                    throw WFDBError.segmentMismatch(
                        file: headerPath, segment: "~",
                        reason: "null segments of more than \(Self.maxNullFrames) samples in all")
                }
                nullFrames += spec.sampleCount
                opened.append((spec, nil))
                continue
            }
            let segment = try open(RecordLocation(directory: location.directory, name: spec.name), allowSegments: false)
            if segment.frameCount < spec.sampleCount {
                throw WFDBError.segmentMismatch(
                    file: headerPath, segment: spec.name,
                    reason: "has \(segment.frameCount) samples, the master header says \(spec.sampleCount)")
            }
            opened.append((spec, segment))
        }
        let signals: [SignalSpec]
        if let layout {
            signals = layout.signals
        } else if let firstReal = opened.compactMap({ $0.1 }).first {
            signals = firstReal.signals
        } else {
            signals = []
        }
        if signals.count != header.signalCount && !(layout == nil && opened.allSatisfy { $0.1 == nil }) {
            throw WFDBError.segmentMismatch(
                file: headerPath, segment: layout?.header.name ?? opened.first?.0.name ?? "~",
                reason: "has \(signals.count) signals, the master header says \(header.signalCount)")
        }
        var segments: [LoadedSegment] = []
        var start = 0
        for (spec, record) in opened {
            var map: [Int?] = Array(repeating: nil, count: signals.count)
            if let record {
                if layout != nil {
                    for (index, signal) in signals.enumerated() {
                        map[index] = record.signals.firstIndex { $0.description == signal.description }
                    }
                } else {
                    guard record.signals.count == signals.count else {
                        throw WFDBError.segmentMismatch(
                            file: headerPath, segment: spec.name,
                            reason: "has \(record.signals.count) signals; a fixed layout needs \(signals.count)")
                    }
                    for index in signals.indices { map[index] = index }
                }
                for (index, segmentIndex) in map.enumerated() {
                    if let segmentIndex,
                        record.signals[segmentIndex].samplesPerFrame != signals[index].samplesPerFrame
                    {
                        throw WFDBError.segmentMismatch(
                            file: headerPath, segment: spec.name,
                            reason: "signal '\(signals[index].description)' changes samples per frame")
                    }
                }
            }
            segments.append(
                LoadedSegment(
                    spec: spec, start: start, record: record.map(WFDBRecordBox.init), signalMap: map))
            start += spec.sampleCount
            guard start <= Self.maxSegmentedFrames else {
                throw WFDBError.segmentMismatch(
                    file: headerPath, segment: spec.name,
                    reason: "the segments reach \(start) samples, more than \(Self.maxSegmentedFrames)")
            }
        }
        return WFDBRecord(
            location: location, header: header, signals: signals, frameCount: start,
            groups: [], segments: segments)
    }

    /// Index of a signal given as a number or as its description (e.g. `MLII`).
    public func signalIndex(_ nameOrIndex: String) throws -> Int {
        if let index = signals.firstIndex(where: { $0.description == nameOrIndex }) { return index }
        if let index = Int(nameOrIndex), signals.indices.contains(index) { return index }
        throw WFDBError.unknownSignal(record: headerPath, signal: nameOrIndex)
    }

    /// Decodes frames `frames` (all when nil) of the signals `signals` (all when nil).
    ///
    /// Checksums are verified when the whole record is read; a mismatch is reported in the block's
    /// `warnings`, not thrown.
    public func read(frames: Range<Int>? = nil, signals selection: [Int]? = nil) throws -> SignalBlock {
        let range = frames ?? 0..<frameCount
        guard range.lowerBound >= 0, range.upperBound <= frameCount else {
            throw WFDBError.sampleRangeOutOfBounds(
                record: headerPath, from: range.lowerBound, to: range.upperBound, length: frameCount)
        }
        let selected = selection ?? Array(signals.indices)
        for index in selected where !signals.indices.contains(index) {
            throw WFDBError.unknownSignal(record: headerPath, signal: String(index))
        }
        var channels: [Int: SignalChannel] = [:]
        if isMultiSegment {
            channels = try readSegments(range, selected)
        } else {
            for group in groups {
                let wanted = group.members.filter { selected.contains($0) }
                if wanted.isEmpty { continue }
                for channel in try readGroup(group, range, wanted) { channels[channel.signalIndex] = channel }
            }
        }
        return SignalBlock(
            record: location.name, firstFrame: range.lowerBound, frameCount: range.count,
            channels: selected.compactMap { channels[$0] })
    }

    /// Decodes the whole record in consecutive blocks of at most `framesPerBlock` frames, so memory
    /// stays bounded; checksums are verified across blocks. Returns one status per selected signal.
    ///
    /// Records with format 8 signals (first differences) or several segments are decoded in one block.
    @discardableResult
    public func forEachBlock(
        framesPerBlock: Int = 1 << 14, signals selection: [Int]? = nil, _ body: (SignalBlock) throws -> Void
    ) throws -> [ChecksumStatus] {
        let selected = selection ?? Array(signals.indices)
        if isMultiSegment {
            return try forEachSegmentBlock(framesPerBlock: framesPerBlock, signals: selected, body)
        }
        let streamable = !selected.contains { signals.indices.contains($0) && signals[$0].format == .diff8 }
        if !streamable || frameCount <= framesPerBlock {
            let block = try read(signals: selected)
            try body(block)
            return block.channels.map(\.checksum)
        }
        var sums = Array(repeating: 0, count: selected.count)
        var start = 0
        while start < frameCount {
            let end = min(frameCount, start + max(framesPerBlock, 1))
            let block = try read(frames: start..<end, signals: selected)
            for (slot, channel) in block.channels.enumerated() { sums[slot] &+= channel.sampleSum }
            try body(block)
            start = end
        }
        return selected.enumerated().map { slot, index in checksumStatus(signals[index], sum: sums[slot]) }
    }

    /// A whole signal's checksum status. header(5): without a sample count (missing or 0) the length is not
    /// known, so checksum verification is disabled (a 0 checksum is then a placeholder).
    func checksumStatus(_ spec: SignalSpec, sum: Int) -> ChecksumStatus {
        guard let expected = spec.checksum else { return .absent }
        guard header.specifiedSampleCount != nil else { return .notChecked }
        let computed = Int(Int16(truncatingIfNeeded: sum))
        return (expected & 0xFFFF) == (computed & 0xFFFF) ? .ok : .mismatch(expected: expected, computed: computed)
    }

    /// Multi-segment records go segment by segment: each segment with data is one block (bounded by
    /// its files, and read whole so its checksums are verified); null segments go in blocks.
    private func forEachSegmentBlock(
        framesPerBlock: Int, signals selected: [Int], _ body: (SignalBlock) throws -> Void
    ) throws -> [ChecksumStatus] {
        var statuses = Array(repeating: [ChecksumStatus](), count: selected.count)
        for segment in segments {
            let range = segment.start..<(segment.start + segment.spec.sampleCount)
            let step = segment.record == nil ? max(framesPerBlock, 1) : max(range.count, 1)
            var start = range.lowerBound
            while start < range.upperBound {
                let end = min(range.upperBound, start + step)
                let block = try read(frames: start..<end, signals: selected)
                for (slot, channel) in block.channels.enumerated() { statuses[slot].append(channel.checksum) }
                try body(block)
                start = end
            }
        }
        return statuses.map(ChecksumStatus.combined)
    }

    // MARK: - Single-segment decoding

    private func readGroup(_ group: SignalGroup, _ range: Range<Int>, _ wanted: [Int]) throws -> [SignalChannel] {
        let format = group.format
        if format == .null || group.fileName == "~" {
            return wanted.map { index in
                let spec = signals[index]
                let marker = format.invalidValue ?? Int32(Int16.min)
                let count = range.count * spec.samplesPerFrame
                return SignalChannel(
                    signalIndex: index, spec: spec, digital: Array(repeating: marker, count: count),
                    invalidValue: marker, invalidCount: count, checksum: .notChecked)
            }
        }
        let path = location.path(for: group.fileName)
        guard let fileSize = FileAccess.size(of: path) else {
            throw FileAccess.missingFileError(
                path, notFound: .signalFileNotFound(header: headerPath, line: group.line, file: group.fileName))
        }
        let plan = try GroupDecodePlan(
            group: group, signals: signals, range: range, wanted: wanted, fileSize: fileSize, path: path)
        let bytes =
            plan.byteCount > 0
            ? try FileAccess.read(path, offset: plan.byteStart, count: plan.byteCount) : []
        var tallies: [(sum: Int, invalid: Int)] = []
        let outputs = Self.makeArrays(plan.outputCounts[...], []) { outputs in
            tallies = bytes.withUnsafeBytes { plan.decode($0, into: outputs) }
        }
        let marker = format.invalidValue ?? plan.fill
        let whole = range.lowerBound == 0 && range.upperBound == frameCount
        return wanted.enumerated().map { slot, index in
            let spec = signals[index]
            let digital = outputs[slot]
            let (sum, invalid) = tallies[slot]
            let status = whole ? checksumStatus(spec, sum: sum) : .notChecked
            return SignalChannel(
                signalIndex: index, spec: spec, digital: digital, invalidValue: marker,
                invalidCount: invalid, checksum: status, sampleSum: sum)
        }
    }

    /// Creates arrays of the given sizes and lets `body` fill them through pointers that stay valid
    /// for the whole call. `body` must initialise every element.
    static func makeArrays(
        _ counts: ArraySlice<Int>, _ pointers: [UnsafeMutablePointer<Int32>],
        _ body: ([UnsafeMutablePointer<Int32>]) -> Void
    ) -> [[Int32]] {
        guard let count = counts.first else {
            body(pointers)
            return []
        }
        var rest: [[Int32]] = []
        let array = [Int32](unsafeUninitializedCapacity: max(count, 1)) { buffer, initialized in
            guard let base = buffer.baseAddress else { return }
            rest = makeArrays(counts.dropFirst(), pointers + [base], body)
            initialized = count
        }
        return [array] + rest
    }

    static func sumAndCount(_ values: [Int32], marker: Int32?) -> (sum: Int, invalid: Int) {
        values.withUnsafeBufferPointer { sumAndCount($0, marker: marker) }
    }

    /// Wrapping sum of the samples (for the checksum) and the number equal to `marker`.
    ///
    /// The checksum keeps 16 bits, so 32-bit wrapping sums suffice; they and the 32-bit counts let
    /// both loops vectorise. Counts are taken in slices short enough not to overflow.
    static func sumAndCount(_ buffer: UnsafeBufferPointer<Int32>, marker: Int32?) -> (sum: Int, invalid: Int) {
        guard let values = buffer.baseAddress else { return (0, 0) }
        // One vectorisable pass for the sum and the minimum; the (branchy) count of invalid samples
        // runs only when the minimum shows there can be any.
        var sum: Int32 = 0
        var minimum = Int32.max
        for i in 0..<buffer.count {
            sum &+= values[i]
            minimum = min(minimum, values[i])
        }
        var invalid = 0
        if let marker, minimum <= marker {
            for i in 0..<buffer.count where values[i] == marker { invalid += 1 }
        }
        return (Int(sum), invalid)
    }

    // MARK: - Multi-segment decoding

    private func readSegments(_ range: Range<Int>, _ selected: [Int]) throws -> [Int: SignalChannel] {
        var outputs: [Int: SignalChannel] = [:]
        for index in selected {
            let spec = signals[index]
            let marker = spec.format.invalidValue ?? Int32.min
            outputs[index] = SignalChannel(
                signalIndex: index, spec: spec,
                digital: Array(repeating: marker, count: range.count * spec.samplesPerFrame),
                invalidValue: marker, invalidCount: 0, checksum: .absent)
        }
        var statuses: [Int: [ChecksumStatus]] = [:]
        // Segments lie in order, end to end: start at the first one ending after the range's start instead of
        // scanning them all, which made reading a record of 100,000 segments block by block quadratic.
        var low = 0
        var high = segments.count
        while low < high {
            let middle = (low + high) / 2
            let segment = segments[middle]
            if segment.start + segment.spec.sampleCount <= range.lowerBound { low = middle + 1 } else { high = middle }
        }
        for segment in segments[low...] {
            if segment.start >= range.upperBound { break }
            let segmentRange = segment.start..<(segment.start + segment.spec.sampleCount)
            let overlap = segmentRange.clamped(to: range)
            if overlap.isEmpty { continue }
            guard let record = segment.record?.record else { continue }
            let local = (overlap.lowerBound - segment.start)..<(overlap.upperBound - segment.start)
            let wanted = selected.compactMap { segment.signalMap[$0] }
            let block = try record.read(frames: local, signals: Array(Set(wanted)).sorted())
            for index in selected {
                guard let source = segment.signalMap[index],
                    let channel = block.channels.first(where: { $0.signalIndex == source }),
                    var output = outputs[index]
                else { continue }
                let spf = output.spec.samplesPerFrame
                let offset = (overlap.lowerBound - range.lowerBound) * spf
                let sameScale =
                    channel.spec.gain == output.spec.gain
                    && channel.spec.baseline == output.spec.baseline
                let outMarker = output.invalidValue ?? Int32.min
                output.digital.withUnsafeMutableBufferPointer { destination in
                    for (i, value) in channel.digital.enumerated() {
                        var converted = value
                        if channel.invalidValue == value {
                            converted = outMarker
                        } else if !sameScale {
                            let physical = channel.spec.physical(value)
                            let digital = (physical * output.spec.gain + Double(output.spec.baseline)).rounded()
                            converted = Int32(clamping: Int64(digital.isFinite ? digital : 0))
                        }
                        destination[offset + i] = converted
                    }
                }
                outputs[index] = output
                statuses[index, default: []].append(channel.checksum)
            }
        }
        for index in selected {
            guard var output = outputs[index] else { continue }
            output.invalidCount = Self.sumAndCount(output.digital, marker: output.invalidValue).1
            output.checksum = ChecksumStatus.combined(statuses[index] ?? [])
            outputs[index] = output
        }
        return outputs
    }
}

/// How one signal file's bytes map onto the requested frames of its wanted signals.
///
/// Frame `f` of a file holds, signal by signal, `samplesPerFrame` samples each; signal `m`'s logical
/// frame `n` is stored in frame `n + skew[m]`. Decoding starts at the packing unit holding the first
/// needed sample (at the file's start for format 8, whose differences accumulate from there).
struct GroupDecodePlan {
    let format: SignalFormat
    let frameSize: Int
    let range: Range<Int>
    let skews: [Int]
    let samplesPerFrame: [Int]
    let initialValues: [Int32]
    /// For each member of the group, its output slot (-1: not wanted).
    let outputOf: [Int]
    /// Samples per output, and how many of them the file holds (the rest is `fill`).
    let outputCounts: [Int]
    let validCounts: [Int]
    let fill: Int32
    /// First decoded sample (unit-aligned) and end of the decoded samples, in the file's stream.
    let alignedStart: Int
    let sampleEnd: Int
    let byteStart: Int
    let byteCount: Int

    init(
        group: WFDBRecord.SignalGroup, signals: [SignalSpec], range: Range<Int>, wanted: [Int], fileSize: Int,
        path: String
    ) throws {
        format = group.format
        frameSize = group.frameSize
        self.range = range
        let members = group.members
        skews = members.map { signals[$0].skew }
        samplesPerFrame = members.map { signals[$0].samplesPerFrame }
        initialValues = members.map { Int32(truncatingIfNeeded: signals[$0].initialValue) }
        outputOf = members.map { wanted.firstIndex(of: $0) ?? -1 }
        fill = format.invalidValue ?? Int32(Int16.min)

        let dataBytes = fileSize - group.byteOffset
        let availableFrames = dataBytes < 0 ? 0 : format.samplesHeld(bytes: dataBytes) / frameSize
        if availableFrames < range.upperBound {
            let (samples, overflow) = range.upperBound.multipliedReportingOverflow(by: frameSize)
            let bytes = overflow ? Int.max : format.bytesNeeded(samples: samples)
            let needed = bytes > Int.max - group.byteOffset ? Int.max : group.byteOffset + bytes
            throw WFDBError.truncatedSignalFile(file: path, neededBytes: needed, actualBytes: fileSize)
        }
        // Skewed signals need frames past the range; those past the file's end are invalid.
        let storedEnd = min(range.upperBound + (skews.max() ?? 0), availableFrames)
        var counts: [Int] = []
        var valid: [Int] = []
        for index in wanted {
            let m = members.firstIndex(of: index) ?? 0
            counts.append(range.count * samplesPerFrame[m])
            let validFrames = max(0, min(range.upperBound, storedEnd - skews[m]) - range.lowerBound)
            valid.append(validFrames * samplesPerFrame[m])
        }
        outputCounts = counts
        validCounts = valid
        let storedStart = format == .diff8 ? 0 : range.lowerBound
        let sampleStart = storedStart * frameSize
        alignedStart = sampleStart - sampleStart % format.samplesPerUnit
        sampleEnd = storedEnd * frameSize
        byteStart = group.byteOffset + alignedStart / format.samplesPerUnit * format.bytesPerUnit
        byteCount = max(0, group.byteOffset + format.bytesNeeded(samples: sampleEnd) - byteStart)
    }

    /// Decodes `bytes` (the plan's byte range) into the outputs, initialising every element.
    /// Returns each output's wrapping sample sum and count of invalid samples.
    func decode(
        _ bytes: UnsafeRawBufferPointer, into outputs: [UnsafeMutablePointer<Int32>]
    ) -> [(sum: Int, invalid: Int)] {
        for (slot, pointer) in outputs.enumerated() {
            (pointer + validCounts[slot]).initialize(repeating: fill, count: outputCounts[slot] - validCounts[slot])
        }
        let spu = format.samplesPerUnit
        let a = range.lowerBound
        let simple =
            format != .diff8 && skews.allSatisfy { $0 == 0 } && samplesPerFrame.allSatisfy { $0 == 1 }
            && alignedStart == a * frameSize
        // The MIT-BIH layout: two signals in format 212, one byte triplet per frame.
        let pairFastPath = simple && format == .packed212 && frameSize == 2 && outputOf == [0, 1]
        let singleOfPair = simple && format == .packed212 && frameSize == 2 && outputOf.sorted() == [-1, 0]
        // Chunks hold whole frames and whole packing units, and stay in cache.
        let chunk = max(1, 16384 / (frameSize * spu)) * frameSize * spu
        let scratch = UnsafeMutablePointer<Int32>.allocate(capacity: chunk)
        defer { scratch.deallocate() }
        // Position within a frame -> (member, sub-sample).
        var positionMember: [Int] = []
        var positionSub: [Int] = []
        for (m, spf) in samplesPerFrame.enumerated() {
            positionMember += repeatElement(m, count: spf)
            positionSub += 0..<spf
        }
        var accumulators = initialValues

        var sample = alignedStart
        var byteCursor = 0
        var frame = alignedStart / frameSize
        var position = alignedStart % frameSize
        while sample < sampleEnd {
            let n = min(chunk, sampleEnd - sample)
            let slice = UnsafeRawBufferPointer(rebasing: bytes[byteCursor...])
            byteCursor += n / spu * format.bytesPerUnit
            if pairFastPath {
                let frames = n / 2
                SampleCodec.decode212Pair(
                    slice, frames: frames, first: outputs[0] + (frame - a), second: outputs[1] + (frame - a))
                frame += frames
            } else if singleOfPair {
                let frames = n / 2
                SampleCodec.decode212One(
                    slice, frames: frames, member: outputOf[0] == 0 ? 0 : 1, into: outputs[0] + (frame - a))
                frame += frames
            } else if simple {
                SampleCodec.decode(format, bytes: slice, count: n, into: scratch)
                let frames = n / frameSize
                for (m, slot) in outputOf.enumerated() where slot >= 0 {
                    let destination = outputs[slot] + (frame - a)
                    if frameSize == 1 {
                        destination.update(from: scratch, count: frames)
                    } else {
                        var source = scratch + m
                        for f in 0..<frames {
                            destination[f] = source.pointee
                            source += frameSize
                        }
                    }
                }
                frame += frames
            } else {
                SampleCodec.decode(format, bytes: slice, count: n, into: scratch)
                for i in 0..<n {
                    let m = positionMember[position]
                    var value = scratch[i]
                    if format == .diff8 {
                        accumulators[m] &+= value
                        value = accumulators[m]
                    }
                    let slot = outputOf[m]
                    if slot >= 0 {
                        let logical = frame - skews[m]
                        if logical >= a && logical < range.upperBound {
                            outputs[slot][(logical - a) * samplesPerFrame[m] + positionSub[position]] = value
                        }
                    }
                    position += 1
                    if position == frameSize {
                        position = 0
                        frame += 1
                    }
                }
            }
            sample += n
        }
        return outputs.indices.map { slot in
            WFDBRecord.sumAndCount(
                UnsafeBufferPointer(start: outputs[slot], count: outputCounts[slot]), marker: format.invalidValue)
        }
    }
}

/// Boxes a segment's record so `WFDBRecord` can hold records of its own kind.
final class WFDBRecordBox: Sendable {
    let record: WFDBRecord
    init(_ record: WFDBRecord) { self.record = record }
}
