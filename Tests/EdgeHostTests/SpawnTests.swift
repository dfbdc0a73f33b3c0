import Foundation
import XCTest
@testable import EdgeHost
import CEdge

/// What a started program gets from edge_spawn, on both of its paths: posix_spawn (no uid or gid
/// change) and fork/exec (a uid or gid to set). Checked from inside the child, by a shell.
final class SpawnTests: XCTestCase {
  var base: TemporaryDirectory!

  override func setUpWithError() throws { base = try TemporaryDirectory() }
  override func tearDown() { base.remove() }

  private func run(_ script: String, uid: Int = -1) throws -> (Int32, String) {
    var fds: [CInt] = [-1, -1]
    XCTAssertEqual(edge_pipe2(&fds, O_CLOEXEC), 0)
    var r = SpawnRequest(argv: ["/bin/sh", "-c", script], environment: ["PATH=/usr/bin:/bin"])
    r.cwd = base.path
    r.outputFD = fds[1]
    r.uid = uid
    let pid = try spawn(r)
    close(fds[1])
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
      let n = chunk.withUnsafeMutableBytes { read(fds[0], $0.baseAddress!, 4096) }
      if n <= 0 { break }
      out += chunk[0..<n]
    }
    close(fds[0])
    var st: CInt = 0
    XCTAssertEqual(waitpid(pid, &st, 0), pid)
    return (edge_WEXITSTATUS(st), String(decoding: out, as: UTF8.self))
  }

  /// The child's fds (but the one `ls` opens to list them), its cwd, and whether it leads its
  /// own session.
  private let probe = "ls /proc/self/fd | tr '\\n' ' '; echo; pwd; " +
    "[ \"$(cut -d' ' -f6 /proc/$$/stat)\" = \"$$\" ] && echo session-leader"

  private func checkChild(uid: Int) throws {
    // An fd the agent holds without close-on-exec must not reach the child.
    let leak = dup2(open("/dev/null", O_RDONLY), 100)
    XCTAssertEqual(leak, 100)
    defer { close(100) }
    let (status, out) = try run(probe, uid: uid)
    XCTAssertEqual(status, 0, out)
    let lines = out.split(separator: "\n").map(String.init)
    XCTAssertEqual(lines.count, 3, out)
    let fds = lines[0].split(separator: " ").compactMap { Int($0) }
    XCTAssertEqual(Array(fds.prefix(3)), [0, 1, 2], out)
    XCTAssertLessThanOrEqual(fds.count, 4, "only 0-2 and ls's own: \(out)")
    XCTAssertFalse(fds.contains(100), out)
    XCTAssertEqual(lines[1], base.path)
    XCTAssertEqual(lines[2], "session-leader")
  }

  func testPosixSpawnPathGivesOnlyFds0To2TheCwdAndANewSession() throws {
    try checkChild(uid: -1)
  }

  func testForkPathForAUidGivesTheSame() throws {
    try checkChild(uid: Int(getuid()))   // our own uid: allowed, and takes the fork path
  }

  func testAMissingProgramIsAnErrorWithItsErrno() {
    let r = SpawnRequest(argv: [base.path + "/no-such-program"], environment: [])
    do {
      _ = try spawn(r)
      XCTFail("spawned a missing program")
    } catch {
      XCTAssertEqual(error.errno, .noEntry)
    }
  }

  func testStdinIsDevNull() throws {
    let (status, out) = try run("cat; readlink /proc/self/fd/0")
    XCTAssertEqual(status, 0)
    XCTAssertEqual(out, "/dev/null\n")
  }
}
