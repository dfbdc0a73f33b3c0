@testable import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeStore
import Foundation
import XCTest

final class ConvergerTests: XCTestCase {
  var box: Sandbox!

  override func setUpWithError() throws {
    XCTAssertTrue(cryptoInit())
    box = try Sandbox()
  }

  override func tearDown() { box.remove() }

  /// A policy of `count` promises of one kind under /srv, each with its own path.
  private func policyText(count: Int, _ promise: (Int) -> String) -> String {
    var text = #"{"policy": "many", "promises": ["#
    for i in 0..<count { text += (i > 0 ? ",\n" : "\n") + promise(i) }
    return text + "\n]}"
  }

  /// Allocations of `Converger.run` over the first `checks` promises of the plan, once the host
  /// has converged (runs through `apply`, which record the stat cache): the smallest of
  /// `repeats` runs, since other threads of the test process may allocate meanwhile. Every
  /// measured promise must come out kept, so that the kept path is what is measured.
  private func keptAllocations(_ text: String, checks: [Int], repeats: Int = 7) throws -> [Int: UInt64] {
    let path = try box.policy(text)
    let first = try box.apply(path)
    XCTAssertEqual(first.summary.failed, 0, "\(first.results.filter { $0.outcome.status == .failed })")
    // Too few files for that run to wait and vouch for what it wrote (Converger.publish): the
    // next, once their stamps are settled, hashes them and records them.
    Thread.sleep(forTimeInterval: 0.03)
    _ = try box.apply(path)
    let policy = try PolicyDecoder.decode(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
    let order = try Plan.order(policy.promises)
    let converger = try Converger(root: box.root, classes: hostClasses(labels: []), dryRun: false)
    let prepared = converger.prepare(policy)
    let env = try Environment(path: box.state, readOnly: true)
    let txn = try env.read()
    var best: [Int: UInt64] = [:]
    let subsets = checks.map { Array(order.prefix($0)) }
    for round in 0...repeats {
      for (k, subset) in subsets.enumerated() {
        let before = allocationCount()
        let outcomes = converger.run(policy, prepared, order: subset, cachedStat: { key in
          (try? txn.value(.statcache, key) { $0.flatMap(StatRecord.decode) }) ?? nil
        }, blob: { _, body in body(nil) }, previous: { _ in nil })
        let used = allocationCount() - before
        for i in subset { XCTAssertEqual(outcomes[i], .kept, policy.promises[i].id) }
        XCTAssertTrue(converger.statUpdates.isEmpty, "a stat cache miss re-hashed a file")
        if round == 0 { continue }   // warm-up: lazy globals and first-use caches
        best[checks[k]] = min(best[checks[k]] ?? .max, used)
      }
    }
    txn.abort()
    return best
  }

  func testAllocationCounterSeesThisProcess() {
    // The measurements below mean nothing if the counter does not count.
    let before = allocationCount()
    let a = [Int](repeating: 7, count: 1000)
    XCTAssertGreaterThan(allocationCount() - before, 0)
    XCTAssertEqual(a.count, 1000)
  }

  func testKeptFileCheckCostsNoAllocation() throws {
    let n = 100
    let text = policyText(count: 2 * n) { i in
      #"{"id": "f\#(i)", "type": "file", "path": "/srv/f\#(i).conf", "content": "value \#(i)\n", "mode": "0640"}"#
    }
    let a = try keptAllocations(text, checks: [n, 2 * n])
    print("kept file checks: run of \(n): \(a[n]!) allocations, run of \(2 * n): \(a[2 * n]!) allocations")
    XCTAssertEqual(a[2 * n]! - a[n]!, 0, "\(n) more kept files cost \(a[2 * n]! - a[n]!) allocations")
  }

  func testKeptFileWithAConditionAndADependencyCostsNoAllocation() throws {
    let n = 100
    var text = policyText(count: 2 * n) { i in
      #"{"id": "f\#(i)", "type": "file", "path": "/srv/f\#(i).conf", "content": "v\#(i)", "after": ["base"], "if": "linux & !(arm | role_x)"}"#
    }
    text = text.replacingOccurrences(of: #"{"policy": "many", "promises": ["#,
                                     with: #"{"policy": "many", "promises": [{"id": "base", "type": "directory", "path": "/srv"},"#)
    let a = try keptAllocations(text, checks: [n, 2 * n])
    print("kept file checks with if and after: run of \(n): \(a[n]!), run of \(2 * n): \(a[2 * n]!)")
    XCTAssertEqual(a[2 * n]! - a[n]!, 0)
  }

  func testKeptDirectoryCheckCostsNoAllocation() throws {
    let n = 100
    let text = policyText(count: 2 * n) { i in
      #"{"id": "d\#(i)", "type": "directory", "path": "/srv/d\#(i)", "mode": "0750"}"#
    }
    let a = try keptAllocations(text, checks: [n, 2 * n])
    print("kept directory checks: run of \(n): \(a[n]!), run of \(2 * n): \(a[2 * n]!)")
    XCTAssertEqual(a[2 * n]! - a[n]!, 0)
  }

  func testKeptAbsentFileCheckCostsNoAllocation() throws {
    let n = 100
    let text = policyText(count: 2 * n) { i in
      #"{"id": "a\#(i)", "type": "file", "path": "/srv/gone\#(i)", "state": "absent"}"#
    }
    let a = try keptAllocations(text, checks: [n, 2 * n])
    XCTAssertEqual(a[2 * n]! - a[n]!, 0)
  }

  func testOutcomesOfPromisesOutsideTheOrderAreNil() throws {
    let path = try box.policy(policyText(count: 3) { i in
      #"{"id": "f\#(i)", "type": "file", "path": "/srv/f\#(i)", "content": "x"}"#
    })
    let policy = try PolicyDecoder.decode(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
    let converger = try Converger(root: box.root, classes: [], dryRun: false)
    let outcomes = converger.run(policy, converger.prepare(policy), order: [1], cachedStat: { _ in nil },
                                 blob: { _, body in body(nil) }, previous: { _ in nil })
    XCTAssertNil(outcomes[0])
    XCTAssertEqual(outcomes[1]?.status, .repaired)
    XCTAssertNil(outcomes[2])
    XCTAssertTrue(box.exists(box.hostPath("/srv/f1")))
    XCTAssertFalse(box.exists(box.hostPath("/srv/f0")))
  }

  func testRepairsArePublishedAndCachedByTheEndOfTheRun() throws {
    let path = try box.policy(policyText(count: 2) { i in
      #"{"id": "f\#(i)", "type": "file", "path": "/srv/f\#(i)", "content": "x\#(i)"}"#
    })
    let policy = try PolicyDecoder.decode(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
    let converger = try Converger(root: box.root, classes: [], dryRun: false)
    // Allowed to wait for the clock to pass the files' stamps, it vouches for both at once.
    converger.waitToVouchFrom = 1
    _ = converger.run(policy, converger.prepare(policy), order: [0, 1], cachedStat: { _ in nil },
                      blob: { _, body in body(nil) }, previous: { _ in nil })
    XCTAssertEqual(box.read(box.hostPath("/srv/f0")), "x0")
    XCTAssertEqual(box.read(box.hostPath("/srv/f1")), "x1")
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: box.hostPath("/srv")).sorted(), ["f0", "f1"])
    let keys = StatCacheKey(root: box.root)
    let byKey = [keys.key("/srv/f0"): box.hostPath("/srv/f0"), keys.key("/srv/f1"): box.hostPath("/srv/f1")]
    XCTAssertEqual(Set(converger.statUpdates.map(\.key)), Set(byKey.keys))
    for u in converger.statUpdates {
      let path = byKey[u.key]!
      XCTAssertEqual(u.record.identity, try FileStat.lstat(path)?.identity, "the cache vouches for the file as written")
      XCTAssertEqual(u.record.digest, SHA256.hash(Array((box.read(path) ?? "").utf8)))
    }
  }

  func testBlobSourcedFileIsWrittenFromTheBlob() throws {
    let content = Array("from a blob\n".utf8)
    let digest = SHA256.hash(content)
    let path = try box.policy(#"{"policy": "p", "promises": [{"id": "b", "type": "file", "path": "/b", "source": "sha256:\#(digest.hex)"}]}"#)
    let policy = try PolicyDecoder.decode(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
    let converger = try Converger(root: box.root, classes: [], dryRun: false)
    let outcomes = converger.run(policy, converger.prepare(policy), order: [0], cachedStat: { _ in nil }, blob: { d, body in
      XCTAssertEqual(d, digest)
      content.withUnsafeBytes { body($0) }
    }, previous: { _ in nil })
    XCTAssertEqual(outcomes[0]?.status, .repaired)
    XCTAssertEqual(box.read(box.hostPath("/b")), "from a blob\n")
  }

  func testMissingBlobFailsAndWritesNothing() throws {
    let digest = SHA256.hash(Array("x".utf8))
    let path = try box.policy(#"{"policy": "p", "promises": [{"id": "b", "type": "file", "path": "/b", "source": "sha256:\#(digest.hex)"}]}"#)
    let report = try box.apply(path)
    XCTAssertEqual(report.outcome("b")?.status, .failed)
    XCTAssertTrue(report.outcome("b")?.reason.contains("not in the store") ?? false)
    XCTAssertFalse(box.exists(box.hostPath("/b")))
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: box.root), [], "no temporary file is left")
  }

  // MARK: stepping through a run (the daemon's way: commands never run inside it)

  private func stepped(_ text: String) throws -> (Converger, Policy, [PreparedPromise]) {
    let policy = try PolicyDecoder.decode(Array(text.utf8))
    let converger = try Converger(root: box.root, classes: [], dryRun: false)
    return (converger, policy, converger.prepare(policy))
  }

  private func advance(_ c: Converger) -> CommandRequest? {
    c.advance(cachedStat: { _ in nil }, blob: { _, body in body(nil) }, previous: { _ in nil })
  }

  /// A run that reaches a command suspends with a request for it (nothing run), goes on when
  /// answered, and the promise's outcome is the answer's; promises after it wait for it.
  func testACommandSuspendsTheRunAndItsAnswerResumesIt() throws {
    let (c, policy, prepared) = try stepped(#"""
      {"policy": "p", "promises": [
        {"id": "before", "type": "file", "path": "/before", "content": "1\n"},
        {"id": "cmd", "type": "command", "exec": ["/bin/sh", "-c", "touch ran"], "timeout": 7},
        {"id": "after", "type": "file", "path": "/after", "content": "2\n"}]}
      """#)
    c.begin(policy, prepared, order: [0, 1, 2])
    guard let request = advance(c) else { return XCTFail("the run did not stop at the command") }
    XCTAssertEqual(request.index, 1)
    XCTAssertEqual(request.stage, .exec)
    XCTAssertEqual(request.argv, ["/bin/sh", "-c", "touch ran"])
    XCTAssertEqual(request.cwd, box.root)
    XCTAssertEqual(request.timeout, 7)
    XCTAssertTrue(request.environment.contains("EDGEAGENT_PROMISE=cmd"))
    XCTAssertTrue(c.inRun)
    XCTAssertEqual(c.outcomes[0]?.status, .repaired)
    XCTAssertEqual(box.read(box.hostPath("/before")), "1\n", "published before the command runs")
    XCTAssertNil(c.outcomes[1])
    XCTAssertNil(c.outcomes[2])
    XCTAssertFalse(box.exists(box.hostPath("/ran")), "the converger itself runs nothing")
    XCTAssertEqual(advance(c)?.index, 1, "unanswered, it still waits")
    c.resume(.finished(CommandResult(status: 0, timedOut: false, outputTail: [])))
    XCTAssertNil(advance(c))
    XCTAssertFalse(c.inRun)
    XCTAssertEqual(c.outcomes[1], Outcome(.repaired, "ran"))
    XCTAssertEqual(c.outcomes[2]?.status, .repaired)
    XCTAssertEqual(box.read(box.hostPath("/after")), "2\n")
  }

  /// A run that prepares its promises a window at a time (`apply`'s) converges as one given them
  /// all: the same outcomes, every file written, and each promise's digest kept as `prepare`
  /// makes it, across windows and across a command that waits at the end of one.
  func testARunPreparingByAWindowConvergesAsAWholeOneAndKeepsEachDigest() throws {
    var text = #"{"policy": "p", "promises": [{"id": "d", "type": "directory", "path": "/w"}"#
    for i in 0..<7 { text += #",{"id": "f\#(i)", "type": "file", "path": "/w/f\#(i)", "content": "\#(i)\n"}"# }
    text += #",{"id": "cmd", "type": "command", "exec": ["/bin/true"], "after": ["f6"]}"#
    text += #",{"id": "link", "type": "link", "path": "/w/l", "target": "f0", "after": ["cmd"]}]}"#
    let (c, policy, prepared) = try stepped(text)
    let order = try policy.order()
    XCTAssertEqual(order.firstIndex(of: 8), 8, "the command is the last promise of the third window of 3")
    c.begin(policy, [], preparingBy: 3, order: order)
    XCTAssertEqual(advance(c)?.index, 8)
    c.resume(.finished(CommandResult(status: 0, timedOut: false, outputTail: [])))
    XCTAssertNil(advance(c))
    XCTAssertEqual(c.outcomes.map { $0?.status }, [OutcomeStatus?](repeating: .repaired, count: 10))
    for i in 0..<7 { XCTAssertEqual(box.read(box.hostPath("/w/f\(i)")), "\(i)\n") }
    XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: box.hostPath("/w/l")), "f0")
    XCTAssertEqual(c.fingerprints, prepared.map { $0.digest ?? .zero })
    XCTAssertNotEqual(c.fingerprints[1], .zero)
    XCTAssertNotEqual(c.fingerprints[8], .zero, "a command's digest is of its argv")

    // Given them all, the run keeps no digests of its own (the daemon's prepared promises are).
    c.begin(policy, prepared, order: order)
    XCTAssertEqual(advance(c)?.index, 8)
    c.resume(.finished(CommandResult(status: 0, timedOut: false, outputTail: [])))
    XCTAssertNil(advance(c))
    XCTAssertEqual(c.outcomes[1]?.status, .kept)
    XCTAssertTrue(c.fingerprints.isEmpty)
  }

  /// While a run waits for a command, the daemon's drift repairs (or the command) may replace a
  /// directory the run opened: promises after the command write into the directory there now.
  func testDirectoriesAreOpenedAgainAfterACommand() throws {
    let (c, policy, prepared) = try stepped(#"""
      {"policy": "p", "promises": [
        {"id": "a", "type": "file", "path": "/srv/a", "content": "a\n"},
        {"id": "cmd", "type": "command", "exec": ["/bin/true"]},
        {"id": "b", "type": "file", "path": "/srv/b", "content": "b\n"}]}
      """#)
    c.begin(policy, prepared, order: [0, 1, 2])
    XCTAssertNotNil(advance(c))
    try FileManager.default.moveItem(atPath: box.root + "/srv", toPath: box.root + "/srv.old")
    try FileManager.default.createDirectory(atPath: box.root + "/srv", withIntermediateDirectories: false)
    c.resume(.finished(CommandResult(status: 0, timedOut: false, outputTail: [])))
    XCTAssertNil(advance(c))
    XCTAssertEqual(c.outcomes[2]?.status, .repaired)
    XCTAssertEqual(box.read(box.hostPath("/srv/b")), "b\n")
    XCTAssertFalse(box.exists(box.root + "/srv.old/b"), "written into the replaced directory")
  }

  func testTheAnswerDecidesTheOutcomeAsABlockingRunWould() throws {
    let text = #"{"policy": "p", "promises": [{"id": "cmd", "type": "command", "exec": ["/bin/false"], "timeout": 5}]}"#
    let cases: [(CommandAnswer, Outcome)] = [
      (.finished(CommandResult(status: 3, timedOut: false, outputTail: Array("a\nlast words\n".utf8))),
       Outcome(.failed, "/bin/false exited with status 3: last words")),
      (.finished(CommandResult(status: -9, timedOut: false, outputTail: [])), Outcome(.failed, "/bin/false killed by signal 9")),
      (.finished(CommandResult(status: -9, timedOut: true, outputTail: [])), Outcome(.failed, "/bin/false killed after the 5 s timeout")),
      (.failed(HostError(.noEntry, "start", "/bin/false")), Outcome(.failed, "unable to start /bin/false: No such file or directory")),
    ]
    for (answer, expected) in cases {
      let (c, policy, prepared) = try stepped(text)
      c.begin(policy, prepared, order: [0])
      XCTAssertNotNil(advance(c))
      c.resume(answer)
      XCTAssertNil(advance(c))
      XCTAssertEqual(c.outcomes[0], expected)
    }
  }

  /// `unless` is a request of its own: exit 0 keeps the promise without asking for `exec`.
  func testUnlessIsRequestedFirstAndDecidesWhetherExecRuns() throws {
    let text = #"{"policy": "p", "promises": [{"id": "cmd", "type": "command", "exec": ["/bin/true"], "unless": ["/bin/test", "-e", "x"]}]}"#
    var (c, policy, prepared) = try stepped(text)
    c.begin(policy, prepared, order: [0])
    XCTAssertEqual(advance(c)?.stage, .unless)
    c.resume(.finished(CommandResult(status: 0, timedOut: false, outputTail: [])))
    XCTAssertNil(advance(c))
    XCTAssertEqual(c.outcomes[0], .kept)
    (c, policy, prepared) = try stepped(text)
    c.begin(policy, prepared, order: [0])
    XCTAssertEqual(advance(c)?.stage, .unless)
    c.resume(.finished(CommandResult(status: 1, timedOut: false, outputTail: [])))
    let exec = advance(c)
    XCTAssertEqual(exec?.stage, .exec)
    XCTAssertEqual(exec?.argv, ["/bin/true"])
    c.resume(.finished(CommandResult(status: 0, timedOut: false, outputTail: [])))
    XCTAssertNil(advance(c))
    XCTAssertEqual(c.outcomes[0], Outcome(.repaired, "ran"))
  }

  /// `run` (apply's) answers the same requests by running them: same outcomes as before.
  func testBlockingRunRunsTheCommand() throws {
    let (c, policy, prepared) = try stepped(#"""
      {"policy": "p", "promises": [{"id": "cmd", "type": "command", "exec": ["/bin/sh", "-c", "echo out; exit 4"]}]}
      """#)
    let outcomes = c.run(policy, prepared, order: [0], cachedStat: { _ in nil }, blob: { _, body in body(nil) }, previous: { _ in nil })
    XCTAssertEqual(outcomes[0], Outcome(.failed, "/bin/sh exited with status 4: out"))
    XCTAssertFalse(c.inRun)
  }

  /// Failed syscalls of an `apply` from nothing of `count` files in /srv/new (made by a
  /// directory promise when `promised`, else by the first file's repair).
  private func failedCallsFromNothing(_ count: Int, promised: Bool) throws -> UInt64 {
    let sandbox = try Sandbox()
    defer { sandbox.remove() }
    var text = #"{"policy": "new", "promises": ["#
    if promised { text += #"{"id": "dir", "type": "directory", "path": "/srv/new"},"# }
    for i in 0..<count {
      text += (i > 0 ? ",\n" : "\n") + #"{"id": "f\#(i)", "type": "file", "path": "/srv/new/f\#(i)", "content": "v\#(i)"}"#
    }
    let path = try sandbox.policy(text + "\n]}")
    let before = syscallCount()
    let report = try sandbox.apply(path)
    let failed = syscallCount().failed - before.failed
    XCTAssertEqual(report.summary.repaired, count + (promised ? 1 : 0))
    XCTAssertEqual(sandbox.read(sandbox.hostPath("/srv/new/f\(count - 1)")), "v\(count - 1)")
    return failed
  }

  /// A run publishes every `publishEvery` staged files, not only at its end (a run of 100,000
  /// held them all): every file lands with its content and is vouched for, and a directory
  /// nothing was staged in before a publish still needs no lstat per file after it.
  func testALargeRunPublishesAsItGoes() throws {
    func run(_ name: String, publishEvery: Int) throws -> (failed: UInt64, vouched: Int) {
      var text = #"{"policy": "p", "promises": [{"id": "a", "type": "directory", "path": "/\#(name)/a"},"#
      text += #"{"id": "b", "type": "directory", "path": "/\#(name)/b"}"#
      for dir in ["a", "b"] {
        for i in 0..<20 { text += #",{"id": "\#(dir)\#(i)", "type": "file", "path": "/\#(name)/\#(dir)/f\#(i)", "content": "\#(dir)\#(i)"}"# }
      }
      let (c, policy, prepared) = try stepped(text + "]}")
      c.publishEvery = publishEvery
      c.waitToVouchFrom = 1
      let before = syscallCount()
      c.begin(policy, prepared, order: Array(0..<42))
      XCTAssertNil(advance(c))
      let failed = syscallCount().failed - before.failed
      XCTAssertEqual(c.outcomes.filter { $0?.status == .repaired }.count, 42)
      for dir in ["a", "b"] {
        for i in 0..<20 { XCTAssertEqual(box.read(box.hostPath("/\(name)/\(dir)/f\(i)")), "\(dir)\(i)") }
      }
      return (failed, c.statUpdates.count)
    }
    let once = try run("once", publishEvery: 16_384)
    // At 20: every file of a, none of b; b keeps the flag its directory promise gave it.
    let twice = try run("twice", publishEvery: 20)
    XCTAssertEqual(once.vouched, 40)
    XCTAssertEqual(twice.vouched, 40)
    XCTAssertEqual(twice.failed, once.failed, "publishing a's files made b's files cost an lstat each")
    // a's files were renamed at the publish, which waited for the clock to pass their stamps,
    // before b's were even staged.
    func ctime(_ path: String) throws -> Int64 { try XCTUnwrap(try FileStat.lstat(box.hostPath(path))).identity.ctime }
    let aLast = try (0..<20).map { try ctime("/twice/a/f\($0)") }.max()!
    let bFirst = try (0..<20).map { try ctime("/twice/b/f\($0)") }.min()!
    XCTAssertLessThan(aLast, bFirst, "no publish before b's files")
  }

  func testFromNothingNoCallFailsPerFile() throws {
    // A file in a directory this run made needs no lstat to be known absent: that lstat was
    // one ENOENT per file (and the stage's unlink of a leftover temporary another, before).
    for promised in [false, true] {
      let small = try failedCallsFromNothing(50, promised: promised)
      let large = try failedCallsFromNothing(100, promised: promised)
      XCTAssertEqual(large, small, "50 more files made \(Int(large) - Int(small)) more failed calls (directory promised: \(promised))")
    }
  }
}
