import EdgeCore
import XCTest

final class ResolvConfTests: XCTestCase {
  func testReadsServersSearchAndOptions() {
    let text = """
      # written by dhclient
      nameserver 10.0.0.2
      nameserver fd00::53
      nameserver\t10.0.0.3 ; trailing comment
      search lan example.com
      options ndots:2 timeout:3 attempts:4 rotate
      """
    let c = ResolvConf.parse(Array(text.utf8))
    XCTAssertEqual(c.nameservers, ["10.0.0.2", "10.0.0.3"], "IPv6 servers are skipped: the agent connects over IPv4")
    XCTAssertEqual(c.search, ["lan", "example.com"])
    XCTAssertEqual(c.ndots, 2)
    XCTAssertEqual(c.timeoutMs, 3000)
    XCTAssertEqual(c.attempts, 4)
  }

  func testEmptyFileMeansLocalServerAndGlibcDefaults() {
    let c = ResolvConf.parse([])
    XCTAssertEqual(c.nameservers, ["127.0.0.1"])
    XCTAssertEqual(c.timeoutMs, 5000)
    XCTAssertEqual(c.attempts, 2)
    XCTAssertEqual(c.ndots, 1)
  }

  func testAtMostThreeServersAndOptionsAreCapped() {
    let text = "nameserver 1.1.1.1\nnameserver 2.2.2.2\nnameserver 3.3.3.3\nnameserver 4.4.4.4\noptions timeout:999 attempts:0 ndots:99 timeout:x"
    let c = ResolvConf.parse(Array(text.utf8))
    XCTAssertEqual(c.nameservers, ["1.1.1.1", "2.2.2.2", "3.3.3.3"])
    XCTAssertEqual(c.timeoutMs, 30_000)
    XCTAssertEqual(c.attempts, 1)
    XCTAssertEqual(c.ndots, 15)
  }

  func testLastSearchOrDomainLineWins() {
    XCTAssertEqual(ResolvConf.parse(Array("search a b\ndomain c\n".utf8)).search, ["c"])
    XCTAssertEqual(ResolvConf.parse(Array("domain c\nsearch a b\n".utf8)).search, ["a", "b"])
  }

  func testCandidatesFollowNdots() {
    var c = ResolvConf()
    c.search = ["lan", "corp"]
    XCTAssertEqual(c.candidates("origin"), ["origin.lan", "origin.corp", "origin"])
    XCTAssertEqual(c.candidates("origin.example"), ["origin.example", "origin.example.lan", "origin.example.corp"])
    XCTAssertEqual(c.candidates("origin.example."), ["origin.example."])
    c.ndots = 2
    XCTAssertEqual(c.candidates("origin.example"), ["origin.example.lan", "origin.example.corp", "origin.example"])
  }

  func testHostsFileGivesFirstIPv4Entry() {
    let text = Array("# c\n10.0.0.5  origin origin.lan # x\n::1 v6\n10.0.0.6 origin\n".utf8)
    XCTAssertEqual(lookupHosts(text, "origin.lan"), "10.0.0.5")
    XCTAssertEqual(lookupHosts(text, "origin"), "10.0.0.5")
    XCTAssertNil(lookupHosts(text, "v6"))
    XCTAssertNil(lookupHosts(text, "x"), "comments are not names")
  }
}
