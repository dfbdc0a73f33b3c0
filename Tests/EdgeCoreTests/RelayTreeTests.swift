import EdgeCore
import XCTest

final class RelayTreeTests: XCTestCase {
  func testFirstTierPullsFromTheOriginsAndTheNextFromItsParent() {
    for i in 0..<10 { XCTAssertEqual(RelayTree.ancestors(of: i, fanout: 10), [], "relay \(i)") }
    XCTAssertEqual(RelayTree.ancestors(of: 10, fanout: 10), [0])
    XCTAssertEqual(RelayTree.ancestors(of: 19, fanout: 10), [0])
    XCTAssertEqual(RelayTree.ancestors(of: 20, fanout: 10), [1])
    XCTAssertEqual(RelayTree.ancestors(of: 109, fanout: 10), [9])
    // Third tier: parent, then grandparent.
    XCTAssertEqual(RelayTree.ancestors(of: 110, fanout: 10), [10, 0])
    XCTAssertEqual(RelayTree.ancestors(of: 1109, fanout: 10), [109, 9])
    XCTAssertEqual(RelayTree.ancestors(of: 1110, fanout: 10), [110, 10, 0])
    // Fan-out 1 is a chain; fan-out 2 a binary heap offset by one tier of two.
    XCTAssertEqual(RelayTree.ancestors(of: 3, fanout: 1), [2, 1, 0])
    XCTAssertEqual(RelayTree.ancestors(of: 5, fanout: 2), [1])
  }

  func testAncestorsComeEarlierSoNoRelayPullsFromItselfOrADescendant() {
    for f in [1, 2, 3, 10, 1000] {
      for i in 0..<3000 {
        let a = RelayTree.ancestors(of: i, fanout: f)
        var previous = i
        for p in a {
          XCTAssertLessThan(p, previous, "fan-out \(f), relay \(i): \(a)")
          previous = p
        }
        // Parents and children agree.
        if let parent = a.first {
          XCTAssertTrue(RelayTree.children(of: parent, count: 3000, fanout: f).contains(i), "fan-out \(f), relay \(i)")
        }
      }
    }
  }

  func testOriginServesTheFanOutAndEveryRelayAtMostTheFanOutWhateverTheSize() {
    for f in [2, 10, 32] {
      for count in [1, 9, 10, 11, 100, 1000, 5000] {
        var feeds = [Int](repeating: 0, count: count)
        var origin = 0
        var depth = 0
        for i in 0..<count {
          let a = RelayTree.ancestors(of: i, fanout: f)
          if let p = a.first { feeds[p] += 1 } else { origin += 1 }
          depth = max(depth, a.count)
        }
        XCTAssertEqual(origin, min(count, f), "fan-out \(f), \(count) relays")
        XCTAssertLessThanOrEqual(feeds.max() ?? 0, f, "fan-out \(f), \(count) relays")
        // Tiers hold f, f^2, ... relays: 1,000 relays at fan-out 10 are three tiers deep.
        var tiers = 0, covered = 0, width = f
        while covered < count { covered += width; width *= f; tiers += 1 }
        XCTAssertEqual(depth + 1, tiers, "fan-out \(f), \(count) relays")
      }
    }
  }

  func testChildrenAreBoundedByTheList() {
    XCTAssertEqual(RelayTree.children(of: 0, count: 100, fanout: 10), 10..<20)
    XCTAssertEqual(RelayTree.children(of: 8, count: 100, fanout: 10), 90..<100)
    XCTAssertEqual(RelayTree.children(of: 9, count: 100, fanout: 10), 100..<100)
    XCTAssertEqual(RelayTree.children(of: 0, count: 15, fanout: 10), 10..<15)
  }
}
