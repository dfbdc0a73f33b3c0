import CEdge

/// Watches one directory with inotify (uv_fs_event): calls back with the name of an entry that
/// changed (created, written, removed, renamed, chmod). Used for drift repair.
public final class FileWatcher: Handle {
  let event: UnsafeMutablePointer<uv_fs_event_t>
  public let handle: UnsafeMutablePointer<uv_handle_t>
  var callback: (String) -> Void = { _ in }
  public let path: String

  public init(_ loop: Loop, path: String) {
    self.path = path
    (event, handle) = allocateHandle(uv_fs_event_t.self)
    uv_fs_event_init(loop.raw, event)
    open()
  }

  /// C: `uv_fs_event_start`
  public func start(_ body: @escaping (String) -> Void) throws(LoopError) {
    callback = body
    try check(uv_fs_event_start(event, { e, name, _, status in
      guard let e, status >= 0, let me = owner(e.pointee.data, as: FileWatcher.self) else { return }
      me.callback(name.map { String(cString: $0) } ?? "")
    }, path, 0), "watch \(path)")
  }
}
