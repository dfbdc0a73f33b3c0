import XCTest
@testable import EdgeCore

/// The supervisor's state machine, s6-supervise style: every phase × event pair against the
/// table below. The restart rules (backoff, stable-run reset, crash loops, restart policies)
/// and the stop/restart interleavings the daemon relies on are in ServiceMachineTests+Restart.
final class ServiceMachineTests: XCTestCase {
  typealias Phase = ServiceMachine.Phase
  typealias Event = ServiceMachine.Event
  typealias Action = ServiceMachine.Action

  static let stopTimeout: UInt32 = 2_000
  static let startTimeout: UInt32 = 5_000

  /// A service with a health check (so probes show in the actions), SIGTERM, 2 s stop timeout,
  /// 5 s start timeout.
  func spec(restart: ServiceSpec.Restart = .always, health: Bool = true) -> ServiceSpec {
    var s = ServiceSpec()
    s.restart = restart
    s.stopSignal = 15
    s.stopTimeoutMs = ServiceMachineTests.stopTimeout
    s.startTimeoutMs = ServiceMachineTests.startTimeout
    if health { s.health = HealthCheck(kind: .tcp, target: ["127.0.0.1:8080"]) }
    return s
  }

  /// Starts the machine the way ServiceRunner does: `.start`, then `willSpawn`, then `.spawned`.
  func launch(_ m: inout ServiceMachine, pid: Int32, now: UInt64) {
    XCTAssertEqual(m.handle(.start, now: now), [.spawn])
    m.willSpawn()
    _ = m.handle(.spawned(pid: pid), now: now)
  }

  /// A machine brought into `phase` through real events (health check, restart always):
  /// starting and running hold pid 42; backoff waits 100 ms after its second quick exit;
  /// stopping was asked to stop (not wanted any more).
  func machine(in phase: Phase) -> ServiceMachine {
    var m = ServiceMachine(spec())
    switch phase {
    case .stopped:
      break
    case .starting:
      launch(&m, pid: 42, now: 1_000)
    case .running:
      launch(&m, pid: 42, now: 1_000)
      XCTAssertEqual(m.handle(.healthPassed, now: 1_010), [.disarm, .ready])
    case .backoff:
      launch(&m, pid: 42, now: 1_000)
      XCTAssertEqual(m.handle(.exited(status: 1), now: 1_005), [.probe(false), .spawn])
      m.willSpawn()
      XCTAssertEqual(m.handle(.spawned(pid: 43), now: 1_006), [.probe(true), .arm(ms: ServiceMachineTests.startTimeout)])
      XCTAssertEqual(m.handle(.exited(status: 1), now: 1_010), [.probe(false), .arm(ms: 100)])
    case .stopping:
      launch(&m, pid: 42, now: 1_000)
      XCTAssertEqual(m.handle(.healthPassed, now: 1_010), [.disarm, .ready])
      _ = m.handle(.stop, now: 1_020)
    }
    XCTAssertEqual(m.phase, phase, "could not bring the machine to \(phase.name)")
    return m
  }

  static let events: [(String, Event)] = [
    ("start", .start), ("spawned", .spawned(pid: 7)), ("spawnFailed", .spawnFailed),
    ("exited(0)", .exited(status: 0)), ("exited(1)", .exited(status: 1)), ("exited(-9)", .exited(status: -9)),
    ("healthPassed", .healthPassed), ("healthFailed", .healthFailed), ("timer", .timer),
    ("stop", .stop), ("restart", .restart),
  ]

  static let term: [Action] = [.probe(false), .signal(15), .arm(ms: stopTimeout)]

  /// The documented table: phase, event -> actions and the phase after. `.spawn` leaves the
  /// phase alone; the runner's `willSpawn` moves it to starting. `.spawned` and `.spawnFailed`
  /// answer a `.spawn`, so they mean something only while starting; anywhere else they are
  /// stale, like a timer after a stop or a probe result after an exit, and change nothing.
  static let table: [(Phase, String, [Action], Phase)] = [
    (.stopped, "start", [.spawn], .stopped),
    (.stopped, "spawned", [], .stopped),
    (.stopped, "spawnFailed", [], .stopped),
    (.stopped, "exited(0)", [], .stopped),
    (.stopped, "exited(1)", [], .stopped),
    (.stopped, "exited(-9)", [], .stopped),
    (.stopped, "healthPassed", [], .stopped),
    (.stopped, "healthFailed", [], .stopped),
    (.stopped, "timer", [], .stopped),
    (.stopped, "stop", [], .stopped),
    (.stopped, "restart", [.spawn], .stopped),

    (.starting, "start", [], .starting),
    (.starting, "spawned", [.probe(true), .arm(ms: startTimeout)], .starting),
    (.starting, "spawnFailed", [.spawn], .starting),
    (.starting, "exited(0)", [.probe(false), .spawn], .starting),
    (.starting, "exited(1)", [.probe(false), .spawn], .starting),
    (.starting, "exited(-9)", [.probe(false), .spawn], .starting),
    (.starting, "healthPassed", [.disarm, .ready], .running),
    (.starting, "healthFailed", [], .starting),
    (.starting, "timer", term, .stopping),   // the start timeout
    (.starting, "stop", term, .stopping),
    (.starting, "restart", term, .stopping),

    (.running, "start", [], .running),
    (.running, "spawned", [], .running),
    (.running, "spawnFailed", [], .running),
    (.running, "exited(0)", [.probe(false), .spawn], .starting),
    (.running, "exited(1)", [.probe(false), .spawn], .starting),
    (.running, "exited(-9)", [.probe(false), .spawn], .starting),
    (.running, "healthPassed", [], .running),
    (.running, "healthFailed", term, .stopping),
    (.running, "timer", [], .running),
    (.running, "stop", term, .stopping),
    (.running, "restart", term, .stopping),

    (.backoff, "start", [.disarm, .spawn], .backoff),
    (.backoff, "spawned", [], .backoff),
    (.backoff, "spawnFailed", [], .backoff),
    (.backoff, "exited(0)", [], .backoff),
    (.backoff, "exited(1)", [], .backoff),
    (.backoff, "exited(-9)", [], .backoff),
    (.backoff, "healthPassed", [], .backoff),
    (.backoff, "healthFailed", [], .backoff),
    (.backoff, "timer", [.spawn], .backoff),
    (.backoff, "stop", [.disarm], .stopped),
    (.backoff, "restart", [.disarm, .spawn], .backoff),

    (.stopping, "start", [], .stopping),
    (.stopping, "spawned", [], .stopping),
    (.stopping, "spawnFailed", [], .stopping),
    (.stopping, "exited(0)", [.disarm], .stopped),
    (.stopping, "exited(1)", [.disarm], .stopped),
    (.stopping, "exited(-9)", [.disarm], .stopped),
    (.stopping, "healthPassed", [], .stopping),
    (.stopping, "healthFailed", [], .stopping),
    (.stopping, "timer", [.signal(9)], .stopping),
    (.stopping, "stop", [], .stopping),
    (.stopping, "restart", [], .stopping),
  ]

  func testTableCoversEveryPhaseAndEvent() {
    for phase in Phase.allCases {
      for (name, _) in ServiceMachineTests.events {
        let rows = ServiceMachineTests.table.filter { $0.0 == phase && $0.1 == name }
        XCTAssertEqual(rows.count, 1, "\(phase.name) × \(name) appears \(rows.count) times in the table")
      }
    }
    XCTAssertEqual(ServiceMachineTests.table.count, Phase.allCases.count * ServiceMachineTests.events.count)
  }

  func testEveryPhaseAndEventFollowsTheTable() {
    for (phase, name, actions, next) in ServiceMachineTests.table {
      guard let event = ServiceMachineTests.events.first(where: { $0.0 == name })?.1 else {
        XCTFail("no event named \(name)")
        continue
      }
      var m = machine(in: phase)
      let got = m.handle(event, now: 2_000)
      XCTAssertEqual(got, actions, "\(phase.name) × \(name): actions")
      XCTAssertEqual(m.phase, next, "\(phase.name) × \(name): phase \(m.phase.name), expected \(next.name)")
    }
  }

  /// A stale event leaves everything as it was, not only the phase: no pid forgotten, no exit
  /// recorded, no restart counted.
  func testStaleEventsChangeNothing() {
    for (phase, name, actions, next) in ServiceMachineTests.table where actions.isEmpty && next == phase {
      if phase == .stopping && name == "restart" { continue }   // wanted again: tested below
      guard let event = ServiceMachineTests.events.first(where: { $0.0 == name })?.1 else { continue }
      var m = machine(in: phase)
      let before = (m.pid, m.restarts, m.lastExit, m.crashLooping, m.wanted, m.delayMs, m.recentExits)
      _ = m.handle(event, now: 2_000)
      let where_ = "\(phase.name) × \(name)"
      XCTAssertEqual(m.pid, before.0, "\(where_): pid")
      XCTAssertEqual(m.restarts, before.1, "\(where_): restarts")
      XCTAssertEqual(m.lastExit, before.2, "\(where_): last exit")
      XCTAssertEqual(m.crashLooping, before.3, "\(where_): crash loop")
      XCTAssertEqual(m.wanted, before.4, "\(where_): wanted")
      XCTAssertEqual(m.delayMs, before.5, "\(where_): delay")
      XCTAssertEqual(m.recentExits, before.6, "\(where_): recent exits")
    }
  }

  func testWillSpawnMovesToStarting() {
    for phase in [Phase.stopped, .backoff] {
      var m = machine(in: phase)
      m.willSpawn()
      XCTAssertEqual(m.phase, .starting)
    }
  }

  func testWithoutHealthCheckSpawnedIsReadyAtOnce() {
    var m = ServiceMachine(spec(health: false))
    XCTAssertEqual(m.handle(.start, now: 10), [.spawn])
    m.willSpawn()
    XCTAssertEqual(m.handle(.spawned(pid: 9), now: 10), [.ready])
    XCTAssertEqual(m.phase, .running)
    XCTAssertEqual(m.pid, 9)
    XCTAssertEqual(m.startedAt, 10)
  }

  func testWithHealthCheckReadyOnlyWhenItPasses() {
    var m = ServiceMachine(spec())
    launch(&m, pid: 9, now: 10)
    XCTAssertEqual(m.phase, .starting)
    XCTAssertEqual(m.handle(.healthFailed, now: 20), [], "failing while starting is just not ready yet")
    XCTAssertEqual(m.phase, .starting)
    XCTAssertEqual(m.handle(.healthPassed, now: 30), [.disarm, .ready], "the start timeout is disarmed")
    XCTAssertEqual(m.phase, .running)
  }

  // MARK: start timeout (issue 12 item 14)

  /// Before: a check that never passed left the service `starting` for ever, its dependents
  /// waiting, and nothing failed.
  func testAStartWhoseCheckNeverPassesFailsAtTheStartTimeoutAndIsRestarted() {
    var m = ServiceMachine(spec())
    launch(&m, pid: 9, now: 10)
    XCTAssertFalse(m.startTimedOut)
    XCTAssertEqual(m.handle(.timer, now: 5_010), ServiceMachineTests.term)
    XCTAssertEqual(m.phase, .stopping)
    XCTAssertTrue(m.startTimedOut)
    XCTAssertEqual(m.handle(.exited(status: -15), now: 5_020), [.disarm, .spawn], "restart: always tries again")
    XCTAssertEqual(m.restarts, 1)
    XCTAssertTrue(m.startTimedOut, "shown failed until a check passes")
    m.willSpawn()
    XCTAssertEqual(m.handle(.spawned(pid: 10), now: 5_021), [.probe(true), .arm(ms: ServiceMachineTests.startTimeout)])
    XCTAssertEqual(m.handle(.healthPassed, now: 5_100), [.disarm, .ready])
    XCTAssertFalse(m.startTimedOut)
  }

  func testAStartTimeoutWithRestartNeverStaysStopped() {
    var m = ServiceMachine(spec(restart: .never))
    launch(&m, pid: 9, now: 10)
    XCTAssertEqual(m.handle(.timer, now: 5_010), ServiceMachineTests.term)
    XCTAssertEqual(m.handle(.exited(status: -15), now: 5_020), [.disarm])
    XCTAssertEqual(m.phase, .stopped)
    XCTAssertFalse(m.wanted)
    XCTAssertTrue(m.startTimedOut)
  }

  func testWithoutHealthCheckNoStartTimeoutIsArmed() {
    var m = ServiceMachine(spec(health: false))
    _ = m.handle(.start, now: 0)
    m.willSpawn()
    XCTAssertEqual(m.handle(.spawned(pid: 9), now: 0), [.ready])
  }

  /// A changed definition's rules apply to the next stop and start (before, the machine kept
  /// the rules it was created with: a new stop signal, timeout or health check went unused).
  func testAdoptTakesTheNewRulesAndKeepsTheState() {
    var m = machine(in: .running)
    var changed = spec(restart: .never, health: false)
    changed.stopSignal = 2
    changed.stopTimeoutMs = 300
    m.adopt(changed)
    XCTAssertEqual(m.pid, 42)
    XCTAssertEqual(m.phase, .running)
    XCTAssertEqual(m.handle(.restart, now: 2_000), [.probe(false), .signal(2), .arm(ms: 300)])
    XCTAssertEqual(m.handle(.exited(status: -2), now: 2_010), [.disarm, .spawn])
    m.willSpawn()
    XCTAssertEqual(m.handle(.spawned(pid: 43), now: 2_011), [.ready], "no health check any more")
  }

  /// A service that exited on its own (its policy says no restart) is told apart from one
  /// stopped on request, so a shutdown does not rewrite its outcome.
  func testExitedOnItsOwnIsToldApartFromStopped() {
    var m = ServiceMachine(spec(restart: .never, health: false))
    _ = m.handle(.start, now: 0)
    m.willSpawn()
    _ = m.handle(.spawned(pid: 9), now: 0)
    _ = m.handle(.exited(status: 7), now: 10)
    XCTAssertEqual(m.phase, .stopped)
    XCTAssertTrue(m.exitedOnItsOwn)
    XCTAssertEqual(m.handle(.stop, now: 20), [], "a stop at shutdown finds it stopped")
    XCTAssertTrue(m.exitedOnItsOwn)
    var asked = ServiceMachine(spec(restart: .never, health: false))
    _ = asked.handle(.start, now: 0)
    asked.willSpawn()
    _ = asked.handle(.spawned(pid: 9), now: 0)
    _ = asked.handle(.stop, now: 10)
    _ = asked.handle(.exited(status: -15), now: 20)
    XCTAssertFalse(asked.exitedOnItsOwn)
  }

  func testPhaseNames() {
    XCTAssertEqual(Phase.allCases.map { $0.name }, ["stopped", "starting", "running", "backoff", "stopping"])
  }
}
