import EdgeCore
import EdgeHost
import EdgeLoop
import EdgeStore
import EdgeSupervise
import EdgeUpdate

/// The daemon's side of EdgeUpdate: which binary runs (decided at start), a bundle's `agent`
/// entry staged and self-tested, the switch (trial and handoff recorded, then exec in place:
/// the same pid, PID 1 stays PID 1, the services keep running), the new image's adoption of
/// the services, and its commit after a full convergence and `agent_trial` without a crash.
extension Daemon {
  static var agentTarget: String { agentTargetName }

  /// A log line of this file: level 0 info, 1 warn, 2 error; one or two fields. One body for
  /// every call here: each call site building its own field list cost the binary more than the
  /// logic it reports on.
  @inline(never)
  static func say(_ log: Logger, _ level: Int, _ msg: String, _ k1: String, _ v1: String, _ k2: String = "", _ v2: String = "") {
    var f = [(k1, v1)]
    if !k2.isEmpty { f.append((k2, v2)) }
    switch level {
    case 0: log.info(msg, f)
    case 1: log.warn(msg, f)
    default: log.error(msg, f)
    }
  }

  /// At start, once the state is open and before anything runs: reads (and removes) the
  /// handed-over variables, rolls back an unfinished trial, and chains to the committed binary
  /// (returning only when that exec failed: the image's binary runs on).
  static func decideBinary(_ env: Environment, _ config: DaemonConfig, log: Logger) -> BootDecision {
    let token = environmentValue(trialTokenVariable)
    let chained = environmentValue(chainedVariable)
    unsetEnvironmentValue(trialTokenVariable)
    unsetEnvironmentValue(chainedVariable)
    let d: BootDecision
    do throws(StoreError) {
      d = try decideAtStart(env, layout: StateLayout(config.stateDir), compiled: edgeagentVersion, token: token, chained: chained,
                            exe: executablePath(), now: wallClockSeconds())
    } catch {
      Daemon.say(log, 2, "unable to read the agent's update record; running this binary", "err", error.description)
      return BootDecision(runningVersion: edgeagentVersion)
    }
    if let v = d.rolledBack {
      Daemon.say(log, 2, "agent trial did not commit: rolled back", "version", v)
      do {
        let r = try loadAgentUpdate(env)
        for p in pruneStaged(StateLayout(config.stateDir), keep: r.committedVersion.isEmpty ? nil : r.committedDigest) {
          Daemon.say(log, 1, "unable to remove a staged agent binary", "err", p)
        }
      } catch {
        Daemon.say(log, 2, "unable to read the agent's update record", "err", error.description)
      }
    }
    if let (path, version) = d.chainTo {
      Daemon.say(log, 0, "running the committed agent", "version", version, "path", path)
      var e = HostError(.invalid, "read the agent's update record")
      do throws(StoreError) {
        let digest = try loadAgentUpdate(env).committedDigest
        do throws(HostError) {
          e = replaceProcess(try runnableCopy(of: path, digest: digest, asInit: processID() == 1, root: config.root), argv: commandLineArguments(),
                             setting: [(chainedVariable, version)])
        } catch { e = error }
      } catch {
        e = HostError(.invalid, "read the agent's update record (\(error))")
      }
      Daemon.say(log, 2, "unable to run the committed agent; running this binary", "version", version, "err", e.description)
    }
    return d
  }

  /// A bundle's `agent` entry (at start from the bundle in force, then from each accepted one):
  /// stages and self-tests this target's binary when its version is not the one running.
  func considerAgentUpdate(_ release: AgentRelease?) {
    wantedAgentVersion = release?.version
    guard !shuttingDown, stager.staging == nil, pendingSwitch == nil else { return }
    let record: AgentUpdateRecord
    do { record = try loadAgentUpdate(env) } catch {
      Daemon.say(log, 2, "unable to read the agent's update record", "err", error.description)
      return
    }
    switch chooseUpdate(release, target: Daemon.agentTarget, running: agent.runningVersion, record: record) {
    case .none: return
    case .skip(let why):
      if why != lastUpdateSkip { Daemon.say(log, 0, "not updating the agent", "reason", why) }
      lastUpdateSkip = why
    case .stage(let version, let digest):
      Daemon.say(log, 0, "staging agent", "version", version, "sha256", digest.hex)
      stager.stage(version: version, digest: digest, target: Daemon.agentTarget, configPath: config.path) { [unowned(unsafe) self] r in
        self.staged(r)
      }
    }
  }

  func staged(_ r: AgentStager.Result) {
    switch r {
    case .refused(let version, let reason):
      Daemon.say(log, 2, "agent update refused", "version", version, "reason", reason)
      do { try recordRefusal(env, version: version, reason: reason, now: wallClockSeconds()) } catch {
        Daemon.say(log, 2, "unable to record the refusal", "err", error.description)
      }
      pruneStagedSaid(keep: committedDigest())
    case .ready(let version, let digest, let path):
      Daemon.say(log, 0, "agent self-test passed", "version", version)
      pendingSwitch = (version, digest, path)
      switchAgentWhenIdle()
    }
  }

  /// Switches once no command is running (its child and its convergence belong to this image).
  func switchAgentWhenIdle() {
    guard pendingSwitch != nil, !shuttingDown else { return }
    if inFlight != nil {
      updateTimer.start(after: 100) { [unowned(unsafe) self] in self.switchAgentWhenIdle() }
      return
    }
    guard let (version, digest, path) = pendingSwitch else { return }
    pendingSwitch = nil
    let handoff = supervisor.handoff()
    let token: String
    do {
      token = try beginTrial(env, version: version, digest: digest, previous: agent.runningVersion, handoff: handoff, now: wallClockSeconds())
    } catch {
      Daemon.say(log, 2, "unable to record the agent trial; not switching", "err", error.description)
      return
    }
    for s in handoff.services where s.outputFD >= 0 {
      do { try keepAcrossExec(s.outputFD) } catch { Daemon.say(log, 1, "service output will not be carried over", "service", s.id, "err", error.description) }
    }
    Daemon.say(log, 0, "switching agent in place", "from", agent.runningVersion, "to", version)
    if kernelInit { kernelLog("edgeagent: switching from \(agent.runningVersion) to \(version)") }
    let e: HostError
    do { e = replaceProcess(try runnableCopy(of: path, digest: digest, asInit: isInit, root: root), argv: commandLineArguments(),
                            setting: [(trialTokenVariable, token)]) } catch { e = error }
    // Still here: nothing was replaced. The services stay ours, their pipes close on a later exec.
    for s in handoff.services where s.outputFD >= 0 { closeOnExec(s.outputFD) }
    Daemon.say(log, 2, "unable to switch agent", "version", version, "err", e.description)
    do { try abandonTrial(env, reason: "exec failed: \(e)", now: wallClockSeconds()) } catch {
      Daemon.say(log, 2, "unable to record the failed switch", "err", error.description)
    }
  }

  /// The committed binary's digest (nil: the image's), for pruning the others.
  func committedDigest() -> Digest? {
    do {
      let r = try loadAgentUpdate(env)
      return r.committedVersion.isEmpty ? nil : r.committedDigest
    } catch {
      Daemon.say(log, 2, "unable to read the agent's update record", "err", error.description)
      return nil
    }
  }

  func pruneStagedSaid(keep: Digest?) {
    for p in pruneStaged(StateLayout(config.stateDir), keep: keep) { Daemon.say(log, 1, "unable to remove a staged agent binary", "err", p) }
  }

  /// The new image's side: the handed-over services, for the supervisor's first update.
  func takeHandedOverServices() {
    guard agent.isTrial else { return }
    do throws(StoreError) {
      guard let h = try takeHandoff(env) else { return }
      supervisor.adoptable = h.services
    } catch {
      Daemon.say(log, 2, "unable to read the handed-over services; they will be started anew", "err", error.description)
    }
  }

  /// After a full convergence: a trial's window starts with its first.
  func agentConverged() {
    guard agent.isTrial, !trialWindowStarted else { return }
    trialWindowStarted = true
    Daemon.say(log, 0, "agent trial window started", "version", agent.runningVersion, "ms", String(config.agentTrialMs))
    updateTimer.start(after: UInt64(config.agentTrialMs)) { [unowned(unsafe) self] in self.commitAgent() }
  }

  func commitAgent() {
    do {
      guard let t = try commitTrial(env, now: wallClockSeconds()) else { return }
      agent.isTrial = false
      Daemon.say(log, 0, "agent committed", "version", t.version, "previous", t.previousVersion)
      if kernelInit { kernelLog("edgeagent: committed \(t.version)") }
      pruneStagedSaid(keep: t.digest)
      // A bundle accepted during the trial may name yet another version.
      considerAgentUpdate(heldAgentRelease())
    } catch {
      // Uncommitted, the next start rolls back: better than running on a state we cannot write.
      Daemon.say(log, 2, "unable to commit the agent trial", "err", error.description)
    }
  }
}
