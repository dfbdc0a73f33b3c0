import XCTest
@testable import EdgeCore

final class PromiseRecordTests: XCTestCase {
  private func decode(_ bytes: [UInt8]) throws(RecordError) -> Promise {
    try withBytes(bytes) { (raw) throws(RecordError) -> Promise in try PromiseRecord.decode(raw) }
  }

  private func decodeError(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> RecordError? {
    do {
      let p = try decode(bytes)
      XCTFail("decoded \(p.id) from \(bytes.count) bytes", file: file, line: line)
      return nil
    } catch {
      return error
    }
  }

  private func assertSame(_ a: Promise, _ b: Promise, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.id, b.id, file: file, line: line)
    XCTAssertEqual(a.type, b.type, file: file, line: line)
    XCTAssertEqual(a.path, b.path, file: file, line: line)
    XCTAssertEqual(a.content, b.content, file: file, line: line)
    XCTAssertEqual(a.source, b.source, file: file, line: line)
    XCTAssertEqual(a.mode, b.mode, file: file, line: line)
    XCTAssertEqual(a.owner, b.owner, file: file, line: line)
    XCTAssertEqual(a.group, b.group, file: file, line: line)
    XCTAssertEqual(a.absent, b.absent, file: file, line: line)
    XCTAssertEqual(a.purge, b.purge, file: file, line: line)
    XCTAssertEqual(a.target, b.target, file: file, line: line)
    XCTAssertEqual(a.exec, b.exec, file: file, line: line)
    XCTAssertEqual(a.creates, b.creates, file: file, line: line)
    XCTAssertEqual(a.unless, b.unless, file: file, line: line)
    XCTAssertEqual(a.timeout, b.timeout, file: file, line: line)
    XCTAssertEqual(a.key, b.key, file: file, line: line)
    XCTAssertEqual(a.value, b.value, file: file, line: line)
    XCTAssertEqual(a.after, b.after, file: file, line: line)
    XCTAssertEqual(a.notify, b.notify, file: file, line: line)
    XCTAssertEqual(a.conditionText, b.conditionText, file: file, line: line)
    XCTAssertEqual(a.condition, b.condition, file: file, line: line)
    XCTAssertEqual(a.service, b.service, file: file, line: line)
  }

  private let contentDigest = Digest(w0: 0xAA, w1: 0xBB, w2: 0xCC, w3: 0xDD)

  private var fullFile: Promise {
    var p = Promise(id: "app-conf", type: .file)
    p.path = "/opt/app/app.conf"
    p.content = Array("port=8080\n\u{0}binary\u{FF}".utf8) + [0xFF, 0x00]
    p.mode = 0o4755
    p.owner = "app"
    p.group = "staff"
    p.after = ["app-dir", "other"]
    p.notify = ["app"]
    p.conditionText = "linux & !arm"
    p.condition = try? ClassExpression(parsing: p.conditionText)
    return p
  }

  func testFilePromiseRoundTrips() throws {
    let p = fullFile
    assertSame(try decode(PromiseRecord.encode(p, digest: contentDigest)), p)
  }

  func testEveryTypeRoundTrips() throws {
    var source = Promise(id: "blob", type: .file)
    source.path = "/b"
    source.source = Digest(w0: 1, w1: 2, w2: 3, w3: .max)
    var dir = Promise(id: "d", type: .directory)
    dir.path = "/var/old"
    dir.absent = true
    dir.purge = true
    var link = Promise(id: "l", type: .link)
    link.path = "/opt/current"
    link.target = "../releases/7"
    var cmd = Promise(id: "c", type: .command)
    cmd.exec = ["/bin/sh", "-c", "echo ünïcode"]
    cmd.creates = "/done"
    cmd.unless = ["/bin/test", "-e", "/x"]
    cmd.timeout = 86_400
    var svc = Promise(id: "s", type: .service)
    svc.exec = ["/usr/bin/app"]
    svc.owner = "app"
    var settings = ServiceSpec()
    settings.env = ["A=1", "B=ü"]
    settings.cwd = "/srv"
    settings.restart = .onFailure
    settings.stopSignal = 2
    settings.stopTimeoutMs = 1_500
    settings.startTimeoutMs = 90_000
    settings.main = true
    var health = HealthCheck(kind: .http, target: ["http://127.0.0.1:8080/healthz"])
    health.intervalMs = 250
    health.timeoutMs = 750
    settings.health = health
    svc.service = settings
    var ctl = Promise(id: "k", type: .sysctl)
    ctl.key = "net.ipv4.ip_forward"
    ctl.value = "1"
    for p in [source, dir, link, cmd, svc, ctl] { assertSame(try decode(PromiseRecord.encode(p, digest: p.source ?? .zero)), p) }
  }

  /// The promise library's types keep what their checks read: a template its rendering, a line
  /// its edit, an account its fields (unset ones unset), a package its version and blob.
  func testTheLibrarysTypesRoundTrip() throws {
    var t = Promise(id: "t", type: .template)
    t.path = "/etc/app.conf"
    t.content = Array("listen 80\n".utf8)
    var l = Promise(id: "l", type: .line)
    l.path = "/etc/ssh/sshd_config"
    l.edit = LineEdit(line: "X11Forwarding no", match: try LineRegex("^X11Forwarding\\b"), atStart: true)
    var k = Promise(id: "k", type: .line)
    k.path = "/etc/app.ini"
    k.absent = true
    k.edit = LineEdit(key: "port", value: "80", separator: " = ", section: "server")
    var u = Promise(id: "u", type: .user)
    u.group = "app"
    u.account = AccountSpec(name: "app", id: 1500, groups: ["dialout", "video"], home: "/srv/app", password: "!")
    var g = Promise(id: "g", type: .group)
    g.account = AccountSpec(name: "video")
    var pk = Promise(id: "p", type: .package)
    pk.package = PackageSpec(name: "site-tools", version: "1:2.0-1")
    pk.source = Digest(w0: 9, w1: 8, w2: 7, w3: 6)
    var gone = Promise(id: "q", type: .package)
    gone.package = PackageSpec(name: "telnetd", version: nil)
    gone.absent = true
    for p in [t, l, k, u, g, pk, gone] {
      let back = try decode(PromiseRecord.encode(p, digest: contentDigest))
      assertSame(back, p)
      XCTAssertEqual(back.edit?.identity, p.edit?.identity, p.id)
      XCTAssertEqual(back.account?.identity, p.account?.identity, p.id)
      XCTAssertEqual(back.package?.name, p.package?.name, p.id)
      XCTAssertEqual(back.package?.version, p.package?.version, p.id)
    }
  }

  /// Every supervision setting survives the state: a restarted agent supervises a service as
  /// the policy said (every field differs from its default, so a field dropped by the encoder
  /// or the decoder shows).
  func testServiceSettingsRoundTrip() throws {
    var spec = ServiceSpec()
    spec.env = ["A=1", "PATH=/opt/bin:/usr/bin", "EMPTY="]
    spec.cwd = "/srv/app"
    spec.restart = .onFailure
    spec.stopSignal = 2
    spec.stopTimeoutMs = 1_234
    spec.main = true
    var health = HealthCheck(kind: .exec, target: ["/bin/check", "--deep"])
    health.intervalMs = 750
    health.timeoutMs = 321
    spec.health = health
    var svc = Promise(id: "web", type: .service)
    svc.exec = ["/usr/bin/web", "--port", "8080"]
    svc.owner = "www"
    svc.group = "www"
    svc.after = ["db"]
    svc.service = spec
    let back = try decode(PromiseRecord.encode(svc, digest: .zero))
    assertSame(back, svc)
    XCTAssertEqual(back.service?.env, spec.env)
    XCTAssertEqual(back.service?.cwd, "/srv/app")
    XCTAssertEqual(back.service?.restart, .onFailure)
    XCTAssertEqual(back.service?.stopSignal, 2)
    XCTAssertEqual(back.service?.stopTimeoutMs, 1_234)
    XCTAssertEqual(back.service?.main, true)
    XCTAssertEqual(back.service?.health, health)
    // The other health kinds, the other restart policy, and no health check at all.
    for (kind, target, restart) in [(HealthCheck.Kind.tcp, "127.0.0.1:8080", ServiceSpec.Restart.never),
                                    (.http, "http://127.0.0.1:8080/healthz", .always)] {
      spec.health = HealthCheck(kind: kind, target: [target])
      spec.restart = restart
      svc.service = spec
      assertSame(try decode(PromiseRecord.encode(svc, digest: .zero)), svc)
    }
    spec.health = nil
    spec.cwd = nil
    spec.main = false
    svc.service = spec
    assertSame(try decode(PromiseRecord.encode(svc, digest: .zero)), svc)
  }

  func testUnsetOptionalsStayUnset() throws {
    var p = Promise(id: "empty", type: .file)
    p.path = "/x"
    p.content = []
    let back = try decode(PromiseRecord.encode(p, digest: .zero))
    XCTAssertEqual(back.content, [], "empty content is content")
    XCTAssertNil(back.mode)
    XCTAssertNil(back.owner)
    XCTAssertNil(back.group)
    XCTAssertNil(back.source)
    XCTAssertNil(back.creates)
    XCTAssertNil(back.condition)
  }

  func testModeZeroIsKeptDistinctFromNoMode() throws {
    var p = Promise(id: "z", type: .directory)
    p.path = "/z"
    p.mode = 0
    XCTAssertEqual(try decode(PromiseRecord.encode(p, digest: .zero)).mode, 0)
  }

  func testEveryTruncationIsAnError() {
    let bytes = PromiseRecord.encode(fullFile, digest: contentDigest)
    for n in 0..<bytes.count {
      XCTAssertNotNil(decodeError(Array(bytes[0..<n])), "prefix of \(n) bytes")
    }
  }

  func testTruncationSaysTruncated() {
    let bytes = PromiseRecord.encode(fullFile, digest: contentDigest)
    XCTAssertEqual(decodeError(Array(bytes.dropLast()))?.message, "record truncated")
  }

  func testUnknownVersionIsAnError() {
    var bytes = PromiseRecord.encode(fullFile, digest: contentDigest)
    bytes[0] = 2
    XCTAssertEqual(decodeError(bytes)?.message, "promise record version 2 is not known")
  }

  func testUnknownTypeIsAnError() {
    var bytes = PromiseRecord.encode(fullFile, digest: contentDigest)
    bytes[1] = 0
    XCTAssertEqual(decodeError(bytes)?.message, "unknown promise type")
  }

  func testViewReadsTheCheckFieldsInPlace() throws {
    let bytes = PromiseRecord.encode(fullFile, digest: contentDigest)
    let view = try withBytes(bytes) { (raw) throws(RecordError) -> (PromiseType, Digest, UInt32, String, String, String, String, String, Bool, Bool, Bool, Bool) in
      let v = try PromiseView(raw)
      func s(_ b: UnsafeRawBufferPointer) -> String { String(decoding: b, as: UTF8.self) }
      return (v.type, v.digest, v.mode, s(v.id), s(v.path), s(v.owner), s(v.group), s(v.condition), v.absent, v.hasMode,
              v.hasOwner, v.managesContent)
    }
    XCTAssertEqual(view.0, .file)
    XCTAssertEqual(view.1, contentDigest)
    XCTAssertEqual(view.2, 0o4755)
    XCTAssertEqual(view.3, "app-conf")
    XCTAssertEqual(view.4, "/opt/app/app.conf")
    XCTAssertEqual(view.5, "app")
    XCTAssertEqual(view.6, "staff")
    XCTAssertEqual(view.7, "linux & !arm")
    XCTAssertFalse(view.8)
    XCTAssertTrue(view.9)
    XCTAssertTrue(view.10)
    XCTAssertTrue(view.11)
  }

  func testViewOfADirectoryManagesNoContent() throws {
    var d = Promise(id: "d", type: .directory)
    d.path = "/d"
    d.absent = true
    let flags = try withBytes(PromiseRecord.encode(d, digest: .zero)) { (raw) throws(RecordError) -> (Bool, Bool, Bool) in
      let v = try PromiseView(raw)
      return (v.absent, v.hasMode, v.managesContent)
    }
    XCTAssertTrue(flags.0)
    XCTAssertFalse(flags.1)
    XCTAssertFalse(flags.2)
  }

  func testViewRejectsEveryTruncation() {
    let bytes = PromiseRecord.encode(fullFile, digest: contentDigest)
    for n in 0..<bytes.count {
      let r: Result<Int, RecordError> = Array(bytes[0..<n]).withUnsafeBytes { raw in
        do throws(RecordError) { return .success(try PromiseView(raw).mode == 0 ? 0 : 1) } catch { return .failure(error) }
      }
      // The view reads up to the `unless` count; a record cut inside the last lists may still be viewable,
      // but never one cut before that.
      if case .success = r {
        XCTAssertThrowsError(try decode(Array(bytes[0..<n])), "a prefix the view accepts is still not a whole record")
      }
    }
  }

  func testKeysSortInPlanOrder() {
    let keys = [0, 1, 255, 256, 65_536, 1 << 24, Int(UInt32.max)].map(PromiseRecord.key)
    XCTAssertEqual(keys[0], [0, 0, 0, 0])
    XCTAssertEqual(keys[3], [0, 0, 1, 0])
    for (a, b) in zip(keys, keys.dropFirst()) { XCTAssertTrue(a.lexicographicallyPrecedes(b), "\(a) < \(b)") }
  }

  func testPromiseTypeRawValuesAreStable() {
    // Stored in `desired`: renumbering would misread every state directory.
    XCTAssertEqual(PromiseType.allCases.map(\.rawValue), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
    XCTAssertEqual(PromiseType.allCases.map(\.name), ["file", "directory", "link", "command", "service", "sysctl", "template", "line", "user", "group", "package"])
    for t in PromiseType.allCases { XCTAssertEqual(PromiseType(name: t.name), t) }
    XCTAssertNil(PromiseType(name: "File"))
  }

  /// A record stored before start_timeout existed ends after the health check: it decodes,
  /// with the default.
  func testAServiceRecordWithoutStartTimeoutKeepsTheDefault() throws {
    var svc = Promise(id: "s", type: .service)
    svc.exec = ["/usr/bin/app"]
    var settings = ServiceSpec()
    settings.startTimeoutMs = 5_000
    svc.service = settings
    let bytes = PromiseRecord.encode(svc, digest: .zero)
    XCTAssertEqual(try decode(bytes).service?.startTimeoutMs, 5_000)
    XCTAssertEqual(try decode(Array(bytes.dropLast(4))).service?.startTimeoutMs, 60_000)
  }

  func testAStoredConditionThatDoesNotParseIsACorruptRecord() {
    var p = Promise(id: "c", type: .file)
    p.path = "/etc/c"
    p.conditionText = "web &&"
    XCTAssertThrowsError(try decode(PromiseRecord.encode(p, digest: .zero))) { error in
      XCTAssertTrue("\(error)".contains("condition"), "\(error)")
    }
  }
}
