import CEdge
import CEdgeSupport
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
}

/// Runs `argv` to completion with the C spawn shim (new session, only fds 0-2, stdin from
/// /dev/null, stdout and stderr into a pipe we drain), waiting at most `timeout` seconds (0: no
/// limit), then kills its whole process group.
///
/// This waits for its own pid. Under the daemon, whose reaper owns waitpid(-1), commands go
/// through the loop instead.
public func runCommand(_ argv: [String], environment: [String], cwd: String, timeout: Int) throws(HostError) -> CommandResult {
  var fds: [CInt] = [-1, -1]
  if edge_pipe2(&fds, O_CLOEXEC | O_NONBLOCK) != 0 { throw HostError(.current, "create a pipe for", argv[0]) }
  defer { _ = close(fds[0]) }
  var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
  var cEnv: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
  defer {
    for p in cArgs { free(p) }
    for p in cEnv { free(p) }
  }
  let pid: pid_t = cwd.withCString { cwdPtr in
    cArgs.withUnsafeMutableBufferPointer { a in
      cEnv.withUnsafeMutableBufferPointer { e in
        var o = edge_spawn_opts()
        o.path = UnsafePointer(a[0])
        o.argv = UnsafePointer(a.baseAddress!)
        o.envp = UnsafePointer(e.baseAddress!)
        o.cwd = cwdPtr
        o.stdin_fd = -1
        o.stdout_fd = fds[1]
        o.stderr_fd = fds[1]
        o.setsid = 1
        o.uid = -1
        o.gid = -1
        return edge_spawn(&o)
      }
    }
  }
  _ = close(fds[1])
  if pid < 0 { throw HostError(Errno(rawValue: -pid), "run", argv[0]) }

  var tail: [UInt8] = []
  var chunk = [UInt8](repeating: 0, count: 4096)
  let deadline = timeout > 0 ? monotonicNanoseconds() + UInt64(timeout) * 1_000_000_000 : UInt64.max
  var timedOut = false
  var status: CInt = 0
  var reaped = false
  var open = true
  while !reaped || open {
    if open {
      var p = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
      _ = poll(&p, 1, reaped ? 0 : 20)
      let n = chunk.withUnsafeMutableBytes { read(fds[0], $0.baseAddress!, 4096) }
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
      let r = waitpid(pid, &status, WNOHANG)
      if r == pid { reaped = true } else if r < 0 && edge_errno() != EINTR { reaped = true; status = 0 }
      if !open && !reaped {
        var ts = timespec(tv_sec: 0, tv_nsec: 5_000_000)
        nanosleep(&ts, nil)
      }
    }
    if !reaped && monotonicNanoseconds() > deadline {
      timedOut = true
      _ = kill(-pid, SIGKILL)
      _ = kill(pid, SIGKILL)
      while waitpid(pid, &status, 0) < 0 && edge_errno() == EINTR {}
      reaped = true
      open = false
    }
  }
  let code: Int32 = edge_WIFEXITED(status) != 0 ? edge_WEXITSTATUS(status) : -edge_WTERMSIG(status)
  return CommandResult(status: code, timedOut: timedOut, outputTail: tail)
}
