import EdgeCore
import XCTest

/// User and group edits on copies of real account files: comments, NIS lines and odd spacing
/// stay byte for byte; clashes are refused naming both.
final class AccountEditTests: XCTestCase {
  static let passwd = """
    root:x:0:0:root:/root:/bin/bash
    # local accounts below
    daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin

    games:x:5:60: games , odd :/usr/games:/usr/sbin/nologin   
    bob:x:1000:1000:Bob,,,:/home/bob:/bin/bash
    +@netadmins::::::
    -mallory

    """
  static let group = "root:x:0:\ndaemon:x:1:\ndialout:x:20:bob\nbob:x:1000:\n+:::\n"
  static let shadow = "root:*:19000:0:99999:7:::\nbob:$6$salt$hash:19000:0:99999:7:::\n"
  static let gshadow = "root:*::\ndialout:*::bob\nbob:!::\n"

  private func files() -> AccountFiles {
    AccountFiles(passwd: Array(Self.passwd.utf8), group: Array(Self.group.utf8), shadow: Array(Self.shadow.utf8),
                 gshadow: Array(Self.gshadow.utf8))
  }

  private func text(_ b: [UInt8]?) -> String { String(decoding: b ?? [], as: UTF8.self) }

  func testANewUserGetsTheFirstFreeIdsAPrivateGroupAndALockedPassword() {
    var f = files()
    XCTAssertNil(AccountEdit.user(&f, AccountSpec(name: "app", groups: ["dialout"], home: "/srv/app", shell: "/usr/sbin/nologin"),
                                  primary: nil, absent: false, today: 20_000))
    XCTAssertEqual(text(f.passwd), Self.passwd + "app:x:1001:1001::/srv/app:/usr/sbin/nologin\n")
    XCTAssertEqual(text(f.group), "root:x:0:\ndaemon:x:1:\ndialout:x:20:bob,app\nbob:x:1000:\n+:::\napp:x:1001:\n")
    XCTAssertEqual(text(f.shadow), Self.shadow + "app:!:20000:0:99999:7:::\n")
    XCTAssertEqual(text(f.gshadow), "root:*::\ndialout:*::bob,app\nbob:!::\napp:!::\n")
    // Held: the same bytes again.
    let once = f
    XCTAssertNil(AccountEdit.user(&f, AccountSpec(name: "app", groups: ["dialout"], home: "/srv/app", shell: "/usr/sbin/nologin"),
                                  primary: nil, absent: false, today: 20_001))
    XCTAssertEqual(f, once)
  }

  func testAnExistingUserChangesOnlyWhatThePromiseSays() {
    var f = files()
    XCTAssertNil(AccountEdit.user(&f, AccountSpec(name: "bob", groups: [], shell: "/bin/sh", password: "!"),
                                  primary: nil, absent: false, today: 0))
    XCTAssertEqual(text(f.passwd), Self.passwd.replacingOccurrences(of: "/home/bob:/bin/bash", with: "/home/bob:/bin/sh"))
    XCTAssertEqual(text(f.group), "root:x:0:\ndaemon:x:1:\ndialout:x:20:\nbob:x:1000:\n+:::\n", "taken out of dialout")
    XCTAssertEqual(text(f.shadow), "root:*:19000:0:99999:7:::\nbob:!:19000:0:99999:7:::\n")
  }

  func testClashesAndMissingGroupsAreRefusedNamingBoth() {
    var f = files()
    XCTAssertEqual(AccountEdit.user(&f, AccountSpec(name: "app", id: 1000), primary: nil, absent: false, today: 0),
                   #"uid 1000 is already user "bob"'s: not given to "app""#)
    XCTAssertEqual(AccountEdit.group(&f, AccountSpec(name: "plugdev", id: 20), absent: false),
                   #"gid 20 is already group "dialout"'s: not given to "plugdev""#)
    XCTAssertEqual(AccountEdit.user(&f, AccountSpec(name: "app"), primary: "video", absent: false, today: 0),
                   #"primary group "video" does not exist (promise it with a group promise)"#)
    XCTAssertEqual(AccountEdit.group(&f, AccountSpec(name: "bob"), absent: true), #"group "bob" is the primary group of user "bob""#)
    XCTAssertEqual(f, files(), "nothing changed")
  }

  func testGroupsAndUsersGoAwayLeavingTheRest() {
    var f = files()
    XCTAssertNil(AccountEdit.group(&f, AccountSpec(name: "plugdev", id: 46), absent: false))
    XCTAssertTrue(text(f.group).hasSuffix("+:::\nplugdev:x:46:\n"))
    XCTAssertNil(AccountEdit.group(&f, AccountSpec(name: "plugdev"), absent: true))
    XCTAssertNil(AccountEdit.user(&f, AccountSpec(name: "bob"), primary: nil, absent: true, today: 0))
    XCTAssertEqual(text(f.passwd), Self.passwd.replacingOccurrences(of: "bob:x:1000:1000:Bob,,,:/home/bob:/bin/bash\n", with: ""))
    XCTAssertEqual(text(f.group), "root:x:0:\ndaemon:x:1:\ndialout:x:20:\nbob:x:1000:\n+:::\n")
    XCTAssertEqual(text(f.shadow), "root:*:19000:0:99999:7:::\n")
    XCTAssertEqual(text(f.gshadow), "root:*::\ndialout:*::\nbob:!::\n")
    // NIS lines are never taken for accounts: "+" and "-mallory" stay whatever is promised.
    XCTAssertNil(AccountEdit.user(&f, AccountSpec(name: "mallory"), primary: "root", absent: false, today: 0))
    XCTAssertTrue(text(f.passwd).contains("-mallory\n"))
    XCTAssertTrue(text(f.passwd).hasSuffix("mallory:x:1000:0::/home/mallory:/bin/sh\n"))
  }
}
