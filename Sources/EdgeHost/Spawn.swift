import CEdge
import CEdgeSupport
import EdgeCore

/// What a service is started with. The child side runs in C (edge_spawn): a new session, only
/// fds 0-2 (nothing of the agent's leaks), default signal dispositions, then the credentials
/// (supplementary groups, gid, uid) and cwd.
public struct SpawnRequest {
  public var argv: [String]
  public var environment: [String]
  public var cwd: String = "/"
  /// nil: the agent's own uid, gid and groups.
  public var credentials: Credentials? = nil
  /// Where stdout and stderr go (-1: /dev/null). stdin is always /dev/null.
  public var outputFD: CInt = -1

  public init(argv: [String], environment: [String]) {
    self.argv = argv
    self.environment = environment
  }
}

/// Forks and execs; returns the pid. The caller reaps it (one SIGCHLD path for everything).
/// Errors: the errno of a failed fork, or of a failed exec (ENOENT for a missing program,
/// EACCES, ...), already reaped.
public func spawn(_ r: SpawnRequest) throws(HostError) -> Int32 {
  var cArgs: [UnsafeMutablePointer<CChar>?] = r.argv.map { strdup($0) } + [nil]
  var cEnv: [UnsafeMutablePointer<CChar>?] = r.environment.map { strdup($0) } + [nil]
  defer {
    for p in cArgs { free(p) }
    for p in cEnv { free(p) }
  }
  let groups: [gid_t] = r.credentials?.groups.map { gid_t($0) } ?? []
  let pid: pid_t = r.cwd.withCString { cwd in groups.withUnsafeBufferPointer { g in
    cArgs.withUnsafeMutableBufferPointer { a in
      cEnv.withUnsafeMutableBufferPointer { e in
        var o = edge_spawn_opts()
        o.path = UnsafePointer(a[0])
        o.argv = UnsafePointer(a.baseAddress!)
        o.envp = UnsafePointer(e.baseAddress!)
        o.cwd = cwd
        o.stdin_fd = -1
        o.stdout_fd = r.outputFD
        o.stderr_fd = r.outputFD
        o.setsid = 1
        o.uid = r.credentials?.uid.map { Int($0) } ?? -1
        o.gid = r.credentials.map { Int($0.gid) } ?? -1
        o.groups = g.baseAddress
        o.ngroups = r.credentials == nil ? -1 : g.count
        return edge_spawn(&o)
      }
    }
  } }
  if pid < 0 { throw HostError(Errno(rawValue: -pid), "start", r.argv[0]) }
  return pid
}

/// Sends a signal to a process group (services are session leaders, so their pid is their group).
@discardableResult
public func signalGroup(_ pid: Int32, _ signal: Int32) -> Bool {
  system_kill(-pid, signal) == 0 || system_kill(pid, signal) == 0
}

/// Reaps one exited child without blocking: (pid, status) or nil when none is waiting.
/// status is the exit code, or -signal.
public func reapOne() -> (pid: Int32, status: Int32)? {
  var st: CInt = 0
  while true {
    let pid = system_waitpid(-1, &st, WNOHANG)
    if pid > 0 {
      let code = edge_WIFEXITED(st) != 0 ? edge_WEXITSTATUS(st) : -edge_WTERMSIG(st)
      return (pid, code)
    }
    if pid < 0 && Errno.current == .interrupted { continue }
    return nil
  }
}

/// Makes this process the reaper of its orphaned descendants (PR_SET_CHILD_SUBREAPER), as PID 1
/// is by nature. Fails under qemu-user, which does not implement it.
@discardableResult
public func becomeSubreaper() -> Bool { system_prctl(PR_SET_CHILD_SUBREAPER, 1) == 0 }

/// A pipe for a service's output: (read end, write end), both close-on-exec (the spawn shim
/// dups the write end onto 1 and 2).
public func makePipe() throws(HostError) -> (CInt, CInt) {
  var fds: [CInt] = [-1, -1]
  if system_pipe2(&fds, O_CLOEXEC) != 0 { throw HostError(.current, "create a pipe") }
  // Only our end is non-blocking. The write end becomes a child's stdout and stderr: with
  // O_NONBLOCK there (a flag of the open file, which the child shares), a child that writes
  // while the loop is busy gets EAGAIN once the pipe is full, and a command failed or a
  // service lost its output for it.
  if system_fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0 {
    let e = HostError(.current, "make a pipe non-blocking")
    _ = system_close(fds[0])
    _ = system_close(fds[1])
    throw e
  }
  return (fds[0], fds[1])
}

public func closeFD(_ fd: CInt) { _ = system_close(fd) }
