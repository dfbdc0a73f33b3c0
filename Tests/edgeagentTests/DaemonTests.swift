import Foundation
import XCTest

/// `edgeagent run` as a subprocess supervising real services: ordered start behind health
/// checks, reverse-ordered stop, backoff and crash loops, notify restarts, drift repair, policy
/// reloads. Each test has its own temporary root and state (AgentRun), uses only 127.0.0.1 and
/// ports the kernel hands out, and asserts lower bounds on time, never upper ones: deadlines
/// here are generous, speed goals live in the benchmarks. The PID 1 and container tests are in
/// DaemonTests+Init.swift.
final class DaemonTests: XCTestCase {
  /// Timestamps in ms from nanosecond stamps.
  func ms(_ a: Int64, _ b: Int64) -> Double { Double(b - a) / 1e6 }

  func stamp(_ stamps: [(String, Int64)], _ name: String, file: StaticString = #filePath, line: UInt = #line) -> Int64 {
    guard let s = stamps.first(where: { $0.0 == name }) else {
      XCTFail("no \(name) marker in \(stamps.map { $0.0 })", file: file, line: line)
      return 0
    }
    return s.1
  }

  // MARK: ordered start, reverse stop

  func testStartsAfterATCPHealthCheckPassesAndStopsInReverseOrder() throws {
    let python = try AgentRun.requirePython()
    let run = try AgentRun.make(self)
    let port = try freeLoopbackPort()
    let marks = run.base + "/marks"
    // a takes half a second before it listens, and says when it is about to.
    let server = try run.file("a.py", """
      import socket, signal, sys, time
      def mark(s):
          with open(sys.argv[1], "a") as f: f.write(f"{s} {time.time_ns()}\\n")
      def stop(*_):
          mark("a-stop")
          sys.exit(0)
      signal.signal(signal.SIGTERM, stop)
      mark("a-start")
      time.sleep(0.5)
      s = socket.socket()
      s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
      s.bind(("127.0.0.1", int(sys.argv[2])))
      mark("a-listen")
      s.listen(16)
      while True:
          c, _ = s.accept()
          c.close()
      """)
    func follower(_ name: String, checkA: Bool) -> String {
      """
      trap 'echo "\(name)-stop $(date +%s%N)" >> \(marks); exit 0' TERM
      echo "\(name)-start $(date +%s%N)" >> \(marks)
      \(checkA ? "\(python) -c 'import socket, sys; socket.create_connection((\"127.0.0.1\", \(port)), 1)' && echo \"b-saw-a $(date +%s%N)\" >> \(marks)" : "")
      while :; do sleep 0.05; done
      """
    }
    // Listed backwards: the order comes from `after`.
    try run.writePolicy("ordered", [
      try run.service("c", script: follower("c", checkA: false), "\"after\": [\"b\"]"),
      try run.service("b", script: follower("b", checkA: true), "\"after\": [\"a\"]"),
      run.service("a", exec: [python, server, marks, String(port)],
                  "\"health\": {\"tcp\": \"127.0.0.1:\(port)\", \"interval\": \"100ms\", \"timeout\": \"1s\"}"),
    ])
    try run.startConverged()
    XCTAssertTrue(pollUntil(10) { run.lines("marks").contains { $0.hasPrefix("c-start") } && run.lines("marks").contains { $0.hasPrefix("b-saw-a") } },
                  "marks: \(run.lines("marks"))\n\(run.log)")
    let started = run.stamps("marks")
    // b has no health check, so it is ready once spawned and c may start microseconds later:
    // which shell writes its mark first is a race. The agent's own order is in its log.
    XCTAssertEqual(started.prefix(2).map { $0.0 }, ["a-start", "a-listen"])
    let aListen = stamp(started, "a-listen"), bStart = stamp(started, "b-start"), cStart = stamp(started, "c-start")
    XCTAssertGreaterThanOrEqual(bStart, aListen, "b started before a listened")
    XCTAssertGreaterThanOrEqual(cStart, aListen, "c started before a listened")
    XCTAssertGreaterThanOrEqual(ms(stamp(started, "a-start"), bStart), 500, "b did not wait for a's health check")
    let launches = run.log.split(separator: "\n").filter { $0.contains("msg=\"started service\"") }
    let bLaunch = launches.firstIndex { $0.contains("service=b ") }, cLaunch = launches.firstIndex { $0.contains("service=c ") }
    XCTAssertNotNil(bLaunch)
    XCTAssertNotNil(cLaunch)
    if let bLaunch, let cLaunch { XCTAssertLessThan(bLaunch, cLaunch, "the agent started c before b") }
    XCTAssertEqual(try run.serviceStatus("a")?["ready"] as? Bool, true)

    run.signal(SIGTERM)
    let end = run.waitForExit(timeout: 15)
    XCTAssertEqual(end?.reason, .exit)
    XCTAssertEqual(end?.status, 0)
    let all = run.stamps("marks")
    let stops = all.filter { $0.0.hasSuffix("-stop") }
    XCTAssertEqual(stops.map { $0.0 }, ["c-stop", "b-stop", "a-stop"], "\(run.log)")
    XCTAssertLessThan(stamp(all, "c-stop"), stamp(all, "b-stop"))
    XCTAssertLessThan(stamp(all, "b-stop"), stamp(all, "a-stop"))
    let exits = run.logLines.filter { $0.contains("msg=\"service exited\"") }.compactMap { l in
      l.components(separatedBy: " ").first { $0.hasPrefix("service=") }
    }
    XCTAssertEqual(exits, ["service=c", "service=b", "service=a"])
    XCTAssertTrue(pollUntil(eventually) { AgentRun.processes(tagged: run.tag).isEmpty })
  }

  // MARK: backoff and crash loops

  func testRestartGapsGrowThenTheCrashLoopShowsFailed() throws {
    let run = try AgentRun.make(self)
    let config = try run.file("config.json", "{\"crash_loop_count\": 7, \"crash_loop_window\": \"60s\"}\n")
    try run.writePolicy("crashing", [
      try run.service("crashy", script: "echo \"start $(date +%s%N)\" >> \(run.base)/starts\nexit 1\n"),
    ])
    try run.startConverged(["--config", config])
    XCTAssertTrue(pollUntil(15) { run.lines("starts").count >= 7 }, "starts: \(run.lines("starts"))\n\(run.log)")
    let t = run.stamps("starts").map { $0.1 }
    let gaps = zip(t, t.dropFirst()).map { ms($0, $1) }
    print("restart gaps (ms): \(gaps.map { String(format: "%.1f", $0) }.joined(separator: ", "))")
    // First restart at once, then 100 ms doubling. libuv's clock counts whole milliseconds, so
    // a timer may fire up to 1 ms before the real-time mark.
    for (i, least) in [0.0, 100, 200, 400, 800, 1_600].enumerated() where i < gaps.count {
      XCTAssertGreaterThanOrEqual(gaps[i], least - 1, "gap \(i + 1): \(gaps)")
    }
    // The 7th exit in a minute: failed, with the next try at the 30 s cap.
    XCTAssertTrue(try pollUntil(eventually) { try run.serviceStatus("crashy")?["state"] as? String == "failed" }, "\((try? run.status()) ?? [:])")
    let s = try run.serviceStatus("crashy")
    XCTAssertEqual(s?["restarts"] as? Int, 6)
    XCTAssertEqual(s?["last_exit"] as? Int, 1)
    let promise = (try run.status()["promises"] as? [[String: Any]])?.first { $0["id"] as? String == "crashy" }
    XCTAssertEqual(promise?["status"] as? String, "failed")
    XCTAssertTrue((promise?["reason"] as? String ?? "").contains("crash loop"), "\(promise ?? [:])")
    XCTAssertTrue(run.log.contains("msg=\"service is crash looping\" service=crashy"))
    let text = try Edgeagent.run(["status", "--state", run.state])
    XCTAssertTrue(text.stdout.split(separator: "\n").contains { $0.split(separator: " ").prefix(2) == ["crashy", "failed"] }, text.stdout)
    Thread.sleep(forTimeInterval: 1.5)
    XCTAssertEqual(run.lines("starts").count, 7, "retried before the cap")
  }

  /// A crash-looping service's restarts show on the relay's /metrics, with its state.
  func testMetricsCountServiceRestarts() throws {
    let python = try AgentRun.requirePython()
    let run = try AgentRun.make(self)
    let config = try run.file("config.json", "{\"crash_loop_count\": 3, \"crash_loop_window\": \"60s\"}\n")
    try run.writePolicy("metrics", [
      try run.service("crashy", script: "echo start >> \(run.base)/starts\nexit 1\n"),
      try run.service("steady", script: "exec sleep 600\n"),
    ])
    try run.startConverged(["--config", config, "--relay", "127.0.0.1:0"])
    guard let line = run.logLines.first(where: { $0.contains("msg=\"relay listening\"") }),
          let port = line.split(separator: ":").last.flatMap({ UInt16($0.prefix { $0.isNumber }) }) else {
      return XCTFail("no relay port in the log:\n\(run.log)")
    }
    func metrics() -> String {
      let p = Process()
      p.executableURL = URL(fileURLWithPath: python)
      p.arguments = ["-c", "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())",
                     "http://127.0.0.1:\(port)/metrics"]
      let out = Pipe()
      p.standardOutput = out
      p.standardError = FileHandle.nullDevice
      guard (try? p.run()) != nil else { return "" }
      let data = out.fileHandleForReading.readDataToEndOfFile()
      p.waitUntilExit()
      return String(decoding: data, as: UTF8.self)
    }
    // Three exits in the window: two restarts, then the crash-loop rule.
    var text = ""
    XCTAssertTrue(pollUntil(15) {
      text = metrics()
      return text.contains("edgeagent_service_crash_looping{service=\"crashy\"} 1")
    }, "metrics:\n\(text)\nlog:\n\(run.log)")
    let lines = text.split(separator: "\n").map(String.init)
    let restarts = lines.first { $0.hasPrefix("edgeagent_service_restarts_total{service=\"crashy\"} ") }
    XCTAssertEqual(restarts.flatMap { Int($0.split(separator: " ").last!) }, run.lines("starts").count - 1, text)
    XCTAssertGreaterThanOrEqual(run.lines("starts").count, 3)
    XCTAssertTrue(lines.contains("edgeagent_service_restarts_total{service=\"steady\"} 0"), text)
    XCTAssertTrue(lines.contains("edgeagent_service_up{service=\"steady\"} 1"), text)
    XCTAssertTrue(lines.contains("edgeagent_service_up{service=\"crashy\"} 0"), text)
    XCTAssertTrue(lines.contains("# TYPE edgeagent_service_restarts_total counter"), text)
  }

  // MARK: health gating

  func testHTTPHealthCheckGatesDependents() throws {
    let python = try AgentRun.requirePython()
    let run = try AgentRun.make(self)
    let good = try freeLoopbackPort(), bad = try freeLoopbackPort()
    let www = run.base + "/www"
    try FileManager.default.createDirectory(atPath: www, withIntermediateDirectories: true)
    try run.file("www/index.html", "hello\n")
    let marks = run.base + "/marks"
    func web(_ port: UInt16) -> String { "sleep 0.3\nexec \(python) -m http.server --bind 127.0.0.1 --directory \(www) \(port)\n" }
    func health(_ port: UInt16, _ path: String) -> String {
      "\"health\": {\"http\": \"http://127.0.0.1:\(port)\(path)\", \"interval\": \"100ms\", \"timeout\": \"1s\"}"
    }
    let client = """
      code=$(\(python) -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:\(good)/").status)' 2>&1)
      echo "client-got $code" >> \(marks)
      exec sleep 1000
      """
    try run.writePolicy("gated", [
      try run.service("web", script: web(good), health(good, "/")),
      try run.service("client", script: client, "\"after\": [\"web\"]"),
      try run.service("broken", script: web(bad), health(bad, "/missing")),
      try run.service("blocked", script: "echo blocked-start >> \(marks)\nexec sleep 1000\n", "\"after\": [\"broken\"]"),
    ])
    try run.startConverged()
    XCTAssertTrue(pollUntil(10) { run.lines("marks").contains { $0.hasPrefix("client-got") } }, run.log)
    XCTAssertEqual(run.lines("marks").first { $0.hasPrefix("client-got") }, "client-got 200", "client started before web answered")
    XCTAssertTrue(try pollUntil(eventually) { try run.serviceStatus("web")?["ready"] as? Bool == true })
    XCTAssertEqual(try run.serviceStatus("web")?["state"] as? String, "running")
    // broken answers, but 404: several probes, each a failure.
    let probes404 = { run.serviceLog("broken").filter { $0.contains("\"GET /missing HTTP/1.0\" 404") }.count }
    XCTAssertTrue(pollUntil(10) { probes404() >= 5 }, "broken's log: \(run.serviceLog("broken"))")
    XCTAssertTrue(run.serviceLog("web").contains { $0.contains("\"GET / HTTP/1.0\" 200") })
    let broken = try run.serviceStatus("broken"), blocked = try run.serviceStatus("blocked")
    XCTAssertEqual(broken?["state"] as? String, "starting")
    XCTAssertEqual(broken?["ready"] as? Bool, false)
    XCTAssertEqual(blocked?["state"] as? String, "stopped")
    XCTAssertEqual(blocked?["pid"] as? Int, 0)
    XCTAssertFalse(run.lines("marks").contains("blocked-start"), "blocked started behind a failing health check")
    XCTAssertFalse(run.log.contains("msg=\"service ready\" service=broken"))
    run.signal(SIGTERM)
    XCTAssertEqual(run.waitForExit(timeout: 15)?.status, 0)
  }

  // MARK: notify and drift

  func testNotifiedServiceRestartsWhenItsFileIsRepaired() throws {
    let run = try AgentRun.make(self)
    let conf = run.root + "/etc/app.conf"
    try run.writePolicy("notify", [
      "{\"id\": \"conf\", \"type\": \"file\", \"path\": \"/etc/app.conf\", \"content\": \"v1\\n\", \"notify\": [\"app\"]}",
      run.service("app", exec: ["/bin/sleep", "1000"]),
    ])
    try run.startConverged()
    var pids: [Int32] = []
    XCTAssertTrue(try pollUntil(eventually) { try run.servicePID("app") > 0 })
    pids.append(try run.servicePID("app"))

    // Edited behind the agent's back: repaired, and app restarted.
    try Data("tampered\n".utf8).write(to: URL(fileURLWithPath: conf))
    XCTAssertTrue(try pollUntil(eventually) { let pid = try run.servicePID("app"); return pid > 0 && !pids.contains(pid) }, run.log)
    pids.append(try run.servicePID("app"))
    XCTAssertEqual(try String(contentsOfFile: conf, encoding: .utf8), "v1\n")
    XCTAssertFalse(AgentRun.isAlive(pids[0]), "the old process is still there")

    // Deleted: recreated, and app restarted again.
    try FileManager.default.removeItem(atPath: conf)
    XCTAssertTrue(try pollUntil(eventually) { let pid = try run.servicePID("app"); return pid > 0 && !pids.contains(pid) }, run.log)
    XCTAssertEqual(try String(contentsOfFile: conf, encoding: .utf8), "v1\n")
    XCTAssertFalse(AgentRun.isAlive(pids[1]))
    XCTAssertGreaterThanOrEqual(run.log.components(separatedBy: "msg=\"restarting service: notified\" service=app").count - 1, 2)
    XCTAssertGreaterThanOrEqual(try run.serviceStatus("app")?["restarts"] as? Int ?? 0, 2)
  }

  func testDeletedOrEditedFileIsRepairedWhileRunning() throws {
    let run = try AgentRun.make(self)
    let motd = run.root + "/etc/motd", conf = run.root + "/srv/app/app.conf"
    try run.writePolicy("drift", [
      "{\"id\": \"motd\", \"type\": \"file\", \"path\": \"/etc/motd\", \"content\": \"hello\\n\", \"mode\": \"0644\"}",
      "{\"id\": \"conf\", \"type\": \"file\", \"path\": \"/srv/app/app.conf\", \"content\": \"port=8080\\n\", \"mode\": \"0600\"}",
    ])
    try run.startConverged()
    let content = { (p: String) in (try? String(contentsOfFile: p, encoding: .utf8)) ?? "" }
    XCTAssertEqual(content(motd), "hello\n")

    for (path, want) in [(motd, "hello\n"), (conf, "port=8080\n")] {
      // Edited, then deleted (an edit right after a repair is the next test's).
      try Data("drifted\n".utf8).write(to: URL(fileURLWithPath: path))
      XCTAssertTrue(pollUntil(eventually) { content(path) == want }, "\(path) edit not repaired:\n\(run.log)")

      let t0 = Date()
      try FileManager.default.removeItem(atPath: path)
      XCTAssertTrue(pollUntil(eventually) { content(path) == want }, "\(path) not repaired:\n\(run.log)")
      print("deleted \(path.dropFirst(run.root.count)) back after \(String(format: "%.1f", Date().timeIntervalSince(t0) * 1000)) ms (10 ms polls)")
      let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
      XCTAssertEqual(mode, path == motd ? 0o644 : 0o600)
    }
    XCTAssertTrue(run.log.contains("msg=repaired promise=motd type=file reason=created"), run.log)
    XCTAssertTrue(run.isRunning)

    // The last run was a drift repair; status's header counts are the rows', whatever it checked.
    let doc = try run.status()
    var rows: [String: Int] = ["kept": 0, "repaired": 0, "failed": 0, "skipped": 0, "unknown": 0]
    for p in doc["promises"] as? [[String: Any]] ?? [] { rows[p["status"] as? String ?? "?", default: 0] += 1 }
    XCTAssertEqual(doc["summary"] as? [String: Int], rows, "\(doc)")
    let text = try Edgeagent.run(["status", "--state", run.state]).stdout
    let header = "kept=\(rows["kept"]!) repaired=\(rows["repaired"]!) failed=0 skipped=0\n"
    XCTAssertTrue(text.split(separator: "\n").first.map { ($0 + "\n").hasSuffix(header) } ?? false, text)
    let last = doc["last_run_summary"] as? [String: Int] ?? [:]
    XCTAssertEqual(text.contains("last run alone:"), last != rows.filter { $0.key != "unknown" }, text)
    XCTAssertTrue(text.contains("state held by pid \(run.agentPID) (a daemon)"), text)
  }

  /// An edit that lands right after a repair must be repaired too: the stat cache may only
  /// vouch for the file the agent wrote, not for whatever is at the path a moment later
  /// (Converger.publish takes the identity it caches from an lstat after the rename and the
  /// directory fsync, so an edit in between is cached as the repaired content, and every later
  /// run, full or partial, calls it kept).
  func testEditRightAfterARepairIsRepairedToo() throws {
    let run = try AgentRun.make(self)
    let motd = run.root + "/etc/motd"
    try run.writePolicy("drift", [
      "{\"id\": \"motd\", \"type\": \"file\", \"path\": \"/etc/motd\", \"content\": \"hello\\n\"}",
    ])
    try run.startConverged()
    let content = { (try? String(contentsOfFile: motd, encoding: .utf8)) ?? "" }
    for i in 0..<20 {
      try FileManager.default.removeItem(atPath: motd)
      let deadline = Date().addingTimeInterval(5)
      while content() != "hello\n" && Date() < deadline { usleep(200) }
      XCTAssertEqual(content(), "hello\n", "round \(i): not recreated")
      try Data("drifted \(i)\n".utf8).write(to: URL(fileURLWithPath: motd))
      XCTAssertTrue(pollUntil(eventually) { content() == "hello\n" },
                    "round \(i): an edit right after a repair stays, \"\(content())\": the stat cache vouches for it")
      if content() != "hello\n" { break }
    }
  }

  /// A managed directory moved away (or removed) while running: it comes back with the files
  /// promised in it, and those files are watched again. The directory's watch is on the old
  /// inode, so only the parent's watch sees the change.
  func testFilesInAReplacedDirectoryAreRepairedAndWatchedAgain() throws {
    let run = try AgentRun.make(self)
    let dir = run.root + "/srv/app", conf = dir + "/app.conf"
    try run.writePolicy("tree", [
      "{\"id\": \"dir\", \"type\": \"directory\", \"path\": \"/srv/app\"}",
      "{\"id\": \"conf\", \"type\": \"file\", \"path\": \"/srv/app/app.conf\", \"content\": \"x\\n\", \"after\": [\"dir\"]}",
    ])
    try run.startConverged()
    let content = { (try? String(contentsOfFile: conf, encoding: .utf8)) ?? "" }
    XCTAssertEqual(content(), "x\n")
    // Moved away in one rename (an rm -rf would race with the repairs it triggers).
    try FileManager.default.createDirectory(atPath: run.base + "/trash", withIntermediateDirectories: true)
    try FileManager.default.moveItem(atPath: dir, toPath: run.base + "/trash/app")
    XCTAssertTrue(pollUntil(eventually) { content() == "x\n" }, "the directory came back without its file:\n\(run.log)")
    try FileManager.default.removeItem(atPath: run.base + "/trash")
    // A full run (SIGHUP) re-watches; then a deletion in the new directory is seen.
    run.signal(SIGHUP)
    XCTAssertTrue(run.waitForLog("msg=converged", count: 2, timeout: 5))
    try? FileManager.default.removeItem(atPath: conf)
    XCTAssertTrue(pollUntil(eventually) { content() == "x\n" }, "a file deleted in the re-created directory stays deleted:\n\(run.log)")
  }

  // MARK: shutdown

  func testShutdownLeavesNoProcessBehind() throws {
    let run = try AgentRun.make(self)
    try run.writePolicy("busy", [
      try run.service("forks", script: "sleep 1000 &\nsleep 1000 &\nwait\n"),
      try run.service("pipeline", script: "while :; do sleep 1; done | cat\n"),
      run.service("single", exec: ["/bin/sleep", "1000"]),
    ])
    try run.startConverged()
    // The agent, forks' shell and two sleeps, the pipeline's shells, sleep and cat, single.
    XCTAssertTrue(pollUntil(eventually) { AgentRun.processes(tagged: run.tag).count >= 8 }, "\(AgentRun.processes(tagged: run.tag))")
    let before = AgentRun.processes(tagged: run.tag).filter { $0 != run.agentPID }
    run.signal(SIGTERM)
    let end = run.waitForExit(timeout: 15)
    XCTAssertEqual(end?.reason, .exit)
    XCTAssertEqual(end?.status, 0)
    XCTAssertTrue(run.log.contains("msg=\"all services stopped\""))
    XCTAssertTrue(pollUntil(eventually) { AgentRun.processes(tagged: run.tag).isEmpty },
                  "left behind: \(AgentRun.processes(tagged: run.tag)) of \(before)")
    XCTAssertTrue(before.allSatisfy { !AgentRun.isAlive($0) })
  }

  func testServiceIgnoringSIGTERMIsKilledAfterItsStopTimeout() throws {
    let run = try AgentRun.make(self)
    try run.writePolicy("stubborn", [
      try run.service("stubborn", script: "trap '' TERM\necho ignoring\nwhile :; do sleep 0.1; done\n",
                      "\"stop_timeout\": \"700ms\""),
      run.service("polite", exec: ["/bin/sleep", "1000"]),
    ])
    try run.startConverged()
    XCTAssertTrue(pollUntil(eventually) { run.serviceLog("stubborn").contains("ignoring") })
    let t0 = Date()
    run.signal(SIGTERM)
    let end = run.waitForExit(timeout: 15)
    let took = Date().timeIntervalSince(t0)
    XCTAssertEqual(end?.reason, .exit)
    XCTAssertEqual(end?.status, 0)
    XCTAssertGreaterThanOrEqual(took, 0.7, "killed before its stop timeout")
    XCTAssertTrue(run.logLines.contains { $0.contains("msg=\"service exited\" service=stubborn") && $0.contains("exit=\"signal 9\"") }, run.log)
    XCTAssertTrue(run.logLines.contains { $0.contains("msg=\"service exited\" service=polite") && $0.contains("exit=\"signal 15\"") }, run.log)
    let s = try run.serviceStatus("stubborn")
    XCTAssertEqual(s?["last_exit"] as? Int, -9)
    XCTAssertEqual(s?["state"] as? String, "stopped")
    XCTAssertTrue(pollUntil(eventually) { AgentRun.processes(tagged: run.tag).isEmpty })
  }

  // MARK: policy reloads

  /// A policy file and upstreams: the file is in force until the first bundle is accepted, then
  /// bundles win, across edits, intervals and restarts.
  func testAcceptedBundleSupersedesThePolicyFile() throws {
    let run = try AgentRun.make(self)
    XCTAssertEqual(try Edgeagent.run(["keygen", "--out", run.base + "/k"]).status, 0)
    try run.file("bundle-policy.json", """
      {"policy": "signed", "promises": [{"id": "b", "type": "file", "path": "/etc/from-bundle", "content": "bundle\\n"}]}
      """)
    let published = try Edgeagent.run(["publish", run.base + "/bundle-policy.json", run.base + "/out", "--key", run.base + "/k.key"])
    XCTAssertEqual(published.status, 0, published.stderr)
    let config = try run.file("config.json", """
      {"upstreams": ["file://\(run.base)/out"], "trusted_keys": ["\(run.base)/k.pub"]}
      """)
    try run.writePolicy("local", ["{\"id\": \"f\", \"type\": \"file\", \"path\": \"/etc/from-file\", \"content\": \"file\\n\"}"])
    try run.start(["--config", config])
    XCTAssertTrue(run.waitForLog("msg=\"bundle accepted\" serial=1", timeout: 10), run.log)
    XCTAssertTrue(pollUntil(eventually) { FileManager.default.fileExists(atPath: run.root + "/etc/from-bundle") }, run.log)
    // An edit of the file is not put in force, nor is the file at a SIGHUP.
    try run.writePolicy("edited", ["{\"id\": \"e\", \"type\": \"file\", \"path\": \"/etc/edited\", \"content\": \"x\\n\"}"])
    XCTAssertTrue(run.waitForLog("msg=\"policy file ignored: a signed bundle is in force\"", timeout: 5), run.log)
    let runs = run.log.components(separatedBy: "msg=converged").count - 1
    run.signal(SIGHUP)
    XCTAssertTrue(run.waitForLog("msg=converged", count: runs + 1, timeout: 5), run.log)
    XCTAssertFalse(FileManager.default.fileExists(atPath: run.root + "/etc/edited"), run.log)
    XCTAssertFalse(run.log.contains("policy=edited"), run.log)
    // After a restart too: the bundle's policy from the state, the file ignored.
    run.signal(SIGTERM)
    XCTAssertEqual(run.waitForExit(timeout: 10)?.status, 0)
    try run.startConverged(["--config", config])
    XCTAssertTrue(run.log.contains("msg=\"policy file ignored: a signed bundle is in force\""), run.log)
    XCTAssertTrue(run.log.contains("msg=\"converging to the last good policy from the state\" policy=signed"), run.log)
    XCTAssertFalse(FileManager.default.fileExists(atPath: run.root + "/etc/edited"), run.log)
  }

  func testBrokenPolicyEditKeepsTheLastGoodOneAndAValidEditIsPickedUp() throws {
    let run = try AgentRun.make(self)
    let f = run.root + "/etc/f"
    let content = { (try? String(contentsOfFile: f, encoding: .utf8)) ?? "" }
    try run.writePolicy("v1", [
      "{\"id\": \"f\", \"type\": \"file\", \"path\": \"/etc/f\", \"content\": \"one\\n\"}",
      run.service("keep", exec: ["/bin/sleep", "1000"]),
      run.service("gone", exec: ["/bin/sleep", "1001"]),
      run.service("changes", exec: ["/bin/sleep", "1002"]),
    ])
    try run.startConverged()
    XCTAssertTrue(try pollUntil(eventually) { try ["keep", "gone", "changes"].allSatisfy { try run.servicePID($0) > 0 } })
    let keep = try run.servicePID("keep"), gone = try run.servicePID("gone"), changes = try run.servicePID("changes")

    // A syntax error: line 3, column 9 (the promises start on line 3, at column 3).
    try run.writePolicy(run.policyText("v2", ["{\"id\" \"f\"}"]))
    XCTAssertTrue(run.waitForLog("policy rejected", timeout: 5), run.log)
    XCTAssertTrue(run.log.contains("\(run.policyPath):3:9"), run.log)
    // A valid JSON but an invalid policy: an unknown key, at its own line:column.
    let unknown = "{\"id\": \"f\", \"type\": \"file\", \"path\": \"/etc/f\", \"colour\": \"red\"}"
    try run.writePolicy(run.policyText("v2", [unknown]))
    XCTAssertTrue(run.waitForLog("policy rejected", count: 2, timeout: 5), run.log)
    let column = unknown.distance(from: unknown.startIndex, to: unknown.range(of: "\"colour\"")!.lowerBound) + 3
    XCTAssertTrue(run.log.contains("\(run.policyPath):3:\(column)"), run.log)

    // v1 still holds: its file is repaired, its services untouched.
    try FileManager.default.removeItem(atPath: f)
    XCTAssertTrue(pollUntil(eventually) { content() == "one\n" }, run.log)
    XCTAssertEqual(try run.servicePID("keep"), keep)
    XCTAssertEqual(try run.servicePID("gone"), gone)
    XCTAssertEqual(try run.servicePID("changes"), changes)

    // A valid edit: in force without a restart of the agent.
    try run.writePolicy("v2", [
      "{\"id\": \"f\", \"type\": \"file\", \"path\": \"/etc/f\", \"content\": \"two\\n\"}",
      run.service("keep", exec: ["/bin/sleep", "1000"]),
      run.service("changes", exec: ["/bin/sleep", "1003"]),
      run.service("fresh", exec: ["/bin/sleep", "1004"]),
    ])
    XCTAssertTrue(run.waitForLog("msg=\"policy loaded\" policy=v2", timeout: 5), run.log)
    XCTAssertTrue(pollUntil(eventually) { content() == "two\n" })
    XCTAssertTrue(try pollUntil(eventually) { try run.servicePID("fresh") > 0 }, run.log)
    XCTAssertTrue(try pollUntil(eventually) { let pid = try run.servicePID("changes"); return pid > 0 && pid != changes }, run.log)
    XCTAssertTrue(pollUntil(eventually) { !AgentRun.isAlive(gone) }, "a service removed from the policy still runs")
    // A failed status must fail here, not read as "the service is gone".
    XCTAssertTrue(try pollUntil(eventually) { try run.serviceStatus("gone") == nil })
    XCTAssertFalse(AgentRun.isAlive(changes))
    XCTAssertEqual(try run.servicePID("keep"), keep, "an unchanged service was restarted")
    XCTAssertTrue(run.isRunning)
    XCTAssertEqual(run.log.components(separatedBy: "msg=starting").count - 1, 1, "the agent restarted")
    XCTAssertEqual(try run.status()["policy"] as? String, "v2")
  }
}
