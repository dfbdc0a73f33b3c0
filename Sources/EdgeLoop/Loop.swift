import CEdge

/// The event loop: one per process, run on one thread (libuv's default loop, so signal
/// handling and child watchers share it). Handles created on it are used only from that thread.
public final class Loop {
  public let raw: UnsafeMutablePointer<uv_loop_t>

  public init() {
    raw = uv_default_loop()
  }

  /// Runs until no active handle is left or `stop()` is called. C: `uv_run(UV_RUN_DEFAULT)`
  public func run() { _ = uv_run(raw, UV_RUN_DEFAULT) }

  /// Runs one iteration; with `wait`, blocks for at least one event. C: `uv_run(UV_RUN_ONCE)`
  @discardableResult
  public func runOnce(wait: Bool = true) -> Bool { uv_run(raw, wait ? UV_RUN_ONCE : UV_RUN_NOWAIT) != 0 }

  /// Makes `run()` return after the current iteration. C: `uv_stop`
  public func stop() { uv_stop(raw) }

  /// The loop's cached monotonic time in milliseconds. C: `uv_now`
  public var now: UInt64 { uv_now(raw) }

  /// Refreshes the cached time (after a long synchronous step). C: `uv_update_time`
  public func updateTime() { uv_update_time(raw) }
}

/// What every handle class shares: a pointer to its libuv struct, allocated with the object and
/// freed in the close callback, never before (libuv may still touch it until then).
///
/// While a handle is open, the loop holds a retain on its owner (taken in `open`, released in
/// the close callback), so a handle lives until closed even if the caller drops it.
public protocol Handle: AnyObject {
  var handle: UnsafeMutablePointer<uv_handle_t> { get }
}

extension Handle {
  /// Ties the uv handle to this object. Call once the handle is initialised.
  func open() {
    handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
  }

  /// Closes the handle; the memory and the loop's reference go in the close callback. Closing
  /// twice is a no-op. C: `uv_close`
  public func close() {
    if uv_is_closing(handle) != 0 { return }
    uv_close(handle) { h in
      guard let h else { return }
      let data = h.pointee.data
      h.pointee.data = nil
      h.deallocate()
      if let data { Unmanaged<AnyObject>.fromOpaque(data).release() }
    }
  }

  public var isActive: Bool { uv_is_active(handle) != 0 }

  /// A handle that is unreferenced does not keep `Loop.run()` alive. C: `uv_unref`
  public func unreference() { uv_unref(handle) }
}

/// The owner of a uv handle's `data`, as passed to a C callback.
@inline(__always)
func owner<T: AnyObject>(_ data: UnsafeMutableRawPointer?, as: T.Type) -> T? {
  guard let data else { return nil }
  return Unmanaged<T>.fromOpaque(data).takeUnretainedValue()
}

/// Allocates a uv struct as raw memory sized for it, so it can be freed as a uv_handle_t.
func allocateHandle<T>(_ type: T.Type) -> (UnsafeMutablePointer<T>, UnsafeMutablePointer<uv_handle_t>) {
  let raw = UnsafeMutableRawPointer.allocate(byteCount: max(MemoryLayout<T>.size, MemoryLayout<uv_handle_t>.size),
                                             alignment: 16)
  return (raw.bindMemory(to: T.self, capacity: 1), raw.assumingMemoryBound(to: uv_handle_t.self))
}
