import EdgeCore
import EdgeFleet
import EdgeHost
import Foundation
import XCTest

/// validateBundleDirectory: a signed bundle's policy checked in full (an agent stops at the first
/// issue), at the places in bundle.json; the signature always first.
final class ValidationTests: XCTestCase {
  /// A bundle directory holding `text` as bundle.json, signed with the fixture's key.
  private func signed(_ f: BundleFixture, _ text: String) throws -> String {
    let dir = f.dir + "/signed"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let bytes = Array(text.utf8)
    try Data(bytes).write(to: URL(fileURLWithPath: dir + "/bundle.json"))
    try Data(Ed25519.sign(bytes, secretKey: f.secretKey)).write(to: URL(fileURLWithPath: dir + "/bundle.json.sig"))
    return dir
  }

  func testASignedBundleWithABadPolicyHasEveryIssueAtItsPlaceInBundleJSON() throws {
    let f = try BundleFixture("validate")
    let text = """
      {"serial": 3, "issued": 1, "expires": 4102444800, "blobs": {}, "policy": {"policy": "p", "promises": [
        {"id": "a", "type": "directory", "path": "/a", "mdoe": "0755"},
        {"id": "b", "type": "directory", "path": "/b", "after": ["nobody"]}
      ]}}
      """
    let dir = try signed(f, text)
    let r = try validateBundleDirectory(dir, publicKeys: [f.publicKey])
    XCTAssertFalse(r.valid)
    XCTAssertEqual(r.file, dir + "/bundle.json")
    XCTAssertEqual(r.issues.map(\.message), [#"unknown key for a directory promise: did you mean "mode"?"#,
                                             #""after" names unknown promise "nobody""#])
    XCTAssertEqual(r.issues.map(\.position), [SourcePosition(line: 2, column: 50), SourcePosition(line: 3, column: 60)])
  }

  func testASignedValidBundleReportsItsSerialAndPolicy() throws {
    let f = try BundleFixture("validate-ok")
    try f.publish(serial: 7)
    let r = try validateBundleDirectory(f.out, publicKeys: [f.publicKey])
    XCTAssertTrue(r.valid, "\(r.issues)")
    XCTAssertEqual(r.serial, 7)
    XCTAssertEqual(r.policyName, "demo")
    XCTAssertEqual(r.promises, 2)
  }

  func testTheSignatureIsCheckedBeforeThePolicy() throws {
    let f = try BundleFixture("validate-sig")
    let dir = try signed(f, #"{"serial": 1, "policy": {"promises": [{"bad": 1}]}}"#)
    let r = try validateBundleDirectory(dir, publicKeys: [Ed25519.keypair().publicKey])
    XCTAssertEqual(r.issues.map(\.message), ["signature does not verify against any trusted key"])
    XCTAssertEqual(r.issues.first?.position, SourcePosition.none)
  }

  func testABundleFormatIssueOutsideThePolicyIsReported() throws {
    let f = try BundleFixture("validate-format")
    let dir = try signed(f, #"{"serial": 0, "issued": 1, "expires": 2, "policy": {"policy": "p", "promises": []}}"#)
    let r = try validateBundleDirectory(dir, publicKeys: [f.publicKey])
    XCTAssertEqual(r.issues.count, 1)
    XCTAssertTrue(r.issues[0].message.contains("serial"), r.issues[0].message)
    XCTAssertEqual(r.issues[0].position, SourcePosition(line: 1, column: 12))
  }
}
