import CEdge
import EdgeCore
import EdgeHost

/// A command run as a child watched by the loop, where `runCommand` would block its caller: the
/// same spawn (new session, stdin from /dev/null, stdout and stderr into one pipe), the same last
/// 4 KiB of output, the same timeout (then SIGKILL to its whole process group), the same
/// `CommandResult`, but the output is read as the loop finds it readable, the exit comes from the
/// reaper (the one SIGCHLD path) and the timeout is a timer. PID 1 goes on reaping, supervising
/// and repairing drift while it runs.
public final class CommandChild {
  public let pid: Int32
  let reaper: ChildReaper
  let timer: Timer
  var reader: PipeReader?
  /// The pipe's read end while `reader` holds it open (-1 once it is closed).
  var fd: Int32
  var tail: [UInt8] = []
  var timedOut = false
  /// Exited or cancelled: the handles are closed (closing twice would touch freed memory).
  var finished = false
  var done: ((CommandResult) -> Void)?

  /// The most output kept, as `runCommand` keeps.
  static let tailLimit = 4096

  /// Starts `argv`; `done` is called once, on the loop, when it has exited.
  /// Errors: a pipe or the spawn failed (ENOENT for a missing program, ...).
  public init(_ loop: Loop, reaper: ChildReaper, argv: [String], environment: [String], cwd: String, timeout: Int,
              done: @escaping (CommandResult) -> Void) throws(HostError) {
    let (readEnd, writeEnd) = try makePipe()
    var request = SpawnRequest(argv: argv, environment: environment)
    request.cwd = cwd
    request.outputFD = writeEnd
    do throws(HostError) {
      pid = try spawn(request)
    } catch {
      closeFD(readEnd)
      closeFD(writeEnd)
      throw error
    }
    closeFD(writeEnd)
    self.reaper = reaper
    self.done = done
    timer = Timer(loop)
    fd = readEnd
    do throws(LoopError) {
      let r = try PipeReader(loop, fd: readEnd)
      reader = r
      r.start { [unowned(unsafe) self] chunk in
        if let chunk { self.keep(chunk) } else { self.reader = nil; self.fd = -1 }   // it closed itself
      }
    } catch {
      // Without a reader the output is lost, not the command: it still runs and is waited for.
      closeFD(readEnd)
      fd = -1
    }
    if timeout > 0 {
      timer.start(after: UInt64(timeout) * 1000) { [unowned(unsafe) self] in self.expire() }
    }
    reaper.watch(pid) { [unowned(unsafe) self] status in self.exited(status) }
  }

  func keep(_ chunk: UnsafeRawBufferPointer) {
    tail.append(contentsOf: chunk)
    if tail.count > CommandChild.tailLimit { tail.removeFirst(tail.count - CommandChild.tailLimit) }
  }

  /// Past the timeout: the whole group is killed (a shell's children too); the exit follows
  /// through the reaper. Output after this point is not kept, as `runCommand` keeps none.
  func expire() {
    timedOut = true
    stopReading()
    _ = kill(-pid, SIGKILL)
    _ = kill(pid, SIGKILL)
  }

  /// The exit is not the end of the output: what is in the pipe now is read at once (a process
  /// the command left behind may hold the pipe open for good, so no more is waited for).
  func exited(_ status: Int32) {
    if finished { return }
    finished = true
    if fd >= 0 {
      var chunk = [UInt8](repeating: 0, count: 4096)
      // Bounded: a process left behind could refill the pipe as fast as it is read.
      for _ in 0..<64 {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, 4096) }
        if n <= 0 { break }
        chunk.withUnsafeBytes { keep(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
      }
    }
    stopReading()
    timer.close()
    let result = CommandResult(status: status, timedOut: timedOut, outputTail: tail)
    let body = done
    done = nil
    // The owner may drop this object in `body`.
    withExtendedLifetime(self) { body?(result) }
  }

  func stopReading() {
    reader?.close()
    reader = nil
    fd = -1
  }

  /// Shutdown: kills the command's group and forgets it (its exit is still reaped, as an
  /// orphan's); `done` is never called.
  public func cancel() {
    if finished { return }
    finished = true
    done = nil
    stopReading()
    timer.close()
    reaper.forget(pid)
    _ = kill(-pid, SIGKILL)
    _ = kill(pid, SIGKILL)
  }
}
