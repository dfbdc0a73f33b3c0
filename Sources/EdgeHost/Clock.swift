import CEdge

/// Wall-clock seconds since the epoch (may jump: a box without RTC boots in 1970).
public func wallClockSeconds() -> Int64 {
  var ts = timespec()
  clock_gettime(CLOCK_REALTIME, &ts)
  return Int64(ts.tv_sec)
}

/// Monotonic nanoseconds, for durations and benchmarks.
public func monotonicNanoseconds() -> UInt64 {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// `2026-11-24T21:19:47Z` for Unix seconds (UTC; no time zone database in a static binary).
public func isoTime(_ seconds: Int64) -> String {
  var t = time_t(seconds)
  var tm = CEdge.tm()
  guard gmtime_r(&t, &tm) != nil else { return "\(seconds)" }
  func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
  return "\(tm.tm_year + 1900)-\(two(tm.tm_mon + 1))-\(two(tm.tm_mday))T\(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec))Z"
}

/// libsodium's version.
public func libsodiumVersion() -> String { String(cString: sodium_version_string()) }
