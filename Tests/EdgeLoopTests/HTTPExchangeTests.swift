import EdgeCore
import EdgeLoop
import XCTest

/// HTTPExchange against small servers written with TCPListener on the same loop (127.0.0.1 only).
final class HTTPExchangeTests: XCTestCase {
  let loop = Loop()

  /// Serves each connection with `script`, which gets the connection once the request arrives.
  func server(_ script: @escaping (TCPConnection) -> Void) throws -> TCPListener {
    let l = TCPListener(loop)
    try l.bind(ipv4: "127.0.0.1", port: 0)
    try l.listen { c in
      var seen = false
      try? c.startReading({ _ in if !seen { seen = true; script(c) } }, end: { _ in c.close() })
    }
    return l
  }

  func get(_ port: UInt16, idleMs: UInt64 = 2000, limits: HTTPLimits = HTTPLimits()) -> Result<HTTPClientResponse, HTTPClientError> {
    var o = HTTPExchange.Options()
    o.idleMs = idleMs
    o.limits = limits
    var result: Result<HTTPClientResponse, HTTPClientError>? = nil
    HTTPExchange(loop, host: "127.0.0.1", port: port, path: "/bundle.json", options: o) { result = $0 }
    // A generous guard: the client's own timers must end every case long before it.
    let t0 = monotonicMs()
    while result == nil && monotonicMs() - t0 < 30_000 { loop.runOnce() }
    guard let result else {
      XCTFail("the client gave no answer in 30 s")
      return .failure(.timeout("test guard: no answer in 30 s"))
    }
    return result
  }

  func monotonicMs() -> UInt64 { loop.updateTime(); return loop.now }

  override func tearDown() {
    // Let close callbacks run.
    for _ in 0..<5 { loop.runOnce(wait: false) }
  }

  func testGetsABody() throws {
    let l = try server { c in c.write(Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nETag: \"x\"\r\n\r\nhi".utf8)) }
    defer { l.close() }
    guard case .success(let r) = get(l.port) else { return XCTFail() }
    XCTAssertEqual(r.status, 200)
    XCTAssertEqual(r.body, Array("hi".utf8))
    XCTAssertEqual(r.headers.value("etag"), "\"x\"")
  }

  func testUpstreamThatStallsMidBodyTimesOut() throws {
    let l = try server { c in c.write(Array("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly ten b".utf8)) }
    defer { l.close() }
    let t0 = monotonicMs()
    guard case .failure(.timeout(let why)) = get(l.port, idleMs: 300) else { return XCTFail() }
    // The client's idle timer ended it (its reason, and not before the 300 ms), not the test's
    // guard; no upper bound on the wall clock, which a busy machine would break.
    XCTAssertTrue(containsText(why, "stalled"), why)
    XCTAssertGreaterThanOrEqual(monotonicMs() - t0, 300)
  }

  func testTruncatedDownloadIsAnError() throws {
    let l = try server { c in c.write(Array("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nshort".utf8)) { _ in c.close() } }
    defer { l.close() }
    guard case .failure(.parse(let e)) = get(l.port) else { return XCTFail() }
    XCTAssertEqual(e.kind, .truncated)
  }

  func testHundredMegabytesOfHeadersAreCutOffAtTheLimit() throws {
    var sent = 0
    let chunk = Array(("X-Filler: " + String(repeating: "a", count: 1000) + "\r\n").utf8) + []
    var block: [UInt8] = Array("HTTP/1.1 200 OK\r\n".utf8)
    while block.count < 64 << 10 { block += chunk }
    let l = try server { c in
      func more() {
        guard sent < 100 << 20 else { c.close(); return }
        sent += block.count
        c.write(block) { err in if err == nil { more() } }
      }
      more()
    }
    defer { l.close() }
    guard case .failure(.parse(let e)) = get(l.port, limits: HTTPLimits(maxHeaderBytes: 16 << 10)) else { return XCTFail() }
    XCTAssertEqual(e.kind, .headersTooLarge)
    XCTAssertLessThan(sent, 100 << 20, "the client must hang up long before 100 MB")
  }

  func testConnectionRefused() throws {
    let l = TCPListener(loop)
    try l.bind(ipv4: "127.0.0.1", port: 0)
    let port = l.port
    l.close()
    loop.runOnce(wait: false)
    guard case .failure(.io) = get(port) else { return XCTFail() }
  }

  func testNameResolutionWithoutNSS() {
    XCTAssertEqual(resolveWithoutDNS("127.0.0.1"), "127.0.0.1")
    XCTAssertEqual(resolveWithoutDNS("localhost"), "127.0.0.1")
    XCTAssertEqual(lookupHosts(Array("# c\n10.0.0.5  origin origin.lan # x\n::1 v6\n".utf8), "origin.lan"), "10.0.0.5")
    XCTAssertNil(lookupHosts(Array("::1 v6\n".utf8), "v6"))
    XCTAssertFalse(isIPv4Literal("256.0.0.1"))
  }
}
