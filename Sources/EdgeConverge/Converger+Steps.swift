import EdgeCore
import EdgeHost

/// A convergence that can wait for a program without holding its caller: `begin`, then
/// `advance` until it returns nil, running each `CommandRequest` it returns and handing the
/// answer to `resume`. The daemon runs commands as children watched by its loop (PID 1 must go on
/// reaping, supervising and repairing drift meanwhile); `run` answers them by blocking.
///
/// Staged files are published before any program runs (`advance` does it before every promise
/// whose type `publishesFirst`: commands and sysctls), so nothing is staged while a run waits.
extension Converger {
  struct Run {
    var policy: Policy? = nil
    /// Every promise's, by index; or with `window`, those of positions `windowStart...` of
    /// `order`, by position.
    var prepared: [PreparedPromise] = []
    /// How many promises are prepared at a time as the run reaches them (0: all, given).
    var window = 0
    var windowStart = 0
    var order: [Int] = []
    /// The position in `order` of the next promise to check.
    var cursor = 0
    /// The program the run waits for, and its answer once `resume` gave it.
    var waiting: CommandRequest? = nil
    var answer: CommandAnswer? = nil
  }

  /// Starts a run over `order`; outcomes are collected in `outcomes` as it goes. With
  /// `preparingBy`, `prepared` is empty and the run prepares its promises that many at a time
  /// as it reaches them, keeping each one's digest in `fingerprints`: a run that is not repeated
  /// (`apply`) holds 32 bytes a promise for them, where its prepared promises took 104 (10.4 MB
  /// at 100,000).
  public func begin(_ policy: Policy, _ prepared: [PreparedPromise], preparingBy window: Int = 0, order: [Int]) {
    outcomes = [Outcome?](repeating: nil, count: policy.promises.count)
    fingerprints = window > 0 ? [Digest](repeating: .zero, count: policy.promises.count) : []
    notified = [Bool](repeating: false, count: policy.promises.count)
    statUpdates.removeAll(keepingCapacity: true)
    observedFrom = coarseWallClockNanoseconds()
    // Only `after` and `notify` look promises up by id: a policy without them (10,000 files)
    // builds no index (2 MB at 100,000 promises, 6 MB as a `[String: Int]`, and a hash of every
    // id each run).
    ids = IndexTable()
    if policy.promises.contains(where: { !$0.after.isEmpty || !$0.notify.isEmpty }) {
      ids.reserve(policy.promises.count)
      for (i, p) in policy.promises.enumerated() { ids.insert(IndexTable.hash(0, p.id), i) }
    }
    current = Run(policy: policy, prepared: prepared, window: window, order: order)
    // The database is looked at again each run; its parse is kept while its identity holds.
    packages.database = nil
    packages.decided = [:]
  }

  /// True between `begin` and the end of the run (or `abandon`).
  public var inRun: Bool { current.policy != nil }

  /// Checks and repairs promises until one needs a program run (returned: run it, then
  /// `resume`), or until the run is over (nil: `outcomes` and `statUpdates` are complete and
  /// every repair is durable). The closures are only used during this call, so a caller may
  /// open a store transaction around each call and close it before waiting.
  public func advance(cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                      blob: (Digest, (UnsafeRawBufferPointer?) -> Void) -> Void,
                      previous: (String) -> ActualRecord?) -> CommandRequest? {
    guard let policy = current.policy else { return nil }
    if let request = current.waiting {
      guard let answer = current.answer else { return request }   // not answered yet: still waiting
      current.waiting = nil
      current.answer = nil
      // The command, or a drift repair made while it ran, may have replaced directories this run
      // opened: open them again (nothing is staged in them: publish ran before the command).
      directories.removeAll()
      let i = request.index
      let p = policy.promises[i]
      switch p.type.ended(self, p, preparedPromise(current.cursor), request, answer) {
      case .run(let next):
        current.waiting = next
        return next
      case .outcome(let o):
        settle(p, i, o)
        current.cursor += 1
      }
    }
    // Loops over indices, not `for x in array`: unoptimised builds (the tests') malloc once per
    // element of an array's iterator, and a kept check must allocate nothing in any build.
    while current.cursor < current.order.count {
      let i = current.order[current.cursor]
      let p = policy.promises[i]
      // A program may read what earlier promises wrote: make staged files visible first.
      if p.type.publishesFirst { publish() }
      let outcome: Outcome
      switch step(p, preparedPromise(current.cursor), cachedStat: cachedStat, blob: blob, previous: previous) {
      case .run(let request):
        current.waiting = request
        return request
      case .outcome(let o): outcome = o
      }
      settle(p, i, outcome)
      current.cursor += 1
      // After `settle`: publishing may mark this promise failed, and its outcome must stand.
      if staged.count >= publishEvery { publish() }
    }
    finish()
    current = Run()
    return nil
  }

  /// The prepared promise at `position` of the run's order; with a window, the window that holds
  /// it is prepared first (in the room of the last one: no allocation but the promises' own).
  func preparedPromise(_ position: Int) -> PreparedPromise {
    let i = current.order[position]
    if current.window == 0 { return current.prepared[i] }
    if position < current.windowStart || position >= current.windowStart + current.prepared.count {
      current.prepared.removeAll(keepingCapacity: true)
      current.windowStart = position
      let keys = StatCacheKey(root: root)
      let promises = current.policy!.promises
      var q = position
      while q < min(position + current.window, current.order.count) {
        let k = current.order[q]
        let pp = PreparedPromise(index: k, promise: promises[k], keys: keys)
        fingerprints[k] = pp.digest ?? .zero
        current.prepared.append(pp)
        q += 1
      }
    }
    return current.prepared[position - current.windowStart]
  }

  /// The answer to the request `advance` returned; the next `advance` goes on from there.
  public func resume(_ answer: CommandAnswer) {
    if current.waiting != nil { current.answer = answer }
  }

  /// Gives up the run in progress (shutdown while a command runs): what was staged is
  /// published, the rest is left for the next run.
  public func abandon() {
    if !inRun { return }
    finish()
    current = Run()
  }

  func settle(_ p: Promise, _ i: Int, _ outcome: Outcome) {
    outcomes[i] = outcome
    if outcome.status == .repaired {
      for target in p.notify { if let t = indexOfId(target) { notified[t] = true } }
    }
  }
}
