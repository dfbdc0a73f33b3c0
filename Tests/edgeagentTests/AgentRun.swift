import Foundation
import XCTest
import EdgeTestSupport

/// One `edgeagent run` under test, in its own temporary directory (root, state, policy, the
/// services' scripts and marker files), optionally as PID 1 of a new PID and mount namespace
/// (`unshare --pid --fork --mount-proc`). The agent and every service it runs carry
/// `EDGE_TEST_TAG=<uuid>` in their environment, so the test finds them, and whatever they
/// leave behind, in /proc. `finish()` (registered as a teardown block by `make`) kills all of
/// them and removes the directory.
final class AgentRun {
  let base: String
  let tag: String
  let namespace: Bool
  var root: String { base + "/root" }
  var state: String { base + "/state" }
  var policyPath: String { base + "/policy.json" }
  var stderrPath: String { base + "/agent.stderr" }
  private(set) var process: Process? = nil
  /// The agent's pid on the host: the Process itself, or in a namespace unshare's child.
  private(set) var agentPID: Int32 = 0
  /// Set in the agent's environment (NOTIFY_SOCKET and WATCHDOG_USEC are otherwise removed).
  var environment: [String: String] = [:]

  /// A fresh run, cleaned up when the test ends. In a namespace it needs root and unshare:
  /// the test is skipped without them.
  static func make(_ test: XCTestCase, namespace: Bool = false) throws -> AgentRun {
    if namespace { try requireNamespaces() }
    let run = try AgentRun(namespace: namespace)
    test.addTeardownBlock { run.finish() }
    return run
  }

  private init(namespace: Bool) throws {
    tag = UUID().uuidString
    self.namespace = namespace
    base = FileManager.default.temporaryDirectory.path + "/edgeagent-daemon-" + tag
    try FileManager.default.createDirectory(atPath: base + "/root", withIntermediateDirectories: true)
  }

  static func requireNamespaces() throws {
    guard getuid() == 0 else { throw skipOrFailInCI("PID namespaces need root") }
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") else { throw skipOrFailInCI("no /usr/bin/unshare") }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
    p.arguments = ["--pid", "--fork", "--mount-proc", "/bin/true"]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    guard p.terminationReason == .exit && p.terminationStatus == 0 else { throw skipOrFailInCI("unshare --pid --fork --mount-proc does not work here") }
  }

  static func requirePython() throws -> String {
    let path = "/usr/bin/python3"
    guard FileManager.default.isExecutableFile(atPath: path) else { throw skipOrFailInCI("no \(path)") }
    return path
  }

  // MARK: the policy and the services

  /// Writes `body` to `BASE/name` (a script run with /bin/sh) and returns its path.
  @discardableResult
  func file(_ name: String, _ body: String) throws -> String {
    let path = base + "/" + name
    try Data(body.utf8).write(to: URL(fileURLWithPath: path))
    return path
  }

  /// A service promise running `script` with /bin/sh, tagged; `extra` is more JSON members.
  func service(_ id: String, script: String, _ extra: String = "") throws -> String {
    let path = try file(id + ".sh", script)
    return service(id, exec: ["/bin/sh", path], extra)
  }

  func service(_ id: String, exec: [String], _ extra: String = "") -> String {
    let argv = exec.map { "\"\($0)\"" }.joined(separator: ", ")
    return "{\"id\": \"\(id)\", \"type\": \"service\", \"exec\": [\(argv)], \"env\": {\"EDGE_TEST_TAG\": \"\(tag)\"}"
      + (extra.isEmpty ? "" : ", " + extra) + "}"
  }

  /// The text of a policy named `name` with these promises, one per line (from line 3).
  func policyText(_ name: String, _ promises: [String]) -> String {
    "{\"policy\": \"\(name)\",\n \"promises\": [\n  " + promises.joined(separator: ",\n  ") + "\n]}\n"
  }

  /// Replaces the policy file in one rename, as a careful editor or a deploy tool does.
  func writePolicy(_ text: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: policyPath), options: .atomic)
  }

  func writePolicy(_ name: String, _ promises: [String]) throws { try writePolicy(policyText(name, promises)) }

  /// Lines of a marker file the services append to (empty when absent).
  func lines(_ name: String) -> [String] {
    guard let d = FileManager.default.contents(atPath: base + "/" + name) else { return [] }
    return String(decoding: d, as: UTF8.self).split(separator: "\n").map(String.init)
  }

  /// Marker lines "NAME NANOSECONDS" (from `date +%s%N` or Python's time.time_ns()).
  func stamps(_ name: String) -> [(String, Int64)] {
    lines(name).compactMap { l in
      let f = l.split(separator: " ")
      guard f.count == 2, let ns = Int64(f[1]) else { return nil }
      return (String(f[0]), ns)
    }
  }

  // MARK: the agent

  func start(_ extra: [String] = []) throws {
    let bin = try Edgeagent.binary.path
    // A day between full runs: none lands within a test by chance to repair what drift repair
    // missed (SIGHUP asks for one).
    let args = ["run", "--policy", policyPath, "--root", root, "--state", state, "--interval", "24h"] + extra
    let p = Process()
    if namespace {
      p.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
      p.arguments = ["--pid", "--fork", "--mount-proc", bin] + args
    } else {
      p.executableURL = URL(fileURLWithPath: bin)
      p.arguments = args
    }
    var env = ProcessInfo.processInfo.environment
    env["EDGE_TEST_TAG"] = tag
    env["NOTIFY_SOCKET"] = nil
    env["WATCHDOG_USEC"] = nil
    env.merge(environment) { $1 }
    p.environment = env
    _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
    _ = FileManager.default.createFile(atPath: base + "/agent.stdout", contents: nil)
    p.standardInput = FileHandle.nullDevice
    p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: base + "/agent.stdout"))
    p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
    try p.run()
    process = p
    if namespace {
      let unshare = p.processIdentifier
      _ = pollUntil(eventually) { AgentRun.children(of: unshare).first.map { self.agentPID = $0 } != nil }
      guard agentPID > 0 else { throw AgentRunError("unshare started no child") }
    } else {
      agentPID = p.processIdentifier
    }
  }

  /// Starts the agent and waits for its first convergence (signals before it are not handled:
  /// as a namespace's PID 1 the agent would not even see them).
  func startConverged(_ extra: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws {
    try start(extra)
    guard waitForLog("msg=converged", timeout: 10) else {
      throw AgentRunError("no convergence within 10 s; stderr:\n\(log)")
    }
  }

  var log: String {
    String(decoding: FileManager.default.contents(atPath: stderrPath) ?? Data(), as: UTF8.self)
  }

  var logLines: [String] { log.split(separator: "\n").map(String.init) }

  func waitForLog(_ needle: String, count: Int = 1, timeout: TimeInterval) -> Bool {
    pollUntil(timeout) { self.log.components(separatedBy: needle).count - 1 >= count }
  }

  /// The last lines of a service's output (STATE/logs/ID.log).
  func serviceLog(_ id: String) -> [String] {
    guard let d = FileManager.default.contents(atPath: state + "/logs/" + id + ".log") else { return [] }
    return String(decoding: d, as: UTF8.self).split(separator: "\n").map(String.init)
  }

  func signal(_ sig: Int32) { _ = kill(agentPID, sig) }

  var isRunning: Bool { process?.isRunning ?? false }

  /// How the Process ended: an exit code, or the signal that killed it. Nil on timeout.
  func waitForExit(timeout: TimeInterval) -> (reason: Process.TerminationReason, status: Int32)? {
    guard let p = process else { return nil }
    guard pollUntil(timeout, { !p.isRunning }) else { return nil }
    p.waitUntilExit()
    return (p.terminationReason, p.terminationStatus)
  }

  /// `edgeagent status --json`, parsed; `[:]` while the agent has not made its state yet (a
  /// poll goes on waiting). Any other failure throws: a poll must not read a broken status as
  /// "not yet" (or, waiting for a service to go, as "gone").
  func status(file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
    let r = try Edgeagent.run(["status", "--state", state, "--json"], file: file, line: line)
    if r.status == 111 && r.stderr.contains("no state in") { return [:] }
    guard r.status == 0 || r.status == 1,
          let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] else {
      throw AgentRunError("status --json: exit \(r.status): \(r.stdout)\(r.stderr)")
    }
    return obj
  }

  /// One service's entry in `status --json`.
  func serviceStatus(_ id: String) throws -> [String: Any]? {
    let services = try status()["services"] as? [[String: Any]] ?? []
    return services.first { $0["id"] as? String == id }
  }

  func servicePID(_ id: String) throws -> Int32 {
    Int32((try serviceStatus(id)?["pid"] as? Int) ?? 0)
  }

  /// Kills the agent (and so, in a namespace, everything in it) and every tagged process, then
  /// removes the directory.
  func finish() {
    if let p = process, p.isRunning {
      _ = kill(agentPID, SIGKILL)
      if namespace { _ = kill(p.processIdentifier, SIGKILL) }
    }
    for _ in 0..<3 {
      let left = AgentRun.processes(tagged: tag)
      if left.isEmpty { break }
      for pid in left { _ = kill(pid, SIGKILL) }
      _ = pollUntil(2) { AgentRun.processes(tagged: self.tag).isEmpty }
    }
    if let p = process { _ = pollUntil(5) { !p.isRunning } }
    try? FileManager.default.removeItem(atPath: base)
  }

  // MARK: /proc

  static func pids() -> [Int32] {
    ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
  }

  /// Live processes whose environment holds EDGE_TEST_TAG=tag (a zombie's environment reads
  /// empty, so zombies are not listed).
  static func processes(tagged tag: String) -> [Int32] {
    let needle = Data("EDGE_TEST_TAG=\(tag)\0".utf8)
    return pids().filter { pid in
      guard let env = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return false }
      return env.range(of: needle) != nil
    }
  }

  /// (state, ppid) from /proc/PID/stat; nil when the process is gone.
  static func stat(_ pid: Int32) -> (state: Character, ppid: Int32)? {
    guard let d = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return nil }
    let s = String(decoding: d, as: UTF8.self)
    guard let close = s.range(of: ") ", options: .backwards) else { return nil }
    let fields = s[close.upperBound...].split(separator: " ")
    guard fields.count > 2, let st = fields[0].first, let ppid = Int32(fields[1]) else { return nil }
    return (st, ppid)
  }

  static func children(of parent: Int32) -> [Int32] {
    pids().filter { stat($0)?.ppid == parent }
  }

  static func zombieChildren(of parent: Int32) -> [Int32] {
    pids().filter { pid in
      guard let s = stat(pid) else { return false }
      return s.ppid == parent && s.state == "Z"
    }
  }

  static func isAlive(_ pid: Int32) -> Bool {
    guard let s = stat(pid) else { return false }
    return s.state != "Z" && s.state != "X"
  }
}

struct AgentRunError: Error, CustomStringConvertible {
  var description: String
  init(_ d: String) { description = d }
}

/// How long a test waits for what must happen: generous, as a poll returns as soon as the
/// condition holds; a tight bound only makes a slow or busy machine fail a correct agent.
let eventually: TimeInterval = 30

/// Polls `condition` every 10 ms until it holds or `timeout` seconds pass.
@discardableResult
func pollUntil(_ timeout: TimeInterval, _ condition: () throws -> Bool) rethrows -> Bool {
  let deadline = Date().addingTimeInterval(timeout)
  while true {
    if try condition() { return true }
    if Date() >= deadline { return false }
    usleep(10_000)
  }
}

/// A port the kernel just gave out on 127.0.0.1 (random, high), closed again for a service to take.
func freeLoopbackPort() throws -> UInt16 {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  guard fd >= 0 else { throw AgentRunError("socket: \(errno)") }
  defer { close(fd) }
  var addr = sockaddr_in()
  addr.sin_family = sa_family_t(AF_INET)
  addr.sin_port = 0
  addr.sin_addr.s_addr = inet_addr("127.0.0.1")
  var len = socklen_t(MemoryLayout<sockaddr_in>.size)
  let rc = withUnsafeMutablePointer(to: &addr) { a in
    a.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa -> Int32 in
      guard bind(fd, sa, len) == 0 else { return -1 }
      return getsockname(fd, sa, &len)
    }
  }
  guard rc == 0 else { throw AgentRunError("bind 127.0.0.1:0: \(errno)") }
  return UInt16(bigEndian: addr.sin_port)
}
