import ECGSignal
import ECGStages
import Foundation
import XCTest

final class BeatDatasetTests: XCTestCase {
    private func sample() -> BeatDataset {
        var dataset = BeatDataset(windowLength: 4, samplingRate: 360, normalization: .zScore, featureCount: 5)
        dataset.records = [.init(name: "100", lead: "MLII"), .init(name: "102", lead: "V5")]
        dataset.recordIndex = [0, 0, 1]
        dataset.sample = [77, 370, 649_990]
        dataset.label = [0, 2, 4]
        dataset.rhythmNames = ["N", "AFIB"]
        dataset.rhythm = [1, 2, 0]
        dataset.features = (0..<15).map { Float($0) / 7 }
        dataset.windows = (0..<12).map { Float($0) * 0.25 - 1 }
        return dataset
    }

    func testTheFileRoundTripsBitForBit() throws {
        let dataset = sample()
        let data = BeatDatasetFile.encode(dataset)
        XCTAssertEqual(Array(data.prefix(8)), Array("PIPEBEAT".utf8))
        XCTAssertEqual(try BeatDatasetFile.decode(data, path: "beats.bin"), dataset)
        XCTAssertEqual(BeatDatasetFile.encode(try BeatDatasetFile.decode(data, path: "x")), data)
        XCTAssertEqual(dataset.classCounts, [1, 0, 1, 0, 1])
    }

    func testAVersion1FileReadsWithNoRhythm() throws {
        var dataset = sample()
        var data = BeatDatasetFile.encode(dataset)
        // Version 1: no rhythm table after the records, and a zero where each beat's rhythm is now.
        data[8] = 1
        let tableEnd = 44 + [("100", "MLII"), ("102", "V5")].reduce(0) { $0 + 2 + $1.0.count + $1.1.count }
        XCTAssertEqual(data[tableEnd], 2, "two rhythm labels")
        data.removeSubrange(tableEnd..<(tableEnd + 1 + (1 + 1) + (1 + 4)))
        let stride = 8 + 4 * 5 + 4 * 4
        for beat in 0..<3 { data[tableEnd + beat * stride + 3] = 0 }
        let read = try BeatDatasetFile.decode(data, path: "old.bin")
        dataset.rhythmNames = []
        dataset.rhythm = [0, 0, 0]
        XCTAssertEqual(read, dataset)
        XCTAssertNil(read.rhythmName(of: 0))
    }

    func testARhythmOutsideTheTableIsInvalid() {
        var dataset = sample()
        dataset.rhythm[2] = 3
        XCTAssertThrowsError(try BeatDatasetFile.decode(BeatDatasetFile.encode(dataset), path: "f")) {
            XCTAssertTrue("\($0)".contains("beat 2 has rhythm 3 of 2"), "\($0)")
        }
    }

    func testATruncatedFileIsReportedWithItsSizes() {
        let data = BeatDatasetFile.encode(sample())
        XCTAssertThrowsError(try BeatDatasetFile.decode(data.dropLast(3), path: "beats.bin")) {
            guard case BeatDatasetError.truncated("beats.bin", data.count, data.count - 3) = $0 else {
                return XCTFail("\($0)")
            }
        }
        for length in [0, 5, 20, 60] {
            XCTAssertThrowsError(try BeatDatasetFile.decode(data.prefix(length), path: "beats.bin"), "\(length)")
        }
    }

    func testForeignAndNewerFilesAreRefused() {
        var data = BeatDatasetFile.encode(sample())
        XCTAssertThrowsError(try BeatDatasetFile.decode(Data("not a dataset at all, no".utf8), path: "f")) {
            XCTAssertEqual($0 as? BeatDatasetError, .notADataset(path: "f"))
        }
        data[8] = 9
        XCTAssertThrowsError(try BeatDatasetFile.decode(data, path: "f")) {
            XCTAssertEqual($0 as? BeatDatasetError, .newerVersion(path: "f", version: 9))
        }
    }

    func testAnOutOfRangeClassOrRecordIsInvalid() {
        var dataset = sample()
        dataset.label[1] = 7
        XCTAssertThrowsError(try BeatDatasetFile.decode(BeatDatasetFile.encode(dataset), path: "f")) {
            XCTAssertTrue("\($0)".contains("beat 1 has class 7"), "\($0)")
        }
    }

    func testRandomMutationsNeverCrashTheReader() {
        let data = BeatDatasetFile.encode(sample())
        var generator = SplitMix64(seed: 3)
        for _ in 0..<2_000 {
            var mutated = data
            for _ in 0..<3 { mutated[generator.below(mutated.count)] = UInt8(truncatingIfNeeded: generator.next()) }
            _ = try? BeatDatasetFile.decode(mutated.prefix(generator.below(mutated.count + 1)), path: "m")
        }
    }
}

final class DatasetSplitTests: XCTestCase {
    private func dataset(records: [String], beatsEach: Int) -> BeatDataset {
        var dataset = BeatDataset(windowLength: 1, samplingRate: 360, normalization: .minMax)
        dataset.records = records.map { .init(name: $0, lead: "MLII") }
        for index in records.indices {
            dataset.recordIndex += Array(repeating: UInt16(index), count: beatsEach)
        }
        dataset.label = Array(repeating: 0, count: dataset.recordIndex.count)
        dataset.sample = Array(repeating: 0, count: dataset.recordIndex.count)
        dataset.windows = Array(repeating: 0, count: dataset.recordIndex.count)
        dataset.features = Array(repeating: 0, count: dataset.recordIndex.count * dataset.featureCount)
        return dataset
    }

    func testInterPatientTrainsOnDS1TestsOnDS2AndLeavesOutPacedRecords() {
        let all = (DatasetSplit.ds1 + DatasetSplit.ds2 + DatasetSplit.pacedRecords).sorted()
        XCTAssertEqual(all.count, 48)
        XCTAssertEqual(Set(all).count, 48)
        let data = dataset(records: all, beatsEach: 2)
        let (train, test) = DatasetSplit.interPatient.assign(data)
        XCTAssertEqual(train.count, 44)
        XCTAssertEqual(test.count, 44)
        let trainRecords = Set(train.map { data.records[Int(data.recordIndex[$0])].name })
        XCTAssertEqual(trainRecords, Set(DatasetSplit.ds1))
        XCTAssertTrue(Set(test.map { data.records[Int(data.recordIndex[$0])].name }).isDisjoint(with: trainRecords))
    }

    func testRandomSplitsEightyTwentyTheSameWayEveryTime() {
        let data = dataset(records: ["100", "101"], beatsEach: 500)
        let split = DatasetSplit.random(testFraction: 0.2, seed: 42)
        let (train, test) = split.assign(data)
        XCTAssertEqual(test.count, 200)
        XCTAssertEqual(train.count, 800)
        XCTAssertEqual(Set(train + test).count, 1_000)
        XCTAssertEqual(split.assign(data).test, test)
        XCTAssertNotEqual(DatasetSplit.random(testFraction: 0.2, seed: 43).assign(data).test, test)
    }

    func testExplicitRecordListsAndHoldOut() {
        let data = dataset(records: ["1", "2", "3"], beatsEach: 10)
        let (train, test) = DatasetSplit.records(train: ["1", "3"], test: ["2"]).assign(data)
        XCTAssertEqual(train, Array(0..<10) + Array(20..<30))
        XCTAssertEqual(test, Array(10..<20))
        let (kept, validation) = DatasetSplit.holdOut(train, fraction: 0.1, seed: 1)
        XCTAssertEqual(validation.count, 2)
        XCTAssertEqual(Set(kept + validation), Set(train))
    }

    func testDS1FoldsPartitionDS1ByRecordTheSameWayForTheSameSeed() {
        let folds = DatasetSplit.ds1Folds(count: 5, seed: 42)
        XCTAssertEqual(folds.count, 5)
        XCTAssertEqual(folds.flatMap { $0 }.sorted(), DatasetSplit.ds1.sorted())
        XCTAssertEqual(folds.map(\.count).sorted(), [4, 4, 4, 5, 5])
        XCTAssertEqual(DatasetSplit.ds1Folds(count: 5, seed: 42), folds)
        XCTAssertNotEqual(DatasetSplit.ds1Folds(count: 5, seed: 7), folds)
    }

    func testADS1FoldTestsOnItsRecordsTrainsOnTheRestOfDS1AndNeverTouchesDS2() {
        let all = (DatasetSplit.ds1 + DatasetSplit.ds2).sorted()
        let data = dataset(records: all, beatsEach: 3)
        let fold = DatasetSplit.ds1Folds(count: 4, seed: 1)[2]
        let (train, test) = DatasetSplit.ds1Fold(fold, of: data)
        func names(_ beats: [Int]) -> Set<String> { Set(beats.map { data.records[Int(data.recordIndex[$0])].name }) }
        XCTAssertEqual(names(test), Set(fold))
        XCTAssertEqual(names(train), Set(DatasetSplit.ds1).subtracting(fold))
        XCTAssertEqual(test.count, fold.count * 3)
        let (cvTrain, cvTest) = DatasetSplit.ds1CrossValidation(folds: 4, seed: 1).assign(data)
        XCTAssertEqual(names(cvTrain), Set(DatasetSplit.ds1), "the kept model trains on all of DS1")
        XCTAssertTrue(cvTest.isEmpty)
    }

    func testSplitMix64IsTheReferenceSequence() {
        // Reference values of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
        var generator = SplitMix64(seed: 0)
        XCTAssertEqual(generator.next(), 0xE220_A839_7B1D_CDAF)
        XCTAssertEqual(generator.next(), 0x6E78_9E6A_A1B9_65F4)
    }
}
