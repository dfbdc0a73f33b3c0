import XCTest
@testable import EdgeLoop

final class TimerTests: XCTestCase {
  func testOneShotTimerFiresOnceAfterItsDelay() {
    let loop = Loop()
    let timer = Timer(loop)
    var fired = 0
    loop.updateTime()
    let start = loop.now
    var firedAt: UInt64 = 0
    timer.start(after: 30) {
      fired += 1
      firedAt = loop.now
    }
    loop.run()   // returns once the timer is done: a one-shot timer is inactive after firing
    XCTAssertEqual(fired, 1)
    XCTAssertGreaterThanOrEqual(firedAt - start, 30)
    XCTAssertFalse(timer.isActive)
    timer.close()
    timer.close()   // a second close is a no-op
    loop.run()
  }

  func testRepeatingTimerFiresUntilStopped() {
    let loop = Loop()
    let timer = Timer(loop)
    var fired = 0
    timer.start(after: 1, repeat: 5) {
      fired += 1
      if fired == 4 { timer.stop() }
    }
    loop.run()
    XCTAssertEqual(fired, 4)
    timer.close()
    loop.run()
  }

  func testRestartReplacesTheCallback() {
    let loop = Loop()
    let timer = Timer(loop)
    var which: [String] = []
    timer.start(after: 1000) { which.append("first") }
    timer.start(after: 1) { which.append("second") }
    loop.run()
    XCTAssertEqual(which, ["second"])
    timer.close()
    loop.run()
  }
}
