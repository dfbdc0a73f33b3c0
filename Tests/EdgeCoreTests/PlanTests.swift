import XCTest
@testable import EdgeCore

final class PlanTests: XCTestCase {
  private func promise(_ id: String, _ type: PromiseType = .directory, path: String? = nil, after: [String] = [],
                       absent: Bool = false, notify: [String] = []) -> Promise {
    var p = Promise(id: id, type: type)
    if type.managesPath { p.path = path ?? "/" + id }
    p.after = after
    p.absent = absent
    p.notify = notify
    return p
  }

  /// The ids in check order.
  private func ordered(_ promises: [Promise], file: StaticString = #filePath, line: UInt = #line) -> [String] {
    do {
      return try Plan.order(promises).map { promises[$0].id }
    } catch {
      XCTFail("rejected: \(error)", file: file, line: line)
      return []
    }
  }

  private func rejection(_ promises: [Promise], file: StaticString = #filePath, line: UInt = #line) -> [PolicyIssue] {
    do {
      let order = try Plan.order(promises)
      XCTFail("accepted in order \(order)", file: file, line: line)
      return []
    } catch {
      return error.issues
    }
  }

  func testIndependentPromisesKeepSourceOrder() {
    XCTAssertEqual(ordered([promise("c"), promise("a"), promise("b")]), ["c", "a", "b"])
  }

  func testEmptyPolicyHasAnEmptyOrder() {
    XCTAssertEqual(ordered([]), [])
  }

  func testAfterPutsTheDependencyFirst() {
    XCTAssertEqual(ordered([promise("b", after: ["a"]), promise("a")]), ["a", "b"])
  }

  func testChainOfAfterIsFollowed() {
    let ps = [promise("c", after: ["b"]), promise("b", after: ["a"]), promise("x"), promise("a")]
    let order = ordered(ps)
    XCTAssertEqual(order.count, 4)
    XCTAssertLessThan(order.firstIndex(of: "a")!, order.firstIndex(of: "b")!)
    XCTAssertLessThan(order.firstIndex(of: "b")!, order.firstIndex(of: "c")!)
  }

  func testEveryPromiseAppearsExactlyOnce() {
    var ps: [Promise] = []
    // Listed last-first, each after two earlier ones: source order is the worst order.
    for i in (0..<200).reversed() { ps.append(promise("p\(i)", .command, after: i > 0 ? ["p\(i / 2)", "p\(i / 3)"] : [])) }
    let order = ordered(ps)
    XCTAssertEqual(order.count, 200)
    XCTAssertEqual(Set(order).count, 200)
    var at: [String: Int] = [:]
    for (i, id) in order.enumerated() { at[id] = i }
    for p in ps { for d in p.after { XCTAssertLessThan(at[d]!, at[p.id]!, "\(d) before \(p.id)") } }
  }

  func testImpliedEdgePutsParentDirectoryBeforeItsFile() {
    let ps = [promise("conf", .file, path: "/opt/app/app.conf"), promise("dir", path: "/opt/app")]
    XCTAssertEqual(ordered(ps), ["dir", "conf"])
  }

  func testImpliedEdgeGoesToTheNearestManagedAncestor() {
    let ps = [promise("deep", .file, path: "/opt/app/etc/x.conf"), promise("etc", path: "/opt/app/etc"),
              promise("opt", path: "/opt")]
    XCTAssertEqual(ordered(ps), ["opt", "etc", "deep"])
  }

  func testImpliedEdgeSkipsUnmanagedIntermediateDirectories() {
    let ps = [promise("f", .file, path: "/a/b/c/f"), promise("a", path: "/a")]
    XCTAssertEqual(ordered(ps), ["a", "f"])
  }

  func testSiblingPathsAreNotOrdered() {
    // /opt/application is not inside /opt/app.
    let ps = [promise("x", .file, path: "/opt/application/x"), promise("app", path: "/opt/app")]
    XCTAssertEqual(ordered(ps), ["x", "app"])
  }

  func testAbsentChildIsRemovedBeforeItsAbsentParent() {
    let ps = [promise("dir", path: "/old", absent: true), promise("file", .file, path: "/old/f", absent: true),
              promise("link", .link, path: "/old/sub/l", absent: true)]
    let order = ordered(ps)
    XCTAssertEqual(order.last, "dir")
    XCTAssertEqual(Set(order.prefix(2)), ["file", "link"])
  }

  func testAbsentFileInAPresentDirectoryFollowsIt() {
    let ps = [promise("f", .file, path: "/d/f", absent: true), promise("d", path: "/d")]
    XCTAssertEqual(ordered(ps), ["d", "f"])
  }

  func testNonPathPromisesHaveNoImpliedEdges() {
    var cmd = promise("cmd", .command)
    cmd.creates = "/opt/app/done"
    XCTAssertEqual(ordered([cmd, promise("app", path: "/opt/app")]), ["cmd", "app"])
  }

  func testDanglingAfterIsRejectedNamingBothIds() {
    let issues = rejection([promise("a"), promise("b", after: ["ghost"])])
    XCTAssertEqual(issues.count, 1)
    XCTAssertEqual(issues.first?.promise, "b")
    XCTAssertEqual(issues.first?.key, "after")
    XCTAssertTrue(issues.first?.message.contains("\"ghost\"") ?? false)
  }

  func testDanglingNotifyIsRejected() {
    let issues = rejection([promise("a", notify: ["svc"])])
    XCTAssertEqual(issues.first?.key, "notify")
    XCTAssertTrue(issues.first?.message.contains("\"svc\"") ?? false)
  }

  func testEveryDanglingReferenceIsReported() {
    let issues = rejection([promise("a", after: ["x"]), promise("b", after: ["y"], notify: ["z"])])
    XCTAssertEqual(issues.count, 3)
  }

  func testNotifiedPromiseIsCheckedAfterTheNotifier() {
    // The service is listed first, but a repair of the file must reach it in the same run.
    let ps = [promise("svc", .service), promise("conf", .file, path: "/etc/app.conf", notify: ["svc"])]
    XCTAssertEqual(ordered(ps), ["conf", "svc"])
  }

  func testNotifyItselfIsRejected() {
    let issues = rejection([promise("a", .command, notify: ["a"])])
    XCTAssertEqual(issues.first?.key, "notify")
    XCTAssertTrue(issues.first?.message.contains("itself") ?? false)
  }

  func testAfterItselfIsRejected() {
    let issues = rejection([promise("a", after: ["a"])])
    XCTAssertEqual(issues.first?.promise, "a")
    XCTAssertTrue(issues.first?.message.contains("itself") ?? false)
  }

  func testTwoNodeCycleIsNamed() {
    let issues = rejection([promise("a", after: ["b"]), promise("b", after: ["a"])])
    XCTAssertEqual(issues.count, 1)
    let names = cycle(in: issues.first?.message ?? "")
    XCTAssertEqual(Set(names), ["a", "b"])
  }

  /// The ids of "dependency cycle: a -> b -> c -> a".
  private func cycle(in message: String) -> [String] {
    guard let r = message.range(of: "dependency cycle: ") else {
      XCTFail("no cycle named in \(message)")
      return []
    }
    return message[r.upperBound...].components(separatedBy: " -> ")
  }

  func testCycleIsNamedWithItsIdsInCheckOrderAndNothingElse() {
    // d depends on the cycle and e is independent: neither is part of it.
    let ps = [promise("e"), promise("a", after: ["c"]), promise("d", after: ["c"]), promise("b", after: ["a"]),
              promise("c", after: ["b"])]
    let issues = rejection(ps)
    XCTAssertEqual(issues.count, 1)
    let names = cycle(in: issues.first!.message)
    XCTAssertEqual(names.first, names.last, "the named cycle closes")
    XCTAssertEqual(Set(names), ["a", "b", "c"])
    XCTAssertEqual(names.count, 4)
    // Each step X -> Y is a real edge: Y is after X.
    let byId = Dictionary(uniqueKeysWithValues: ps.map { ($0.id, $0) })
    for (x, y) in zip(names, names.dropFirst()) {
      XCTAssertTrue(byId[y]!.after.contains(x), "\(y) is not after \(x)")
    }
    XCTAssertEqual(issues.first?.key, "after")
    XCTAssertTrue(["a", "b", "c"].contains(issues.first?.promise ?? ""))
  }

  func testCycleThroughAnImpliedEdgeIsRejected() {
    // The directory waits for its own file: the implied edge (dir before file) closes a cycle.
    let ps = [promise("dir", path: "/opt/app", after: ["conf"]), promise("conf", .file, path: "/opt/app/x")]
    let names = cycle(in: rejection(ps).first?.message ?? "")
    XCTAssertEqual(Set(names), ["dir", "conf"])
  }

  func testLargePlanOrdersQuickly() {
    var ps: [Promise] = [promise("root", path: "/srv")]
    for i in 0..<10_000 { ps.append(promise("f\(i)", .file, path: "/srv/f\(i)", after: i > 0 ? ["f\(i - 1)"] : [])) }
    let order = ordered(ps)
    XCTAssertEqual(order.first, "root")
    XCTAssertEqual(order.last, "f9999")
  }
}
