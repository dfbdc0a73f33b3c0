import EdgeCore
import EdgeHost
import EdgeLoop
import EdgeStore
import EdgeSupervise
import EdgeUpdate

/// Signals, and the ordered shutdown they (or the main service's exit) start.
extension Daemon {
  func watchSignals() {
    // SIGUSR2 is what busybox's `poweroff` sends init.
    for sig in [Signal.terminate, Signal.interrupt, Signal.power, Signal.hangup, Signal.user1, Signal.user2] {
      let w = SignalWatcher(loop)
      do throws(LoopError) {
        try w.start(sig) { [unowned(unsafe) self] n in self.signal(n) }
      } catch {
        log.warn("unable to watch a signal", [("signal", .int(Int(sig))), ("err", .string(error.description))])
      }
      signals.append(w)
    }
  }

  func signal(_ n: Int32) {
    switch n {
    case Signal.hangup:
      log.info("SIGHUP: converging now")
      loadPolicy(initial: false)
      refreshFacts()
      converge()
    case Signal.user1:
      log.info("status", [("orphans_reaped", .int(reaper.orphansReaped)), ("runs", .int(runs))])
    default:
      let names: [Int32: String] = [Signal.power: "SIGPWR", Signal.interrupt: "SIGINT", Signal.user2: "SIGUSR2"]
      shutdown(reason: names[n] ?? "SIGTERM")
    }
  }

  /// Stops every service in reverse order within their timeouts, then syncs and, as PID 1,
  /// powers off (in a container: exits with the main service's status).
  public func shutdown(reason: String) {
    if shuttingDown { return }
    shuttingDown = true
    log.info("shutting down", [("reason", reason)])
    cancelCommand()
    stager.cancel()
    updateTimer.stop()
    imageRelease.close()
    // systemd (and anything else on $NOTIFY_SOCKET) learns the stop is ours, not a crash.
    sdNotify("STOPPING=1")
    stopReports()
    stopBundles()
    stopMetrics()
    supervisor.stopAll { [unowned(unsafe) self] in
      self.log.info("all services stopped")
      // A main service ended by a signal exits 128 + the signal, as sh and container runtimes
      // report it (exit(-15) would show as 241).
      let main = self.supervisor.mainExit ?? 0
      self.exitCode = self.config.container ? (main < 0 ? 128 - main : main) : 0
      self.supervisor.closeLogs()
      self.env.close()
      self.stateLock.release()
      if self.isInit && !self.config.container { self.releaseDisks() }
      syncAll()
      if self.isInit && !self.config.container {
        self.log.info("powering off")
        let e = powerOff()
        self.log.error("unable to power off", [("err", e.description)])
      }
      self.loop.stop()
    }
  }
}
