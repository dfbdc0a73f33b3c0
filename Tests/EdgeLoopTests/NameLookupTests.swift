import EdgeCore
import EdgeLoop
import Foundation
import XCTest

/// NameLookup against DNS servers written in the test with UDPSocket on the same loop, on
/// 127.0.0.x and a port the kernel picks (`ResolverSettings.port`), with a resolv.conf and a
/// hosts file in a temporary directory. Nothing leaves loopback.
final class NameLookupTests: XCTestCase {
  let loop = Loop()
  var dir = ""
  var servers: [UDPSocket] = []
  var settings = ResolverSettings()

  override func setUpWithError() throws {
    dir = FileManager.default.temporaryDirectory.path + "/edgeagent-dns-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    settings.hostsPath = dir + "/hosts"
    settings.resolvConfPath = dir + "/resolv.conf"
    try write("hosts", "127.0.0.1 localhost\n")
  }

  override func tearDown() {
    for s in servers { s.close() }
    for _ in 0..<5 { loop.runOnce(wait: false) }
    try? FileManager.default.removeItem(atPath: dir)
  }

  func write(_ name: String, _ text: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/" + name))
  }

  /// A DNS server on `address`: `answer` gets the query and returns the datagrams to send back
  /// (none: stay silent).
  @discardableResult
  func server(_ address: String = "127.0.0.1", port: UInt16 = 0, _ answer: @escaping ([UInt8]) -> [[UInt8]]) throws -> UDPSocket {
    let s = UDPSocket(loop)
    try s.bind(ipv4: address, port: port)
    try s.startReceiving { data, from, _ in
      for reply in answer(Array(data)) { try? s.send(reply, toIPv4: from.dottedQuad, port: from.port) }
    }
    servers.append(s)
    settings.port = s.port
    return s
  }

  func lookup(_ host: String) -> Result<String, ResolveError> {
    var result: Result<String, ResolveError>? = nil
    NameLookup(loop, host: host, settings: settings) { result = $0 }
    let t0 = monotonicMs()
    while result == nil && monotonicMs() - t0 < 20_000 { loop.runOnce() }
    return result!
  }

  func monotonicMs() -> UInt64 { loop.updateTime(); return loop.now }

  func testAnswersFromDNS() throws {
    try server { q in [reply(q, a: [10, 1, 2, 3])] }
    try write("resolv.conf", "nameserver 127.0.0.1\n")
    XCTAssertEqual(try lookup("origin.test").get(), "10.1.2.3")
  }

  func testHostsFileComesFirstAndLiteralsNeedNoLookup() throws {
    var asked = 0
    try server { q in asked += 1; return [reply(q, a: [10, 1, 2, 3])] }
    try write("resolv.conf", "nameserver 127.0.0.1\n")
    try write("hosts", "10.9.9.9 origin.test\n")
    XCTAssertEqual(try lookup("ORIGIN.test").get(), "10.9.9.9")
    XCTAssertEqual(try lookup("192.0.2.4").get(), "192.0.2.4")
    XCTAssertEqual(try lookup("localhost").get(), "127.0.0.1")
    XCTAssertEqual(asked, 0)
  }

  func testForgedAndHostileAnswersAreNotTaken() throws {
    try server { q in
      var wrongID = reply(q, a: [6, 6, 6, 6])
      wrongID[0] ^= 0xFF
      let otherName = reply(Array(q[0..<12]) + encode("evil.test") + [0, 1, 0, 1], a: [6, 6, 6, 7])
      return [wrongID, otherName, [1, 2, 3], reply(q, a: [10, 1, 2, 3])]
    }
    try write("resolv.conf", "nameserver 127.0.0.1\n")
    XCTAssertEqual(try lookup("origin.test").get(), "10.1.2.3")
  }

  func testMalformedAnswerMovesToTheNextServer() throws {
    let bad = try server("127.0.0.1") { q in
      // A compression pointer to itself where the answer's owner should be.
      var r = reply(q, a: [])
      r[7] = 1
      return [r + [0xC0, UInt8(r.count), 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 6, 6, 6, 6]]
    }
    try server("127.0.0.2", port: bad.port) { q in [reply(q, a: [10, 1, 2, 3])] }
    try write("resolv.conf", "nameserver 127.0.0.1\nnameserver 127.0.0.2\n")
    XCTAssertEqual(try lookup("origin.test").get(), "10.1.2.3")
  }

  func testServerFailureMovesToTheNextServer() throws {
    let failing = try server("127.0.0.1") { q in [reply(q, a: [], rcode: 2)] }
    try write("resolv.conf", "nameserver 127.0.0.1\noptions attempts:1\n")
    guard case .failure(let e) = lookup("origin.test") else { return XCTFail() }
    XCTAssertEqual(e.description, "unable to resolve origin.test: server failure from 127.0.0.1")
    try server("127.0.0.2", port: failing.port) { q in [reply(q, a: [10, 1, 2, 7])] }
    try write("resolv.conf", "nameserver 127.0.0.1\nnameserver 127.0.0.2\noptions attempts:1\n")
    XCTAssertEqual(try lookup("origin.test").get(), "10.1.2.7")
  }

  func testSilentServerTimesOutToTheNext() throws {
    let silent = try server("127.0.0.1") { _ in [] }
    try server("127.0.0.2", port: silent.port) { q in [reply(q, a: [10, 1, 2, 4])] }
    try write("resolv.conf", "nameserver 127.0.0.1\nnameserver 127.0.0.2\noptions timeout:1 attempts:1\n")
    XCTAssertEqual(try lookup("origin.test").get(), "10.1.2.4")
  }

  func testNoAnswerAtAllIsAnErrorNamingTheServers() throws {
    try server { _ in [] }
    try write("resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    guard case .failure(let e) = lookup("origin.test") else { return XCTFail() }
    XCTAssertEqual(e.description, "unable to resolve origin.test: no answer from 127.0.0.1 (1 attempts, 1000 ms each)")
  }

  func testNXDOMAINTriesTheSearchList() throws {
    var asked: [String] = []
    try server { q in
      let name = questionName(q)
      asked.append(name)
      return [name == "origin.corp" ? reply(q, a: [10, 1, 2, 5]) : reply(q, a: [], rcode: 3)]
    }
    try write("resolv.conf", "nameserver 127.0.0.1\nsearch lan corp\n")
    XCTAssertEqual(try lookup("origin").get(), "10.1.2.5")
    XCTAssertEqual(asked, ["origin.lan", "origin.corp"])
    guard case .failure(let e) = lookup("nowhere") else { return XCTFail() }
    XCTAssertEqual(e.description, "unable to resolve nowhere: no such name (NXDOMAIN from 127.0.0.1); tried nowhere.lan, nowhere.corp, nowhere")
  }

  func testTruncatedAnswerIsAskedAgainOverTCP() throws {
    // TCP first: its port is the one more likely taken, so the kernel picks it.
    let tcp = TCPListener(loop)
    try tcp.bind(ipv4: "127.0.0.1", port: 0)
    try tcp.listen { c in
      var got: [UInt8] = []
      try? c.startReading({ data in
        got += data
        guard got.count >= 2, got.count >= 2 + (Int(got[0]) << 8 | Int(got[1])) else { return }
        let r = reply(Array(got[2...]), a: [10, 1, 2, 6])
        c.write([UInt8(r.count >> 8), UInt8(r.count & 0xFF)] + r) { _ in c.close() }
      }, end: { _ in c.close() })
    }
    defer { tcp.close() }
    try server(port: tcp.port) { q in [reply(q, a: [], truncated: true)] }
    try write("resolv.conf", "nameserver 127.0.0.1\n")
    XCTAssertEqual(try lookup("origin.test").get(), "10.1.2.6")
  }

  func testTruncatedAnswerWithoutTCPIsAFailureOfThatServer() throws {
    try server { q in [reply(q, a: [], truncated: true)] }
    try write("resolv.conf", "nameserver 127.0.0.1\noptions attempts:1\n")
    guard case .failure(let e) = lookup("origin.test") else { return XCTFail() }
    XCTAssertEqual(e.description, "unable to resolve origin.test: unable to connect: Connection refused from 127.0.0.1")
  }

  func testHTTPGetReachesAnUpstreamByName() throws {
    try server { q in [reply(q, a: [127, 0, 0, 1])] }
    try write("resolv.conf", "nameserver 127.0.0.1\n")
    let l = TCPListener(loop)
    try l.bind(ipv4: "127.0.0.1", port: 0)
    try l.listen { c in
      try? c.startReading({ _ in c.write(Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi".utf8)) }, end: { _ in c.close() })
    }
    defer { l.close() }
    var o = HTTPExchange.Options()
    o.resolver = settings
    var result: Result<HTTPClientResponse, HTTPClientError>? = nil
    HTTPExchange(loop, host: "origin.test", port: l.port, path: "/bundle.json", options: o) { result = $0 }
    while result == nil { loop.runOnce() }
    guard case .success(let r) = result! else { return XCTFail("\(result!)") }
    XCTAssertEqual(r.body, Array("hi".utf8))
  }

  func testHTTPGetSaysWhyANameDidNotResolve() throws {
    try server { q in [reply(q, a: [], rcode: 3)] }
    try write("resolv.conf", "nameserver 127.0.0.1\n")
    var o = HTTPExchange.Options()
    o.resolver = settings
    var result: Result<HTTPClientResponse, HTTPClientError>? = nil
    HTTPExchange(loop, host: "origin.test", port: 80, path: "/bundle.json", options: o) { result = $0 }
    while result == nil { loop.runOnce() }
    guard case .failure(let e) = result! else { return XCTFail() }
    XCTAssertEqual(e.description, "unable to resolve origin.test: no such name (NXDOMAIN from 127.0.0.1)")
  }
}

func encode(_ name: String) -> [UInt8] {
  var out: [UInt8] = []
  for label in name.split(separator: ".") { out.append(UInt8(label.utf8.count)); out += label.utf8 }
  return out + [0]
}

/// The question section's end in a query (12-byte header, one name, type and class).
func questionEnd(_ q: [UInt8]) -> Int {
  var i = 12
  while i < q.count && q[i] != 0 { i += Int(q[i]) + 1 }
  return i + 5
}

func questionName(_ q: [UInt8]) -> String {
  var labels: [String] = []
  var i = 12
  while i < q.count && q[i] != 0 {
    labels.append(String(decoding: q[(i + 1)...(i + Int(q[i]))], as: UTF8.self))
    i += Int(q[i]) + 1
  }
  return labels.joined(separator: ".")
}

/// The response to query `q`: its ID and question, then one A record (pointing at the question's
/// name) when `a` has 4 bytes.
func reply(_ q: [UInt8], a: [UInt8], rcode: UInt8 = 0, truncated: Bool = false) -> [UInt8] {
  let end = min(questionEnd(q), q.count)
  var r = Array(q[0..<2]) + [0x81 | (truncated ? 0x02 : 0), 0x80 | rcode, 0, 1, 0, a.count == 4 ? 1 : 0, 0, 0, 0, 0]
  r += q[12..<end]
  if a.count == 4 { r += [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4] + a }
  return r
}
