import EdgeCore
import XCTest

/// Line edits on real-looking config files: what the edit concerns changes, every other byte
/// stays; and the regular expressions `match` takes.
final class LineEditTests: XCTestCase {
  private func edit(_ text: String, _ e: LineEdit, absent: Bool = false) -> String {
    String(decoding: e.apply(to: Array(text.utf8), absent: absent), as: UTF8.self)
  }

  private func re(_ s: String) throws -> LineRegex { try LineRegex(s) }

  static let sshd = "# sshd_config\n#PasswordAuthentication yes\nPort 22\nPasswordAuthentication yes\n\nX11Forwarding yes\nPasswordAuthentication maybe\nMatch User bob\n  X11Forwarding no"

  func testASettingRewritesTheFirstRemovesTheRestAndLeavesCommentsAndTheRest() {
    let e = LineEdit(key: "PasswordAuthentication", value: "no", separator: " ")
    XCTAssertEqual(edit(Self.sshd, e),
                   "# sshd_config\n#PasswordAuthentication yes\nPort 22\nPasswordAuthentication no\n\nX11Forwarding yes\nMatch User bob\n  X11Forwarding no")
    let kept = edit(Self.sshd, e)
    XCTAssertEqual(edit(kept, e), kept, "held: the same bytes")
    XCTAssertEqual(edit(Self.sshd, e, absent: true),
                   "# sshd_config\n#PasswordAuthentication yes\nPort 22\n\nX11Forwarding yes\nMatch User bob\n  X11Forwarding no")
  }

  func testAMissingSettingIsAddedAtTheEndOrTheStartAndAMissingNewlineIsMended() {
    XCTAssertEqual(edit("a=1\nb=2", LineEdit(key: "c", value: "3")), "a=1\nb=2\nc=3\n")
    XCTAssertEqual(edit("a=1\n\n\n", LineEdit(key: "c", value: "3")), "a=1\nc=3\n\n\n")
    XCTAssertEqual(edit("a=1\n", LineEdit(key: "c", value: "3", atStart: true)), "c=3\na=1\n")
    XCTAssertEqual(edit("", LineEdit(key: "c", value: "3", separator: " = ")), "c = 3\n")
  }

  func testSeparatorsMatchTheirMarkAndBlanks() {
    let sysctl = "# comment\nnet.ipv4.ip_forward=0\nnet.ipv4.ip_forward_x = 5\n  net.ipv4.ip_forward  =  0\n"
    XCTAssertEqual(edit(sysctl, LineEdit(key: "net.ipv4.ip_forward", value: "1", separator: " = ")),
                   "# comment\nnet.ipv4.ip_forward = 1\nnet.ipv4.ip_forward_x = 5\n")
    // "key value": a key that is a prefix of another is not it.
    XCTAssertEqual(edit("Port 22\nPortX 1\n", LineEdit(key: "Port", value: "2222", separator: " ")), "Port 2222\nPortX 1\n")
    XCTAssertEqual(edit("Port=22\n", LineEdit(key: "Port", value: "2222", separator: " ")), "Port=22\nPort 2222\n")
  }

  func testIniSectionsBoundTheSettingAndAMissingSectionIsAdded() {
    let ini = "[main]\nport=1\n\n[server]\nport=8080\nhost=a\n\n[other]\nport=3\n"
    XCTAssertEqual(edit(ini, LineEdit(key: "port", value: "80", section: "server")),
                   "[main]\nport=1\n\n[server]\nport=80\nhost=a\n\n[other]\nport=3\n")
    XCTAssertEqual(edit(ini, LineEdit(key: "tls", value: "on", section: "server")),
                   "[main]\nport=1\n\n[server]\nport=8080\nhost=a\ntls=on\n\n[other]\nport=3\n")
    XCTAssertEqual(edit(ini, LineEdit(key: "a", value: "b", section: "new")), ini + "[new]\na=b\n")
    XCTAssertEqual(edit(ini, LineEdit(key: "port", value: "", section: "other"), absent: true),
                   "[main]\nport=1\n\n[server]\nport=8080\nhost=a\n\n[other]\n")
  }

  func testALineByMatchIsReplacedOnceAndAnExactLineAddedOnce() throws {
    let e = LineEdit(line: "X11Forwarding no", match: try re("^X11Forwarding\\b"))
    XCTAssertEqual(edit(Self.sshd, e),
                   "# sshd_config\n#PasswordAuthentication yes\nPort 22\nPasswordAuthentication yes\n\nX11Forwarding no\nPasswordAuthentication maybe\nMatch User bob\n  X11Forwarding no")
    XCTAssertEqual(edit("a\nb\n", LineEdit(line: "c")), "a\nb\nc\n")
    XCTAssertEqual(edit("a\nc\nb\n", LineEdit(line: "c")), "a\nc\nb\n")
    XCTAssertEqual(edit("a\n#x\nx=1\nx=2\n", LineEdit(match: try re("^x=")), absent: true), "a\n#x\n")
    XCTAssertEqual(edit("a\nc\nc\n", LineEdit(line: "c"), absent: true), "a\n")
    // CRLF and odd bytes elsewhere in the file stay as they are.
    XCTAssertEqual(edit("a\r\n\u{1}b\nk=1\n", LineEdit(key: "k", value: "2")), "a\r\n\u{1}b\nk=2\n")
  }

  func testRegularExpressions() throws {
    func m(_ p: String, _ s: String) throws -> Bool { try re(p).matches(Array(s.utf8)[...]) }
    XCTAssertTrue(try m("^Port\\s+\\d+$", "Port 22"))
    XCTAssertFalse(try m("^Port\\s+\\d+$", "Port 22x"))
    XCTAssertTrue(try m("ab|cd", "xxcd"))
    XCTAssertTrue(try m("^(#\\s*)?Password[A-Z][a-z]+", "# PasswordAuthentication"))
    XCTAssertTrue(try m("^a{2,3}$", "aaa"))
    XCTAssertFalse(try m("^a{2,3}$", "aaaa"))
    XCTAssertTrue(try m("[^#]*=", "key=v"))
    XCTAssertFalse(try m("^[^#]*=", "#key=v"))
    XCTAssertTrue(try m("\\bport\\b", "a port b"))
    XCTAssertFalse(try m("\\bport\\b", "airport"))
    XCTAssertTrue(try m("x\\.y", "x.y"))
    XCTAssertFalse(try m("x\\.y", "xzy"))
    XCTAssertTrue(try m("^$", ""))
    // A pattern that is exponential for a backtracking engine is linear here.
    XCTAssertFalse(try m("^(a|a)*(a|a)*(a|a)*b$", String(repeating: "a", count: 5_000)))
    XCTAssertTrue(try m("^(a|a)*(a|a)*(a|a)*b$", String(repeating: "a", count: 5_000) + "b"))
    XCTAssertTrue(try m("(a*)*b", "aaab"))
    XCTAssertTrue(try m("^x(ab|a)(bc|c)$", "xabc"))
    XCTAssertFalse(try m("^x(ab|a)(bc|c)$", "xab"))
    XCTAssertTrue(try m("^a{0,2}b?$", ""))
    XCTAssertThrowsError(try LineRegex("(((a{255}){255}){255})"))
    for (bad, message) in [("(a", "at offset 0: unclosed \"(\""), ("a)", "at offset 1: unmatched \")\""), ("*a", "at offset 0: \"*\" repeats nothing"),
                           ("[a", "at offset 0: unclosed \"[\""), ("a{3,1}", "at offset 1: bad repeat count (at most 255, m <= n)"),
                           ("\\q", "at offset 0: unknown escape \"\\q\""), ("a**", "at offset 2: \"*\" repeats nothing"), ("^*", "at offset 1: an anchor cannot repeat")] {
      XCTAssertThrowsError(try LineRegex(bad), bad) { XCTAssertEqual("\($0)", message, bad) }
    }
  }
}
