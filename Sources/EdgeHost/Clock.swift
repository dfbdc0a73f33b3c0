import CEdge

/// Wall-clock seconds since the epoch (may jump: a box without RTC boots in 1970).
public func wallClockSeconds() -> Int64 {
  #if EDGE_MOCKING
  if let t = TestClock.wall { return t >= 0 ? t / 1_000_000_000 : (t - 999_999_999) / 1_000_000_000 }
  #endif
  var ts = timespec()
  clock_gettime(CLOCK_REALTIME, &ts)
  return Int64(ts.tv_sec)
}

/// Wall-clock nanoseconds since the epoch.
public func wallClockNanoseconds() -> Int64 {
  #if EDGE_MOCKING
  if let t = TestClock.wall { return t }
  #endif
  return realWallClockNanoseconds()
}

/// The coarse wall clock, in nanoseconds: the clock the kernel stamps files' mtime and ctime
/// from (up to one tick, 1 to 10 ms, behind the fine one), for `FileIdentity.settled`. Since
/// Linux 6.13 a stamp may come from the fine clock instead, and so be ahead of this one: that
/// only makes it settle a tick later.
public func coarseWallClockNanoseconds() -> Int64 {
  #if EDGE_MOCKING
  if let t = TestClock.wall { return t }
  #endif
  var ts = timespec()
  clock_gettime(CLOCK_REALTIME_COARSE, &ts)
  return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

/// Monotonic nanoseconds, for durations and benchmarks.
public func monotonicNanoseconds() -> UInt64 {
  #if EDGE_MOCKING
  if let t = TestClock.monotonic { return t }
  #endif
  return realMonotonicNanoseconds()
}

/// The kernel's clocks, past any test clock. C: `clock_gettime`
func realWallClockNanoseconds() -> Int64 {
  var ts = timespec()
  clock_gettime(CLOCK_REALTIME, &ts)
  return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

func realMonotonicNanoseconds() -> UInt64 {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// `2026-11-24T21:19:47Z` for Unix seconds, always UTC. Computed here (days to civil date, Howard
/// Hinnant's algorithm) rather than with gmtime_r, which in a static glibc brings in the whole
/// time-zone machinery for an answer that never needs a zone.
public func isoTime(_ seconds: Int64) -> String {
  let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
  let secs = seconds - days * 86_400
  let z = days + 719_468
  let era = (z >= 0 ? z : z - 146_096) / 146_097
  let doe = z - era * 146_097
  let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
  let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
  let mp = (5 * doy + 2) / 153
  let day = doy - (153 * mp + 2) / 5 + 1
  let month = mp < 10 ? mp + 3 : mp - 9
  let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
  func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
  return "\(year)-\(two(month))-\(two(day))T\(two(secs / 3600)):\(two((secs % 3600) / 60)):\(two(secs % 60))Z"
}

/// `2026-11-24T21:19:47.042Z` for Unix milliseconds, always UTC (the log's timestamps).
public func isoTime(milliseconds ms: Int64) -> String {
  let s = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
  let frac = ms - s * 1000
  var t = isoTime(s)
  t.removeLast()
  return t + (frac < 10 ? ".00" : frac < 100 ? ".0" : ".") + "\(frac)Z"
}

/// libsodium's version.
public func libsodiumVersion() -> String { String(cString: sodium_version_string()) }
