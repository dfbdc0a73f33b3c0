import Foundation
import XCTest
import EdgeConverge
import EdgeCore
import EdgeFleet
import EdgeHost
import EdgeLoop
import EdgeStore
@testable import EdgeUpdate

/// Which binary a start runs (EdgeUpdate.decideAtStart), what a bundle's agent entry makes an
/// agent do (chooseUpdate), and the stager's refusals, against a real state.
final class AgentBootTests: XCTestCase {
  var dir = ""
  var env: Environment!
  var layout: StateLayout { StateLayout(dir + "/state") }
  let d1 = Digest(hex: String(repeating: "11", count: 32))!

  override func setUpWithError() throws {
    dir = FileManager.default.temporaryDirectory.path + "/edgeagent-boot-" + UUID().uuidString
    env = try Environment(path: dir + "/state")
  }

  override func tearDown() {
    env?.close()
    try? FileManager.default.removeItem(atPath: dir)
  }

  func record() throws -> AgentUpdateRecord { try loadAgentUpdate(env) }

  func decide(token: String? = nil, chained: String? = nil, exe: String? = "/usr/bin/edgeagent") throws -> BootDecision {
    try decideAtStart(env, layout: layout, compiled: "1.0", token: token, chained: chained, exe: exe, now: 1000)
  }

  func events() throws -> [EventRecord] { try readEvents(stateDir: dir + "/state", count: 100) }

  func testWithNothingRecordedTheImageRunsItsOwnVersion() throws {
    let d = try decide()
    XCTAssertEqual(d.runningVersion, "1.0")
    XCTAssertFalse(d.isTrial)
    XCTAssertNil(d.chainTo)
    XCTAssertNil(d.rolledBack)
  }

  func testTheProcessCarryingTheTrialsTokenIsTheTrial() throws {
    let token = try beginTrial(env, version: "2.0", digest: d1, previous: "1.0", handoff: HandoffRecord(), now: 900)
    let d = try decide(token: token)
    XCTAssertTrue(d.isTrial)
    XCTAssertEqual(d.runningVersion, "2.0")
    XCTAssertEqual(try record().trial?.version, "2.0", "still a trial until it commits")
  }

  func testAnyOtherStartRollsAnUnfinishedTrialBack() throws {
    let token = try beginTrial(env, version: "2.0", digest: d1, previous: "1.0",
                               handoff: HandoffRecord(services: [HandoffService(id: "s", pid: 5, startTicks: 1, outputFD: 9, startedWall: 1)]), now: 900)
    // A restart by a supervisor or a reboot carries no token, or (a stray variable) another.
    let d = try decide(token: "not-" + token)
    XCTAssertFalse(d.isTrial)
    XCTAssertEqual(d.rolledBack, "2.0")
    XCTAssertEqual(d.runningVersion, "1.0")
    let r = try record()
    XCTAssertNil(r.trial)
    XCTAssertEqual(r.failed, ["2.0"])
    XCTAssertEqual(r.rollbacks, 1)
    XCTAssertTrue(r.failureReason.contains("did not commit"), r.failureReason)
    XCTAssertNil(try env.withRead { (txn) throws(StoreError) in try txn.handoff() }, "a stale handoff is never adopted")
    XCTAssertTrue(try events().contains { $0.subject == "agent" && $0.status == .failed && $0.reason.hasPrefix("rolled back from 2.0 to the image's 1.0") })
    // Once: the next start finds nothing to roll back.
    XCTAssertNil(try decide().rolledBack)
  }

  func testACommittedBinaryIsChainedToUnlessItIsThisOneOrTheChainsEnd() throws {
    _ = try beginTrial(env, version: "2.0", digest: d1, previous: "1.0", handoff: HandoffRecord(), now: 900)
    XCTAssertEqual(try commitTrial(env, now: 950)?.version, "2.0")
    // Its file is gone: the image's binary runs, the fallback of last resort.
    XCTAssertNil(try decide().chainTo)
    try FileManager.default.createDirectory(atPath: layout.agentDirectory, withIntermediateDirectories: true)
    FileManager.default.createFile(atPath: layout.agentBinary(d1), contents: Data("x".utf8))
    let path = try realPath(layout.agentBinary(d1))
    XCTAssertEqual(try decide().chainTo?.path, layout.agentBinary(d1))
    XCTAssertEqual(try decide().chainTo?.version, "2.0")
    let running = try decide(exe: path)
    XCTAssertNil(running.chainTo)
    XCTAssertEqual(running.runningVersion, "2.0")
    // Chained to it (from a copy elsewhere, as PID 1 runs one from /run): it runs, no loop.
    let chainedTo = try decide(chained: "2.0", exe: "/run/edgeagent/copy")
    XCTAssertNil(chainedTo.chainTo)
    XCTAssertEqual(chainedTo.runningVersion, "2.0")
    // Chained once already, to a version no longer committed: no second chain, the binary's own.
    let stale = try decide(chained: "1.9")
    XCTAssertNil(stale.chainTo)
    XCTAssertEqual(stale.runningVersion, "1.0")
  }

  func testWhatABundlesAgentEntryMakesAnAgentDo() throws {
    let release = AgentRelease(version: "2.0", targets: [AgentTarget(name: "x86_64", digest: d1)])
    var r = AgentUpdateRecord()
    XCTAssertEqual(chooseUpdate(nil, target: "x86_64", running: "1.0", record: r), .none)
    XCTAssertEqual(chooseUpdate(release, target: "x86_64", running: "2.0", record: r), .none)
    XCTAssertEqual(chooseUpdate(release, target: "x86_64", running: "1.0", record: r), .stage(version: "2.0", digest: d1))
    guard case .skip(let noBinary) = chooseUpdate(release, target: "armv7", running: "1.0", record: r) else { return XCTFail() }
    XCTAssertTrue(noBinary.contains("no binary for armv7"))
    r.fail("2.0", reason: "self-test exited with status 1", at: 5)
    guard case .skip(let failed) = chooseUpdate(release, target: "x86_64", running: "1.0", record: r) else { return XCTFail() }
    XCTAssertTrue(failed.contains("failed before (self-test exited with status 1)"), failed)
    r.failed = []
    r.trial = AgentTrialRecord(version: "1.5", digest: d1, previousVersion: "1.0", token: "t", startedAt: 1)
    guard case .skip(let busy) = chooseUpdate(release, target: "x86_64", running: "1.5", record: r) else { return XCTFail() }
    XCTAssertTrue(busy.contains("trial of 1.5"))
  }

  func testTheStagerRefusesABlobThatIsNotAnExecutableForItsTarget() throws {
    var elf = [UInt8](repeating: 0, count: 64)
    elf[0] = 0x7f; elf[1] = UInt8(ascii: "E"); elf[2] = UInt8(ascii: "L"); elf[3] = UInt8(ascii: "F")
    elf[4] = 2; elf[5] = 1; elf[18] = 183   // aarch64
    let digest = SHA256.hash(elf)
    try env.withWrite { (txn) throws(StoreError) in
      try digest.withBytes { (k) throws(StoreError) in try withBytes(elf) { (v) throws(StoreError) in try txn.put(.blobs, k, v) } }
    }
    let loop = Loop()
    let reaper = try ChildReaper(loop)
    // Closed and run down: a SIGCHLD watcher left on a freed loop would fire in a later test's.
    defer { reaper.close(); loop.run() }
    let stager = AgentStager(loop: loop, reaper: reaper, env: env, layout: layout)
    var result: AgentStager.Result? = nil
    stager.stage(version: "2.0", digest: digest, target: "x86_64", configPath: nil) { result = $0 }
    guard case .refused(let version, let reason)? = result else { return XCTFail("\(String(describing: result))") }
    XCTAssertEqual(version, "2.0")
    XCTAssertEqual(reason, "the blob for x86_64 is an executable for aarch64")
    XCTAssertFalse(FileManager.default.fileExists(atPath: layout.agentBinary(digest)), "nothing staged")
    stager.stage(version: "3.0", digest: d1, target: "x86_64", configPath: nil) { result = $0 }
    guard case .refused(_, let missing)? = result else { return XCTFail() }
    XCTAssertTrue(missing.contains("is not in the state"), missing)
  }

  /// A 64-byte ELF header for `machine` (64-bit little-endian): what publish and staging check.
  func elfHeader(_ machine: UInt8) -> Data {
    var h = [UInt8](repeating: 0, count: 64)
    h[0] = 0x7f; h[1] = UInt8(ascii: "E"); h[2] = UInt8(ascii: "L"); h[3] = UInt8(ascii: "F")
    h[4] = 2; h[5] = 1; h[18] = machine
    return Data(h)
  }

  func testALeafFetchesOnlyItsOwnTargetsAgentBinaryAndARelayAll() throws {
    let f = try BundleFixture("agent-blobs")
    let agents = f.dir + "/agents"
    try FileManager.default.createDirectory(atPath: agents, withIntermediateDirectories: true)
    try elfHeader(62).write(to: URL(fileURLWithPath: agents + "/edgeagent-x86_64"))
    try elfHeader(183).write(to: URL(fileURLWithPath: agents + "/edgeagent-aarch64"))
    try f.publish(serial: 1, agent: (agents, "2.0"))
    let bytes = try f.read("out/bundle.json"), sig = try f.read("out/bundle.json.sig")
    let leaf = try checkCandidate(env, bytes: bytes, signature: sig, trustedKeys: [f.publicKey], now: wallClockSeconds(), agentTarget: "x86_64")
    let release = try XCTUnwrap(leaf.bundle.agent)
    XCTAssertEqual(release.version, "2.0")
    let x86 = try XCTUnwrap(release.digest(for: "x86_64")), arm = try XCTUnwrap(release.digest(for: "aarch64"))
    XCTAssertEqual(leaf.missing.count, 2, "the policy's blob and this target's binary")
    XCTAssertTrue(leaf.missing.contains { $0.digest == x86 })
    XCTAssertFalse(leaf.missing.contains { $0.digest == arm })
    let relay = try checkCandidate(env, bytes: bytes, signature: sig, trustedKeys: [f.publicKey], now: wallClockSeconds())
    XCTAssertEqual(relay.missing.count, 3)
  }

  func testPruningKeepsOnlyTheCommittedBinary() throws {
    try FileManager.default.createDirectory(atPath: layout.agentDirectory, withIntermediateDirectories: true)
    let d2 = Digest(hex: String(repeating: "22", count: 32))!
    for d in [d1, d2] { FileManager.default.createFile(atPath: layout.agentBinary(d), contents: Data("x".utf8)) }
    FileManager.default.createFile(atPath: layout.agentDirectory + "/notes", contents: Data())
    XCTAssertEqual(pruneStaged(layout, keep: d2), [])
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: layout.agentDirectory).sorted(), ["edgeagent-" + d2.hex, "notes"])
    XCTAssertEqual(pruneStaged(layout, keep: nil), [])
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: layout.agentDirectory), ["notes"])
    try FileManager.default.removeItem(atPath: layout.agentDirectory)
    XCTAssertEqual(pruneStaged(layout, keep: nil), [], "no directory: nothing staged, nothing to say")
  }
}
