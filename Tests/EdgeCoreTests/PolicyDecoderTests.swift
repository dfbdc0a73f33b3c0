import Foundation
import XCTest
@testable import EdgeCore

/// A policy written line by line, so that tests can find where a piece of text is.
struct PolicyText {
  var lines: [String]
  init(_ lines: String...) { self.lines = lines }
  init(lines: [String]) { self.lines = lines }

  var bytes: [UInt8] { Array(lines.joined(separator: "\n").utf8) }

  /// 1-based line and byte column of the `occurrence`-th (0-based) appearance of `needle`.
  func position(of needle: String, occurrence: Int = 0) -> SourcePosition {
    var seen = 0
    for (n, line) in lines.enumerated() {
      var from = line.startIndex
      while let r = line[from...].range(of: needle) {
        if seen == occurrence {
          return SourcePosition(line: n + 1, column: line.utf8.distance(from: line.startIndex, to: r.lowerBound) + 1)
        }
        seen += 1
        from = r.upperBound
      }
    }
    XCTFail("\(needle) not in policy")
    return .none
  }
}

final class PolicyDecoderTests: XCTestCase {
  private func issues(_ text: PolicyText, file: StaticString = #filePath, line: UInt = #line) -> [PolicyIssue] {
    let streamed: [PolicyIssue]
    do {
      let p = try PolicyDecoder.decode(text.bytes)
      XCTFail("policy was accepted with \(p.promises.count) promises", file: file, line: line)
      return []
    } catch {
      streamed = error.issues
    }
    // A bundle's policy is decoded from a tree, a file's as it is read: the same issues.
    if let root = try? JSONReader.parse(text.bytes) {
      do {
        _ = try PolicyDecoder.decode(root)
        XCTFail("the tree of the policy was accepted", file: file, line: line)
      } catch {
        XCTAssertEqual(error.issues, streamed, "decoded from its tree", file: file, line: line)
      }
    }
    return streamed
  }

  private func one(_ text: PolicyText, file: StaticString = #filePath, line: UInt = #line) -> PolicyIssue? {
    let all = issues(text, file: file, line: line)
    XCTAssertEqual(all.count, 1, "\(all)", file: file, line: line)
    return all.first
  }

  /// A policy of one promise object, on line 2.
  private func single(_ promise: String) -> PolicyText {
    PolicyText(#"{"policy": "t", "promises": ["#, "  " + promise, "]}")
  }

  private var examplePolicy: [UInt8] {
    get throws {
      let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/gateway.json")
      return Array(try Data(contentsOf: url))
    }
  }

  // MARK: accepted

  func testExamplePolicyDecodes() throws {
    let policy = try PolicyDecoder.decode(try examplePolicy)
    XCTAssertEqual(policy.name, "gateway")
    XCTAssertEqual(policy.promises.map(\.id), ["app-dir", "app-conf", "app-env", "motd", "current", "old-conf", "router-only"])
    let dir = policy.promises[0]
    XCTAssertEqual(dir.type, .directory)
    XCTAssertEqual(dir.path, "/opt/app")
    XCTAssertEqual(dir.mode, 0o755)
    let conf = policy.promises[1]
    XCTAssertEqual(conf.type, .file)
    XCTAssertEqual(conf.mode, 0o640)
    XCTAssertEqual(conf.content, Array("port=8080\nlog=/var/log/app.log\n".utf8))
    XCTAssertFalse(conf.absent)
    XCTAssertEqual(conf.position, SourcePosition(line: 5, column: 5))
    XCTAssertNil(policy.promises[3].mode, "no mode given: the mode is left alone")
    XCTAssertEqual(policy.promises[4].type, .link)
    XCTAssertEqual(policy.promises[4].target, "/opt/app")
    XCTAssertTrue(policy.promises[5].absent)
    XCTAssertNil(policy.promises[5].content)
    let routerOnly = policy.promises[6]
    XCTAssertEqual(routerOnly.conditionText, "role_router & !arm")
    let condition = try XCTUnwrap(routerOnly.condition)
    XCTAssertFalse(condition.evaluate(classes: ["linux"]))
    XCTAssertTrue(condition.evaluate(classes: ["role_router"]))
    XCTAssertFalse(condition.evaluate(classes: ["role_router", "arm"]))
    XCTAssertEqual(policy.index(of: "motd"), 3)
    XCTAssertNil(policy.index(of: "nope"))
  }

  func testEveryPromiseTypeDecodesItsKeys() throws {
    let digest = String(repeating: "ab", count: 32)
    let text = PolicyText(
      #"{"policy": "all", "comment": "c", "$schema": "x", "promises": ["#,
      #"  {"id": "f", "type": "file", "path": "/etc/f", "source": "sha256:\#(digest)", "owner": "app", "group": "1000", "comment": "hi"},"#,
      #"  {"id": "d", "type": "directory", "path": "/var/x", "state": "absent", "purge": true},"#,
      #"  {"id": "l", "type": "link", "path": "/l", "target": "relative/target", "after": ["f"]},"#,
      #"  {"id": "c", "type": "command", "exec": ["/bin/true", "a"], "creates": "/done", "unless": ["/bin/false"], "timeout": 30, "notify": ["s"]},"#,
      #"  {"id": "s", "type": "service", "exec": ["/usr/bin/app"], "restart": "always", "health": {"tcp": "127.0.0.1:1"}, "user": "app", "start_timeout": "90s"},"#,
      #"  {"id": "k", "type": "sysctl", "key": "net.ipv4.ip_forward", "value": "1", "if": "linux"}"#,
      "]}")
    let p = try PolicyDecoder.decode(text.bytes)
    XCTAssertEqual(p.promises.map(\.type), [.file, .directory, .link, .command, .service, .sysctl])
    XCTAssertEqual(p.promises[0].source, Digest(hex: digest))
    XCTAssertNil(p.promises[0].content)
    XCTAssertEqual(p.promises[0].owner, "app")
    XCTAssertEqual(p.promises[0].group, "1000")
    XCTAssertTrue(p.promises[1].absent)
    XCTAssertTrue(p.promises[1].purge)
    XCTAssertEqual(p.promises[2].target, "relative/target")
    XCTAssertEqual(p.promises[2].after, ["f"])
    XCTAssertEqual(p.promises[3].exec, ["/bin/true", "a"])
    XCTAssertEqual(p.promises[3].creates, "/done")
    XCTAssertEqual(p.promises[3].unless, ["/bin/false"])
    XCTAssertEqual(p.promises[3].timeout, 30)
    XCTAssertEqual(p.promises[3].notify, ["s"])
    XCTAssertEqual(p.promises[4].owner, "app")
    XCTAssertEqual(p.promises[4].service?.startTimeoutMs, 90_000)
    XCTAssertEqual(p.promises[5].key, "net.ipv4.ip_forward")
    XCTAssertEqual(p.promises[5].value, "1")
  }

  func testStartTimeoutDefaultsTo60sAndIsAtLeast10ms() throws {
    func startTimeout(_ extra: String) throws -> UInt32? {
      try PolicyDecoder.decode(single(#"{"id": "s", "type": "service", "exec": ["/bin/app"]"# + extra + "}").bytes)
        .promises[0].service.map { $0.startTimeoutMs } ?? ServiceSpec().startTimeoutMs
    }
    XCTAssertEqual(try startTimeout(""), 60_000)
    XCTAssertEqual(try startTimeout(#", "start_timeout": 5"#), 5_000)
    XCTAssertEqual(try startTimeout(#", "start_timeout": "0ms""#), 10)
    XCTAssertThrowsError(try startTimeout(#", "start_timeout": "soon""#))
  }

  /// Issue 12 item 7: apply kept a large policy's text alive beside its tree and its Policy.
  /// `decode(releasing:)` lets the text go once parsed, and decodes the same policy.
  func testDecodeReleasingEmptiesTheBytesAndDecodesTheSame() throws {
    let text = Array(#"{"policy": "r", "promises": [{"id": "a", "type": "file", "path": "/a", "content": "x"}]}"#.utf8)
    var bytes = text
    let released = try PolicyDecoder.decode(releasing: &bytes)
    XCTAssertTrue(bytes.isEmpty)
    XCTAssertEqual(bytes.capacity, 0, "the storage itself is gone")
    let plain = try PolicyDecoder.decode(text)
    XCTAssertEqual(released.name, plain.name)
    XCTAssertEqual(released.promises.map(\.id), plain.promises.map(\.id))
    var bad = Array("{".utf8)
    XCTAssertThrowsError(try PolicyDecoder.decode(releasing: &bad))
  }

  /// With `readPast`, the reader says as it goes how much of the text it is done with, a megabyte
  /// or more at a time and only between promises, so that `apply` can give those pages back while
  /// the promises are decoded; the text it passed is never read again. The test's `readPast`
  /// zeroes what it is told of, as a dropped page reads: the policy decodes the same, and an error
  /// past the zeroed text keeps its line:column.
  func testDecodeReleasingTellsHowMuchOfTheTextItPassed() throws {
    var text = #"{"policy": "big", "promises": ["# + "\n"
    for i in 0..<45_000 {
      text += (i > 0 ? ",\n" : "") + #"{"id": "f\#(i)", "type": "file", "path": "/srv/f\#(i)", "content": "\#(i)"}"#
    }
    let good = Array((text + "]}").utf8)
    XCTAssertGreaterThan(good.count, 3 << 20)
    var bytes = good   // shared with `good`, which must not see the text let go
    told = []
    let released = try PolicyDecoder.decode(releasing: &bytes, readPast: { base, count in
      told.append(count)
      // Zeroed as a dropped page is: anything read again would not parse.
      UnsafeMutableRawPointer(mutating: base!).initializeMemory(as: UInt8.self, repeating: 0, count: count)
    })
    XCTAssertTrue(bytes.isEmpty)
    XCTAssertGreaterThanOrEqual(told.count, 3)
    XCTAssertEqual(told, told.sorted())
    for (a, b) in zip([0] + told, told) { XCTAssertGreaterThanOrEqual(b - a, 1 << 20) }
    XCTAssertLessThan(told.last ?? 0, good.count)
    let plain = try PolicyDecoder.decode(good)
    XCTAssertEqual(released.promises.map(\.id), plain.promises.map(\.id))
    XCTAssertEqual(released.promises.map(\.content), plain.promises.map(\.content))
    XCTAssertEqual(released.promises.map(\.position), plain.promises.map(\.position))
    // An error in the last promise, after the text told of: its place is the one a whole read gives.
    var bad = Array((text + ",\n" + #"{"id": "last", "type": "file", "path": "relative"}]}"#).utf8)
    var want: [PolicyIssue] = []
    do { _ = try PolicyDecoder.decode(bad); XCTFail("a relative path was accepted") } catch { want = error.issues }
    told = []
    XCTAssertThrowsError(try PolicyDecoder.decode(releasing: &bad, readPast: { base, count in
      told.append(count)
      UnsafeMutableRawPointer(mutating: base!).initializeMemory(as: UInt8.self, repeating: 0, count: count)
    })) { error in
      XCTAssertEqual((error as? PolicyError)?.issues, want)
      XCTAssertEqual(Set(want.map(\.promise)), ["last"])
      XCTAssertEqual((error as? PolicyError)?.issues.first?.position.line, 45_002)
    }
    XCTAssertFalse(told.isEmpty)
    XCTAssertTrue(bad.isEmpty, "a refused text is let go too")
  }

  func testATreeDecodesAsTheTextDoes() throws {
    let bytes = try examplePolicy
    let streamed = try PolicyDecoder.decode(bytes)
    let tree = try PolicyDecoder.decode(try JSONReader.parse(bytes))
    XCTAssertEqual(tree.name, streamed.name)
    XCTAssertEqual(tree.promises.map(\.id), streamed.promises.map(\.id))
    XCTAssertEqual(tree.promises.map(\.position), streamed.promises.map(\.position))
    XCTAssertEqual(tree.promises.map(\.content), streamed.promises.map(\.content))
    XCTAssertEqual(tree.promises.map(\.path), streamed.promises.map(\.path))
    XCTAssertEqual(try Plan.order(tree.promises), try Plan.order(streamed.promises))
  }

  /// Ids and owned objects are checked through a compact index (IndexTable) that grows from 16
  /// slots when a bundle's promises are streamed to it unsized, and is sized from the text
  /// otherwise: among 20,000 promises a late duplicate of each kind is still found, at its place,
  /// naming the first holder, and forward references resolve.
  func testDuplicatesAreFoundAmongManyPromisesSizedOrGrown() throws {
    var s = #"{"policy": "many", "promises": ["#
    for i in 0..<20_000 {
      let after = i % 1_000 == 0 && i + 1 < 20_000 ? #", "after": ["f\#(i + 1)"]"# : ""
      s += #"{"id": "f\#(i)", "type": "file", "path": "/d/f\#(i)", "mode": "0644"\#(after)},"# + "\n"
    }
    s += #"{"id": "u", "type": "user", "name": "app"}, {"id": "g", "type": "group", "name": "app"}, {"id": "p", "type": "package", "name": "app"},"# + "\n"
    let good = s + #"{"id": "l", "type": "line", "path": "/etc/app.conf", "line": "x"}, {"id": "l2", "type": "line", "path": "/etc/app.conf", "line": "y"}]}"#
    let policy = try PolicyDecoder.decode(Array(good.utf8))
    XCTAssertEqual(policy.promises.count, 20_005)
    let bad = s + #"{"id": "f17", "type": "directory", "path": "/x"},"# + "\n"
      + #"{"id": "again", "type": "file", "path": "/d/f19999", "mode": "0600"},"# + "\n"
      + #"{"id": "u2", "type": "user", "name": "app"}, {"id": "p2", "type": "package", "name": "app"},"# + "\n"
      + #"{"id": "l3", "type": "line", "path": "/d/f5", "line": "x"}, {"id": "r", "type": "file", "path": "/r", "mode": "0644", "after": ["nobody"]}]}"#
    let expected = [
      #"20002:1: promise "f17": key "id": duplicate id (first at 18:1)"#,
      #"20003:1: promise "again": key "path": path "/d/f19999" is already managed by promise "f19999""#,
      #"20004:1: promise "u2": key "name": user "app" is already promised by "u""#,
      #"20004:46: promise "p2": key "name": package "app" is already promised by "p""#,
      #"20005:1: promise "l3": key "path": path "/d/f5" is owned wholly by promise "f5": a line promise edits a file no other promise holds"#,
      #"20005:129: promise "r": key "after": "after" names unknown promise "nobody""#,
    ]
    let bytes = Array(bad.utf8)
    do {
      _ = try PolicyDecoder.decode(bytes)
      XCTFail("accepted")
    } catch {
      XCTAssertEqual(error.issues.map(\.description), expected)
    }
    // A bundle's way: the promises streamed to an index that starts small and grows.
    let (root, promises) = try JSONReader.parse(bytes, streaming: ["promises"], into: PolicyPromises())
    do {
      _ = try PolicyDecoder.decode(root, promises: promises)
      XCTFail("accepted")
    } catch {
      XCTAssertEqual(error.issues.map(\.description), expected)
    }
  }

  func testThePolicysOwnIssuesComeBeforeItsPromisesWhereverTheyAre() {
    let text = PolicyText(
      #"{"promises": ["#,
      #"  {"id": "a", "type": "file", "path": "rel", "content": ""}"#,
      #"], "extra": 1}"#)
    let all = issues(text)
    XCTAssertEqual(all.map { $0.key ?? "-" }, ["extra", "-", "path"])
    XCTAssertEqual(all.map(\.position.line), [3, 1, 2])
  }

  func testEmptyContentIsContent() throws {
    let p = try PolicyDecoder.decode(single(#"{"id": "e", "type": "file", "path": "/empty", "content": ""}"#).bytes)
    XCTAssertEqual(p.promises[0].content, [])
  }

  // MARK: rejected, with the place named

  func testUnknownKeyNamesPromiseIdKeyAndLineColumn() {
    let text = single(#"{"id": "app-conf", "type": "file", "path": "/a", "content": "x", "mdoe": "0644"}"#)
    let issue = one(text)
    XCTAssertEqual(issue?.promise, "app-conf")
    XCTAssertEqual(issue?.key, "mdoe")
    XCTAssertEqual(issue?.position, text.position(of: #""mdoe""#))
    XCTAssertTrue(issue?.message.contains("unknown key for a file promise") ?? false)
    XCTAssertTrue(issue?.message.contains("mode") ?? false, "the message suggests the key it resembles")
  }

  func testKeyOfAnotherTypeIsUnknown() {
    let text = single(#"{"id": "d", "type": "directory", "path": "/a", "content": "x"}"#)
    let issue = one(text)
    XCTAssertEqual(issue?.key, "content")
    XCTAssertEqual(issue?.position, text.position(of: #""content""#))
  }

  func testUnknownTopLevelKeyIsNamed() {
    let text = PolicyText(#"{"policy": "t", "promises": [],"#, #"  "promisses": []}"#)
    let issue = one(text)
    XCTAssertEqual(issue?.key, "promisses")
    XCTAssertNil(issue?.promise)
    XCTAssertEqual(issue?.position, SourcePosition(line: 2, column: 3))
  }

  func testDuplicateIdNamesLineAndColumnOfBoth() {
    let text = PolicyText(
      #"{"policy": "t", "promises": ["#,
      #"  {"id": "a", "type": "directory", "path": "/a"},"#,
      #"  {"id": "b", "type": "directory", "path": "/b"},"#,
      #"    {"id": "a", "type": "directory", "path": "/c"}"#,
      "]}")
    let issue = one(text)
    XCTAssertEqual(issue?.promise, "a")
    XCTAssertEqual(issue?.key, "id")
    XCTAssertEqual(issue?.position, SourcePosition(line: 4, column: 5))
    XCTAssertTrue(issue?.message.contains("duplicate id") ?? false)
    XCTAssertTrue(issue?.message.contains("first at 2:3") ?? false, issue?.message ?? "")
  }

  func testDuplicateOfAPromiseWithOtherIssuesIsReportedInTheSameRun() {
    let text = PolicyText(
      #"{"policy": "t", "promises": ["#,
      #"  {"id": "a", "type": "file", "path": "rel", "content": "x"},"#,
      #"  {"id": "a", "type": "directory", "path": "/c"},"#,
      #"  {"id": "b", "type": "directory", "path": "/b", "mode": "9"},"#,
      #"  {"id": "b", "type": "directory", "path": "/d"}"#,
      "]}")
    let found = issues(text)
    XCTAssertEqual(found.count, 4, "\(found)")
    let duplicates = found.filter { $0.message.contains("duplicate id") }
    XCTAssertEqual(duplicates.map(\.promise), ["a", "b"])
    XCTAssertEqual(duplicates.map(\.position), [SourcePosition(line: 3, column: 3), SourcePosition(line: 5, column: 3)])
    XCTAssertTrue(duplicates[0].message.contains("first at 2:3"), duplicates[0].message)
    XCTAssertTrue(found.contains { $0.promise == "a" && $0.key == "path" })
    XCTAssertTrue(found.contains { $0.promise == "b" && $0.key == "mode" })
  }

  func testRelativePathIsRejected() {
    let text = single(#"{"id": "r", "type": "file", "path": "etc/motd", "content": "x"}"#)
    let issue = one(text)
    XCTAssertEqual(issue?.key, "path")
    XCTAssertEqual(issue?.promise, "r")
    XCTAssertEqual(issue?.position, text.position(of: #""etc/motd""#))
    XCTAssertTrue(issue?.message.contains("relative") ?? false)
  }

  func testDotDotComponentIsRejected() {
    let text = single(#"{"id": "r", "type": "file", "path": "/opt/app/../../etc/shadow", "content": "x"}"#)
    let issue = one(text)
    XCTAssertEqual(issue?.key, "path")
    XCTAssertTrue(issue?.message.contains("'..'") ?? false, issue?.message ?? "")
  }

  func testDotDotInCreatesIsRejected() {
    let issue = one(single(#"{"id": "c", "type": "command", "exec": ["/bin/true"], "creates": "/a/../b"}"#))
    XCTAssertEqual(issue?.key, "creates")
  }

  func testNonOctalModeIsRejected() {
    for mode in ["0999", "rw-r--r--", "12345", "", "64", "0o644", "-644"] {
      let text = single(#"{"id": "m", "type": "file", "path": "/a", "content": "x", "mode": "\#(mode)"}"#)
      let issue = one(text)
      XCTAssertEqual(issue?.key, "mode", mode)
      XCTAssertEqual(issue?.position, text.position(of: #""\#(mode)""#), mode)
      XCTAssertTrue(issue?.message.contains("is not an octal mode") ?? false, mode)
    }
  }

  func testOctalModesParse() throws {
    for (text, mode) in [("0644", 0o644), ("644", 0o644), ("4755", 0o4755), ("0000", 0), ("7777", 0o7777)] as [(String, UInt32)] {
      let p = try PolicyDecoder.decode(single(#"{"id": "m", "type": "file", "path": "/a", "mode": "\#(text)"}"#).bytes)
      XCTAssertEqual(p.promises[0].mode, mode, text)
    }
  }

  func testNumericModeIsRejectedWithAHint() {
    let text = single(#"{"id": "m", "type": "file", "path": "/a", "content": "x", "mode": 644}"#)
    let issue = one(text)
    XCTAssertEqual(issue?.key, "mode")
    XCTAssertEqual(issue?.position, text.position(of: "644"))
    XCTAssertTrue(issue?.message.contains("string of octal digits") ?? false, issue?.message ?? "")
  }

  func testEmptyExecIsRejected() {
    let text = single(#"{"id": "c", "type": "command", "exec": []}"#)
    let issue = one(text)
    XCTAssertEqual(issue?.key, "exec")
    XCTAssertEqual(issue?.position, text.position(of: "[]"))
    XCTAssertTrue(issue?.message.contains("must not be empty") ?? false)
  }

  func testExecWithARelativeProgramIsRejected() {
    let issue = one(single(#"{"id": "c", "type": "service", "exec": ["app", "--x"]}"#))
    XCTAssertEqual(issue?.key, "exec")
    XCTAssertTrue(issue?.message.contains("absolute path") ?? false)
  }

  func testExecOfNonStringsIsRejected() {
    let text = single(#"{"id": "c", "type": "command", "exec": ["/bin/echo", 1]}"#)
    let issue = one(text)
    XCTAssertEqual(issue?.position, text.position(of: "1]"))
    XCTAssertTrue(issue?.message.contains("found number") ?? false)
  }

  func testBadClassExpressionIsRejected() {
    let text = single(#"{"id": "x", "type": "file", "path": "/a", "content": "", "if": "linux & (arm"}"#)
    let issue = one(text)
    XCTAssertEqual(issue?.key, "if")
    XCTAssertEqual(issue?.promise, "x")
    XCTAssertEqual(issue?.position, text.position(of: #""linux & (arm""#))
    XCTAssertTrue(issue?.message.contains("invalid class expression") ?? false)
    XCTAssertTrue(issue?.message.contains("expected ')'") ?? false, issue?.message ?? "")
  }

  func testMissingTypeIsRejected() {
    let text = single(#"{"id": "t", "path": "/a"}"#)
    let issue = one(text)
    XCTAssertEqual(issue?.promise, "t")
    XCTAssertEqual(issue?.position, SourcePosition(line: 2, column: 3))
    XCTAssertTrue(issue?.message.contains("missing key \"type\"") ?? false)
  }

  func testMissingIdIsRejected() {
    let issue = one(single(#"{"type": "file", "path": "/a", "content": ""}"#))
    XCTAssertEqual(issue?.promise, "#1 (file)", "named by its number and type")
    XCTAssertEqual(issue?.position, SourcePosition(line: 2, column: 3))
    XCTAssertTrue(issue?.message.contains("missing key \"id\"") ?? false)
  }

  func testUnknownTypeIsRejected() {
    let text = single(#"{"id": "t", "type": "files", "path": "/a"}"#)
    let issue = one(text)
    XCTAssertEqual(issue?.key, "type")
    XCTAssertEqual(issue?.position, text.position(of: #""files""#))
  }

  func testBadIdIsRejected() {
    for id in ["", "a b", "a/b", String(repeating: "x", count: 129)] {
      let text = single(#"{"id": "\#(id)", "type": "directory", "path": "/a"}"#)
      let issue = one(text)
      XCTAssertEqual(issue?.key, "id", id)
      XCTAssertEqual(issue?.position, text.position(of: #""\#(id)""#), id)
    }
  }

  func testTwoPromisesOnOnePathAreRejected() {
    let text = PolicyText(
      #"{"policy": "t", "promises": ["#,
      #"  {"id": "dir", "type": "directory", "path": "/opt/x"},"#,
      #"  {"id": "file", "type": "file", "path": "/opt/x", "content": ""}"#,
      "]}")
    let issue = one(text)
    XCTAssertEqual(issue?.promise, "file")
    XCTAssertEqual(issue?.key, "path")
    XCTAssertEqual(issue?.position, SourcePosition(line: 3, column: 3))
    XCTAssertTrue(issue?.message.contains("already managed by promise \"dir\"") ?? false, issue?.message ?? "")
  }

  func testWrongJSONTypeIsNamed() {
    let text = single(#"{"id": "w", "type": "file", "path": 5, "content": ""}"#)
    let issue = one(text)
    XCTAssertEqual(issue?.key, "path")
    XCTAssertEqual(issue?.message, "expected string, found number")
  }

  func testFileWithNothingToManageIsRejected() {
    let issue = one(single(#"{"id": "f", "type": "file", "path": "/a"}"#))
    XCTAssertTrue(issue?.message.contains("needs \"content\"") ?? false, issue?.message ?? "")
  }

  func testContentAndSourceTogetherAreRejected() {
    let digest = String(repeating: "0", count: 64)
    let issue = one(single(#"{"id": "f", "type": "file", "path": "/a", "content": "", "source": "sha256:\#(digest)"}"#))
    XCTAssertTrue(issue?.message.contains("not both") ?? false)
  }

  func testMalformedSourceIsRejected() {
    for source in ["sha256:abc", "md5:" + String(repeating: "0", count: 64), "sha256:" + String(repeating: "g", count: 64)] {
      let issue = one(single(#"{"id": "f", "type": "file", "path": "/a", "source": "\#(source)"}"#))
      XCTAssertEqual(issue?.key, "source", source)
    }
  }

  func testAbsentFileWithContentIsRejected() {
    let issue = one(single(#"{"id": "f", "type": "file", "path": "/a", "state": "absent", "content": "x"}"#))
    XCTAssertEqual(issue?.key, "state")
  }

  func testUnknownStateIsRejected() {
    let issue = one(single(#"{"id": "f", "type": "directory", "path": "/a", "state": "gone"}"#))
    XCTAssertEqual(issue?.key, "state")
  }

  func testPurgeWithoutAbsentIsRejected() {
    let issue = one(single(#"{"id": "d", "type": "directory", "path": "/a", "purge": true}"#))
    XCTAssertEqual(issue?.key, "purge")
  }

  func testLinkWithoutTargetIsRejected() {
    let issue = one(single(#"{"id": "l", "type": "link", "path": "/a"}"#))
    XCTAssertTrue(issue?.message.contains("missing key \"target\"") ?? false)
  }

  func testBadSysctlKeyIsRejected() {
    for key in ["net..ipv4", ".net", "net.", "net ipv4"] {
      let issue = one(single(#"{"id": "k", "type": "sysctl", "key": "\#(key)", "value": "1"}"#))
      XCTAssertEqual(issue?.key, "key", key)
    }
  }

  func testBadOwnerNameIsRejected() {
    let issue = one(single(#"{"id": "f", "type": "file", "path": "/a", "content": "", "owner": "root:root"}"#))
    XCTAssertEqual(issue?.key, "owner")
  }

  func testManyIssuesAreReportedAtOnceInSourceOrder() {
    let text = PolicyText(
      #"{"policy": "t", "promises": ["#,
      #"  {"id": "ok", "type": "directory", "path": "/ok"},"#,
      #"  {"id": "a", "type": "file", "path": "rel", "content": ""},"#,
      #"  {"id": "b", "type": "file", "path": "/b", "content": "", "mode": "999"},"#,
      #"  {"id": "c", "type": "command", "exec": []},"#,
      #"  {"id": "d", "type": "file", "path": "/d", "content": "", "if": "a |"},"#,
      #"  {"id": "e", "path": "/e"},"#,
      #"  {"id": "ok", "type": "directory", "path": "/z"}"#,
      "]}")
    let all = issues(text)
    XCTAssertEqual(all.map { $0.promise ?? "-" }, ["a", "b", "c", "d", "e", "ok"])
    XCTAssertEqual(all.map { $0.key ?? "-" }, ["path", "mode", "exec", "if", "-", "id"])
    XCTAssertEqual(all.map(\.position.line), [3, 4, 5, 6, 7, 8])
  }

  func testIssuesPastTheCapAreSummarised() {
    var lines = [#"{"policy": "t", "promises": ["#]
    for i in 0..<(PolicyDecoder.maxIssues + 10) {
      lines.append(#"  {"id": "p\#(i)", "type": "file", "path": "rel\#(i)", "content": ""},"#)
    }
    lines.append(#"  {"id": "last", "type": "directory", "path": "/ok"}"#)
    lines.append("]}")
    let all = issues(PolicyText(lines: lines))
    XCTAssertEqual(all.count, PolicyDecoder.maxIssues + 1)
    XCTAssertEqual(all.last?.message, "and 10 more issues")
    XCTAssertEqual(all[PolicyDecoder.maxIssues - 1].promise, "p\(PolicyDecoder.maxIssues - 1)")
  }

  func testDanglingAfterIsRejected() {
    let issue = one(single(#"{"id": "a", "type": "directory", "path": "/a", "after": ["ghost"]}"#))
    XCTAssertEqual(issue?.promise, "a")
    XCTAssertEqual(issue?.key, "after")
    XCTAssertTrue(issue?.message.contains("\"ghost\"") ?? false)
  }

  func testCycleIsRejected() {
    let text = PolicyText(
      #"{"policy": "t", "promises": ["#,
      #"  {"id": "a", "type": "directory", "path": "/a", "after": ["b"]},"#,
      #"  {"id": "b", "type": "directory", "path": "/b", "after": ["a"]}"#,
      "]}")
    let issue = one(text)
    XCTAssertTrue(issue?.message.contains("dependency cycle") ?? false)
  }

  func testTopLevelMustBeAnObject() {
    let issue = one(PolicyText("[]"))
    XCTAssertEqual(issue?.message, "a policy is a JSON object, found array")
    XCTAssertEqual(issue?.position, SourcePosition(line: 1, column: 1))
  }

  func testMissingNameAndPromisesAreBothReported() {
    let all = issues(PolicyText("{}"))
    XCTAssertEqual(all.count, 2)
    XCTAssertTrue(all[0].message.contains("\"policy\""))
    XCTAssertTrue(all[1].message.contains("\"promises\""))
  }

  func testEmptyPolicyNameIsRejected() {
    XCTAssertEqual(one(PolicyText(#"{"policy": "", "promises": []}"#))?.key, "policy")
  }

  func testMalformedJSONBecomesAnIssueWithItsPosition() {
    let text = PolicyText(#"{"policy": "t","#, #"  "promises": [],"#, "}")
    let issue = one(text)
    XCTAssertEqual(issue?.position, SourcePosition(line: 3, column: 1))
    XCTAssertTrue(issue?.message.contains("trailing comma") ?? false)
  }

  func testDuplicateKeyInAPromiseIsRejected() {
    let text = single(#"{"id": "m", "type": "file", "path": "/a", "mode": "0644", "mode": "0600"}"#)
    let issue = one(text)
    XCTAssertEqual(issue?.position, text.position(of: #""mode""#, occurrence: 1))
  }

  func testIssueDescriptionNamesPositionPromiseAndKey() {
    let text = single(#"{"id": "app-conf", "type": "file", "path": "/a", "content": "", "mode": "9"}"#)
    let issue = one(text)
    let at = text.position(of: #""9""#)
    XCTAssertEqual(issue?.description.hasPrefix("\(at.line):\(at.column): promise \"app-conf\": key \"mode\": "), true,
                   issue?.description ?? "")
  }
}

/// What the last `readPast` of PolicyDecoderTests was told: a C function captures nothing.
nonisolated(unsafe) private var told: [Int] = []
