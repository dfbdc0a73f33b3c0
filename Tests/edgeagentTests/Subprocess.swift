import Foundation
import XCTest
import EdgeTestSupport

/// The `edgeagent` binary built beside this test bundle, run as a subprocess.
enum Edgeagent {
  /// `$EDGEAGENT_BINARY`, else `edgeagent` in the products directory that holds this bundle.
  static var binary: URL {
    get throws {
      if let path = ProcessInfo.processInfo.environment["EDGEAGENT_BINARY"] { return URL(fileURLWithPath: path) }
      var candidates: [URL] = []
      if let exe = Bundle.main.executableURL { candidates.append(exe.deletingLastPathComponent()) }
      candidates.append(Bundle.main.bundleURL)
      candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
      for dir in candidates {
        let url = dir.appendingPathComponent("edgeagent")
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), !isDir.boolValue,
           FileManager.default.isExecutableFile(atPath: url.path) {
          return url
        }
      }
      throw skipOrFailInCI("no edgeagent binary next to the test bundle (looked in \(candidates.map(\.path)))")
    }
  }

  struct Result {
    var status: Int32
    var stdout: String
    var stderr: String
  }

  /// Runs `edgeagent args...` to completion; output goes through files, so a large output cannot
  /// block the child.
  /// With `timeout` (seconds), through timeout(1): a command that does not end on its own exits 124.
  static func run(_ args: [String], timeout: Int? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> Result {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("edgeagent-out-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("stdout"), err = dir.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: out.path, contents: nil)
    _ = FileManager.default.createFile(atPath: err.path, contents: nil)
    let p = Process()
    if let timeout {
      p.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
      p.arguments = ["-s", "KILL", String(timeout), try binary.path] + args
    } else {
      p.executableURL = try binary
      p.arguments = args
    }
    p.standardInput = FileHandle.nullDevice
    p.standardOutput = try FileHandle(forWritingTo: out)
    p.standardError = try FileHandle(forWritingTo: err)
    try p.run()
    p.waitUntilExit()
    XCTAssertEqual(p.terminationReason, .exit, "edgeagent \(args) was killed by a signal", file: file, line: line)
    return Result(status: p.terminationStatus,
                  stdout: String(decoding: try Data(contentsOf: out), as: UTF8.self),
                  stderr: String(decoding: try Data(contentsOf: err), as: UTF8.self))
  }
}

/// A root, a state path and policies in one fresh temporary directory.
struct Sandbox {
  let base: String
  var root: String { base + "/root" }
  var state: String { base + "/state" }

  init() throws {
    base = FileManager.default.temporaryDirectory.path + "/edgeagent-cli-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: base + "/root", withIntermediateDirectories: true)
  }

  func remove() { try? FileManager.default.removeItem(atPath: base) }

  @discardableResult
  func policy(_ text: String, name: String = "policy.json") throws -> String {
    let path = base + "/" + name
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    return path
  }

  func exists(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0
  }

  func rootEntries() -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] }

  /// `edgeagent apply POLICY --root ROOT --state STATE extra...`
  func apply(_ policy: String, _ extra: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws -> Edgeagent.Result {
    try Edgeagent.run(["apply", policy, "--root", root, "--state", state] + extra, file: file, line: line)
  }
}

func examplePolicyText() throws -> String {
  let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("examples/gateway.json")
  return String(decoding: try Data(contentsOf: url), as: UTF8.self)
}
