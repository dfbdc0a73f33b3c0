import CEdge
import EdgeHost

/// A listening TCP socket. Each accepted connection is handed to the callback as a
/// `TCPConnection` that the callback owns (it must close it). Lifetime: the Handle rule.
public final class TCPListener: Handle {
  let tcp: UnsafeMutablePointer<uv_tcp_t>
  public let handle: UnsafeMutablePointer<uv_handle_t>
  let loop: Loop
  var onConnection: (TCPConnection) -> Void = { _ in }

  public init(_ loop: Loop) {
    self.loop = loop
    (tcp, handle) = allocateHandle(uv_tcp_t.self)
    uv_tcp_init(loop.raw, tcp)
    open()
  }

  /// Binds to an IPv4 address and port (0: any free port, see `port`). C: `uv_tcp_bind`
  public func bind(ipv4 address: String, port: UInt16) throws(LoopError) {
    var addr = sockaddr_in()
    try check(uv_ip4_addr(address, Int32(port), &addr), "parse address \(address)")
    let rc = withUnsafePointer(to: &addr) { p in
      p.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_bind(tcp, $0, 0) }
    }
    try check(rc, "bind \(address):\(port)")
  }

  /// The bound port. C: `uv_tcp_getsockname`
  public var port: UInt16 {
    var addr = sockaddr_in()
    var len = Int32(MemoryLayout<sockaddr_in>.size)
    let rc = withUnsafeMutablePointer(to: &addr) { p in
      p.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getsockname(tcp, $0, &len) }
    }
    return rc == 0 ? UInt16(bigEndian: addr.sin_port) : 0
  }

  /// Starts accepting. C: `uv_listen`, `uv_accept`
  public func listen(backlog: Int32 = 128, _ body: @escaping (TCPConnection) -> Void) throws(LoopError) {
    onConnection = body
    let stream = UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_stream_t.self)
    try check(uv_listen(stream, backlog) { s, status in
      guard let s, status >= 0, let me = owner(s.pointee.data, as: TCPListener.self) else { return }
      let c = TCPConnection(me.loop)
      if uv_accept(s, c.stream) != 0 { c.close(); return }
      me.onConnection(c)
    }, "listen")
  }
}
