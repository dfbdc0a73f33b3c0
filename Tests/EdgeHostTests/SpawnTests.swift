import Foundation
import XCTest
@testable import EdgeHost
import EdgeCore
import CEdge
import CEdgeSupport

/// What a started program gets from edge_spawn, on both of its paths: a vfork-like clone (no uid or gid
/// change) and fork/exec (a uid or gid to set). Checked from inside the child, by a shell.
final class SpawnTests: XCTestCase {
  var base: TemporaryDirectory!

  override func setUpWithError() throws { base = try TemporaryDirectory() }
  override func tearDown() { base.remove() }

  private func run(_ script: String, as credentials: Credentials? = nil, cwd: String? = nil) throws -> (Int32, String) {
    var fds: [CInt] = [-1, -1]
    XCTAssertEqual(edge_pipe2(&fds, O_CLOEXEC), 0)
    var r = SpawnRequest(argv: ["/bin/sh", "-c", script], environment: ["PATH=/usr/bin:/bin"])
    r.cwd = cwd ?? base.path
    r.outputFD = fds[1]
    r.credentials = credentials
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

  private func checkChild(_ credentials: Credentials?) throws {
    // An fd the agent holds without close-on-exec must not reach the child.
    let leak = dup2(open("/dev/null", O_RDONLY), 100)
    XCTAssertEqual(leak, 100)
    defer { close(100) }
    let (status, out) = try run(probe, as: credentials)
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

  func testVforkPathGivesOnlyFds0To2TheCwdAndANewSession() throws {
    try checkChild(nil)
  }

  func testForkPathForCredentialsGivesTheSame() throws {
    // Our own ids: allowed, and takes the fork path.
    try checkChild(Credentials(uid: getuid(), gid: getgid(), groups: [getgid()]))
  }

  /// Uid, Gid and Groups lines of the child's /proc/self/status.
  private func ids(_ credentials: Credentials?) throws -> [String] {
    let (status, out) = try run("grep -E '^(Uid|Gid|Groups):' /proc/self/status", as: credentials, cwd: "/")
    XCTAssertEqual(status, 0, out)
    return out.split(separator: "\n").map { $0.split(whereSeparator: { $0 == "\t" || $0 == " " }).joined(separator: " ") }
  }

  private func requireRoot() throws {
    // Changing to another uid takes CAP_SETUID; `unshare -r` maps only one uid, so it cannot
    // stand in for root here.
    if getuid() != 0 { throw XCTSkip("needs root: setuid/setgid/setgroups to ids other than our own") }
  }

  /// Issue 12 item 10: a numeric user with a gid runs with that gid and no supplementary groups
  /// (before: gid 0 and the agent's groups).
  func testCredentialsSetUidGidAndDropSupplementaryGroups() throws {
    try requireRoot()
    XCTAssertEqual(try ids(Credentials(uid: 4242, gid: 4243, groups: [])),
                   ["Uid: 4242 4242 4242 4242", "Gid: 4243 4243 4243 4243", "Groups:"])
  }

  func testSupplementaryGroupsAreExactlyTheGivenOnes() throws {
    try requireRoot()
    XCTAssertEqual(try ids(Credentials(uid: 4242, gid: 4243, groups: [50, 60])),
                   ["Uid: 4242 4242 4242 4242", "Gid: 4243 4243 4243 4243", "Groups: 50 60"])
  }

  func testAGroupWithoutAUserKeepsTheUidAndDropsGroups() throws {
    try requireRoot()
    XCTAssertEqual(try ids(Credentials(uid: nil, gid: 4243, groups: [])),
                   ["Uid: 0 0 0 0", "Gid: 4243 4243 4243 4243", "Groups:"])
  }

  /// The C side refuses a uid without a gid: the child would keep gid 0.
  func testAUidWithoutAGidIsRefused() {
    var o = edge_spawn_opts()
    o.path = nil
    o.uid = 4242
    o.gid = -1
    o.ngroups = -1
    o.stdin_fd = -1
    o.stdout_fd = -1
    o.stderr_fd = -1
    XCTAssertEqual(edge_spawn(&o), -EINVAL)
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
