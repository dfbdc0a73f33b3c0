import XCTest
@testable import EdgeCore

/// What the decoder's messages tell an operator (issue 19): a guess for a misspelled key, a
/// name for a promise without an id, references at their own line:column, and durations.
final class PolicyDecoderMessageTests: XCTestCase {
  /// The issues of a policy the decoder must reject, the same from the text and from its tree.
  private func issues(_ text: PolicyText, file: StaticString = #filePath, line: UInt = #line) -> [PolicyIssue] {
    var streamed: [PolicyIssue] = []
    do {
      _ = try PolicyDecoder.decode(text.bytes)
      XCTFail("policy was accepted", file: file, line: line)
    } catch {
      streamed = error.issues
    }
    if let root = try? JSONReader.parse(text.bytes) {
      do {
        _ = try PolicyDecoder.decode(root)
        XCTFail("its tree was accepted", file: file, line: line)
      } catch {
        XCTAssertEqual(error.issues, streamed, "decoded from its tree", file: file, line: line)
      }
    }
    return streamed
  }

  private func single(_ promise: String) -> PolicyText {
    PolicyText(#"{"policy": "t", "promises": ["#, "  " + promise, "]}")
  }

  // MARK: did you mean

  func testMisspelledKeyIsAnsweredWithTheKeyItResembles() {
    let text = single(#"{"id": "motd", "type": "file", "path": "/etc/motd", "contnet": "hi"}"#)
    let all = issues(text)
    let issue = all.first { $0.key == "contnet" }
    XCTAssertEqual(issue?.message, #"unknown key for a file promise: did you mean "content"?"#)
    XCTAssertEqual(issue?.position, text.position(of: #""contnet""#))
    XCTAssertEqual(issue?.description, #"2:55: promise "motd": key "contnet": unknown key for a file promise: did you mean "content"?"#)
  }

  func testAKeyLikeNoneIsAnsweredWithTheAllowedKeys() {
    let issue = issues(single(#"{"id": "d", "type": "directory", "path": "/a", "colour": "red"}"#)).first
    XCTAssertFalse(issue?.message.contains("did you mean") ?? true, issue?.message ?? "")
    XCTAssertTrue(issue?.message.contains("(allowed: path, mode, owner, group, state, purge, after, notify, if, comment)") ?? false,
                  issue?.message ?? "")
  }

  func testMisspelledPolicyAndHealthKeysAreAnsweredToo() {
    let text = PolicyText(
      #"{"policy": "t", "promisses": [], "promises": ["#,
      #"  {"id": "web", "type": "service", "exec": ["/bin/httpd"], "health": {"tcp": "127.0.0.1:80", "intervall": "1s"}}"#,
      "]}")
    let all = issues(text)
    XCTAssertEqual(all.map(\.message), [#"unknown key: did you mean "promises"?"#, #"unknown key: did you mean "interval"?"#])
    XCTAssertEqual(all.map(\.position), [text.position(of: #""promisses""#), text.position(of: #""intervall""#)])
  }

  func testSuggestionsAreOnlyCloseOnes() {
    let keys = ["path", "content", "source", "mode", "owner", "group", "state"]
    XCTAssertEqual(suggestion(for: "Content", among: keys), "content", "case is ignored")
    XCTAssertEqual(suggestion(for: "mdoe", among: keys), "mode", "two neighbours swapped is one edit")
    XCTAssertEqual(suggestion(for: "pth", among: keys), "path")
    XCTAssertEqual(suggestion(for: "contents", among: keys), "content")
    XCTAssertNil(suggestion(for: "colour", among: keys))
    XCTAssertNil(suggestion(for: "md", among: keys), "2 edits is too many for a short word")
    XCTAssertNil(suggestion(for: "x", among: ["y"]), "never a guess that replaces the whole word")
    XCTAssertNil(suggestion(for: "", among: keys))
  }

  // MARK: a promise without an id

  func testAPromiseWithoutAnIdIsNamedByItsNumberAndType() {
    let text = PolicyText(
      #"{"policy": "t", "promises": ["#,
      #"  {"id": "a", "type": "directory", "path": "/a"},"#,
      #"  {"id": "b", "type": "directory", "path": "/b"},"#,
      #"  {"type": "file", "path": "/c", "content": "", "mode": "999"}"#,
      "]}")
    let all = issues(text)
    XCTAssertEqual(all.map(\.promise), ["#3 (file)", "#3 (file)"], "\(all)")
    XCTAssertEqual(all.map(\.description), [
      #"4:3: promise #3 (file): missing key "id""#,
      #"\#(text.position(of: #""999""#)): promise #3 (file): key "mode": "999" is not an octal mode (e.g. "0644", at most "7777")"#,
    ])
  }

  func testABadIdDoesNotHideThePromisesOtherIssues() {
    let text = single(#"{"id": "a b", "type": "link", "path": "rel"}"#)
    let all = issues(text)
    XCTAssertEqual(all.map(\.key), ["id", "path", nil], "\(all)")
    XCTAssertEqual(Set(all.map(\.promise)), ["#1 (link)"])
  }

  func testAPromiseWithNoIdAndNoTypeIsNamedByItsNumber() {
    let all = issues(single(#"{"path": "/a"}"#))
    XCTAssertEqual(all.map(\.promise), ["#1", "#1"], "\(all)")
  }

  // MARK: references at their value

  func testAnUnknownAfterOrNotifyIsReportedAtTheValue() {
    let text = PolicyText(
      #"{"policy": "t", "promises": ["#,
      #"  {"id": "conf", "type": "file", "path": "/etc/app.conf", "content": "x","#,
      #"   "after": ["base", "ghost"], "notify": ["app", "spook"]},"#,
      #"  {"id": "base", "type": "directory", "path": "/srv"},"#,
      #"  {"id": "app", "type": "service", "exec": ["/bin/app"], "after": ["conf", "phantom"]}"#,
      "]}")
    let all = issues(text)
    XCTAssertEqual(all.count, 3, "\(all)")
    func find(_ id: String) -> PolicyIssue? { all.first { $0.message.contains("\"\(id)\"") } }
    XCTAssertEqual(find("ghost")?.position, text.position(of: #""ghost""#))
    XCTAssertEqual(find("ghost")?.key, "after")
    XCTAssertEqual(find("ghost")?.promise, "conf")
    XCTAssertEqual(find("ghost")?.message, #""after" names unknown promise "ghost""#)
    XCTAssertEqual(find("spook")?.position, text.position(of: #""spook""#))
    XCTAssertEqual(find("spook")?.key, "notify")
    XCTAssertEqual(find("phantom")?.position, text.position(of: #""phantom""#))
    XCTAssertEqual(find("phantom")?.promise, "app")
  }

  func testAPromiseNamingItselfIsReportedAtTheValue() {
    let text = single(#"{"id": "a", "type": "directory", "path": "/a", "notify": ["a"]}"#)
    let all = issues(text)
    XCTAssertEqual(all.map(\.message), ["a promise cannot notify itself"])
    XCTAssertEqual(all.first?.position, text.position(of: #"["a"]"#).advanced(1))
  }

  func testAnUnknownReferenceIsReportedWithTheOtherIssues() {
    let text = single(#"{"id": "a", "type": "directory", "path": "/a", "mode": "9", "after": ["nobody"]}"#)
    XCTAssertEqual(issues(text).map(\.key), ["mode", "after"])
  }

  func testReferencesForwardAndBackResolve() throws {
    let text = PolicyText(
      #"{"policy": "t", "promises": ["#,
      #"  {"id": "conf", "type": "file", "path": "/etc/app.conf", "content": "x", "notify": ["app"]},"#,
      #"  {"id": "app", "type": "service", "exec": ["/bin/app"], "after": ["conf"]}"#,
      "]}")
    let p = try PolicyDecoder.decode(text.bytes)
    XCTAssertEqual(try p.order().map { p.promises[$0].id }, ["conf", "app"])
  }

  // MARK: durations

  private func command(_ timeout: String) throws(PolicyError) -> Int {
    let p = try PolicyDecoder.decode(single(#"{"id": "c", "type": "command", "exec": ["/bin/true"], "timeout": \#(timeout)}"#).bytes)
    return p.promises[0].timeout
  }

  func testACommandTimeoutTakesTheDurationGrammarInWholeSeconds() throws {
    XCTAssertEqual(try command("90"), 90)
    XCTAssertEqual(try command(#""5m30s""#), 330)
    XCTAssertEqual(try command(#""1h""#), 3600)
    XCTAssertEqual(try command(#""1d""#), 86_400)
    for bad in [#""250ms""#, #""1d1s""#, "86401", #""30s5m""#, "-1", #""soon""#] {
      XCTAssertThrowsError(try command(bad), bad) { e in
        XCTAssertTrue("\(e)".contains("expected a duration from 1s to 1d"), "\(e)")
      }
    }
  }

  func testACommandTimeoutOfZeroIsRefusedWithTheWayToSayNone() {
    for zero in ["0", #""0s""#, #""0ms""#] {
      let text = single(#"{"id": "c", "type": "command", "exec": ["/bin/true"], "timeout": \#(zero)}"#)
      let all = issues(text)
      XCTAssertEqual(all.map(\.message), [#"a timeout of 0 is not allowed: leave "timeout" out for none"#], zero)
      XCTAssertEqual(all.first?.position, text.position(of: #""timeout": "#).advanced(11), zero)
    }
  }

  func testServiceDurationsTakeSeveralParts() throws {
    let text = single(#"{"id": "s", "type": "service", "exec": ["/bin/s"], "stop_timeout": "1m30s", "start_timeout": "2m", "health": {"tcp": "127.0.0.1:80", "interval": "1s500ms", "timeout": 3}}"#)
    let spec = try XCTUnwrap(try PolicyDecoder.decode(text.bytes).promises[0].service)
    XCTAssertEqual(spec.stopTimeoutMs, 90_000)
    XCTAssertEqual(spec.startTimeoutMs, 120_000)
    XCTAssertEqual(spec.health?.intervalMs, 1500)
    XCTAssertEqual(spec.health?.timeoutMs, 3000)
    let long = issues(single(#"{"id": "s", "type": "service", "exec": ["/bin/s"], "stop_timeout": "1d1ms"}"#))
    XCTAssertEqual(long.first?.key, "stop_timeout")
    XCTAssertTrue(long.first?.message.hasPrefix("expected a duration from 0s to 1d") ?? false, "\(long)")
  }
}

private extension SourcePosition {
  func advanced(_ n: Int) -> SourcePosition { SourcePosition(line: line, column: column + n) }
}

/// Every issue a policy's text gets, as `validate` prints them (without the file's name).
private func decodeIssues(_ text: String) -> [String] {
  do {
    _ = try PolicyDecoder.decode(Array(text.utf8))
    return []
  } catch {
    return error.issues.map { $0.description }
  }
}

/// Templates and vars: refused at decode, on any host, with the place.
final class TemplateDecoderTests: XCTestCase {
  private func issues(_ text: String) -> [String] { decodeIssues(text) }

  func testATemplateNeedsItsTextOrABlobAndKnownNames() {
    XCTAssertEqual(issues(#"{"policy": "p", "promises": [{"id": "t", "type": "template", "path": "/a"}]}"#),
                   [#"1:30: promise "t": a template promise needs "template" (inline) or "source" (a blob), one of them"#])
    XCTAssertEqual(issues(#"{"policy": "p", "vars": {"port": "1"}, "promises": [{"id": "t", "type": "template", "path": "/a", "template": "x\n{{prt}}"}]}"#),
                   [#"1:53: promise "t": key "template": template line 2:1: unknown variable "prt" (not in the policy's vars nor the host's facts)"#])
    XCTAssertEqual(issues(#"{"policy": "p", "promises": [{"id": "t", "type": "template", "path": "/a", "template": "{{#a}}"}]}"#),
                   [#"1:88: promise "t": key "template": template line 1:1: section "a" is never closed"#])
    XCTAssertEqual(issues(#"{"policy": "p", "promises": [{"id": "t", "type": "template", "path": "/a", "template": "{{hostname}} {{facts.cpus}}", "content": "x"}]}"#).count, 1)
  }

  func testVarsNamesAndClassOverridesAreChecked() {
    XCTAssertEqual(issues(#"{"policy": "p", "vars": {"facts": 1, "a b": 2}, "promises": []}"#),
                   [#"1:26: key "vars": "facts" is the host's facts: name the variable otherwise"#,
                    #"1:38: key "vars": "a b" is not a variable name (1 to 128 letters, digits, _ and -)"#])
    XCTAssertEqual(issues(#"{"policy": "p", "vars": {"port": "1"}, "class_vars": [{"if": "arm", "vars": {"prot": "2"}}], "promises": []}"#),
                   [#"1:78: key "class_vars.vars": "prot" is not in "vars": a class override may only replace a variable "vars" defines"#])
    XCTAssertEqual(issues(#"{"policy": "p", "vars": {"port": "1"}, "class_vars": [{"if": "arm &", "vars": {}}], "promises": []}"#).count, 1)
    XCTAssertEqual(issues(#"{"policy": "p", "vars": {"port": "1"}, "class_vars": [{"vars": {}}], "promises": []}"#),
                   [#"1:55: key "class_vars": missing key "if""#])
  }
}

/// Line promises: their keys, and the files they may edit.
final class LineDecoderTests: XCTestCase {
  private func issues(_ promises: String) -> [String] { decodeIssues(#"{"policy": "p", "promises": [\#(promises)]}"#) }

  func testSeveralLinesMayEditAFileNoneAFileAnotherPromiseOwns() {
    XCTAssertEqual(issues(#"{"id": "a", "type": "line", "path": "/etc/x", "key": "a", "value": "1"}, {"id": "b", "type": "line", "path": "/etc/x", "line": "b"}"#), [])
    XCTAssertEqual(issues(#"{"id": "f", "type": "file", "path": "/etc/x", "content": ""}, {"id": "b", "type": "line", "path": "/etc/x", "line": "b"}"#),
                   [#"1:92: promise "b": key "path": path "/etc/x" is owned wholly by promise "f": a line promise edits a file no other promise holds"#])
    XCTAssertEqual(issues(#"{"id": "b", "type": "line", "path": "/etc/x", "line": "b"}, {"id": "f", "type": "file", "path": "/etc/x", "content": ""}"#),
                   [#"1:90: promise "f": key "path": path "/etc/x" is already managed by promise "b""#])
  }

  func testLineKeysAreChecked() {
    XCTAssertEqual(issues(#"{"id": "a", "type": "line", "path": "/etc/x", "line": "b", "match": "(b"}"#),
                   [#"1:98: promise "a": key "match": invalid regular expression "(b": at offset 0: unclosed "(""#])
    XCTAssertEqual(issues(#"{"id": "a", "type": "line", "path": "/etc/x", "key": "k"}"#),
                   [#"1:30: promise "a": a setting needs "value" (or "state": "absent")"#])
    XCTAssertEqual(issues(#"{"id": "a", "type": "line", "path": "/etc/x"}"#),
                   [#"1:30: promise "a": a line promise needs "line" (and "match" to replace), or "key" and "value""#])
    XCTAssertEqual(issues(#"{"id": "a", "type": "line", "path": "/etc/x", "line": "a", "key": "k", "value": "v"}"#).count, 1)
    XCTAssertEqual(issues(#"{"id": "a", "type": "line", "path": "/etc/x", "line": "a\nb"}"#),
                   [#"1:84: promise "a": key "line": one line, with no newline or NUL"#])
    XCTAssertEqual(issues(#"{"id": "a", "type": "line", "path": "/etc/x", "match": "^x", "state": "absent"}"#), [])
  }
}

/// User and group promises: their keys and their names.
final class AccountDecoderTests: XCTestCase {
  private func issues(_ promises: String) -> [String] { decodeIssues(#"{"policy": "p", "promises": [\#(promises)]}"#) }

  func testAccountKeysAreChecked() {
    XCTAssertEqual(issues(#"{"id": "u", "type": "user", "name": "app", "uid": 1001, "groups": ["dialout"], "home": "/srv/app", "password": "!"}"#), [])
    XCTAssertEqual(issues(#"{"id": "u", "type": "user", "uid": 1}"#), [#"1:30: promise "u": missing key "name" for a user promise"#])
    XCTAssertEqual(issues(#"{"id": "u", "type": "user", "name": "a:b"}"#),
                   [#"1:66: promise "u": key "name": no ":", newline or NUL in an account's field"#])
    XCTAssertEqual(issues(#"{"id": "u", "type": "user", "name": "1000"}"#), [#"1:66: promise "u": key "name": a user or group name is not a number"#])
    XCTAssertEqual(issues(#"{"id": "u", "type": "user", "name": "a", "uid": -1}"#), [#"1:78: promise "u": key "uid": expected a number from 0 to 4294967294"#])
    XCTAssertEqual(issues(#"{"id": "u", "type": "user", "name": "a", "home": "srv"}"#).count, 1)
    XCTAssertEqual(issues(#"{"id": "g", "type": "group", "name": "a", "uid": 3}"#).count, 1, "a group has a gid")
  }

  func testAnAccountIsPromisedOnce() {
    XCTAssertEqual(issues(#"{"id": "a", "type": "user", "name": "app"}, {"id": "b", "type": "user", "name": "app"}, {"id": "c", "type": "group", "name": "app"}"#),
                   [#"1:74: promise "b": key "name": user "app" is already promised by "a""#])
  }
}

/// Package promises: their names, states and versions.
final class PackageDecoderTests: XCTestCase {
  private func issues(_ promises: String) -> [String] { decodeIssues(#"{"policy": "p", "promises": [\#(promises)]}"#) }

  func testPackageKeysAreChecked() {
    XCTAssertEqual(issues(#"{"id": "a", "type": "package", "name": "nginx", "state": "1:1.22.1-9+deb12u1"}, {"id": "b", "type": "package", "name": "g++"}"#), [])
    XCTAssertEqual(issues(#"{"id": "a", "type": "package", "name": "nginx", "state": "latest"}"#),
                   [#"1:87: promise "a": key "state": expected "present", "absent" or a version (starting with a digit, e.g. "1.2.3-1")"#])
    XCTAssertEqual(issues(#"{"id": "a", "type": "package", "name": "-x"}"#),
                   [#"1:69: promise "a": key "name": a package name starts with a letter or digit (1 to 128 characters)"#])
    XCTAssertEqual(issues(#"{"id": "a", "type": "package", "name": "x", "state": "absent", "source": "sha256:\#(String(repeating: "0", count: 64))"}"#).count, 1)
    XCTAssertEqual(issues(#"{"id": "a", "type": "package", "name": "x"}, {"id": "b", "type": "package", "name": "x", "state": "absent"}"#),
                   [#"1:75: promise "b": key "name": package "x" is already promised by "a""#])
  }
}
