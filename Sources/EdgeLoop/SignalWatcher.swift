import CEdge

/// Delivers a Unix signal to the loop as a callback (libuv's self-pipe: the handler only
/// writes, the callback runs on the loop thread, so it may do anything).
public final class SignalWatcher: Handle {
  let signal: UnsafeMutablePointer<uv_signal_t>
  public let handle: UnsafeMutablePointer<uv_handle_t>
  var callback: (Int32) -> Void = { _ in }

  public init(_ loop: Loop) {
    (signal, handle) = allocateHandle(uv_signal_t.self)
    uv_signal_init(loop.raw, signal)
    open()
  }

  /// C: `uv_signal_start`
  public func start(_ signum: Int32, _ body: @escaping (Int32) -> Void) throws(LoopError) {
    callback = body
    try check(uv_signal_start(signal, { s, n in
      guard let s, let me = owner(s.pointee.data, as: SignalWatcher.self) else { return }
      me.callback(n)
    }, signum), "watch signal \(signum)")
  }

  public func stop() { uv_signal_stop(signal) }
}
