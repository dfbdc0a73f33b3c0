import EdgeCore
import XCTest

final class PolicyBundleTests: XCTestCase {
  let policy = #"{"policy": "p", "promises": [{"id": "a", "type": "file", "path": "/a", "source": "sha256:"# + String(repeating: "ab", count: 32) + #""}]}"#

  func bundle(_ extra: String = "", blobs: String? = nil) -> [UInt8] {
    Array(#"{"serial": 4, "issued": 100, "expires": 200, "policy": \#(policy), "blobs": \#(blobs ?? "{\"" + String(repeating: "ab", count: 32) + "\": 3}")\#(extra)}"#.utf8)
  }

  func testDecodes() throws {
    let b = try PolicyBundle.decode(bundle(#", "relays": ["http://127.0.0.1:7070"]"#))
    XCTAssertEqual(b.serial, 4)
    XCTAssertEqual(b.issued, 100)
    XCTAssertEqual(b.expires, 200)
    XCTAssertEqual(b.policy.promises.count, 1)
    XCTAssertEqual(b.blobs, [BundleBlob(digest: Digest(hex: String(repeating: "ab", count: 32))!, size: 3)])
    XCTAssertEqual(b.relays.first?.port, 7070)
  }

  func testUnknownKeyHasAPosition() {
    XCTAssertThrowsError(try PolicyBundle.decode(bundle(#", "extra": 1"#))) {
      let e = $0 as! BundleFormatError
      XCTAssertEqual(e.position.line, 1)
      XCTAssertTrue(containsText(e.message, "unknown key \"extra\""))
    }
  }

  func testSourceMustBeListed() {
    XCTAssertThrowsError(try PolicyBundle.decode(bundle(blobs: "{}"))) {
      XCTAssertTrue(containsText(($0 as! BundleFormatError).message, "not listed"))
    }
  }

  func testPolicyErrorsCarryTheirPosition() {
    let bad = Array(#"{"serial": 1, "issued": 1, "expires": 2,\#n "policy": {"policy": "p", "promises": [{"id": "a", "type": "nope"}]}}"#.utf8)
    XCTAssertThrowsError(try PolicyBundle.decode(bad)) {
      let e = $0 as! BundleFormatError
      XCTAssertEqual(e.position.line, 2)
      XCTAssertTrue(containsText(e.message, "unknown type"))
    }
  }

  func testTheTextAndItsTreeDecodeAlike() throws {
    // PolicyBundle.decode(bytes) decodes the policy's promises as they are read; from a tree,
    // they are decoded from it: the same bundle, the same errors.
    let good = bundle()
    let streamed = try PolicyBundle.decode(good)
    let tree = try PolicyBundle.decode(try JSONReader.parse(good))
    XCTAssertEqual(streamed.policy.promises.map(\.id), tree.policy.promises.map(\.id))
    XCTAssertEqual(streamed.policy.promises.map(\.source), tree.policy.promises.map(\.source))
    XCTAssertEqual(streamed.policy.promises.map(\.position), tree.policy.promises.map(\.position))
    let bad = [
      #"{"serial": 1, "issued": 1, "expires": 2,\#n "policy": {"policy": "p", "promises": [{"id": "a", "type": "nope"}, 7]}}"#,
      #"{"serial": 0, "policy": {"policy": "p", "promises": [{"id": "a", "type": "nope"}]}}"#,
      #"{"serial": 1, "issued": 1, "expires": 2, "policy": {"promises": [{"id": "a"}], "x": 1}}"#,
      #"{"serial": 1, "issued": 1, "expires": 2, "policy": {"policy": "p", "promises": {}}}"#,
      #"{"serial": 1, "issued": 1, "expires": 2, "policy": [{"promises": []}]}"#,
    ]
    for text in bad {
      let bytes = Array(text.utf8)
      var messages: [String] = []
      for decode in [{ try PolicyBundle.decode(bytes) }, { try PolicyBundle.decode(try JSONReader.parse(bytes)) }] {
        XCTAssertThrowsError(try decode(), text) { e in
          let e = e as! BundleFormatError
          messages.append("\(e.position): \(e.message)")
        }
      }
      XCTAssertEqual(messages.count, 2, text)
      XCTAssertEqual(messages.first, messages.last, text)
    }
  }

  func testEncodeRoundTrips() throws {
    let node = try JSONReader.parse(Array(policy.utf8))
    let d = Digest(hex: String(repeating: "ab", count: 32))!
    let bytes = PolicyBundle.encode(serial: 9, issued: 5, expires: 10, policy: node, blobs: [BundleBlob(digest: d, size: 3)],
                                    relays: ["http://10.0.0.1:7070"])
    let b = try PolicyBundle.decode(bytes)
    XCTAssertEqual(b.serial, 9)
    XCTAssertEqual(b.relays.first?.host, "10.0.0.1")
  }

  func testRelayFanoutDefaultsToTenAndIsBounded() throws {
    XCTAssertEqual(try PolicyBundle.decode(bundle()).relayFanout, 10)
    XCTAssertEqual(try PolicyBundle.decode(bundle(#", "relay_fanout": 3"#)).relayFanout, 3)
    for bad in ["0", "1001", "2.5", "\"10\""] {
      XCTAssertThrowsError(try PolicyBundle.decode(bundle(#", "relay_fanout": "# + bad)), bad) {
        XCTAssertTrue(containsText(($0 as! BundleFormatError).message, "relay_fanout"), bad)
      }
    }
  }

  func testARelayListedTwiceIsRefused() {
    XCTAssertThrowsError(try PolicyBundle.decode(bundle(#", "relays": ["http://10.0.0.1:7070", "http://10.0.0.2:7070", "http://10.0.0.1:7070/"]"#))) {
      let e = $0 as! BundleFormatError
      XCTAssertTrue(containsText(e.message, "listed twice"), e.message)
      XCTAssertEqual(e.position.line, 1)
    }
  }

  func testEncodeWritesTheFanoutOnlyWhenGiven() throws {
    let node = try JSONReader.parse(Array(policy.utf8))
    let d = Digest(hex: String(repeating: "ab", count: 32))!
    let with = PolicyBundle.encode(serial: 9, issued: 5, expires: 10, policy: node, blobs: [BundleBlob(digest: d, size: 3)],
                                   relays: [], relayFanout: 4)
    XCTAssertEqual(try PolicyBundle.decode(with).relayFanout, 4)
    let without = PolicyBundle.encode(serial: 9, issued: 5, expires: 10, policy: node, blobs: [BundleBlob(digest: d, size: 3)],
                                      relays: [])
    XCTAssertFalse(containsText(String(decoding: without, as: UTF8.self), "relay_fanout"))
  }

  func testFreshnessOrder() {
    let b = try! PolicyBundle.decode(bundle())
    XCTAssertThrowsError(try BundleRejection.checkFreshness(b, heldSerial: 4, now: 150)) {
      XCTAssertEqual($0 as? BundleRejection, .notNewer(offered: 4, held: 4))
    }
    XCTAssertThrowsError(try BundleRejection.checkFreshness(b, heldSerial: 3, now: 50)) {
      XCTAssertEqual($0 as? BundleRejection, .clockBeforeIssue(issued: 100, now: 50))
    }
    XCTAssertThrowsError(try BundleRejection.checkFreshness(b, heldSerial: nil, now: 200)) {
      XCTAssertEqual($0 as? BundleRejection, .expired(expires: 200, now: 200))
    }
    XCTAssertNoThrow(try BundleRejection.checkFreshness(b, heldSerial: 3, now: 150))
  }

  func testUpstreamURLs() {
    XCTAssertEqual(UpstreamURL("http://127.0.0.1:8080/fleet/")?.path, "/fleet")
    XCTAssertEqual(UpstreamURL("http://origin")?.port, 80)
    XCTAssertEqual(UpstreamURL("file:///media/usb")?.scheme, .file)
    XCTAssertNil(UpstreamURL("https://x"))
    XCTAssertNil(UpstreamURL("http://u@x"))
    XCTAssertNil(UpstreamURL("http://x:99999"))
    XCTAssertNil(UpstreamURL("http://x/?a=b"))
  }
}
