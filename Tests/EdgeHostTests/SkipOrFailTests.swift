import Foundation
import XCTest
import EdgeTestSupport

/// A test that cannot run here is a skip outside CI (and recorded for test.sh), a failure in CI.
final class SkipOrFailTests: XCTestCase {
  private var savedCI: String?, savedLog: String?

  override func setUp() {
    savedCI = ProcessInfo.processInfo.environment["CI"]
    savedLog = ProcessInfo.processInfo.environment["EDGE_SKIP_LOG"]
  }

  override func tearDown() {
    if let savedCI { setenv("CI", savedCI, 1) } else { unsetenv("CI") }
    if let savedLog { setenv("EDGE_SKIP_LOG", savedLog, 1) } else { unsetenv("EDGE_SKIP_LOG") }
  }

  func testInCIASkipIsAFailure() {
    setenv("CI", "true", 1)
    XCTAssertTrue(skipOrFailInCI("needs root") is RequirementMissingInCI)
    XCTAssertThrowsError(try skipUnless(false, "needs root")) { XCTAssertTrue($0 is RequirementMissingInCI) }
    XCTAssertNoThrow(try skipUnless(true, "needs root"))
  }

  func testOutsideCIASkipIsRecorded() throws {
    unsetenv("CI")
    let log = FileManager.default.temporaryDirectory.path + "/edgeagent-skips-\(UUID().uuidString)"
    XCTAssertTrue(FileManager.default.createFile(atPath: log, contents: nil))
    defer { try? FileManager.default.removeItem(atPath: log) }
    setenv("EDGE_SKIP_LOG", log, 1)
    XCTAssertTrue(skipOrFailInCI("needs root") is XCTSkip)
    let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
    XCTAssertEqual(lines.count, 1)
    XCTAssertTrue(lines.first?.hasSuffix("needs root") ?? false, "\(lines)")
  }
}
