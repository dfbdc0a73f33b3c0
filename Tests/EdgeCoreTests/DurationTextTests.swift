import XCTest
@testable import EdgeCore

/// The one duration grammar (DurationText.swift): what operators may write, in milliseconds.
final class DurationTextTests: XCTestCase {
  func testOnePartInEachUnit() {
    XCTAssertEqual(parseDuration("30d"), 30 * 86_400_000)
    XCTAssertEqual(parseDuration("12h"), 12 * 3_600_000)
    XCTAssertEqual(parseDuration("5m"), 300_000)
    XCTAssertEqual(parseDuration("2s"), 2000)
    XCTAssertEqual(parseDuration("250ms"), 250)
  }

  func testSeveralPartsLargestFirstAdd() {
    XCTAssertEqual(parseDuration("5m30s"), 330_000)
    XCTAssertEqual(parseDuration("1h30m"), 5_400_000)
    XCTAssertEqual(parseDuration("1d2h3m4s5ms"), 86_400_000 + 7_200_000 + 180_000 + 4000 + 5)
    XCTAssertEqual(parseDuration("1m5ms"), 60_005)
  }

  func testBareDigitsAreSecondsOnlyAsTheWholeText() {
    XCTAssertEqual(parseDuration("90"), 90_000)
    XCTAssertEqual(parseDuration("0"), 0)
    XCTAssertNil(parseDuration("1m30"), "a trailing number without its unit")
  }

  func testZeroParsesAndBoundsAreTheCallers() {
    XCTAssertEqual(parseDuration("0s"), 0)
    XCTAssertEqual(parseDuration("0ms"), 0)
  }

  func testUnitsOutOfOrderOrRepeatedAreRejected() {
    XCTAssertNil(parseDuration("30s5m"))
    XCTAssertNil(parseDuration("1s1s"))
    XCTAssertNil(parseDuration("5ms1s"))
    XCTAssertNil(parseDuration("1m1m"))
  }

  func testMalformedTextIsRejected() {
    for bad in ["", "s", "ms", "1w", "1.5s", "-5s", "+5s", " 5s", "5s ", "5 s", "5S", "1h 30m", "5sm", "0x10s", "5mss"] {
      XCTAssertNil(parseDuration(bad), bad)
    }
  }

  func testPastOneHundredYearsIsRejectedWithoutOverflow() {
    XCTAssertEqual(parseDuration("36500d"), maxDurationMs)
    XCTAssertNil(parseDuration("36501d"))
    XCTAssertNil(parseDuration("36500d1ms"))
    XCTAssertNil(parseDuration("9999999999999d"))
    XCTAssertNil(parseDuration("99999999999999999999s"))
    XCTAssertEqual(parseDuration("\(maxDurationMs / 1000)"), maxDurationMs)
    XCTAssertNil(parseDuration("\(maxDurationMs / 1000 + 1)"))
  }

  func testAJSONNumberIsWholeSecondsAndAStringUsesTheGrammar() throws {
    func ms(_ json: String) throws -> Int64? { try JSONReader.parse(Array(json.utf8)).durationMs }
    XCTAssertEqual(try ms("10"), 10_000)
    XCTAssertEqual(try ms("0"), 0)
    XCTAssertNil(try ms("-1"))
    XCTAssertNil(try ms("1.5"))
    XCTAssertNil(try ms("true"))
    XCTAssertEqual(try ms(#""1h30m""#), 5_400_000)
    XCTAssertNil(try ms(#""30s5m""#))
  }

  func testTheMessageNamesTheBoundsAndTheGrammar() {
    XCTAssertEqual(durationExpected(from: "100ms", to: "1d"),
                   #"expected a duration from 100ms to 1d: whole seconds, or a string like "1h30m", "5m30s", "250ms" (units d h m s ms, largest first)"#)
  }
}
