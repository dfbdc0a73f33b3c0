import CEdge
import EdgeHost

/// One TCP stream: an outgoing connection (`connect`) or one a `TCPListener` accepted. Reads
/// arrive as callbacks into a 64 KiB buffer shared by every connection (lent to the callback,
/// valid only during it); writes copy their bytes, so the caller's buffer is free at once.
///
/// Lifetime (the Handle rule): the loop holds the object until the close callback; `close()`
/// may be called from any callback, once or more. After `close()` no callback of this
/// connection runs again, except write completions, which report ECANCELED.
public final class TCPConnection: Handle {
  let tcp: UnsafeMutablePointer<uv_tcp_t>
  public let handle: UnsafeMutablePointer<uv_handle_t>
  /// The read buffer of every connection. One is enough: the loop runs on one thread, and libuv
  /// calls the read callback right after the alloc callback, so no read is lent out while
  /// another fills it. A buffer per connection cost 64 KiB for each client the relay was reading
  /// from (1,000 at once under garbage), and the heap they left behind did not shrink.
  nonisolated(unsafe) static var sharedBuffer: UnsafeMutableRawPointer? = nil
  static let bufferSize = 64 << 10
  static var buffer: UnsafeMutableRawPointer {
    if let b = sharedBuffer { return b }
    let b = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: 16)
    sharedBuffer = b
    return b
  }
  var onData: (UnsafeRawBufferPointer) -> Void = { _ in }
  /// nil at end of stream (the peer closed its side), else the read error.
  var onEnd: (LoopError?) -> Void = { _ in }
  var onConnect: (LoopError?) -> Void = { _ in }

  public init(_ loop: Loop) {
    (tcp, handle) = allocateHandle(uv_tcp_t.self)
    uv_tcp_init(loop.raw, tcp)
    open()
  }

  var stream: UnsafeMutablePointer<uv_stream_t> { UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_stream_t.self) }

  /// Connects to an IPv4 address ("127.0.0.1") and port. `done` runs once: nil when connected.
  /// Errors: EINVAL for an address that is not IPv4 dotted-quad; else as `uv_tcp_connect`.
  /// C: `uv_tcp_connect`
  public func connect(ipv4 address: String, port: UInt16, _ done: @escaping (LoopError?) -> Void) throws(LoopError) {
    var addr = sockaddr_in()
    try check(uv_ip4_addr(address, Int32(port), &addr), "parse address \(address)")
    onConnect = done
    let req = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
    let rc = withUnsafePointer(to: &addr) { p in
      p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
        uv_tcp_connect(req, tcp, sa) { req, status in
          guard let req else { return }
          let me = owner(req.pointee.handle?.pointee.data, as: TCPConnection.self)
          req.deallocate()
          // Closed while connecting: libuv still calls back (ECANCELED), but by the Handle rule
          // no callback runs after close(), and its owner may be gone.
          guard let me, uv_is_closing(me.handle) == 0 else { return }
          me.onConnect(status < 0 ? LoopError(status: status, "connect") : nil)
        }
      }
    }
    if rc < 0 {
      req.deallocate()
      throw LoopError(status: rc, "connect to \(address):\(port)")
    }
  }

  /// Binds the local end before `connect` (a source address such as 127.0.0.2, port 0 for
  /// any). C: `uv_tcp_bind`
  public func bind(ipv4 address: String, port: UInt16 = 0) throws(LoopError) {
    var addr = sockaddr_in()
    try check(uv_ip4_addr(address, Int32(port), &addr), "parse address \(address)")
    let rc = withUnsafePointer(to: &addr) { p in
      p.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_bind(tcp, $0, 0) }
    }
    try check(rc, "bind \(address):\(port)")
  }

  /// The peer's address without its port ("127.0.0.1"; IPv6 as eight hex groups,
  /// "0:0:0:0:0:0:0:1", not shortened), or nil when the connection has none (not connected,
  /// reset). The relay bounds what one address may hold by it. Formatted here rather than by
  /// `uv_ip4_name`, whose inet_ntop formats with sprintf: the one caller of printf's formatter in
  /// the static binaries besides failed assertions (Benchmarks/README.md, "Binary sizes").
  /// C: `uv_tcp_getpeername`
  public var peerAddress: String? {
    var storage = sockaddr_storage()
    var len = Int32(MemoryLayout<sockaddr_storage>.size)
    let rc = withUnsafeMutablePointer(to: &storage) { p in
      p.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getpeername(tcp, $0, &len) }
    }
    guard rc == 0 else { return nil }
    let family = Int32(storage.ss_family)
    return withUnsafeBytes(of: &storage) { (raw) -> String? in
      if family == AF_INET {
        // sin_family (2), sin_port (2), then the address in network order.
        return String(raw[4]) + "." + String(raw[5]) + "." + String(raw[6]) + "." + String(raw[7])
      }
      guard family == AF_INET6 else { return nil }
      // sin6_family (2), sin6_port (2), sin6_flowinfo (4), then 16 bytes.
      var text = ""
      for g in 0..<8 {
        let v = UInt16(raw[8 + 2 * g]) << 8 | UInt16(raw[9 + 2 * g])
        text += (g > 0 ? ":" : "") + String(v, radix: 16)
      }
      return text
    }
  }

  /// Starts delivering reads. C: `uv_read_start`
  public func startReading(_ data: @escaping (UnsafeRawBufferPointer) -> Void, end: @escaping (LoopError?) -> Void) throws(LoopError) {
    onData = data
    onEnd = end
    try check(uv_read_start(stream, { _, _, buf in
      guard let buf else { return }
      buf.pointee = uv_buf_t(base: TCPConnection.buffer.assumingMemoryBound(to: CChar.self), len: TCPConnection.bufferSize)
    }, { s, n, buf in
      guard let s, let me = owner(s.pointee.data, as: TCPConnection.self) else { return }
      if n > 0, let base = buf?.pointee.base {
        me.onData(UnsafeRawBufferPointer(start: base, count: n))
      } else if n == Int(UV_EOF.rawValue) {
        me.onEnd(nil)
      } else if n < 0 {
        me.onEnd(LoopError(status: Int32(n), "read"))
      }
    }), "start reading")
  }

  /// Stops delivering reads (back-pressure). C: `uv_read_stop`
  public func stopReading() { uv_read_stop(stream) }

  /// Queues `bytes` for writing; `done` runs once when they are written or failed.
  /// C: `uv_write`
  public func write(_ bytes: UnsafeRawBufferPointer, _ done: @escaping (LoopError?) -> Void = { _ in }) {
    submit(WriteRequest(bytes, done))
  }

  /// Queues `shared` for writing without copying it: any number of connections may write the
  /// same SharedBytes at once, and it stays alive until the last of them completes.
  public func write(_ shared: SharedBytes, _ done: @escaping (LoopError?) -> Void = { _ in }) {
    submit(WriteRequest(shared, done))
  }

  func submit(_ w: WriteRequest) {
    var buf = uv_buf_t(base: w.data.assumingMemoryBound(to: CChar.self), len: w.count)
    w.req.pointee.data = Unmanaged.passRetained(w).toOpaque()
    let rc = uv_write(w.req, stream, &buf, 1) { req, status in
      guard let req, let data = req.pointee.data else { return }
      let w = Unmanaged<WriteRequest>.fromOpaque(data).takeRetainedValue()
      w.finish(status < 0 ? LoopError(status: status, "write") : nil)
    }
    if rc < 0 {
      let w = Unmanaged<WriteRequest>.fromOpaque(w.req.pointee.data!).takeRetainedValue()
      w.finish(LoopError(status: rc, "write"))
    }
  }

  public func write(_ bytes: [UInt8], _ done: @escaping (LoopError?) -> Void = { _ in }) {
    bytes.withUnsafeBytes { write($0, done) }
  }

  /// Bytes queued and not yet handed to the kernel: what a slow reader costs us.
  /// C: `uv_stream_get_write_queue_size`
  public var queuedBytes: Int { uv_stream_get_write_queue_size(stream) }

  /// Sends data as soon as it is written (no Nagle delay). C: `uv_tcp_nodelay`
  public func setNoDelay() { uv_tcp_nodelay(tcp, 1) }
}

/// Immutable bytes that many writes send at once, one copy in memory: a relay answering a
/// thousand children with the same bundle. `pending` counts the writes not yet completed.
public final class SharedBytes {
  let data: UnsafeMutableRawPointer
  public let count: Int
  public internal(set) var pending = 0

  public init(_ bytes: [UInt8]) {
    count = bytes.count
    data = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
    bytes.withUnsafeBytes { if let base = $0.baseAddress { data.copyMemory(from: base, byteCount: $0.count) } }
  }

  deinit { data.deallocate() }
}

/// One uv_write: the request and its bytes (a copy, or a share of SharedBytes), freed when
/// libuv is done with both.
final class WriteRequest {
  let req: UnsafeMutablePointer<uv_write_t>
  let data: UnsafeMutableRawPointer
  let count: Int
  let shared: SharedBytes?
  let done: (LoopError?) -> Void

  init(_ bytes: UnsafeRawBufferPointer, _ done: @escaping (LoopError?) -> Void) {
    req = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
    count = bytes.count
    data = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
    if let base = bytes.baseAddress { data.copyMemory(from: base, byteCount: bytes.count) }
    shared = nil
    self.done = done
  }

  init(_ shared: SharedBytes, _ done: @escaping (LoopError?) -> Void) {
    req = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
    count = shared.count
    data = shared.data
    self.shared = shared
    shared.pending += 1
    self.done = done
  }

  /// The write completed or failed: it no longer counts as pending, then `done` runs.
  func finish(_ error: LoopError?) {
    shared?.pending -= 1
    done(error)
  }

  deinit {
    req.deallocate()
    if shared == nil { data.deallocate() }
  }
}
