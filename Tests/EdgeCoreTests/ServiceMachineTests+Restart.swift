import XCTest
@testable import EdgeCore

/// Restarts: the first at once, then 100 ms doubling to 30 s with at most 25% jitter, reset by
/// a stable run; crash loops; restart policies; stop and restart while stopping or backing off.
extension ServiceMachineTests {
  // MARK: backoff

  /// One run of a crashing service from `.spawn`: spawned at `now`, exits `runMs` later.
  /// Returns the actions of the exit; `now` ends at the exit.
  private func crash(_ m: inout ServiceMachine, now: inout UInt64, runMs: UInt64 = 1, status: Int32 = 1,
                     jitter: Double = 0) -> [Action] {
    m.willSpawn()
    _ = m.handle(.spawned(pid: Int32(100 + m.restarts)), now: now)
    now += runMs
    return m.handle(.exited(status: status), now: now, jitter: jitter)
  }

  /// The wait a crash asked for: nil for an immediate restart; fires the timer after it.
  private func waited(_ actions: [Action], _ m: inout ServiceMachine, now: inout UInt64,
                      file: StaticString = #filePath, line: UInt = #line) -> UInt32? {
    let noProbe = actions.filter { $0 != .probe(false) }
    if noProbe == [.spawn] { return nil }
    guard noProbe.count == 1, case .arm(let ms) = noProbe[0] else {
      XCTFail("expected a spawn or one arm, got \(actions)", file: file, line: line)
      return nil
    }
    XCTAssertEqual(m.phase, .backoff, file: file, line: line)
    now += UInt64(ms)
    XCTAssertEqual(m.handle(.timer, now: now), [.spawn], file: file, line: line)
    return ms
  }

  func testBackoffFirstRestartImmediateThenDoublingFrom100msTo30s() {
    var m = ServiceMachine(spec(health: false))
    m.crashLoopCount = 1_000
    var now: UInt64 = 1_000
    launch(&m, pid: 100, now: now)
    var waits: [UInt32?] = []
    for _ in 0..<13 {
      now += 1
      let actions = m.handle(.exited(status: 1), now: now)
      waits.append(waited(actions, &m, now: &now))
      m.willSpawn()
      _ = m.handle(.spawned(pid: Int32(200 + waits.count)), now: now)
    }
    XCTAssertEqual(waits, [nil, 100, 200, 400, 800, 1_600, 3_200, 6_400, 12_800, 25_600, 30_000, 30_000, 30_000])
    XCTAssertEqual(m.restarts, 13)
    XCTAssertFalse(m.crashLooping)
  }

  func testJitterAddsAtMostAQuarter() {
    for jitter in [0.0, 0.1, 0.5, 0.999] {
      var m = ServiceMachine(spec(health: false))
      m.crashLoopCount = 1_000
      var now: UInt64 = 1_000
      launch(&m, pid: 100, now: now)
      now += 1
      XCTAssertEqual(m.handle(.exited(status: 1), now: now, jitter: jitter), [.probe(false), .spawn], "first restart has no jitter")
      var base: UInt32 = 100
      for _ in 0..<11 {
        let actions = crash(&m, now: &now, jitter: jitter)
        guard actions.count == 2, case .arm(let ms) = actions[1] else { XCTFail("\(actions)"); break }
        XCTAssertGreaterThanOrEqual(ms, base, "jitter \(jitter)")
        XCTAssertLessThanOrEqual(ms, base + base / 4, "jitter \(jitter)")
        if jitter == 0 { XCTAssertEqual(ms, base) }
        now += UInt64(ms)
        _ = m.handle(.timer, now: now)
        base = min(base * 2, 30_000)
      }
    }
  }

  func testStableRunResetsTheBackoff() {
    var m = ServiceMachine(spec(health: false))
    m.crashLoopCount = 1_000
    var now: UInt64 = 1_000
    launch(&m, pid: 100, now: now)
    now += 1
    XCTAssertEqual(waited(m.handle(.exited(status: 1), now: now), &m, now: &now), nil)
    XCTAssertEqual(waited(crash(&m, now: &now), &m, now: &now), 100)
    XCTAssertEqual(waited(crash(&m, now: &now), &m, now: &now), 200)
    // One ms short of stable: the backoff goes on growing.
    XCTAssertEqual(waited(crash(&m, now: &now, runMs: m.stableMs - 1), &m, now: &now), 400)
    // A stable run: the next exit restarts at once, and the one after waits 100 ms again.
    XCTAssertEqual(waited(crash(&m, now: &now, runMs: m.stableMs), &m, now: &now), nil)
    XCTAssertEqual(waited(crash(&m, now: &now), &m, now: &now), 100)
    XCTAssertEqual(waited(crash(&m, now: &now), &m, now: &now), 200)
  }

  func testCrashLoopAfterCountExitsWithinWindowRetriesAtTheCap() {
    var m = ServiceMachine(spec(health: false))
    XCTAssertEqual(m.crashLoopCount, 5)
    XCTAssertEqual(m.crashLoopWindowMs, 60_000)
    var now: UInt64 = 1_000
    launch(&m, pid: 100, now: now)
    now += 1
    XCTAssertEqual(waited(m.handle(.exited(status: 1), now: now), &m, now: &now), nil)
    XCTAssertFalse(m.crashLooping)
    for expected: UInt32 in [100, 200, 400] {
      XCTAssertEqual(waited(crash(&m, now: &now), &m, now: &now), expected)
      XCTAssertFalse(m.crashLooping, "only \(m.recentExits.count) exits so far")
    }
    // The fifth exit within the minute: failed, and retried at the cap, not at 800 ms.
    XCTAssertEqual(crash(&m, now: &now), [.probe(false), .arm(ms: 30_000)])
    XCTAssertTrue(m.crashLooping)
    XCTAssertEqual(m.phase, .backoff)
    XCTAssertEqual(m.lastExit, 1)
    now += 30_000
    XCTAssertEqual(m.handle(.timer, now: now), [.spawn], "keeps retrying")
    XCTAssertEqual(m.restarts, 5)
    // Still in the loop: the cap again, with at most a quarter of jitter.
    let again = crash(&m, now: &now, jitter: 0.999)
    guard again.count == 2, case .arm(let ms) = again[1] else { return XCTFail("\(again)") }
    XCTAssertGreaterThanOrEqual(ms, 30_000)
    XCTAssertLessThanOrEqual(ms, 37_500)
    XCTAssertTrue(m.crashLooping)
  }

  func testCrashLoopCountsExitsNotShortRuns() {
    // Stable runs of 12 s: each restart is immediate, but five exits within 60 s are a loop.
    var m = ServiceMachine(spec(health: false))
    var now: UInt64 = 1_000
    launch(&m, pid: 100, now: now)
    var actions: [Action] = []
    for i in 1...5 {
      now += 12_000
      actions = m.handle(.exited(status: 1), now: now)
      if i < 5 {
        XCTAssertEqual(actions, [.probe(false), .spawn], "exit \(i)")
        XCTAssertFalse(m.crashLooping)
        m.willSpawn()
        _ = m.handle(.spawned(pid: Int32(100 + i)), now: now)
      }
    }
    XCTAssertEqual(actions, [.probe(false), .arm(ms: 30_000)])
    XCTAssertTrue(m.crashLooping)
  }

  func testExitsSpreadBeyondTheWindowAreNoCrashLoop() {
    var m = ServiceMachine(spec(health: false))
    var now: UInt64 = 1_000
    launch(&m, pid: 100, now: now)
    for i in 1...10 {
      now += 20_000
      XCTAssertEqual(m.handle(.exited(status: 1), now: now), [.probe(false), .spawn], "exit \(i)")
      XCTAssertFalse(m.crashLooping, "exit \(i): \(m.recentExits)")
      m.willSpawn()
      _ = m.handle(.spawned(pid: Int32(100 + i)), now: now)
    }
  }

  func testCrashLoopClearsAfterARunLongerThanTheWindow() {
    var m = ServiceMachine(spec(health: false))
    var now: UInt64 = 1_000
    launch(&m, pid: 100, now: now)
    now += 1
    _ = waited(m.handle(.exited(status: 1), now: now), &m, now: &now)
    for _ in 0..<4 { _ = waited(crash(&m, now: &now), &m, now: &now) }
    XCTAssertTrue(m.crashLooping)
    XCTAssertEqual(crash(&m, now: &now, runMs: m.crashLoopWindowMs + 1), [.probe(false), .spawn])
    XCTAssertFalse(m.crashLooping)
  }

  // MARK: restart policies

  func testRestartNeverStaysStoppedWhateverTheExit() {
    for status: Int32 in [0, 1, -9] {
      var m = ServiceMachine(spec(restart: .never))
      launch(&m, pid: 5, now: 10)
      XCTAssertEqual(m.handle(.exited(status: status), now: 20), [.probe(false)], "exit \(status)")
      XCTAssertEqual(m.phase, .stopped)
      XCTAssertFalse(m.wanted)
      XCTAssertEqual(m.lastExit, status)
      XCTAssertEqual(m.handle(.timer, now: 200), [])
      XCTAssertEqual(m.phase, .stopped)
      XCTAssertEqual(m.restarts, 0)
      // Asked again (a notify, a changed definition): it starts.
      XCTAssertEqual(m.handle(.start, now: 300), [.spawn])
    }
  }

  func testRestartOnFailureRestartsOnlyUnsuccessfulExits() {
    var m = ServiceMachine(spec(restart: .onFailure))
    launch(&m, pid: 5, now: 10)
    XCTAssertEqual(m.handle(.exited(status: 0), now: 20), [.probe(false)])
    XCTAssertEqual(m.phase, .stopped)
    XCTAssertFalse(m.wanted)

    for status: Int32 in [1, 2, -9, -15] {
      var f = ServiceMachine(spec(restart: .onFailure))
      launch(&f, pid: 5, now: 10)
      XCTAssertEqual(f.handle(.exited(status: status), now: 20), [.probe(false), .spawn], "exit \(status)")
      XCTAssertEqual(f.restarts, 1)
    }

    var s = ServiceMachine(spec(restart: .onFailure))
    XCTAssertEqual(s.handle(.start, now: 10), [.spawn])
    s.willSpawn()
    XCTAssertEqual(s.handle(.spawnFailed, now: 10), [.spawn], "a failed spawn is a failure (127)")
    XCTAssertEqual(s.lastExit, 127)
  }

  func testRestartAlwaysRestartsASuccessfulExit() {
    var m = ServiceMachine(spec(restart: .always))
    launch(&m, pid: 5, now: 10)
    XCTAssertEqual(m.handle(.exited(status: 0), now: 20), [.probe(false), .spawn])
    XCTAssertTrue(m.wanted)
  }

  func testSpawnFailuresBackOffLikeCrashes() {
    var m = ServiceMachine(spec(health: false))
    XCTAssertEqual(m.handle(.start, now: 10), [.spawn])
    m.willSpawn()
    XCTAssertEqual(m.handle(.spawnFailed, now: 10), [.spawn])
    m.willSpawn()
    XCTAssertEqual(m.handle(.spawnFailed, now: 11), [.arm(ms: 100)])
    XCTAssertEqual(m.phase, .backoff)
    XCTAssertEqual(m.pid, 0)
  }

  // MARK: stop and restart

  func testStopDuringBackoffCancelsTheRestart() {
    var m = machine(in: .backoff)
    let restarts = m.restarts
    XCTAssertEqual(m.handle(.stop, now: 1_050), [.disarm])
    XCTAssertEqual(m.phase, .stopped)
    XCTAssertFalse(m.wanted)
    XCTAssertEqual(m.handle(.timer, now: 1_200), [], "a timer that fired anyway is stale")
    XCTAssertEqual(m.phase, .stopped)
    XCTAssertEqual(m.restarts, restarts)
  }

  func testStopSendsTheStopSignalThenKillsAfterTheTimeout() {
    var s = spec()
    s.stopSignal = 2
    s.stopTimeoutMs = 500
    var m = ServiceMachine(s)
    launch(&m, pid: 42, now: 10)
    _ = m.handle(.healthPassed, now: 20)
    XCTAssertEqual(m.handle(.stop, now: 30), [.probe(false), .signal(2), .arm(ms: 500)])
    XCTAssertEqual(m.handle(.timer, now: 530), [.signal(9)])
    XCTAssertEqual(m.phase, .stopping)
    XCTAssertEqual(m.handle(.exited(status: -9), now: 531), [.disarm])
    XCTAssertEqual(m.phase, .stopped)
    XCTAssertEqual(m.lastExit, -9)
    XCTAssertEqual(m.pid, 0)
    XCTAssertEqual(m.restarts, 0, "a stop is no restart")
  }

  func testRestartDuringStoppingStartsAgainOnExit() {
    var m = machine(in: .stopping)
    XCTAssertFalse(m.wanted)
    XCTAssertEqual(m.handle(.restart, now: 1_030), [])
    XCTAssertTrue(m.wanted)
    XCTAssertEqual(m.handle(.exited(status: -15), now: 1_040), [.disarm, .spawn])
    XCTAssertEqual(m.restarts, 1)
    m.willSpawn()
    XCTAssertEqual(m.handle(.spawned(pid: 50), now: 1_041), [.probe(true), .arm(ms: ServiceMachineTests.startTimeout)])
    XCTAssertEqual(m.handle(.healthPassed, now: 1_050), [.disarm, .ready])
    XCTAssertEqual(m.phase, .running)
  }

  func testStopDuringARestartWins() {
    var m = machine(in: .running)
    XCTAssertEqual(m.handle(.restart, now: 1_030), ServiceMachineTests.term)
    XCTAssertEqual(m.handle(.stop, now: 1_031), [])
    XCTAssertEqual(m.handle(.exited(status: -15), now: 1_040), [.disarm])
    XCTAssertEqual(m.phase, .stopped)
    XCTAssertFalse(m.wanted)
  }

  func testRestartOfARunningServiceStopsThenStartsIt() {
    var m = machine(in: .running)
    XCTAssertEqual(m.handle(.restart, now: 1_030), ServiceMachineTests.term)
    XCTAssertEqual(m.handle(.exited(status: -15), now: 1_040), [.disarm, .spawn])
    XCTAssertEqual(m.lastExit, -15)
    XCTAssertEqual(m.restarts, 1)
  }

  func testRequestedRestartsNeverTripTheCrashLoop() {
    var m = machine(in: .running)
    var now: UInt64 = 1_100
    for i in 0..<20 {
      XCTAssertEqual(m.handle(.restart, now: now), ServiceMachineTests.term)
      now += 1
      XCTAssertEqual(m.handle(.exited(status: -15), now: now), [.disarm, .spawn], "restart \(i)")
      m.willSpawn()
      _ = m.handle(.spawned(pid: Int32(60 + i)), now: now)
      _ = m.handle(.healthPassed, now: now)
    }
    XCTAssertFalse(m.crashLooping)
    XCTAssertEqual(m.restarts, 20)
  }

  func testHealthFailureWhileRunningRestartsIt() {
    var m = machine(in: .running)
    XCTAssertEqual(m.handle(.healthFailed, now: 1_030), ServiceMachineTests.term)
    XCTAssertEqual(m.phase, .stopping)
    XCTAssertEqual(m.handle(.healthFailed, now: 1_031), [], "probing stopped: a late result is stale")
    XCTAssertEqual(m.handle(.timer, now: 3_030), [.signal(9)], "it ignored the stop signal")
    XCTAssertEqual(m.handle(.exited(status: -9), now: 3_031), [.disarm, .spawn])
    XCTAssertEqual(m.restarts, 1)
    m.willSpawn()
    XCTAssertEqual(m.handle(.spawned(pid: 44), now: 3_032), [.probe(true), .arm(ms: ServiceMachineTests.startTimeout)])
    XCTAssertEqual(m.phase, .starting)
    XCTAssertEqual(m.handle(.healthPassed, now: 3_040), [.disarm, .ready])
  }

  func testHealthFailureWhileRunningThenStopStaysStopped() {
    var m = machine(in: .running)
    _ = m.handle(.healthFailed, now: 1_030)
    XCTAssertEqual(m.handle(.stop, now: 1_031), [])
    XCTAssertEqual(m.handle(.exited(status: -15), now: 1_040), [.disarm])
    XCTAssertEqual(m.phase, .stopped)
  }

  func testExitWhileStartingStopsProbingAndRestarts() {
    var m = machine(in: .starting)
    XCTAssertEqual(m.handle(.exited(status: 3), now: 1_005), [.probe(false), .spawn])
    XCTAssertEqual(m.pid, 0)
    XCTAssertEqual(m.lastExit, 3)
  }
}
