import CEdge

/// A libuv timer: calls back after a delay, then optionally every `repeat` milliseconds.
public final class Timer: Handle {
  let timer: UnsafeMutablePointer<uv_timer_t>
  public let handle: UnsafeMutablePointer<uv_handle_t>
  var callback: () -> Void = {}

  public init(_ loop: Loop) {
    (timer, handle) = allocateHandle(uv_timer_t.self)
    uv_timer_init(loop.raw, timer)
    open()
  }

  /// (Re)starts the timer. C: `uv_timer_start`
  public func start(after ms: UInt64, repeat every: UInt64 = 0, _ body: @escaping () -> Void) {
    callback = body
    uv_timer_start(timer, { t in
      guard let t, let me = owner(t.pointee.data, as: Timer.self) else { return }
      me.callback()
    }, ms, every)
  }

  /// C: `uv_timer_stop`
  public func stop() { uv_timer_stop(timer) }
}
