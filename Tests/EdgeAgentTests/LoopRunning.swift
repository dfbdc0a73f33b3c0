import EdgeLoop

extension Loop {
  /// Runs the loop until `done` holds or `timeoutMs` of loop time pass. A repeating timer keeps
  /// each turn from blocking for long, so `done` is checked at least every 50 ms.
  func run(until done: () -> Bool, timeoutMs: UInt64) {
    updateTime()
    let t0 = now
    let guardTimer = Timer(self)
    guardTimer.start(after: 50, repeat: 50) {}
    while !done() && now - t0 < timeoutMs { runOnce() }
    guardTimer.close()
  }
}
