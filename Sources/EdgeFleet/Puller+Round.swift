import EdgeCore
import EdgeHost
import EdgeLoop
import EdgeStore

/// A round: each upstream in turn until one answers, then the next round's timer.
extension Puller {
  enum Answer {
    case unchanged(longPoll: Bool)
    case accepted(AcceptedBundle)
    /// The upstream answered with something unusable: try the next one.
    case failed(String)
  }

  func round() {
    guard running, !inRound else { return }
    inRound = true
    stats.rounds += 1
    checkExpiry()
    let list = roundUpstreams()
    if list.isEmpty {
      inRound = false
      stats.lastError = "no upstreams configured"
      schedule(config.intervalMs)
      return
    }
    tryUpstream(list, 0)
  }

  func tryUpstream(_ list: [UpstreamURL], _ i: Int) {
    guard running else { inRound = false; return }
    if i == list.count {
      inRound = false
      stats.failedRounds += 1
      noteReachable(false)
      let delay = PullSchedule.backoffMs(failures: stats.failedRounds, random: randomBelow(UInt32.max))
      log("warn", "unable to pull from any upstream", [("upstreams", .int(list.count)), ("err", .string(stats.lastError)),
                                                       ("retry_ms", .int(Int(delay)))])
      schedule(delay)
      return
    }
    let u = list[i]
    // An origin other than the one that answered last: that is the check `originCheckMs` asks for.
    if config.origins.contains(u) && u != lastAnswered { lastOriginAsk = loop.now }
    pull(from: u) { [unowned(unsafe) self] answer in
      switch answer {
      case .failed(let why):
        self.stats.failures += 1
        self.stats.lastError = "\(u): \(why)"
        self.tryUpstream(list, i + 1)
      case .unchanged(let longPoll):
        self.lastAnswered = u
        self.stats.notModified += 1
        self.pullTeams(from: u) { [unowned(unsafe) self] in self.roundDone(longPoll: longPoll) }
      case .accepted(let b):
        self.lastAnswered = u
        self.stats.accepted += 1
        self.relays = b.relays
        self.relayFanout = b.relayFanout
        self.heldSerial = b.serial
        self.heldDigest = b.digest
        self.heldExpires = b.expires
        self.stats.heldExpired = false
        self.notePlace()
        self.log("info", "bundle accepted", [("serial", .int(Int(b.serial))), ("policy", .string(b.policy.name)),
                                             ("promises", .int(b.policy.promises.count)), ("from", .string(u.description))])
        self.delegatedTeams = b.delegations.map { $0.team }
        self.onAccepted(b)
        // Long-polling upstream, or the bundle named relays ranked before the one that
        // answered (typically: the first pull came from the origin): next round at once.
        let again = self.upstreamLongPolls || self.upstreams().first != u
        self.pullTeams(from: u) { [unowned(unsafe) self] in self.roundDone(longPoll: again) }
      }
    }
  }

  func roundDone(longPoll: Bool) {
    inRound = false
    stats.failedRounds = 0
    stats.lastContact = wallClockSeconds()
    noteReachable(true)
    if longPoll && config.longPollSeconds > 0 {
      // The relay held the request until a change or its timeout: ask again at once (a little
      // jitter so children of one relay do not reconnect in lockstep).
      schedule(UInt64(randomBelow(50)))
    } else {
      schedule(PullSchedule.jittered(config.intervalMs, random: randomBelow(UInt32.max)))
    }
  }
}
