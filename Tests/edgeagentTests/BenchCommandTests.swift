import Foundation
import XCTest

/// `edgeagent bench --baseline`: the baseline must be of this build and workload, checked before
/// anything runs; `--build-name` names the baseline file to use.
final class BenchCommandTests: XCTestCase {
  func testABaselineOfAnotherBuildIsRefusedWithExit2BeforeRunning() throws {
    let name = try Edgeagent.run(["bench", "--build-name"]).stdout.trimmingCharacters(in: .newlines)
    XCTAssertTrue(name.hasSuffix("-full"), name)
    let dir = FileManager.default.temporaryDirectory.path + "/edgeagent-bench-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let other = dir + "/other.json"
    try Data(#"{"build":"x86_64-glibc-dynamic-embedded","workload":"full rounds=7","results":[]}"#.utf8)
      .write(to: URL(fileURLWithPath: other))
    let start = Date()
    let r = try Edgeagent.run(["bench", "--counts-only", "--baseline", other])
    XCTAssertEqual(r.status, 2, r.stderr)
    XCTAssertTrue(r.stderr.contains("baseline is of build x86_64-glibc-dynamic-embedded, this binary is \(name)"), r.stderr)
    XCTAssertEqual(r.stdout, "", "no benchmark ran")
    XCTAssertLessThan(Date().timeIntervalSince(start), 30, "refused before the 2 s policy ageing and the runs")
  }

  func testCountsOnlyNeedsABaseline() throws {
    let r = try Edgeagent.run(["bench", "--counts-only"])
    XCTAssertEqual(r.status, 2)
    XCTAssertTrue(r.stderr.contains("--counts-only needs --baseline FILE"), r.stderr)
  }

  /// The gate end to end on a small workload: a run compared with itself passes on counts.
  func testARunMatchesItsOwnBaselineOnCounts() throws {
    let dir = FileManager.default.temporaryDirectory.path + "/edgeagent-bench-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let args = ["bench", "--quick", "--rounds", "2", "--filter", "lmdb-read"]
    let first = try Edgeagent.run(args + ["--json"])
    XCTAssertEqual(first.status, 0, first.stderr)
    try Data(first.stdout.utf8).write(to: URL(fileURLWithPath: dir + "/b.json"))
    let again = try Edgeagent.run(args + ["--counts-only", "--baseline", dir + "/b.json"])
    XCTAssertEqual(again.status, 0, again.stderr)
    XCTAssertTrue(again.stdout.contains("workload quick rounds=2 filter=lmdb-read"), again.stdout)
  }
}
