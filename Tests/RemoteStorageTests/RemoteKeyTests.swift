import ContentStore
import RemoteStorage
import XCTest

final class RemoteKeyTests: XCTestCase {
    func testObjectKeyMirrorsTheCacheLayout() throws {
        let digest = Digest.of("hello")
        let key = RemoteKey.object(digest)
        XCTAssertEqual(key, "objects/" + digest.hex.prefix(2) + "/" + digest.hex.dropFirst(2))
        XCTAssertEqual(RemoteKey.digest(of: key, prefix: RemoteKey.objectsPrefix), digest)
        XCTAssertNil(RemoteKey.digest(of: "objects/zz/notahash", prefix: RemoteKey.objectsPrefix))
        XCTAssertNil(RemoteKey.digest(of: RemoteKey.runCacheEntry(digest), prefix: RemoteKey.objectsPrefix))
    }
}
