import Foundation

/// The detector's result: the R peaks, and how readable each stretch of the signal was.
public struct QRSAnalysis: Equatable, Sendable {
    /// R-peak sample indices, ascending.
    public var beats: [Int]
    /// Samples per quality block (the last block may be shorter).
    public var blockLength: Int
    /// Per block: the noise floor of the QRS energy over the local QRS level (0 clean, about 1 or more when
    /// noise is as large as the QRS complexes). It rises monotonically with added noise.
    public var noiseRatio: [Double]
    /// Sample ranges where `noiseRatio` stays above the detector's `lowQualityRatio`, ascending and disjoint.
    public var lowQualityStretches: [Range<Int>]

    public init(beats: [Int], blockLength: Int, noiseRatio: [Double], lowQualityStretches: [Range<Int>]) {
        self.beats = beats
        self.blockLength = blockLength
        self.noiseRatio = noiseRatio
        self.lowQualityStretches = lowQualityStretches
    }

    /// Samples inside the low-quality stretches.
    public var lowQualitySamples: Int { lowQualityStretches.reduce(0) { $0 + $1.count } }
}

extension QRSDetector {
    /// The noise floor of each block of `blockLength` samples of `energy`: the `noiseFloorQuantile` quantile of
    /// the energy over `noiseFloorWindow` seconds centred on the block.
    ///
    /// A low quantile sits between the QRS humps (they cover well under half of any window below 150 beats per
    /// minute), so on a clean signal it is the small energy of the P and T waves, and inside noise it is the
    /// noise's own level. The energy is smooth over the 150 ms integrator, so it is read every 10 ms.
    func noiseFloor(_ energy: [Double], blockLength: Int) -> [Double] {
        let count = energy.count
        guard count > 0 else { return [] }
        let blocks = (count + blockLength - 1) / blockLength
        let halfWindow = max(blockLength, Int((configuration.noiseFloorWindow * samplingRate / 2).rounded()))
        let stride = max(1, Int((0.010 * samplingRate).rounded()))
        let quantile = min(1, max(0, configuration.noiseFloorQuantile))
        var floor = [Double](repeating: 0, count: blocks)
        var window: [Double] = []
        window.reserveCapacity(2 * halfWindow / stride + 2)
        energy.withUnsafeBufferPointer { values in
            for block in 0..<blocks {
                let centre = block * blockLength + blockLength / 2
                let low = max(0, centre - halfWindow)
                let high = min(count, centre + halfWindow)
                window.removeAll(keepingCapacity: true)
                var index = low
                while index < high {
                    window.append(values[index])
                    index += stride
                }
                floor[block] =
                    window.isEmpty
                    ? 0
                    : window.withUnsafeMutableBufferPointer {
                        orderStatistic($0, rank: Int(quantile * Double($0.count - 1)))
                    }
            }
        }
        return floor
    }

    /// Each block's noise floor over the local QRS level: the median energy of the beats (`beatEnergies`,
    /// positions ascending) within `qualityContext` seconds of the block, or of all beats when none is that
    /// close. Without any beat a block with energy has ratio 1 (nothing readable), a silent one 0.
    func noiseRatio(floor: [Double], blockLength: Int, beatEnergies: [(position: Int, energy: Double)]) -> [Double] {
        guard !beatEnergies.isEmpty else { return floor.map { $0 > 0 ? 1 : 0 } }
        let context = Int((configuration.qualityContext * samplingRate).rounded())
        let recordLevel = Self.median(beatEnergies.lazy.map(\.energy))
        var ratios = [Double](repeating: 0, count: floor.count)
        var first = 0
        var last = 0  // beats first..<last lie within the context of the block
        for block in floor.indices {
            let centre = block * blockLength + blockLength / 2
            while first < beatEnergies.count && beatEnergies[first].position < centre - context { first += 1 }
            last = max(last, first)
            while last < beatEnergies.count && beatEnergies[last].position <= centre + context { last += 1 }
            let level = last > first ? Self.median(beatEnergies[first..<last].lazy.map(\.energy)) : recordLevel
            ratios[block] = level > 0 ? floor[block] / level : 1
        }
        return ratios
    }

    /// Runs of blocks whose ratio exceeds `lowQualityRatio`, as sample ranges: runs less than
    /// `lowQualityGap` apart are joined (one noise burst dips below the line now and then), and what is then
    /// shorter than `minimumLowQualityStretch` is left out.
    func lowQualityStretches(_ ratios: [Double], blockLength: Int, count: Int) -> [Range<Int>] {
        let minimum = Int((configuration.minimumLowQualityStretch * samplingRate).rounded())
        let gap = Int((configuration.lowQualityGap * samplingRate).rounded())
        var runs: [Range<Int>] = []
        var start: Int? = nil
        for block in 0...ratios.count {
            let isLow = block < ratios.count && ratios[block] > configuration.lowQualityRatio
            if isLow, start == nil { start = block * blockLength }
            if !isLow, let low = start {
                let run = low..<min(count, block * blockLength)
                if let last = runs.last, run.lowerBound - last.upperBound < gap {
                    runs[runs.count - 1] = last.lowerBound..<run.upperBound
                } else {
                    runs.append(run)
                }
                start = nil
            }
        }
        return runs.filter { $0.count >= minimum }
    }

    /// The analysis of a signal with nothing to detect (too short, or no valid sample): all of it unreadable.
    func unreadable(count: Int, blockLength: Int) -> QRSAnalysis {
        let blocks = (count + blockLength - 1) / blockLength
        return QRSAnalysis(
            beats: [], blockLength: blockLength, noiseRatio: Array(repeating: 1, count: blocks),
            lowQualityStretches: count > 0 ? [0..<count] : [])
    }

    static func median(_ values: some Collection<Double>) -> Double {
        guard !values.isEmpty else { return 0 }
        return orderStatistic(of: values, rank: values.count / 2)
    }
}
