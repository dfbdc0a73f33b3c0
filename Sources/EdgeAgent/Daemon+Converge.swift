import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeLoop
import EdgeStore
import EdgeSupervise

/// Full and drift convergences, their record, and the timer of full runs.
extension Daemon {
  /// Converges every promise, or just `only` (drift), records the outcomes, then brings the
  /// services along. A command promise runs as a child watched by the loop: the convergence
  /// waits for it without holding the loop (`step`, Daemon+Commands.swift).
  func converge(only: [Int]? = nil) {
    // A new policy (a file read, a bundle accepted) comes through here: its text is let go by now or within this turn.
    heapTrim.soon()
    guard let policy, !shuttingDown else { return }
    if inFlight != nil {
      convergeWhileCommandRuns(only)
      return
    }
    runs += 1
    let t0 = monotonicNanoseconds()
    let runOrder = only.map { set in order.filter { set.contains($0) } } ?? order
    converger.begin(policy, prepared, order: runOrder)
    inFlight = Convergence(policy: policy, order: order, prepared: prepared, digest: policyDigest, only: only, t0: t0)
    step()
  }

  /// Records a finished convergence's outcomes and brings the services along.
  func complete(_ c: Convergence, _ converger: Converger, _ result: [Outcome?]) {
    let policy = c.policy, order = c.order, prepared = c.prepared, only = c.only, t0 = c.t0
    let runOrder = only.map { set in order.filter { set.contains($0) } } ?? order
    let t1 = monotonicNanoseconds()
    var summary = RunSummary()
    for i in runOrder {
      guard let o = result[i] else { continue }
      outcomes[i] = o
      summary.add(o.status)
      let p = policy.promises[i]
      if o.status == .repaired && p.type != .service {
        log.info("repaired", [("promise", p.id), ("type", p.type.name), ("reason", o.reason)])
      } else if o.status == .failed {
        log.error("promise failed", [("promise", p.id), ("type", p.type.name), ("reason", o.reason)])
      }
    }
    do throws(StoreError) {
      _ = try record(env, policy: policy, order: order, digest: c.digest, fingerprints: .prepared(prepared), outcomes: result,
                     statUpdates: &converger.statUpdates, summary: only == nil ? summary : nil,
                     classes: recordedClasses, policyFile: ("", nil))
      try env.sync()
    } catch {
      log.error("unable to record outcomes", [("err", error.description)])
    }
    let t2 = monotonicNanoseconds()
    // Services follow the files: blocked ones (false condition, failed dependency) are held.
    var blocked: [String: String] = [:]
    var notified: [String] = []
    for i in order where policy.promises[i].type == .service {
      let p = policy.promises[i]
      if let o = outcomes[i], o.status == .skipped { blocked[p.id] = o.reason }
      if converger.notified.count > i && converger.notified[i] { notified.append(p.id) }
    }
    // Notify first: it restarts services that were already running; new ones start fresh.
    supervisor.notify(notified)
    supervisor.update(policy, order: order, blocked: blocked)
    lastRun.count(summary)
    if only == nil {
      let now = monotonicNanoseconds()
      lastRun.finished(summary, at: now, took: now - t0)
      var fields: [(String, LogValue)] = [("policy", .string(policy.name)), ("kept", .int(summary.kept)), ("repaired", .int(summary.repaired)),
                    ("failed", .int(summary.failed)), ("skipped", .int(summary.skipped)), ("ms", .int(Int((now - t0) / 1_000_000))),
                    ("check_ms", .int(Int((t1 - t0) / 1_000_000))), ("record_ms", .int(Int((t2 - t1) / 1_000_000)))]
      if !notifiedReady { fields.append(("since_start_ms", .int(Int((now - startedNs) / 1_000_000)))) }
      log.info("converged", fields)
      // systemctl status shows the last run; the line is built only when someone listens.
      if sdNotifyListening() {
        sdNotify("STATUS=converged: \(summary.kept) kept, \(summary.repaired) repaired, \(summary.failed) failed")
      }
      // The boot milestone, stamped by the kernel's clock like its own messages.
      if !notifiedReady && kernelInit { kernelLog("edgeagent: first convergence complete (\(summary.failed) failed)") }
      rewatch()
      agentConverged()
    }
    // Ready after the first whole pass, not after a drift repair made while it waits for a command.
    if !notifiedReady && converger === self.converger {
      notifiedReady = true
      sdNotify("READY=1")
    }
    reportAfterRun()
    // The code of start-up and of this run need not stay mapped once the agent is idle.
    imageRelease.soon()
  }

  /// The next full run: every interval, at this host's offset within it.
  func scheduleNext() {
    let interval = UInt64(config.intervalMs)
    let offset = UInt64(splay(hostID, interval))
    let nowMs = UInt64(wallClockNanoseconds() / 1_000_000)
    let phase = (nowMs + interval - offset % interval) % interval
    let delay = interval - phase
    convergeTimer.start(after: delay < 100 ? delay + interval : delay) { [unowned(unsafe) self] in
      self.loadPolicy(initial: false)
      self.refreshFacts()
      self.converge()
      self.scheduleNext()
    }
  }
}

/// This host's offset within an interval: the first 8 bytes of sha256(host id), mod interval.
public func splay(_ hostID: String, _ intervalMs: UInt64) -> UInt64 {
  guard intervalMs > 0 else { return 0 }
  return SHA256.hash(Array(hostID.utf8)).w0 % intervalMs
}
