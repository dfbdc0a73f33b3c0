@testable import EdgeAgent
@testable import EdgeConverge
import EdgeCore
import Foundation
import XCTest

/// A managed root, a state directory and a place for policies, all under one fresh temporary
/// directory (never the real / or /var/lib). `remove()` deletes it.
struct Sandbox {
  let base: String
  var root: String { base + "/root" }
  var state: String { base + "/state" }
  var outside: String { base + "/outside" }

  init() throws {
    base = FileManager.default.temporaryDirectory.path + "/edgeagent-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: base + "/root", withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: base + "/outside", withIntermediateDirectories: true)
  }

  func remove() { try? FileManager.default.removeItem(atPath: base) }

  /// Writes a policy file and returns its path.
  @discardableResult
  func policy(_ text: String, name: String = "policy.json") throws -> String {
    let path = base + "/" + name
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    return path
  }

  func options(_ policyPath: String, dryRun: Bool = false, labels: [String] = []) -> ApplyOptions {
    var o = ApplyOptions(policyPath: policyPath)
    o.root = root
    o.stateDir = state
    o.dryRun = dryRun
    o.labels = labels
    return o
  }

  func apply(_ policyPath: String, dryRun: Bool = false, labels: [String] = [],
             file: StaticString = #filePath, line: UInt = #line) throws -> ApplyReport {
    do {
      return try EdgeConverge.apply(options(policyPath, dryRun: dryRun, labels: labels))
    } catch {
      XCTFail("apply failed: \(error)", file: file, line: line)
      throw error
    }
  }

  /// The error `apply` throws, or nil (and a test failure) when it succeeds.
  func applyError(_ policyPath: String, file: StaticString = #filePath, line: UInt = #line) -> AgentError? {
    do {
      let r = try EdgeConverge.apply(options(policyPath))
      XCTFail("apply succeeded: \(r.summary)", file: file, line: line)
      return nil
    } catch {
      return error
    }
  }

  // MARK: the managed root, seen from outside

  func hostPath(_ managed: String) -> String { root + managed }

  func read(_ path: String) -> String? {
    guard let d = FileManager.default.contents(atPath: path) else { return nil }
    return String(decoding: d, as: UTF8.self)
  }

  func write(_ path: String, _ text: String, mode: Int? = nil) throws {
    let dir = (path as NSString).deletingLastPathComponent
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    if let mode { chmod(path, mode_t(mode)) }
  }

  func lstatOf(_ path: String) -> stat? {
    var st = stat()
    return lstat(path, &st) == 0 ? st : nil
  }

  func exists(_ path: String) -> Bool { lstatOf(path) != nil }
  func mode(_ path: String) -> Int { Int((lstatOf(path)?.st_mode ?? 0) & 0o7777) }
  func isRegular(_ path: String) -> Bool { (lstatOf(path)?.st_mode ?? 0) & S_IFMT == S_IFREG }
  func isDirectory(_ path: String) -> Bool { (lstatOf(path)?.st_mode ?? 0) & S_IFMT == S_IFDIR }
  func isSymlink(_ path: String) -> Bool { (lstatOf(path)?.st_mode ?? 0) & S_IFMT == S_IFLNK }
  func linkTarget(_ path: String) -> String? { try? FileManager.default.destinationOfSymbolicLink(atPath: path) }

  /// Every path under `dir` with what identifies its current version: kind, mode, inode, size,
  /// mtime, ctime and content (or link target). Equal snapshots mean nothing was written.
  func snapshot(_ dir: String) -> [String: String] {
    var out: [String: String] = [:]
    func walk(_ p: String) {
      guard let st = lstatOf(p) else { return }
      var entry = "\(st.st_mode) \(st.st_ino) \(st.st_size) \(st.st_uid):\(st.st_gid) "
        + "m\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) c\(st.st_ctim.tv_sec).\(st.st_ctim.tv_nsec)"
      if st.st_mode & S_IFMT == S_IFLNK { entry += " -> " + (linkTarget(p) ?? "?") }
      if st.st_mode & S_IFMT == S_IFREG { entry += " " + (read(p) ?? "?") }
      out[p] = entry
      if st.st_mode & S_IFMT == S_IFDIR {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: p)) ?? [] { walk(p + "/" + name) }
      }
    }
    walk(dir)
    return out
  }

  func status() throws -> StatusReport { try readStatus(stateDir: state) }
}

extension ApplyReport {
  var statuses: [String: OutcomeStatus] {
    var out: [String: OutcomeStatus] = [:]
    for r in results { out[r.id] = r.outcome.status }
    return out
  }
}

extension StatusReport {
  func entry(_ id: String) -> StatusEntry? { entries.first { $0.id == id } }
}

/// The gateway example, as shipped.
func examplePolicyText() throws -> String {
  let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("examples/gateway.json")
  return String(decoding: try Data(contentsOf: url), as: UTF8.self)
}
