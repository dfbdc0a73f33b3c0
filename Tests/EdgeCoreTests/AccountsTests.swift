import XCTest
@testable import EdgeCore

final class AccountsTests: XCTestCase {
  private let passwd = """
    root:x:0:0:root:/root:/bin/bash
    # a comment:x:5:5

    daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
    app:x:1001:1002:App,,,:/opt/app:/bin/false
    app:x:2000:2000:duplicate:/:/bin/false
    broken:x:notanumber:1::/:
    short:x:7
    nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
    """

  private let group = """
    root:x:0:
    staff:x:50:app,daemon
    app:x:1002:
    app:x:3000:
    bad:x:
    """

  private var accounts: Accounts { Accounts(passwd: Array(passwd.utf8), group: Array(group.utf8)) }

  func testUsersResolveToTheirUid() {
    XCTAssertEqual(accounts.uid("root"), 0)
    XCTAssertEqual(accounts.uid("daemon"), 1)
    XCTAssertEqual(accounts.uid("nobody"), 65534)
  }

  func testGroupsResolveToTheirGid() {
    XCTAssertEqual(accounts.gid("root"), 0)
    XCTAssertEqual(accounts.gid("staff"), 50)
  }

  func testFirstEntryWinsLikeGetpwnam() {
    XCTAssertEqual(accounts.uid("app"), 1001)
    XCTAssertEqual(accounts.gid("app"), 1002)
  }

  func testPrimaryGroupOfAUser() {
    XCTAssertEqual(accounts.primaryGid("app"), 1002)
    XCTAssertNil(accounts.primaryGid("ghost"))
  }

  func testMalformedLinesAndCommentsAreSkipped() {
    XCTAssertNil(accounts.uid("broken"))
    XCTAssertNil(accounts.uid("short"))
    XCTAssertNil(accounts.uid("# a comment"))
    XCTAssertNil(accounts.gid("bad"))
  }

  func testNumericNamesAreIds() {
    XCTAssertEqual(accounts.uid("4242"), 4242)
    XCTAssertEqual(accounts.gid("77"), 77)
    XCTAssertEqual(Accounts().uid("0"), 0)
  }

  func testUnknownNamesAreNil() {
    XCTAssertNil(accounts.uid("ghost"))
    XCTAssertNil(accounts.gid("ghost"))
    XCTAssertNil(Accounts().uid("root"), "an empty root has no users")
  }

  // MARK: credentials (issue 12 item 10)

  private func resolve(_ user: String?, _ group: String?) throws -> Credentials? {
    try Credentials.resolve(user: user, group: group, in: accounts)
  }

  func testAUserTakesItsPrimaryGroupAndItsMemberships() throws {
    XCTAssertEqual(try resolve("app", nil), Credentials(uid: 1001, gid: 1002, groups: [50]))
    XCTAssertEqual(try resolve("daemon", "app"), Credentials(uid: 1, gid: 1002, groups: [50]))
  }

  func testANumericUserListedInPasswdIsThatUser() throws {
    XCTAssertEqual(try resolve("1001", nil), Credentials(uid: 1001, gid: 1002, groups: [50]))
  }

  func testANumericUserNotInPasswdNeedsAGroupAndGetsNoSupplementaryGroups() throws {
    XCTAssertEqual(try resolve("4242", "4243"), Credentials(uid: 4242, gid: 4243, groups: []))
    XCTAssertThrowsError(try resolve("4242", nil)) { error in
      let e = error as! CredentialsError
      XCTAssertEqual(e.key, "user")
      XCTAssertTrue(e.message.contains("set \"group\""), e.message)
    }
  }

  func testAGroupAloneKeepsTheUidAndDropsGroups() throws {
    XCTAssertEqual(try resolve(nil, "staff"), Credentials(uid: nil, gid: 50, groups: []))
    XCTAssertNil(try resolve(nil, nil))
  }

  func testUnknownNamesAreRefusedNamingTheKey() {
    XCTAssertThrowsError(try resolve("ghost", nil)) { XCTAssertEqual(($0 as! CredentialsError).key, "user") }
    XCTAssertThrowsError(try resolve("app", "ghost")) { XCTAssertEqual(($0 as! CredentialsError).key, "group") }
  }
}
