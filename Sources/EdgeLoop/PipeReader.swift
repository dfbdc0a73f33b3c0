import CEdge

/// Reads an fd (a pipe's read end) on the loop and hands each chunk to a callback; `nil` at end
/// of file. The buffer is one 16 KiB allocation per reader, reused.
public final class PipeReader: Handle {
  let pipe: UnsafeMutablePointer<uv_pipe_t>
  public let handle: UnsafeMutablePointer<uv_handle_t>
  let buffer: UnsafeMutableRawBufferPointer
  var callback: (UnsafeRawBufferPointer?) -> Void = { _ in }

  /// Takes ownership of `fd`. C: `uv_pipe_init`, `uv_pipe_open`
  public init(_ loop: Loop, fd: Int32) throws(LoopError) {
    (pipe, handle) = allocateHandle(uv_pipe_t.self)
    buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 << 10, alignment: 16)
    uv_pipe_init(loop.raw, pipe, 0)
    open()
    let rc = uv_pipe_open(pipe, fd)
    if rc < 0 {
      close()
      throw LoopError(status: rc, "read from a pipe")
    }
  }

  deinit { buffer.deallocate() }

  /// The descriptor read, -1 once closed (an agent updating in place hands it to its new
  /// image). C: `uv_fileno`
  public var descriptor: Int32 {
    var fd: uv_os_fd_t = -1
    return uv_fileno(handle, &fd) == 0 ? fd : -1
  }

  /// C: `uv_read_start`
  public func start(_ body: @escaping (UnsafeRawBufferPointer?) -> Void) {
    callback = body
    pipe.withMemoryRebound(to: uv_stream_t.self, capacity: 1) { stream in
      _ = uv_read_start(stream, { h, _, buf in
        guard let h, let buf, let me = owner(h.pointee.data, as: PipeReader.self) else { return }
        buf.pointee = uv_buf_init(me.buffer.baseAddress!.assumingMemoryBound(to: CChar.self), UInt32(me.buffer.count))
      }, { s, n, _ in
        guard let s, let me = owner(s.pointee.data, as: PipeReader.self) else { return }
        if n > 0 {
          me.callback(UnsafeRawBufferPointer(start: me.buffer.baseAddress, count: n))
        } else if n < 0 {
          me.callback(nil)
          me.close()
        }
      })
    }
  }
}
