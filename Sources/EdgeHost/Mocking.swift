// The test seam in Syscalls.swift, after swift-system's Internals/Mocking.swift: a test makes the
// next calls of one syscall fail with an errno, or sets the clocks, so that failure paths (a full
// disk, an interrupted fsync, a refused open) and time-dependent code run without a full disk or
// a sleep. It exists only where EDGE_MOCKING is defined: the full-Swift debug build that
// `swift test` runs. Everywhere else `mock` is the call itself, inlined, and the clocks are the
// kernel's, so the binary we ship has neither a branch nor a global for it.

/// The raw calls a test can make fail: one case per `system_*` wrapper that goes through `mock`.
public enum Syscall: Sendable, Hashable {
  case open, openat, openat2, stat, lstat, fstat, fstatat, read, write, fsync, syncfs
  case fchmod, fchown, fchownat, renameat, unlinkat, mkdir, mkdirat, symlinkat, readlinkat
  case mount, umount, finitModule, mkdtemp
}

#if EDGE_MOCKING
import CEdge
import Synchronization

/// Calls of one syscall made to fail: `skip` calls go through first, then `times` fail with `errno`.
struct Injection {
  var call: Syscall
  var errno: Errno
  var skip: Int
  var times: Int
}

/// Forced syscall failures, for tests. Only calls on the thread that armed an injection fail, so
/// a test's injection is never consumed by another thread (a loop thread, a parallel test).
public enum SyscallFailures {
  /// Whether any injection is pending: the one load a call makes when nothing is armed.
  static let armed = Atomic<Bool>(false)
  static let injections = Mutex<(thread: pthread_t, list: [Injection])>((0, []))

  /// Makes `times` calls of `call` on this thread fail with `errno`, after `after` calls that
  /// go through. Injections add up; `reset` drops them.
  public static func inject(_ errno: Errno, into call: Syscall, after: Int = 0, times: Int = 1) {
    injections.withLock { state in
      if state.list.isEmpty { state.thread = pthread_self() }
      precondition(pthread_equal(state.thread, pthread_self()) != 0, "injections armed from two threads")
      state.list.append(Injection(call: call, errno: errno, skip: after, times: times))
    }
    armed.store(true, ordering: .releasing)
  }

  /// Failures armed and not yet made: 0 once every injected call has happened.
  public static var pending: Int {
    injections.withLock { state in state.list.reduce(0) { $0 + $1.times } }
  }

  /// Drops every injection.
  public static func reset() {
    injections.withLock { state in state.list.removeAll() }
    armed.store(false, ordering: .releasing)
  }

  /// The errno this call of `call` must fail with, or nil to make the real call.
  static func take(_ call: Syscall) -> Errno? {
    injections.withLock { state -> Errno? in
      guard pthread_equal(state.thread, pthread_self()) != 0,
            let i = state.list.firstIndex(where: { $0.call == call }) else { return nil }
      if state.list[i].skip > 0 {
        state.list[i].skip -= 1
        return nil
      }
      let e = state.list[i].errno
      state.list[i].times -= 1
      if state.list[i].times == 0 { state.list.remove(at: i) }
      if state.list.isEmpty { armed.store(false, ordering: .releasing) }
      return e
    }
  }
}

/// Makes the call, or fails it as a test asked: -1 with errno set, as the kernel would. Either
/// way it is counted (`syscallCount`).
@inline(__always)
func mock<T: FixedWidthInteger>(_ call: Syscall, _ body: () -> T) -> T {
  if SyscallFailures.armed.load(ordering: .acquiring), let e = SyscallFailures.take(call) {
    edge_set_errno(e.rawValue)
    return counted(-1)
  }
  return counted(body())
}

/// The pointer-returning form: nil with errno set.
@inline(__always)
func mock<P>(_ call: Syscall, _ body: () -> P?) -> P? {
  if SyscallFailures.armed.load(ordering: .acquiring), let e = SyscallFailures.take(call) {
    edge_set_errno(e.rawValue)
    return counted(nil)
  }
  return counted(body())
}

/// The clocks as a test sets them: once set, a clock reads the value set (plus any `advance`)
/// until `reset`; unset, it reads the kernel's. Shared by every thread, unlike injections: a
/// test that sets the time means it for the code it drives, on whatever thread that runs.
public enum TestClock {
  static let overridden = Atomic<Bool>(false)
  static let now = Mutex<(monotonic: UInt64?, wall: Int64?)>((nil, nil))

  /// Monotonic nanoseconds from now on, until set, advanced or reset.
  public static func setMonotonic(nanoseconds: UInt64) {
    now.withLock { $0.monotonic = nanoseconds }
    overridden.store(true, ordering: .releasing)
  }

  /// Wall-clock time from now on (nanoseconds since the epoch), until set, advanced or reset.
  public static func setWall(nanoseconds: Int64) {
    now.withLock { $0.wall = nanoseconds }
    overridden.store(true, ordering: .releasing)
  }

  /// Moves both clocks forward by `nanoseconds`; a clock not set yet starts from the kernel's.
  public static func advance(nanoseconds: UInt64) {
    let mono = realMonotonicNanoseconds(), wall = realWallClockNanoseconds()
    now.withLock { state in
      state.monotonic = (state.monotonic ?? mono) + nanoseconds
      state.wall = (state.wall ?? wall) + Int64(nanoseconds)
    }
    overridden.store(true, ordering: .releasing)
  }

  /// Back to the kernel's clocks.
  public static func reset() {
    now.withLock { $0 = (nil, nil) }
    overridden.store(false, ordering: .releasing)
  }

  static var monotonic: UInt64? {
    overridden.load(ordering: .acquiring) ? now.withLock { $0.monotonic } : nil
  }

  static var wall: Int64? {
    overridden.load(ordering: .acquiring) ? now.withLock { $0.wall } : nil
  }
}
#else
/// The call itself, counted: no seam in this build.
@inline(__always)
func mock<T: FixedWidthInteger>(_ call: Syscall, _ body: () -> T) -> T { counted(body()) }

@inline(__always)
func mock<P>(_ call: Syscall, _ body: () -> P?) -> P? { counted(body()) }
#endif
