import Foundation

/// The stretches of a record's lead that the QRS detector found too noisy to read reliably (its low-quality
/// stretches), in the record's frames, and how much of the record they cover. `pipe qrs` and `pipe infer` both
/// report them through this type, so their verdicts read the same.
public struct UnreadableStretches: Equatable, Sendable {
    /// Frame ranges, ascending and disjoint.
    public var stretches: [Range<Int>]
    /// Frames in the part of the record analysed.
    public var frameCount: Int
    /// Frames per second.
    public var frequency: Double

    public init(stretches: [Range<Int>], frameCount: Int, frequency: Double) {
        self.stretches = stretches
        self.frameCount = frameCount
        self.frequency = frequency
    }

    /// Stretches given in samples of a signal with `samplesPerFrame` samples per frame (a lead with several
    /// samples per frame, or one resampled to another rate), as frames: each widened outwards to whole frames.
    public static func frames(ofSamples stretches: [Range<Int>], samplesPerFrame: Double) -> [Range<Int>] {
        guard samplesPerFrame > 0, samplesPerFrame != 1 else { return stretches }
        var frames: [Range<Int>] = []
        for stretch in stretches {
            let lower = Int((Double(stretch.lowerBound) / samplesPerFrame).rounded(.down))
            let upper = max(lower, Int((Double(stretch.upperBound) / samplesPerFrame).rounded(.up)))
            // Widening can make neighbours touch: keep the ranges disjoint.
            if let last = frames.last, lower <= last.upperBound {
                frames[frames.count - 1] = last.lowerBound..<max(last.upperBound, upper)
            } else {
                frames.append(lower..<upper)
            }
        }
        return frames
    }

    /// The stretches inside `range` (frames), clipped to it, over a record of `range.count` frames.
    public func clipped(to range: Range<Int>) -> UnreadableStretches {
        UnreadableStretches(
            stretches: stretches.map { $0.clamped(to: range) }.filter { !$0.isEmpty }, frameCount: range.count,
            frequency: frequency)
    }

    /// Frames inside the stretches.
    public var unreadableFrames: Int { stretches.reduce(0) { $0 + $1.count } }

    /// The share of the record inside the stretches, 0...1.
    public var fraction: Double { frameCount > 0 ? Double(unreadableFrames) / Double(frameCount) : 0 }

    /// Whether `frame` lies inside a stretch.
    public func contains(frame: Int) -> Bool {
        // Stretches ascend: the last one starting at or before the frame is the only candidate.
        var low = 0
        var high = stretches.count
        while low < high {
            let middle = (low + high) / 2
            if stretches[middle].lowerBound <= frame { low = middle + 1 } else { high = middle }
        }
        return low > 0 && stretches[low - 1].contains(frame)
    }

    /// `12.5 % of the record (3:45 of 30:06) could not be read reliably (4 low-quality stretches)`.
    public var sentence: String {
        Self.sentence(
            unreadableSeconds: Double(unreadableFrames) / frequency, totalSeconds: Double(frameCount) / frequency,
            stretches: stretches.count)
    }

    /// The sentence for stretches summed over several records.
    public static func sentence(unreadableSeconds: Double, totalSeconds: Double, stretches: Int) -> String {
        let share = String(format: "%.1f", totalSeconds > 0 ? 100 * unreadableSeconds / totalSeconds : 0)
        return "\(share) % of the record (\(minutes(unreadableSeconds)) of \(minutes(totalSeconds))) could not be "
            + "read reliably (\(stretches) low-quality stretch\(stretches == 1 ? "" : "es"))"
    }

    /// `m:ss`.
    static func minutes(_ seconds: Double) -> String {
        let whole = seconds.isFinite ? Int(seconds.rounded()) : 0
        return String(format: "%d:%02d", whole / 60, whole % 60)
    }
}
