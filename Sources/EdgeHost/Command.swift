import CEdge
import EdgeCore

/// How a command ended.
public struct CommandResult: Sendable {
  /// Exit status, or -signal when it was killed by one.
  public var status: Int32
  /// True when it was killed for running past its timeout.
  public var timedOut: Bool
  /// The last bytes it wrote to stdout and stderr (at most 4 KiB).
  public var outputTail: [UInt8]

  /// The last non-empty line of output, for a failure's reason.
  public var lastLine: String {
    let lines = outputTail.split(separator: UInt8(ascii: "\n"))
    guard let last = lines.last else { return "" }
    return String(decoding: last, as: UTF8.self)
  }

  public init(status: Int32, timedOut: Bool, outputTail: [UInt8]) {
    self.status = status
    self.timedOut = timedOut
    self.outputTail = outputTail
  }
}

/// Runs `argv` to completion with the C spawn shim (new session, only fds 0-2, stdin from
/// /dev/null, stdout and stderr into a pipe we drain), waiting at most `timeout` seconds (0: no
/// limit), then kills its whole process group.
///
/// It blocks the caller for the command's run and waits for its own pid only, so under the
/// daemon (whose reaper waits for any child) the command's exit is seen here and never there.
public func runCommand(_ argv: [String], environment: [String], cwd: String, timeout: Int) throws(HostError) -> CommandResult {
  let (readEnd, writeEnd) = try makePipe()
  let fds = [readEnd, writeEnd]
  defer { _ = system_close(fds[0]) }
  var request = SpawnRequest(argv: argv, environment: environment)
  request.cwd = cwd
  request.outputFD = fds[1]
  let pid: Int32
  do throws(HostError) {
    pid = try spawn(request)
  } catch {
    _ = system_close(fds[1])
    throw error
  }
  _ = system_close(fds[1])

  // Readable once the child has exited; -1 before Linux 5.3, where the loop polls for the exit.
  let pidfd = system_pidfd_open(pid)
  defer { if pidfd >= 0 { _ = system_close(pidfd) } }
  var tail: [UInt8] = []
  var chunk = [UInt8](repeating: 0, count: 4096)
  let deadline = timeout > 0 ? monotonicNanoseconds() + UInt64(timeout) * 1_000_000_000 : UInt64.max
  var timedOut = false
  var status: CInt = 0
  var reaped = false
  var open = true
  var ready = [pollfd(fd: -1, events: Int16(POLLIN), revents: 0), pollfd(fd: -1, events: Int16(POLLIN), revents: 0)]
  while !reaped || open {
    // Sleep until output, the exit or the deadline. The exit is not the end of the output (a
    // process it left behind may hold the pipe), nor the output's end the exit (a process
    // closes its files before it can be reaped): polling for the exit in 5 ms sleeps once the
    // output had ended cost up to 10 ms a command.
    ready[0].fd = open ? fds[0] : -1
    ready[1].fd = reaped ? -1 : pidfd
    let wait: Int32 = reaped ? 0 : pidfd < 0 ? (open ? 20 : 5) : millisecondsUntil(deadline)
    _ = system_poll(&ready, 2, wait)
    if open {
      let n = chunk.withUnsafeMutableBytes { system_read(fds[0], $0.baseAddress!, 4096) }
      if n > 0 {
        tail.append(contentsOf: chunk[0..<n])
        if tail.count > 4096 { tail.removeFirst(tail.count - 4096) }
      } else if n == 0 || (n < 0 && edge_errno() != EAGAIN && edge_errno() != EINTR) {
        open = false
      } else if reaped {
        open = false   // the child is gone and nothing is left to read now
      }
    }
    if !reaped {
      let r = system_waitpid(pid, &status, WNOHANG)
      if r == pid { reaped = true } else if r < 0 && edge_errno() != EINTR { reaped = true; status = 0 }
    }
    if !reaped && monotonicNanoseconds() > deadline {
      timedOut = true
      _ = system_kill(-pid, SIGKILL)
      _ = system_kill(pid, SIGKILL)
      while system_waitpid(pid, &status, 0) < 0 && edge_errno() == EINTR {}
      reaped = true
      open = false
    }
  }
  let code: Int32 = edge_WIFEXITED(status) != 0 ? edge_WEXITSTATUS(status) : -edge_WTERMSIG(status)
  return CommandResult(status: code, timedOut: timedOut, outputTail: tail)
}

/// Milliseconds from now to `deadline` (monotonic ns), for poll: -1 (no limit) for UInt64.max.
func millisecondsUntil(_ deadline: UInt64) -> Int32 {
  if deadline == UInt64.max { return -1 }
  let now = monotonicNanoseconds()
  if now >= deadline { return 0 }
  return Int32(min((deadline - now) / 1_000_000 + 1, UInt64(Int32.max)))
}
