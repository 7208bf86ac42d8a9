import ECGSignal
import ECGStages
import Foundation

/// One beat as the leads of a record saw it: the frame of its R peak, and where each lead that could cut its
/// window holds it.
struct SharedBeat: Equatable {
    struct Member: Equatable {
        /// Position of the lead in the extraction's list (0: the detection lead).
        var lead: Int
        /// Position of the beat in that lead's `RecordBeats`.
        var index: Int
    }

    /// R-peak frame at the record's frame rate.
    var frame: Int
    /// Ascending by lead.
    var members: [Member]

    /// The beats of leads cut at the same peaks (`BeatExtraction.extractAtSharedPeaks`), joined by frame. A
    /// lead may lack a beat another has (an invalid sample in its window), so the join is over frames, not
    /// positions; peaks mapped between leads of different rates may land one frame apart.
    static func group(_ leads: [RecordBeats]) -> [SharedBeat] {
        var entries: [(frame: Int, lead: Int, index: Int)] = []
        entries.reserveCapacity(leads.reduce(0) { $0 + $1.count })
        for (lead, beats) in leads.enumerated() {
            let scale = beats.samplingRate / beats.frameRate
            for (index, sample) in beats.samples.enumerated() {
                entries.append((frame: Int((Double(sample) / scale).rounded()), lead: lead, index: index))
            }
        }
        entries.sort { ($0.frame, $0.lead) < ($1.frame, $1.lead) }
        var beats: [SharedBeat] = []
        beats.reserveCapacity(leads.first?.count ?? 0)
        for entry in entries {
            let member = Member(lead: entry.lead, index: entry.index)
            if let last = beats.last, entry.frame - last.frame <= 1,
                !last.members.contains(where: { $0.lead == entry.lead })
            {
                beats[beats.count - 1].members.append(member)
            } else {
                beats.append(SharedBeat(frame: entry.frame, members: [member]))
            }
        }
        return beats
    }
}

/// Whether a lead's own QRS detection saw a beat: a lead that is noise or flat finds its own peaks elsewhere,
/// or none, where the detection lead found beats.
struct LeadConfirmation {
    /// The lead's own detections, frames ascending; nil when the detector did not run on it (all confirmed).
    var frames: [Int]?
    var tolerance: Int

    init(lead: RecordBeats, frameRate: Double, tolerance: Int) {
        let scale = lead.samplingRate / frameRate
        frames = lead.detection.map { $0.beats.map { Int((Double($0) / scale).rounded()) } }
        self.tolerance = tolerance
    }

    func sees(frame: Int) -> Bool {
        guard let frames else { return true }
        // The first detection at or after frame − tolerance is the only candidate.
        var low = 0
        var high = frames.count
        while low < high {
            let middle = (low + high) / 2
            if frames[middle] < frame - tolerance { low = middle + 1 } else { high = middle }
        }
        return low < frames.count && frames[low] <= frame + tolerance
    }
}
