import CEdge
import EdgeCore

/// One TCP or HTTP health probe: connect to an IPv4 address (and for HTTP send a GET and read
/// the status line) within a timeout, then report pass or fail once and close.
public final class HealthProbe: Handle {
  let tcp: UnsafeMutablePointer<uv_tcp_t>
  public let handle: UnsafeMutablePointer<uv_handle_t>
  let connect = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
  let write = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
  let timer: Timer
  var request: [UInt8] = []
  var response: [UInt8] = []
  var done: (Bool) -> Void = { _ in }
  var finished = false
  let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 8)

  public init(_ loop: Loop) {
    (tcp, handle) = allocateHandle(uv_tcp_t.self)
    uv_tcp_init(loop.raw, tcp)
    timer = Timer(loop)
    open()
  }

  deinit {
    connect.deallocate()
    write.deallocate()
    buffer.deallocate()
  }

  /// Probes `hostPort` ("127.0.0.1:8080"); with `httpPath`, a GET whose status must be 2xx or 3xx.
  public func start(hostPort: String, httpPath: String?, timeoutMs: UInt32, _ body: @escaping (Bool) -> Void) {
    done = body
    let parts = hostPort.utf8.split(separator: UInt8(ascii: ":"))
    guard parts.count == 2, let port = Int32(String(decoding: parts[1], as: UTF8.self)) else { finish(false); return }
    var addr = sockaddr_in()
    let ok = String(decoding: parts[0], as: UTF8.self).withCString { uv_ip4_addr($0, port, &addr) }
    guard ok == 0 else { finish(false); return }
    if let httpPath {
      request = Array("GET \(httpPath) HTTP/1.0\r\nHost: \(hostPort)\r\nUser-Agent: edgeagent-health\r\n\r\n".utf8)
    }
    timer.start(after: UInt64(timeoutMs)) { [unowned(unsafe) self] in self.finish(false) }
    connect.pointee.data = handle.pointee.data
    let rc = withUnsafePointer(to: &addr) { a in
      a.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
        uv_tcp_connect(connect, tcp, sa) { req, status in
          guard let req, let me = owner(req.pointee.data, as: HealthProbe.self) else { return }
          me.connected(status)
        }
      }
    }
    if rc < 0 { finish(false) }
  }

  func connected(_ status: Int32) {
    if finished { return }
    guard status == 0 else { finish(false); return }
    if request.isEmpty { finish(true); return }
    write.pointee.data = handle.pointee.data
    let rc: Int32 = request.withUnsafeMutableBytes { raw in
      var buf = uv_buf_init(raw.baseAddress!.assumingMemoryBound(to: CChar.self), UInt32(raw.count))
      return tcp.withMemoryRebound(to: uv_stream_t.self, capacity: 1) { s in
        uv_write(write, s, &buf, 1) { req, status in
          guard let req, let me = owner(req.pointee.data, as: HealthProbe.self) else { return }
          if status < 0 { me.finish(false) }
        }
      }
    }
    if rc < 0 { finish(false); return }
    tcp.withMemoryRebound(to: uv_stream_t.self, capacity: 1) { s in
      _ = uv_read_start(s, { h, _, buf in
        guard let h, let buf, let me = owner(h.pointee.data, as: HealthProbe.self) else { return }
        buf.pointee = uv_buf_init(me.buffer.baseAddress!.assumingMemoryBound(to: CChar.self), UInt32(me.buffer.count))
      }, { s, n, _ in
        guard let s, let me = owner(s.pointee.data, as: HealthProbe.self) else { return }
        if n > 0 { me.received(UnsafeRawBufferPointer(start: me.buffer.baseAddress, count: n)) } else if n < 0 { me.statusLine() }
      })
    }
  }

  func received(_ bytes: UnsafeRawBufferPointer) {
    response.append(contentsOf: bytes)
    if response.contains(UInt8(ascii: "\n")) || response.count > 512 { statusLine() }
  }

  /// "HTTP/1.x 2xx ...": pass on 2xx and 3xx.
  func statusLine() {
    let line = response.split(separator: UInt8(ascii: "\n")).first ?? []
    let fields = line.split(separator: UInt8(ascii: " "))
    let code = fields.count >= 2 ? fields[1].first ?? 0 : 0
    finish(fields.count >= 2 && fields[0].starts(with: Array("HTTP/".utf8)) && (code == UInt8(ascii: "2") || code == UInt8(ascii: "3")))
  }

  func finish(_ passed: Bool) {
    if finished { return }
    finished = true
    timer.stop()
    timer.close()
    close()
    done(passed)
  }
}
