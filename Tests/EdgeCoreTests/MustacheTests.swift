import EdgeCore
import XCTest

/// Templates as a config file's author writes them: golden outputs, and errors that name the
/// template's line:column and the name.
final class MustacheTests: XCTestCase {
  private func vars(_ json: String) throws -> JSONNode { try JSONReader.parse(Array(json.utf8)) }

  private func render(_ template: String, _ json: String = "{}", facts: HostFacts = HostFacts()) throws -> String {
    let contexts = templateContexts(facts: facts, vars: try vars(json), classVars: [])
    return String(decoding: try MustacheTemplate(parsing: Array(template.utf8)).render(contexts), as: UTF8.self)
  }

  private func error(_ template: String, _ json: String = "{}") -> String {
    do {
      _ = try render(template, json)
      return "rendered"
    } catch let e as TemplateError {
      return e.description
    } catch {
      return "\(error)"
    }
  }

  func testVariablesAreWrittenAsIsWithoutHTMLEscaping() throws {
    XCTAssertEqual(try render("a={{a}} b={{{b}}} c={{& c}} n={{n}} t={{t}}\n",
                              #"{"a": "<x&y>", "b": "\"q\"", "c": "1", "n": 8080, "t": true}"#),
                   "a=<x&y> b=\"q\" c=1 n=8080 t=true\n")
  }

  func testSectionsOverListsObjectsAndScalars() throws {
    let json = #"{"ups": [{"name": "a", "port": 80}, {"name": "b", "port": 81}], "dns": ["1.1.1.1", "9.9.9.9"], "tls": {"cert": "/c"}}"#
    let t = """
      upstream {
      {{#ups}}
        server {{name}}:{{port}};
      {{/ups}}
      }
      {{#dns}}nameserver {{.}}
      {{/dns}}{{#tls}}cert {{cert}}{{/tls}}

      """
    XCTAssertEqual(try render(t, json), "upstream {\n  server a:80;\n  server b:81;\n}\nnameserver 1.1.1.1\nnameserver 9.9.9.9\ncert /c\n")
  }

  func testStandaloneTagsLeaveNoBlankLinesAndCommentsVanish() throws {
    let t = "a\n  {{! a comment }}\n{{#on}}\nb\n{{/on}}\n{{^on}}\nc\n{{/on}}\nd\n"
    XCTAssertEqual(try render(t, #"{"on": true}"#), "a\nb\nd\n")
    XCTAssertEqual(try render(t, #"{"on": false}"#), "a\nc\nd\n")
  }

  func testFalseValuesSkipSectionsAndRunInvertedOnes() throws {
    for v in ["false", "null", "[]", "\"\""] {
      XCTAssertEqual(try render("{{#v}}yes{{/v}}{{^v}}no{{/v}}", #"{"v": \#(v)}"#), "no", v)
    }
    for v in ["true", "[1]", "\"x\"", "0", "{}"] {
      XCTAssertEqual(try render("{{#v}}yes{{/v}}{{^v}}no{{/v}}", #"{"v": \#(v)}"#), "yes", v)
    }
  }

  func testFactsByNameAndUnderFactsAndVarsHideShortNamesOnly() throws {
    var f = HostFacts()
    f.hostname = "gw-7"
    f.osID = "debian"
    XCTAssertEqual(try render("{{hostname}} {{facts.hostname}} {{os_id}}", facts: f), "gw-7 gw-7 debian")
    XCTAssertEqual(try render("{{hostname}} {{facts.hostname}}", #"{"hostname": "mine"}"#, facts: f), "mine gw-7")
  }

  func testDottedNamesAndInnerContextsFallBackOutwards() throws {
    let json = #"{"site": {"name": "s1", "dc": {"zone": "z"}}, "ups": [{"n": "a"}], "port": 1}"#
    XCTAssertEqual(try render("{{site.name}} {{site.dc.zone}} {{#ups}}{{n}}:{{port}}{{/ups}}", json), "s1 z a:1")
  }

  func testErrorsNameTheLineColumnAndTheName() {
    XCTAssertEqual(error("a\nlisten {{porrt}}\n", #"{"port": 1}"#),
                   #"template line 2:8: unknown variable "porrt" (not in the policy's vars nor the host's facts)"#)
    XCTAssertEqual(error("{{site.nmae}}", #"{"site": {"name": "x"}}"#),
                   #"template line 1:1: unknown variable "site.nmae" (not in the policy's vars nor the host's facts)"#)
    XCTAssertEqual(error("x\n{{#ups}}\ny"), #"template line 2:1: section "ups" is never closed"#)
    XCTAssertEqual(error("{{#a}}{{/b}}", #"{"a": true}"#), #"template line 1:7: "{{/b}}" closes "a" (opened at line 1:1)"#)
    XCTAssertEqual(error("{{/a}}"), #"template line 1:1: "{{/a}}" closes no section"#)
    XCTAssertEqual(error("{{> part}}"), "template line 1:1: partials are not supported")
    XCTAssertEqual(error("{{=<% %>=}}"), "template line 1:1: delimiter changes are not supported")
    XCTAssertEqual(error("{{a"), #"template line 1:1: unclosed tag ("}}" missing)"#)
    XCTAssertEqual(error("{{a b}}"), #"template line 1:1: "a b" is not a name (letters, digits, _ and -, parts joined by ".")"#)
    XCTAssertEqual(error("{{ups}}", #"{"ups": [1]}"#), "template line 1:1: \"ups\" is a list: use a section, {{#ups}}…{{/ups}}")
  }

  func testClassVarsOverrideInOrderWhenTheirClassesHold() throws {
    let base = try vars(#"{"port": "8080", "mode": "a"}"#)
    let o1 = ClassVars(condition: try ClassExpression(parsing: "gateway"), conditionText: "gateway",
                       vars: try XCTUnwrap(vars(#"{"port": "80"}"#).members))
    let o2 = ClassVars(condition: try ClassExpression(parsing: "arm"), conditionText: "arm",
                       vars: try XCTUnwrap(vars(#"{"port": "81", "mode": "b"}"#).members))
    let t = try MustacheTemplate(parsing: Array("{{port}} {{mode}}".utf8))
    func out(_ classes: Set<String>) throws -> String {
      String(decoding: try t.render(templateContexts(facts: HostFacts(), vars: base, classVars: [o1, o2],
                                                     isDefined: { classes.contains($0) })), as: UTF8.self)
    }
    XCTAssertEqual(try out([]), "8080 a")
    XCTAssertEqual(try out(["gateway"]), "80 a")
    XCTAssertEqual(try out(["gateway", "arm"]), "81 b")
  }

  func testOSReleaseIsReadAsTheShellQuotesIt() {
    var f = HostFacts()
    f.parseOSRelease(Array("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID='12.4'\nID_LIKE=\"ubuntu debian\"\n# c\nX=\"a\\\"b\"\n".utf8))
    XCTAssertEqual(f.osName, "Debian GNU/Linux 12 (bookworm)")
    XCTAssertEqual(f.osID, "debian")
    XCTAssertEqual(f.osVersionID, "12.4")
    XCTAssertEqual(f.osLike, ["ubuntu", "debian"])
    XCTAssertEqual(f.osClasses, ["debian", "debian_12", "ubuntu", "debian"])
    var openwrt = HostFacts()
    openwrt.parseOSRelease(Array("NAME=\"OpenWrt\"\nID=\"openwrt\"\nVERSION_ID=\"25.12.0\"\n".utf8))
    XCTAssertEqual(openwrt.osClasses, ["openwrt", "openwrt_25"])
  }
}
