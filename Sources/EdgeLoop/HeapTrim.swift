import EdgeHost

/// Trims the heap on the loop's next turn after a large transient buffer was noted
/// (`TransientBuffers`): by then the callbacks that held the buffer have returned, so its pages
/// are free. A response body is still on the stack while its completion runs.
public final class HeapTrim {
  let timer: Timer

  public init(_ loop: Loop) { timer = Timer(loop) }

  /// Schedules a trim if a large buffer was noted; a no-op otherwise.
  public func soon() {
    guard TransientBuffers.pending else { return }
    timer.start(after: 0) { TransientBuffers.releaseIfAny() }
  }

  public func close() {
    timer.stop()
    timer.close()
  }
}
