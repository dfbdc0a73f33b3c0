import CEdge
import EdgeHost

/// One IPv4 UDP socket for request/response exchanges (DNS): bound to an ephemeral port the
/// kernel picks at random, datagrams sent without queueing, and received datagrams lent to a
/// callback together with their source. The receive buffer (4 KiB) is owned by the socket and
/// valid only during the callback; a datagram that did not fit arrives with `partial` set.
///
/// Lifetime (the Handle rule): the loop holds the object until the close callback.
public final class UDPSocket: Handle {
  let udp: UnsafeMutablePointer<uv_udp_t>
  public let handle: UnsafeMutablePointer<uv_handle_t>
  var buffer: UnsafeMutableRawPointer? = nil
  static let bufferSize = 4096
  var onDatagram: (_ data: UnsafeRawBufferPointer, _ from: UDPSource, _ partial: Bool) -> Void = { _, _, _ in }

  public init(_ loop: Loop) {
    (udp, handle) = allocateHandle(uv_udp_t.self)
    uv_udp_init(loop.raw, udp)
    open()
  }

  deinit { buffer?.deallocate() }

  /// Binds to an IPv4 address and port; port 0 lets the kernel pick one at random (what a
  /// resolver wants). C: `uv_udp_bind`
  public func bind(ipv4 address: String = "0.0.0.0", port: UInt16 = 0) throws(LoopError) {
    var addr = sockaddr_in()
    try check(uv_ip4_addr(address, Int32(port), &addr), "parse address " + address)
    let rc = withUnsafePointer(to: &addr) { p in
      p.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_udp_bind(udp, $0, 0) }
    }
    try check(rc, "bind a UDP socket")
  }

  /// The bound port (0 before `bind`). C: `uv_udp_getsockname`
  public var port: UInt16 {
    var addr = sockaddr_in()
    var len = Int32(MemoryLayout<sockaddr_in>.size)
    let rc = withUnsafeMutablePointer(to: &addr) { p in
      p.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_udp_getsockname(udp, $0, &len) }
    }
    return rc == 0 ? UInt16(bigEndian: addr.sin_port) : 0
  }

  /// Sends one datagram now or fails (EAGAIN when the socket buffer is full).
  /// C: `uv_udp_try_send`
  public func send(_ bytes: [UInt8], toIPv4 address: String, port: UInt16) throws(LoopError) {
    var addr = sockaddr_in()
    try check(uv_ip4_addr(address, Int32(port), &addr), "parse address " + address)
    let rc = bytes.withUnsafeBytes { raw in
      var buf = uv_buf_t(base: UnsafeMutablePointer(mutating: raw.baseAddress!.assumingMemoryBound(to: CChar.self)), len: raw.count)
      return withUnsafePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_udp_try_send(udp, &buf, 1, $0) }
      }
    }
    try check(rc, "send a datagram")
  }

  /// Delivers each datagram that arrives. C: `uv_udp_recv_start`
  public func startReceiving(_ body: @escaping (_ data: UnsafeRawBufferPointer, _ from: UDPSource, _ partial: Bool) -> Void) throws(LoopError) {
    onDatagram = body
    if buffer == nil { buffer = UnsafeMutableRawPointer.allocate(byteCount: UDPSocket.bufferSize, alignment: 16) }
    try check(uv_udp_recv_start(udp, { h, _, buf in
      guard let h, let buf, let me = owner(h.pointee.data, as: UDPSocket.self) else { return }
      buf.pointee = uv_buf_t(base: me.buffer!.assumingMemoryBound(to: CChar.self), len: UDPSocket.bufferSize)
    }, { u, n, _, addr, flags in
      // n == 0 without an address: nothing more to read now (not an empty datagram).
      guard let u, let addr, n >= 0, let me = owner(u.pointee.data, as: UDPSocket.self) else { return }
      guard addr.pointee.sa_family == sa_family_t(AF_INET) else { return }
      let source = addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
        UDPSource(address: UInt32(bigEndian: sin.pointee.sin_addr.s_addr), port: UInt16(bigEndian: sin.pointee.sin_port))
      }
      me.onDatagram(UnsafeRawBufferPointer(start: me.buffer, count: n), source, flags & UInt32(UV_UDP_PARTIAL.rawValue) != 0)
    }), "receive on a UDP socket")
  }
}

/// Where a datagram came from: an IPv4 address (host order) and port.
public struct UDPSource: Equatable {
  public var address: UInt32
  public var port: UInt16

  /// The address as a dotted quad.
  public var dottedQuad: String {
    "\(address >> 24).\((address >> 16) & 0xFF).\((address >> 8) & 0xFF).\(address & 0xFF)"
  }
}
