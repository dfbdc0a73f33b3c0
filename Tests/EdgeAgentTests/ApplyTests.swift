@testable import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeStore
import Foundation
import XCTest
import EdgeTestSupport

final class ApplyTests: XCTestCase {
  var box: Sandbox!

  override func setUpWithError() throws {
    XCTAssertTrue(cryptoInit())
    box = try Sandbox()
  }

  override func tearDown() { box.remove() }

  private let conf = "port=8080\nlog=/var/log/app.log\n"

  // MARK: converge and stay converged

  /// A run that writes many files records their stat cache entries in a transaction before the
  /// outcomes' (record in Apply.swift): every file written is vouched for, and the run after it
  /// is verified in place without reading one.
  func testAManyFileRunVouchesForEveryFileItWrote() throws {
    let count = 4_200
    var t = #"{"policy": "many", "promises": [{"id": "d", "type": "directory", "path": "/srv/many"}"#
    for i in 0..<count { t += #",{"id": "f\#(i)", "type": "file", "path": "/srv/many/f\#(i)", "content": "v\#(i)"}"# }
    let path = try box.policy(t + "]}")
    XCTAssertEqual(try box.apply(path).summary.repaired, count + 1)
    let env = try EdgeStore.Environment(path: box.state, readOnly: true)
    let txn = try env.read()
    let keys = StatCacheKey(root: box.root)
    var missing = 0
    for i in 0..<count {
      let found = try keys.key("/srv/many/f\(i)").withBytes { k in try txn.value(.statcache, k) { $0 != nil } }
      if !found { missing += 1 }
    }
    txn.abort()
    env.close()
    XCTAssertEqual(missing, 0, "files written but not vouched for")
    let before = syscallCount()
    let next = try box.apply(path)
    XCTAssertEqual(next.summary.kept, count + 1)
    // One lstat per file and no read: far fewer calls than the 3 more a hash would take each.
    XCTAssertLessThan(syscallCount().calls - before.calls, UInt64(count) * 2)
  }

  /// `desired` after a new policy holds exactly the new promises, in plan order, whether the new
  /// one changes a promise in place (only that record is rewritten), adds some or drops some.
  func testDesiredHoldsExactlyTheNewPolicyAfterAChange() throws {
    func text(_ count: Int, changed: Int = -1) -> String {
      var t = #"{"policy": "many", "promises": [{"id": "d", "type": "directory", "path": "/srv/many"}"#
      for i in 0..<count {
        t += #",{"id": "f\#(i)", "type": "file", "path": "/srv/many/f\#(i)", "content": "\#(i == changed ? "new" : "v\(i)")"}"#
      }
      return t + "]}"
    }
    func stored() throws -> [Promise] {
      let env = try EdgeStore.Environment(path: box.state, readOnly: true)
      defer { env.close() }
      return try XCTUnwrap(try loadDesiredPolicy(env)).promises
    }
    for (n, (count, changed)) in [(300, -1), (300, 150), (310, 150), (40, -1)].enumerated() {
      let report = try box.apply(try box.policy(text(count, changed: changed), name: "p\(n).json"))
      XCTAssertEqual(report.summary.failed, 0)
      XCTAssertTrue(report.desiredReplaced)
      let promises = try stored()
      XCTAssertEqual(promises.map(\.id), ["d"] + (0..<count).map { "f\($0)" }, "policy \(n)")
      for i in 0..<count {
        XCTAssertEqual(promises[i + 1].content.map { String(decoding: $0, as: UTF8.self) }, i == changed ? "new" : "v\(i)")
      }
      if count > 150 { XCTAssertEqual(box.read(box.hostPath("/srv/many/f150")), changed == 150 ? "new" : "v150") }
    }
  }

  /// A policy that changes more records than one transaction stages is written beside the one
  /// in force and put in force by the run's transaction (PolicyState.swift): `desired` holds one
  /// whole policy after every run, a small change still goes in place, and a staging cut short
  /// (the agent killed before its run was recorded) leaves the policy in force as it was.
  func testALargePolicyIsStagedBesideTheOneInForceAndSwitchedWhole() throws {
    let count = recordsPerStagingTransaction + 300
    func text(_ n: Int, content: (Int) -> String) -> String {
      var t = #"{"policy": "large", "promises": [{"id": "d", "type": "directory", "path": "/srv/l"}"#
      for i in 0..<n { t += #",{"id": "f\#(i)", "type": "file", "path": "/srv/l/f\#(i)", "content": "\#(content(i))"}"# }
      return t + "]}"
    }
    func look() throws -> (inForce: Database, contents: [String], staged: Int, outcomes: Int, vouched: Int) {
      let env = try EdgeStore.Environment(path: box.state, readOnly: true)
      defer { env.close() }
      let txn = try env.read()
      let db = try txn.desiredDatabase()
      let staged = try txn.count(try txn.stagingDatabase())
      let outcomes = try txn.count(.actual)
      let keys = StatCacheKey(root: box.root)
      var vouched = 0
      for i in 0..<count where try keys.key("/srv/l/f\(i)").withBytes({ k in try txn.value(.statcache, k) { $0 != nil } }) {
        vouched += 1
      }
      txn.abort()
      let promises = try XCTUnwrap(try loadDesiredPolicy(env)).promises
      return (db, promises.dropFirst().map { String(decoding: $0.content ?? [], as: UTF8.self) }, staged, outcomes, vouched)
    }
    // From nothing: staged in `desired.1`, which is then in force.
    var report = try box.apply(try box.policy(text(count) { "v\($0)" }, name: "a.json"))
    XCTAssertEqual(report.summary.repaired, count + 1)
    var state = try look()
    XCTAssertEqual(state.inForce, .desired1)
    XCTAssertEqual(state.contents, (0..<count).map { "v\($0)" })
    XCTAssertEqual(state.staged, 0)
    XCTAssertEqual(state.outcomes, count + 1)
    XCTAssertEqual(state.vouched, count, "every file written is in the stat cache (stored in several transactions)")
    // Every content changed: staged in `desired`, put in force, `desired.1` emptied.
    report = try box.apply(try box.policy(text(count) { "w\($0)" }, name: "b.json"))
    XCTAssertEqual(report.summary.repaired, count)
    state = try look()
    XCTAssertEqual(state.inForce, .desired)
    XCTAssertEqual(state.contents, (0..<count).map { "w\($0)" })
    XCTAssertEqual(state.staged, 0)
    XCTAssertEqual(box.read(box.hostPath("/srv/l/f\(count - 1)")), "w\(count - 1)")
    // One content changed: written in place, nothing staged.
    report = try box.apply(try box.policy(text(count) { $0 == 7 ? "x" : "w\($0)" }, name: "c.json"))
    XCTAssertEqual(report.summary.repaired, 1)
    state = try look()
    XCTAssertEqual(state.inForce, .desired)
    XCTAssertEqual(state.contents, (0..<count).map { $0 == 7 ? "x" : "w\($0)" })
    XCTAssertEqual(state.staged, 0)
    // A staging cut short: the policy in force is untouched and whole; the next run clears it.
    let other = try PolicyDecoder.decode(Array(text(count) { "y\($0)" }.utf8))
    let env = try EdgeStore.Environment(path: box.state)
    let staged = try stageDesired(env, policy: other, order: try other.order(), digest: SHA256.hash([1]), fingerprints: .made(other))
    env.close()
    XCTAssertEqual(staged.staged, .desired1)
    state = try look()
    XCTAssertEqual(state.inForce, .desired)
    XCTAssertEqual(state.contents, (0..<count).map { $0 == 7 ? "x" : "w\($0)" })
    XCTAssertEqual(state.staged, count + 1)
    report = try box.apply(try box.policy(text(40) { "z\($0)" }, name: "d.json"))
    XCTAssertEqual(report.summary.repaired, 40)
    state = try look()
    XCTAssertEqual(state.contents, (0..<40).map { "z\($0)" })
    XCTAssertEqual(state.outcomes, 41, "the outcomes of promises that left the policy go with them")
    XCTAssertEqual(state.staged, 0, "what a staging cut short left is cleared by the next policy")
  }

  /// A large policy applied into a state that holds none is staged as its decoded promises are let
  /// go, and converged from its staged records a window at a time (ApplyStaged.swift): what it does
  /// to the host, reports and records is what the run that holds the policy whole does, with skips
  /// and a failure among the windows; and so are the runs after it (a rollout of every file, kept).
  func testALargePolicyConvergedFromItsStageDoesWhatAWholeRunDoes() throws {
    let count = recordsPerStagingTransaction + 300
    func text(_ tag: String) -> String {
      var t = #"{"policy": "large", "promises": ["#
      for d in 0..<3 { t += (d > 0 ? "," : "") + #"{"id": "d\#(d)", "type": "directory", "path": "/srv/w\#(d)", "mode": "0750"}"# }
      for i in 0..<count {
        t += #",{"id": "f\#(i)", "type": "file", "path": "/srv/w\#(i % 3)/f\#(i)", "content": "\#(tag)\#(i)", "mode": "0640""#
        t += i % 1_000 == 7 ? #", "if": "no_such_class"}"# : "}"
      }
      return t + #",{"id": "last", "type": "link", "path": "/srv/last", "target": "/srv/w0/f0"}]}"#
    }
    let whole = try Sandbox()
    defer { whole.remove() }
    // f4 cannot be written in either: a directory with a file in it holds its path.
    for b in [box!, whole] {
      try FileManager.default.createDirectory(atPath: b.hostPath("/srv/w1/f4"), withIntermediateDirectories: true)
      try b.write(b.hostPath("/srv/w1/f4/keep"), "x")
    }
    func apply(_ b: Sandbox, _ path: String, windows: Bool) throws -> ApplyReport {
      var o = b.options(path)
      o.stagedWindowsFrom = windows ? 1 : nil
      o.stagedWindow = 3_000
      return try EdgeConverge.apply(o)
    }
    func state(_ b: Sandbox) throws -> (inForce: Database, records: [[UInt8]], outcomes: [String], staged: Int, vouched: Int) {
      let env = try EdgeStore.Environment(path: b.state, readOnly: true)
      defer { env.close() }
      let txn = try env.read()
      let db = try txn.desiredDatabase()
      var records: [[UInt8]] = []
      try txn.forEach(db) { _, v in records.append(Array(v)); return true }
      var outcomes: [String] = []
      try txn.forEach(.actual) { k, v in
        let r = try? ActualRecord.decode(v)
        outcomes.append("\(String(decoding: k, as: UTF8.self)) \(r.map { "\($0.status) \($0.reason) \($0.fingerprint.hex)" } ?? "?")")
        return true
      }
      // The files' entries: the policy file's is there only if it was settled when read.
      let keys = StatCacheKey(root: b.root)
      var vouched = 0
      for i in 0..<count where try keys.key("/srv/w\(i % 3)/f\(i)").withBytes({ k in try txn.value(.statcache, k) { $0 != nil } }) {
        vouched += 1
      }
      let staged = try txn.count(try txn.stagingDatabase())
      txn.abort()
      return (db, records, outcomes, staged, vouched)
    }
    for (round, tag) in ["v", "w"].enumerated() {
      let report = try apply(box, try box.policy(text(tag), name: "\(tag).json"), windows: true)
      let expected = try apply(whole, try whole.policy(text(tag), name: "\(tag).json"), windows: false)
      XCTAssertEqual(report.summary.skipped, count / 1_000 + 1, "round \(round)")
      XCTAssertEqual(report.summary.failed, 1, "round \(round)")
      XCTAssertEqual(report.summary.repaired, round == 0 ? count + 4 - report.summary.skipped - 1 : count - report.summary.skipped - 1)
      XCTAssertEqual(report.summary, expected.summary, "round \(round)")
      XCTAssertEqual(report.results.map { "\($0.id) \($0.type) \($0.outcome.status) \($0.outcome.reason)" },
                     expected.results.map { "\($0.id) \($0.type) \($0.outcome.status) \($0.outcome.reason)" }, "round \(round)")
      XCTAssertTrue(report.desiredReplaced)
      // Only into a state that holds no policy: a rollout's records are compared with the ones
      // in force (PolicyState.swift), and that policy is converged whole.
      XCTAssertEqual(report.stagedWindows, round == 0 ? 3 : 0, "8,496 promises, 3,000 a window")
      XCTAssertEqual(expected.stagedWindows, 0)
      let (got, want) = (try state(box), try state(whole))
      XCTAssertEqual(got.inForce, round == 0 ? .desired1 : .desired)
      XCTAssertEqual(got.inForce, want.inForce)
      XCTAssertEqual(got.records.count, count + 4)
      XCTAssertTrue(got.records == want.records, "`desired` holds the same records, digests included")
      XCTAssertEqual(got.outcomes.count, count + 4)
      XCTAssertEqual(got.outcomes, want.outcomes, "round \(round)")
      XCTAssertEqual(got.staged, 0)
      XCTAssertEqual(got.vouched, count - report.summary.skipped - 1, "every file written is vouched for")
      XCTAssertEqual(want.vouched, got.vouched)
      for i in 0..<count where i % 1_000 != 7 && i != 4 {
        guard box.read(box.hostPath("/srv/w\(i % 3)/f\(i)")) == "\(tag)\(i)" else { return XCTFail("f\(i) round \(round)") }
      }
      XCTAssertNil(box.read(box.hostPath("/srv/w0/f7")), "a skipped promise writes nothing")
      XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: box.hostPath("/srv/last")), "/srv/w0/f0")
    }
    // The next run finds everything kept, from the records the staged run wrote.
    let kept = try apply(box, box.base + "/w.json", windows: true)
    XCTAssertEqual(kept.summary.repaired, 0)
    XCTAssertEqual(kept.summary.kept, count + 4 - kept.summary.skipped - 1)
    XCTAssertFalse(kept.desiredReplaced)
    XCTAssertEqual(kept.stagedWindows, 0, "a policy already in force is not staged")
  }

  func testFirstRunRepairsEverythingTheExampleManages() throws {
    let report = try box.apply(try box.policy(try examplePolicyText()))
    XCTAssertEqual(report.policyName, "gateway")
    XCTAssertEqual(report.statuses, ["app-dir": .repaired, "app-conf": .repaired, "app-env": .repaired, "motd": .repaired,
                                     "current": .repaired, "old-conf": .kept, "router-only": .skipped])
    XCTAssertEqual(report.summary.repaired, 5)
    XCTAssertEqual(report.summary.kept, 1)
    XCTAssertEqual(report.summary.skipped, 1)
    XCTAssertEqual(report.summary.failed, 0)
    XCTAssertTrue(report.desiredReplaced)
    XCTAssertTrue(box.isDirectory(box.hostPath("/opt/app")))
    XCTAssertEqual(box.mode(box.hostPath("/opt/app")), 0o755)
    XCTAssertEqual(box.read(box.hostPath("/opt/app/app.conf")), conf)
    XCTAssertEqual(box.mode(box.hostPath("/opt/app/app.conf")), 0o640)
    XCTAssertEqual(box.read(box.hostPath("/opt/app/env")), "ROLE=gateway\n")
    XCTAssertEqual(box.mode(box.hostPath("/opt/app/env")), 0o600)
    XCTAssertEqual(box.read(box.hostPath("/etc/motd")), "managed by edgeagent\n")
    XCTAssertEqual(box.mode(box.hostPath("/etc/motd")), 0o644, "a new file without a mode gets 0644")
    XCTAssertEqual(box.linkTarget(box.hostPath("/opt/app/current")), "/opt/app")
    XCTAssertFalse(box.exists(box.hostPath("/etc/router.flag")))
  }

  func testPlanOrderPutsTheDirectoryBeforeItsFiles() throws {
    let report = try box.apply(try box.policy(try examplePolicyText()))
    let ids = report.results.map(\.id)
    XCTAssertLessThan(ids.firstIndex(of: "app-dir")!, ids.firstIndex(of: "app-conf")!)
    XCTAssertLessThan(ids.firstIndex(of: "app-dir")!, ids.firstIndex(of: "current")!)
  }

  func testSecondRunKeepsEverything() throws {
    let path = try box.policy(try examplePolicyText())
    _ = try box.apply(path)
    let second = try box.apply(path)
    XCTAssertEqual(second.summary.kept, 6)
    XCTAssertEqual(second.summary.skipped, 1)
    XCTAssertEqual(second.summary.repaired, 0)
    XCTAssertEqual(second.summary.failed, 0)
    XCTAssertFalse(second.desiredReplaced, "the same policy does not rewrite desired")
    for r in second.results where r.id != "router-only" { XCTAssertEqual(r.outcome, .kept, r.id) }
  }

  func testSteadyStateRunsWriteNoManagedFile() throws {
    let path = try box.policy(try examplePolicyText())
    _ = try box.apply(path)
    let before = box.snapshot(box.root)
    for p in ["/opt/app", "/opt/app/app.conf", "/opt/app/env", "/opt/app/current", "/etc/motd"] {
      XCTAssertNotNil(before[box.hostPath(p)], p)
    }
    for _ in 0..<3 { _ = try box.apply(path) }
    let after = box.snapshot(box.root)
    XCTAssertEqual(after, before, "inode, mode, size, mtime and ctime of every path are unchanged")
  }

  /// The policy file's identity is the one of the file read, taken on the fd that read it: a
  /// policy rewritten while a run converges (here by a command of the run itself, which waits
  /// until the new file's stamps are settled) is read by the next run, not taken for the old one
  /// and verified in place against the old promises.
  func testAPolicyRewrittenDuringTheRunIsReadByTheNext() throws {
    let newText = #"{"policy": "b", "promises": [{"id": "b", "type": "file", "path": "/b", "content": "b"}]}"#
    let path = box.base + "/policy.json"
    let next = try box.policy(newText, name: "next.json")
    let script = "cp \(next) \(path).tmp && mv \(path).tmp \(path) && sleep 0.05"
    let oldText = #"{"policy": "a", "promises": [{"id": "a", "type": "file", "path": "/a", "content": "a"},"# +
      #"{"id": "rewrite", "type": "command", "exec": ["/bin/sh", "-c", "\#(script)"], "after": ["a"]}]}"#
    try box.policy(oldText)
    Thread.sleep(forTimeInterval: 0.05)
    let first = try box.apply(path)
    XCTAssertEqual(first.summary.failed, 0, "\(first.results)")
    XCTAssertEqual(box.read(box.hostPath("/a")), "a")
    let second = try box.apply(path)
    XCTAssertFalse(second.verifiedInPlace, "the rewritten policy was taken for the one read before")
    XCTAssertEqual(second.policyName, "b")
    XCTAssertEqual(box.read(box.hostPath("/b")), "b")
  }

  func testEditedFileIsRepairedOnTheNextRun() throws {
    let path = try box.policy(try examplePolicyText())
    _ = try box.apply(path)
    // Same size, right after the write: only the content (and the timestamps) differ.
    try box.write(box.hostPath("/opt/app/app.conf"), "port=9090\nlog=/var/log/app.log\n")
    let report = try box.apply(path)
    XCTAssertEqual(report.outcome("app-conf")?.status, .repaired)
    XCTAssertEqual(report.outcome("app-conf")?.reason, "content replaced")
    XCTAssertEqual(box.read(box.hostPath("/opt/app/app.conf")), conf)
    XCTAssertEqual(box.mode(box.hostPath("/opt/app/app.conf")), 0o640, "the mode survives the repair")
    XCTAssertEqual(try box.apply(path).outcome("app-conf"), .kept)
  }

  func testEditAfterAKeptRunIsRepaired() throws {
    let path = try box.policy(try examplePolicyText())
    _ = try box.apply(path)
    _ = try box.apply(path)
    try box.write(box.hostPath("/etc/motd"), "hacked\n")
    let report = try box.apply(path)
    XCTAssertEqual(report.outcome("motd")?.status, .repaired)
    XCTAssertEqual(box.read(box.hostPath("/etc/motd")), "managed by edgeagent\n")
  }

  func testTruncatedFileIsRepaired() throws {
    let path = try box.policy(try examplePolicyText())
    _ = try box.apply(path)
    try box.write(box.hostPath("/opt/app/env"), "")
    XCTAssertEqual(try box.apply(path).outcome("app-env")?.status, .repaired)
    XCTAssertEqual(box.read(box.hostPath("/opt/app/env")), "ROLE=gateway\n")
  }

  func testDeletedFileIsRecreated() throws {
    let path = try box.policy(try examplePolicyText())
    _ = try box.apply(path)
    try FileManager.default.removeItem(atPath: box.hostPath("/opt/app/env"))
    XCTAssertEqual(try box.apply(path).outcome("app-env"), Outcome(.repaired, "created"))
    XCTAssertEqual(box.read(box.hostPath("/opt/app/env")), "ROLE=gateway\n")
  }

  func testModeDriftIsRepairedInPlace() throws {
    let path = try box.policy(try examplePolicyText())
    _ = try box.apply(path)
    let inode = box.lstatOf(box.hostPath("/opt/app/app.conf"))!.st_ino
    chmod(box.hostPath("/opt/app/app.conf"), 0o777)
    let report = try box.apply(path)
    XCTAssertEqual(report.outcome("app-conf"), Outcome(.repaired, "mode 0777 -> 0640"))
    XCTAssertEqual(box.mode(box.hostPath("/opt/app/app.conf")), 0o640)
    XCTAssertEqual(box.lstatOf(box.hostPath("/opt/app/app.conf"))!.st_ino, inode, "a chmod, not a rewrite")
    XCTAssertEqual(box.read(box.hostPath("/opt/app/app.conf")), conf)
  }

  func testDirectoryModeDriftIsRepaired() throws {
    let path = try box.policy(try examplePolicyText())
    _ = try box.apply(path)
    chmod(box.hostPath("/opt/app"), 0o700)
    XCTAssertEqual(try box.apply(path).outcome("app-dir"), Outcome(.repaired, "mode 0700 -> 0755"))
    XCTAssertEqual(box.mode(box.hostPath("/opt/app")), 0o755)
  }

  func testContentAndModeDriftAreRepairedTogether() throws {
    let path = try box.policy(try examplePolicyText())
    _ = try box.apply(path)
    try box.write(box.hostPath("/opt/app/app.conf"), "x", mode: 0o666)
    let report = try box.apply(path)
    XCTAssertEqual(report.outcome("app-conf")?.status, .repaired)
    XCTAssertEqual(box.read(box.hostPath("/opt/app/app.conf")), conf)
    XCTAssertEqual(box.mode(box.hostPath("/opt/app/app.conf")), 0o640)
  }

  func testMissingParentDirectoriesAreCreated() throws {
    let path = try box.policy(#"{"policy": "p", "promises": [{"id": "f", "type": "file", "path": "/a/b/c/f.conf", "content": "x"}]}"#)
    XCTAssertEqual(try box.apply(path).outcome("f")?.status, .repaired)
    XCTAssertEqual(box.read(box.hostPath("/a/b/c/f.conf")), "x")
    XCTAssertTrue(box.isDirectory(box.hostPath("/a/b")))
  }

  // MARK: symlinks

  func testPlantedSymlinkIsReplacedByAFileAndItsTargetIsUntouched() throws {
    let path = try box.policy(try examplePolicyText())
    _ = try box.apply(path)
    let secret = box.outside + "/shadow"
    try box.write(secret, "root:secret\n", mode: 0o600)
    let secretBefore = box.snapshot(secret)
    try FileManager.default.removeItem(atPath: box.hostPath("/etc/motd"))
    try FileManager.default.createSymbolicLink(atPath: box.hostPath("/etc/motd"), withDestinationPath: secret)
    let report = try box.apply(path)
    XCTAssertEqual(report.outcome("motd"), Outcome(.repaired, "replaced a symlink with a file"))
    XCTAssertTrue(box.isRegular(box.hostPath("/etc/motd")))
    XCTAssertEqual(box.read(box.hostPath("/etc/motd")), "managed by edgeagent\n")
    XCTAssertEqual(box.snapshot(secret), secretBefore, "the symlink's target outside the root is untouched")
  }

  func testSymlinkPlantedBeforeTheFirstRunIsReplaced() throws {
    let secret = box.outside + "/secret"
    try box.write(secret, "keep\n", mode: 0o600)
    let before = box.snapshot(secret)
    try FileManager.default.createDirectory(atPath: box.hostPath("/etc"), withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(atPath: box.hostPath("/etc/motd"), withDestinationPath: secret)
    let path = try box.policy(#"{"policy": "p", "promises": [{"id": "motd", "type": "file", "path": "/etc/motd", "content": "hello\n", "mode": "0644"}]}"#)
    XCTAssertEqual(try box.apply(path).outcome("motd")?.status, .repaired)
    XCTAssertTrue(box.isRegular(box.hostPath("/etc/motd")))
    XCTAssertEqual(box.snapshot(secret), before)
  }

  func testSymlinkWithTheRightContentBehindItIsStillReplaced() throws {
    // The link points at a file holding exactly the promised bytes: still not a kept file.
    let decoy = box.outside + "/decoy"
    try box.write(decoy, "hello\n", mode: 0o644)
    try FileManager.default.createDirectory(atPath: box.hostPath("/etc"), withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(atPath: box.hostPath("/etc/motd"), withDestinationPath: decoy)
    let path = try box.policy(#"{"policy": "p", "promises": [{"id": "motd", "type": "file", "path": "/etc/motd", "content": "hello\n", "mode": "0644"}]}"#)
    XCTAssertEqual(try box.apply(path).outcome("motd")?.status, .repaired)
    XCTAssertTrue(box.isRegular(box.hostPath("/etc/motd")))
  }

  func testSymlinkedParentNeverLeadsARepairOutsideTheRoot() throws {
    // /opt inside the root points at a directory outside it, which holds a file of the same name.
    try box.write(box.outside + "/app.conf", "outside\n", mode: 0o600)
    let before = box.snapshot(box.outside)
    try FileManager.default.createSymbolicLink(atPath: box.hostPath("/opt"), withDestinationPath: box.outside)
    let path = try box.policy(#"{"policy": "p", "promises": [{"id": "f", "type": "file", "path": "/opt/app.conf", "content": "inside\n", "mode": "0644"}]}"#)
    _ = try box.apply(path)
    _ = try box.apply(path)
    XCTAssertEqual(box.snapshot(box.outside), before, "nothing outside the root was written")
  }

  func testAbsentFileThatIsASymlinkRemovesOnlyTheLink() throws {
    let secret = box.outside + "/secret"
    try box.write(secret, "keep\n")
    try FileManager.default.createDirectory(atPath: box.hostPath("/etc"), withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(atPath: box.hostPath("/etc/old"), withDestinationPath: secret)
    let path = try box.policy(#"{"policy": "p", "promises": [{"id": "old", "type": "file", "path": "/etc/old", "state": "absent"}]}"#)
    XCTAssertEqual(try box.apply(path).outcome("old"), Outcome(.repaired, "removed"))
    XCTAssertFalse(box.exists(box.hostPath("/etc/old")))
    XCTAssertEqual(box.read(secret), "keep\n")
  }

  // MARK: absent

  func testAbsentFileIsRemoved() throws {
    let path = try box.policy(try examplePolicyText())
    try box.write(box.hostPath("/opt/app/legacy.conf"), "old\n")
    let report = try box.apply(path)
    XCTAssertEqual(report.outcome("old-conf"), Outcome(.repaired, "removed"))
    XCTAssertFalse(box.exists(box.hostPath("/opt/app/legacy.conf")))
    XCTAssertEqual(try box.apply(path).outcome("old-conf"), .kept)
  }

  func testAbsentFileThatIsADirectoryFails() throws {
    try FileManager.default.createDirectory(atPath: box.hostPath("/etc/x.d"), withIntermediateDirectories: true)
    let path = try box.policy(#"{"policy": "p", "promises": [{"id": "x", "type": "file", "path": "/etc/x.d", "state": "absent"}]}"#)
    XCTAssertEqual(try box.apply(path).outcome("x")?.status, .failed)
    XCTAssertTrue(box.isDirectory(box.hostPath("/etc/x.d")))
  }

  private let absentDir = #"{"policy": "p", "promises": [{"id": "old", "type": "directory", "path": "/var/old", "state": "absent"}]}"#
  private let purgedDir = #"{"policy": "p", "promises": [{"id": "old", "type": "directory", "path": "/var/old", "state": "absent", "purge": true}]}"#

  func testAbsentEmptyDirectoryIsRemoved() throws {
    try FileManager.default.createDirectory(atPath: box.hostPath("/var/old"), withIntermediateDirectories: true)
    let report = try box.apply(try box.policy(absentDir))
    XCTAssertEqual(report.outcome("old"), Outcome(.repaired, "removed"))
    XCTAssertFalse(box.exists(box.hostPath("/var/old")))
    XCTAssertTrue(box.isDirectory(box.hostPath("/var")))
  }

  func testAbsentNonEmptyDirectoryWithoutPurgeFailsAndKeepsItsContents() throws {
    try box.write(box.hostPath("/var/old/data"), "precious\n")
    let report = try box.apply(try box.policy(absentDir))
    XCTAssertEqual(report.outcome("old")?.status, .failed)
    XCTAssertTrue(report.outcome("old")?.reason.contains("purge") ?? false, report.outcome("old")?.reason ?? "")
    XCTAssertEqual(box.read(box.hostPath("/var/old/data")), "precious\n")
    XCTAssertEqual(report.summary.failed, 1)
  }

  func testAbsentDirectoryWithPurgeIsRemovedWithItsContents() throws {
    try box.write(box.hostPath("/var/old/a"), "a")
    try box.write(box.hostPath("/var/old/sub/deeper/b"), "b")
    let report = try box.apply(try box.policy(purgedDir))
    XCTAssertEqual(report.outcome("old"), Outcome(.repaired, "removed with its contents"))
    XCTAssertFalse(box.exists(box.hostPath("/var/old")))
    XCTAssertEqual(try box.apply(try box.policy(purgedDir)).outcome("old"), .kept)
  }

  func testPurgeDoesNotFollowSymlinksOutOfTheTree() throws {
    try box.write(box.outside + "/keep/file", "keep\n")
    let before = box.snapshot(box.outside)
    try box.write(box.hostPath("/var/old/a"), "a")
    try FileManager.default.createSymbolicLink(atPath: box.hostPath("/var/old/link-dir"), withDestinationPath: box.outside + "/keep")
    try FileManager.default.createSymbolicLink(atPath: box.hostPath("/var/old/link-file"), withDestinationPath: box.outside + "/keep/file")
    XCTAssertEqual(try box.apply(try box.policy(purgedDir)).outcome("old")?.status, .repaired)
    XCTAssertFalse(box.exists(box.hostPath("/var/old")))
    XCTAssertEqual(box.snapshot(box.outside), before)
  }

  func testAbsentPathThatIsAFileFailsForADirectoryPromise() throws {
    try box.write(box.hostPath("/var/old"), "a file\n")
    XCTAssertEqual(try box.apply(try box.policy(purgedDir)).outcome("old")?.status, .failed)
    XCTAssertEqual(box.read(box.hostPath("/var/old")), "a file\n")
  }

  func testAbsentChildAndParentAreBothRemoved() throws {
    try box.write(box.hostPath("/srv/old/f"), "x")
    // The parent is listed first; the plan removes the child first.
    let path = try box.policy(#"""
      {"policy": "p", "promises": [
        {"id": "dir", "type": "directory", "path": "/srv/old", "state": "absent"},
        {"id": "file", "type": "file", "path": "/srv/old/f", "state": "absent"}
      ]}
      """#)
    let report = try box.apply(path)
    XCTAssertEqual(report.statuses, ["dir": .repaired, "file": .repaired])
    XCTAssertFalse(box.exists(box.hostPath("/srv/old")))
  }

  // MARK: links

  private func linkPolicy(_ target: String) -> String {
    #"{"policy": "p", "promises": [{"id": "current", "type": "link", "path": "/opt/current", "target": "\#(target)"}]}"#
  }

  func testLinkIsRetargeted() throws {
    let path = try box.policy(linkPolicy("/opt/releases/1"))
    XCTAssertEqual(try box.apply(path).outcome("current"), Outcome(.repaired, "created"))
    try box.policy(linkPolicy("/opt/releases/2"))
    XCTAssertEqual(try box.apply(path).outcome("current"), Outcome(.repaired, #"target "/opt/releases/1" -> "/opt/releases/2""#))
    XCTAssertEqual(box.linkTarget(box.hostPath("/opt/current")), "/opt/releases/2")
    XCTAssertEqual(try box.apply(path).outcome("current"), .kept)
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: box.hostPath("/opt")), ["current"], "no temporary link is left")
  }

  func testLinkRetargetedByHandIsRepaired() throws {
    let path = try box.policy(linkPolicy("releases/1"))
    _ = try box.apply(path)
    try FileManager.default.removeItem(atPath: box.hostPath("/opt/current"))
    try FileManager.default.createSymbolicLink(atPath: box.hostPath("/opt/current"), withDestinationPath: "/etc/shadow")
    XCTAssertEqual(try box.apply(path).outcome("current")?.status, .repaired)
    XCTAssertEqual(box.linkTarget(box.hostPath("/opt/current")), "releases/1")
  }

  func testFileWhereALinkShouldBeFailsAndIsKept() throws {
    try box.write(box.hostPath("/opt/current"), "data\n")
    let report = try box.apply(try box.policy(linkPolicy("/x")))
    XCTAssertEqual(report.outcome("current")?.status, .failed)
    XCTAssertEqual(box.read(box.hostPath("/opt/current")), "data\n")
  }

  // MARK: conditions and dependencies

  private let conditional = #"{"policy": "p", "promises": [{"id": "flag", "type": "file", "path": "/etc/router.flag", "content": "1\n", "if": "role_router & !arm"}]}"#

  func testFalseConditionSkipsAndTouchesNothing() throws {
    let report = try box.apply(try box.policy(conditional))
    XCTAssertEqual(report.outcome("flag"), Outcome(.skipped, #"condition "role_router & !arm" is false"#))
    XCTAssertFalse(box.exists(box.hostPath("/etc")))
  }

  func testLabelMakesTheConditionTrue() throws {
    let report = try box.apply(try box.policy(conditional), labels: ["role_router"])
    XCTAssertEqual(report.outcome("flag")?.status, .repaired)
    XCTAssertEqual(box.read(box.hostPath("/etc/router.flag")), "1\n")
  }

  func testFailedDependencySkipsItsDependents() throws {
    // `base` cannot be kept: a directory sits where its file should be.
    try FileManager.default.createDirectory(atPath: box.hostPath("/etc/base.conf"), withIntermediateDirectories: true)
    let path = try box.policy(#"""
      {"policy": "p", "promises": [
        {"id": "uses-base", "type": "file", "path": "/etc/uses.conf", "content": "x", "after": ["base"]},
        {"id": "base", "type": "file", "path": "/etc/base.conf", "content": "y"},
        {"id": "other", "type": "file", "path": "/etc/other.conf", "content": "z"}
      ]}
      """#)
    let report = try box.apply(path)
    XCTAssertEqual(report.outcome("base")?.status, .failed)
    XCTAssertEqual(report.outcome("uses-base"), Outcome(.skipped, #"dependency "base" failed"#))
    XCTAssertEqual(report.outcome("other")?.status, .repaired)
    XCTAssertFalse(box.exists(box.hostPath("/etc/uses.conf")))
    XCTAssertEqual(report.summary.failed, 1)
    XCTAssertEqual(report.summary.skipped, 1)
  }

  // MARK: dry run

  func testDryRunChangesNothingAndCreatesNoState() throws {
    let report = try box.apply(try box.policy(try examplePolicyText()), dryRun: true)
    XCTAssertEqual(report.outcome("app-conf")?.status, .repaired)
    XCTAssertEqual(report.outcome("app-conf")?.reason, "would be created")
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: box.root), [])
    XCTAssertFalse(box.exists(box.state), "a dry run never creates the state")
  }

  func testDryRunAfterDriftReportsButLeavesDiskAndStateAlone() throws {
    let path = try box.policy(try examplePolicyText())
    _ = try box.apply(path)
    try box.write(box.hostPath("/etc/motd"), "drifted\n")
    chmod(box.hostPath("/opt/app/env"), 0o644)
    try box.write(box.hostPath("/opt/app/legacy.conf"), "old")
    let rootBefore = box.snapshot(box.root)
    let stateBefore = box.snapshot(box.state)
    let statusBefore = try box.status()
    let report = try box.apply(path, dryRun: true)
    XCTAssertEqual(report.outcome("motd")?.status, .repaired)
    XCTAssertEqual(report.outcome("app-env"), Outcome(.repaired, "would be: mode 0644 -> 0600"))
    XCTAssertEqual(report.outcome("old-conf"), Outcome(.repaired, "would be removed"))
    XCTAssertEqual(box.snapshot(box.root), rootBefore)
    XCTAssertEqual(box.snapshot(box.state).filter { !$0.key.hasSuffix("lock.mdb") }, stateBefore.filter { !$0.key.hasSuffix("lock.mdb") })
    XCTAssertEqual(try box.status().lastRun, statusBefore.lastRun)
  }

  // MARK: rejected policies

  func testRejectedPolicyChangesNothingOnDiskOrInDesired() throws {
    _ = try box.apply(try box.policy(try examplePolicyText()))
    let rootBefore = box.snapshot(box.root)
    let statusBefore = try box.status()

    let badJSON = try box.policy(#"{"policy": "evil", "promises": [{"id": "motd", "type": "file", "path": "/etc/motd", "content": "x",}]}"#, name: "bad.json")
    guard case .policy(let e, let file)? = box.applyError(badJSON) else { return XCTFail("not a policy error") }
    XCTAssertEqual(file, badJSON)
    XCTAssertTrue(e.issues.first?.message.contains("trailing comma") ?? false)

    let duplicate = try box.policy(#"""
      {"policy": "evil", "promises": [
        {"id": "motd", "type": "file", "path": "/etc/motd", "content": "owned\n"},
        {"id": "motd", "type": "file", "path": "/etc/issue", "content": "owned\n"}
      ]}
      """#, name: "dup.json")
    guard case .policy? = box.applyError(duplicate) else { return XCTFail("not a policy error") }

    XCTAssertEqual(box.snapshot(box.root), rootBefore)
    let status = try box.status()
    XCTAssertEqual(status.policyName, "gateway")
    XCTAssertEqual(Set(status.entries.map(\.id)), Set(statusBefore.entries.map(\.id)))
    XCTAssertEqual(status.entry("motd")?.record?.status, .repaired)
  }

  func testRejectedPolicyAtTheSamePathKeepsTheAcceptedOne() throws {
    let path = try box.policy(try examplePolicyText())
    _ = try box.apply(path)
    _ = try box.apply(path)
    let rootBefore = box.snapshot(box.root)
    try box.policy(#"{"policy": "gateway", "promises": [{"id": "motd", "type": "file", "path": "etc/motd", "content": "x"}]}"#)
    guard case .policy? = box.applyError(path) else { return XCTFail("not a policy error") }
    XCTAssertEqual(box.snapshot(box.root), rootBefore)
    XCTAssertEqual(try box.status().entries.count, 7)
  }

  func testRejectedFirstPolicyCreatesNoState() throws {
    let bad = try box.policy(#"{"policy": "p", "promises": [{"id": "a", "type": "file", "path": "/x", "content": "x", "mdoe": "0644"}]}"#)
    guard case .policy? = box.applyError(bad) else { return XCTFail("not a policy error") }
    XCTAssertFalse(box.exists(box.state), "nothing is touched for a rejected policy, the state included")
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: box.root), [])
  }

  func testRejectionNamesFileLineAndColumn() throws {
    let bad = try box.policy("{\"policy\": \"p\", \"promises\": [\n  {\"id\": \"a\", \"type\": \"file\", \"path\": \"/x\", \"content\": \"\", \"mdoe\": \"0644\"}\n]}", name: "p.json")
    let e = try XCTUnwrap(box.applyError(bad))
    XCTAssertTrue(e.description.hasPrefix("\(bad):2:60: promise \"a\": key \"mdoe\": unknown key"), e.description)
  }

  func testMissingPolicyFileIsBadInputNamingIt() throws {
    guard case .input(let message)? = box.applyError(box.base + "/nope.json") else { return XCTFail("not an input error") }
    XCTAssertTrue(message.contains(box.base + "/nope.json: No such file or directory"), message)
  }

  func testRootMustBeAnExistingAbsoluteDirectory() throws {
    let path = try box.policy(try examplePolicyText())
    var o = box.options(path)
    o.root = "relative/root"
    XCTAssertThrowsError(try apply(o)) { e in
      guard case .input(let m)? = e as? AgentError else { return XCTFail("\(e)") }
      XCTAssertTrue(m.contains("absolute"))
    }
    o.root = box.base + "/missing"
    XCTAssertThrowsError(try apply(o)) { e in
      guard case .input(let m)? = e as? AgentError else { return XCTFail("\(e)") }
      XCTAssertTrue(m.contains("no such directory"))
    }
    XCTAssertFalse(box.exists(box.state))
  }

  func testRootWithATrailingSlashIsTheSameRoot() throws {
    let path = try box.policy(try examplePolicyText())
    var o = box.options(path)
    o.root = box.root + "/"
    _ = try apply(o)
    XCTAssertEqual(box.read(box.hostPath("/etc/motd")), "managed by edgeagent\n")
    XCTAssertEqual(try apply(box.options(path)).summary.repaired, 0)
  }

  // MARK: owners

  func testOwnerAndGroupAreResolvedInTheManagedRoot() throws {
    try skipUnless(geteuid() == 0, "chown to another uid needs root")
    try box.write(box.hostPath("/etc/passwd"), "root:x:0:0::/root:/bin/sh\napp:x:4321:4322::/opt/app:/bin/false\n")
    try box.write(box.hostPath("/etc/group"), "root:x:0:\napp:x:4322:\nstaff:x:50:\n")
    let path = try box.policy(#"""
      {"policy": "p", "promises": [
        {"id": "f", "type": "file", "path": "/opt/app/app.conf", "content": "x", "owner": "app", "group": "staff", "mode": "0640"},
        {"id": "d", "type": "directory", "path": "/opt/app/data", "owner": "app"}
      ]}
      """#)
    let report = try box.apply(path)
    XCTAssertEqual(report.summary.failed, 0, "\(report.results)")
    XCTAssertEqual(box.lstatOf(box.hostPath("/opt/app/app.conf"))?.st_uid, 4321)
    XCTAssertEqual(box.lstatOf(box.hostPath("/opt/app/app.conf"))?.st_gid, 50)
    XCTAssertEqual(box.lstatOf(box.hostPath("/opt/app/data"))?.st_uid, 4321)
    chown(box.hostPath("/opt/app/app.conf"), 0, 0)
    let again = try box.apply(path)
    XCTAssertEqual(again.outcome("f")?.status, .repaired)
    XCTAssertEqual(box.lstatOf(box.hostPath("/opt/app/app.conf"))?.st_uid, 4321)
    XCTAssertEqual(box.mode(box.hostPath("/opt/app/app.conf")), 0o640)
  }

  func testUnknownOwnerFails() throws {
    let path = try box.policy(#"{"policy": "p", "promises": [{"id": "f", "type": "file", "path": "/f", "content": "x", "owner": "ghost"}]}"#)
    let report = try box.apply(path)
    XCTAssertEqual(report.outcome("f")?.status, .failed)
    XCTAssertTrue(report.outcome("f")?.reason.contains("unknown user \"ghost\"") ?? false)
    XCTAssertFalse(box.exists(box.hostPath("/f")))
  }

  // MARK: the state

  func testPromisesThatLeaveThePolicyLeaveTheStatus() throws {
    let path = try box.policy(try examplePolicyText())
    _ = try box.apply(path)
    try box.policy(#"{"policy": "smaller", "promises": [{"id": "motd", "type": "file", "path": "/etc/motd", "content": "managed by edgeagent\n"}]}"#)
    let report = try box.apply(path)
    XCTAssertTrue(report.desiredReplaced)
    let status = try box.status()
    XCTAssertEqual(status.policyName, "smaller")
    XCTAssertEqual(status.entries.map(\.id), ["motd"])
    XCTAssertEqual(status.entry("motd")?.record?.status, .kept)
  }

  func testOutcomesAreReportedInCheckOrderOnlyWhenAskedForKept() throws {
    let path = try box.policy(try examplePolicyText())
    _ = try box.apply(path)
    var o = box.options(path)
    o.reportKept = false
    let quiet = try apply(o)
    XCTAssertEqual(quiet.results.map(\.id), ["router-only"], "only what was not kept")
    XCTAssertEqual(quiet.summary.kept, 6)
  }
}
