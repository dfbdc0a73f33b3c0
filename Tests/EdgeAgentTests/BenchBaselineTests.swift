@testable import EdgeAgent
@testable import EdgeConverge
import EdgeHost
import EdgeStore
import XCTest

final class BenchBaselineTests: XCTestCase {
  private func report(_ allocations: UInt64, ns: UInt64 = 100, build: String = buildName,
                      workload: String = "full rounds=7") -> BenchReport {
    BenchReport(results: [BenchResult(name: "b", nsPerOp: ns, opsPerRound: 10, rounds: 7, allocations: allocations)],
                peakRSSKiB: 1, build: build, workload: workload)
  }

  private func baseline(_ r: BenchReport) throws -> BenchBaseline {
    try BenchBaseline(Array(r.json.utf8), build: buildName, workload: "full rounds=7")
  }

  func testTheBuildIsNamedByArchLibcLinkageAndMode() {
    let parts = buildName.split(separator: "-")
    XCTAssertEqual(parts.count, 4, buildName)
    XCTAssertTrue(["glibc", "musl"].contains(String(parts[1])), buildName)
    XCTAssertTrue(["static", "dynamic"].contains(String(parts[2])), buildName)
    XCTAssertEqual(parts[3], "full", "the test build is the full one")
  }

  func testABaselineOfAnotherBuildOrWorkloadIsRefused() {
    XCTAssertThrowsError(try baseline(report(0, build: "x86_64-glibc-dynamic-embedded"))) { e in
      guard case .input(let m)? = e as? AgentError else { return XCTFail("\(e)") }
      XCTAssertTrue(m.contains("baseline is of build x86_64-glibc-dynamic-embedded, this binary is \(buildName)"), m)
    }
    XCTAssertThrowsError(try baseline(report(0, workload: "quick rounds=7"))) { e in
      guard case .input(let m)? = e as? AgentError else { return XCTFail("\(e)") }
      XCTAssertTrue(m.contains("workload is \"quick rounds=7\""), m)
    }
    // A baseline from before builds were named (the old x86_64-embedded-dynamic.json).
    let old = #"{"target":"x86_64-linux-gnu (embedded, dynamic)","results":[{"name":"b","ns_per_op":1,"allocs_per_op_x100":0}]}"#
    XCTAssertThrowsError(try BenchBaseline(Array(old.utf8), build: buildName, workload: "full rounds=7"))
  }

  func testCountsAreComparedExactlyAndTimesWithTheThreshold() throws {
    let b = try baseline(report(700))
    XCTAssertTrue(compare(report(700, ns: 140), baseline: b, threshold: 1.5).isEmpty)
    XCTAssertEqual(compare(report(701), baseline: b, threshold: 1.5).map(\.message),
                   ["b: 701 allocations (10.01/op), baseline 700"], "one allocation more in 70 operations is caught")
    XCTAssertEqual(compare(report(699), baseline: b, threshold: 1.5).count, 1, "fewer is a baseline to regenerate")
    XCTAssertEqual(compare(report(700, ns: 151), baseline: b, threshold: 1.5).map(\.message),
                   ["b: 151 ns/op, baseline 100 (limit 150)"])
    XCTAssertTrue(compare(report(700, ns: 10_000), baseline: b, threshold: 1.5, countsOnly: true).isEmpty)
    XCTAssertEqual(compare(report(701, ns: 10_000), baseline: b, threshold: 1.5, countsOnly: true).count, 1)
  }

  func testABenchmarkMissingOnEitherSideIsAMismatch() throws {
    let b = try baseline(report(0))
    var r = report(0)
    r.results[0].name = "c"
    XCTAssertEqual(Set(compare(r, baseline: b, threshold: 1.5).map(\.message)),
                   ["c: not in the baseline", "b: in the baseline, not run"])
  }

  /// lmdb-read-txn counted 1 allocation per read in this (full) build: LMDB callocs an MDB_txn
  /// per read-only begin. Readers are renewed now.
  func testReadTransactionsAllocateNothingOnceWarm() throws {
    let dir = try makeTemporaryDirectory("edgeagent-bench-test")
    defer { removeTree(dir) }
    let env = try Environment(path: dir + "/state")
    try env.withWrite { (txn) throws(StoreError) in try txn.put(.meta, "k", [1]) }
    try env.read().abort()
    let before = allocationCount()
    for _ in 0..<1000 {
      let txn = try env.read()
      txn.abort()
    }
    XCTAssertEqual(allocationCount() - before, 0)
  }
}
