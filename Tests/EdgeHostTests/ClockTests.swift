import EdgeHost
import XCTest

/// isoTime converts days to a civil date itself (no gmtime_r in the static binary); these are
/// the dates Python's datetime gives for the same instants.
final class ClockTests: XCTestCase {
  func testIsoTimeMatchesKnownInstants() {
    XCTAssertEqual(isoTime(0), "1970-01-01T00:00:00Z")
    XCTAssertEqual(isoTime(951_782_400), "2000-02-29T00:00:00Z")
    XCTAssertEqual(isoTime(1_767_225_600), "2026-01-01T00:00:00Z")
    XCTAssertEqual(isoTime(-1), "1969-12-31T23:59:59Z")
    XCTAssertEqual(isoTime(4_102_444_799), "2099-12-31T23:59:59Z")
  }

  func testIsoTimeRoundsEverySecondOfALeapYearIntoItsDay() {
    // 2024 is a leap year: 366 distinct dates, each 86,400 seconds long.
    var dates = Set<String>()
    var t: Int64 = 1_704_067_200   // 2024-01-01T00:00:00Z
    while t < 1_735_689_600 {       // 2025-01-01T00:00:00Z
      dates.insert(String(isoTime(t).prefix(10)))
      t += 43_200
    }
    XCTAssertEqual(dates.count, 366)
    XCTAssertTrue(dates.contains("2024-02-29"))
  }
}
