import ECGStages
import XCTest

final class ECGStageCatalogTests: XCTestCase {
    func testStageNamesAreUniqueAndNamespaced() {
        let names = ECGStageCatalog.stages.map(\.name)
        XCTAssertEqual(Set(names).count, names.count)
        for name in names { XCTAssertTrue(name.hasPrefix("ecg."), name) }
    }
}
