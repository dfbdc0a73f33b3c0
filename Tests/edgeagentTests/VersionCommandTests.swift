import CEdge
import Foundation
import XCTest

final class VersionCommandTests: XCTestCase {
  /// What the linked C libraries say about themselves.
  private var libraryVersions: (uv: String, lmdb: String, sodium: String) {
    var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
    _ = mdb_version(&major, &minor, &patch)
    return (String(cString: uv_version_string()), "\(major).\(minor).\(patch)", String(cString: sodium_version_string()))
  }

  func testVersionPrintsTheLibraryVersions() throws {
    let r = try Edgeagent.run(["version"])
    XCTAssertEqual(r.status, 0)
    XCTAssertEqual(r.stderr, "")
    let lines = r.stdout.split(separator: "\n").map(String.init)
    XCTAssertEqual(lines.count, 5, r.stdout)
    XCTAssertTrue(lines[0].hasPrefix("edgeagent "))
    XCTAssertEqual(lines[0].split(separator: " ").last?.split(separator: ".").count, 3, "a dotted version: \(lines[0])")
    XCTAssertTrue(lines[1].hasPrefix("target "))
    XCTAssertTrue(lines[1].contains("full") || lines[1].contains("embedded"))
    let v = libraryVersions
    XCTAssertEqual(lines[2], "libuv \(v.uv)")
    XCTAssertEqual(lines[3], "lmdb \(v.lmdb)")
    XCTAssertEqual(lines[4], "libsodium \(v.sodium)")
  }

  func testDashDashVersionIsTheSame() throws {
    XCTAssertEqual(try Edgeagent.run(["--version"]).stdout, try Edgeagent.run(["version"]).stdout)
  }
}
