import XCTest
@testable import EdgeHost

final class AllocationCountTests: XCTestCase {
  @inline(never) private func makeArray(_ n: Int) -> [Int] { [Int](repeating: 1, count: n) }

  func testCountsHeapAllocationsOfThisProcess() {
    let before = allocationCount()
    var keep: [[Int]] = []
    keep.reserveCapacity(10)
    let afterReserve = allocationCount()
    for i in 0..<10 { keep.append(makeArray(100 + i)) }
    let after = allocationCount()
    XCTAssertGreaterThanOrEqual(afterReserve - before, 1)
    XCTAssertGreaterThanOrEqual(after - afterReserve, 10, "ten arrays are ten allocations")
    XCTAssertEqual(keep.count, 10)
  }

  func testArithmeticAllocatesNothing() {
    var x: UInt64 = 1
    let before = allocationCount()
    for i in 0..<1000 { x = x &* 6364136223846793005 &+ UInt64(i) }
    let after = allocationCount()
    XCTAssertEqual(after - before, 0)
    XCTAssertNotEqual(x, 0)
  }
}
