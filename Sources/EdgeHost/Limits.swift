import CEdge

/// Raises this process's soft limit on open files towards `want` (never above the hard limit,
/// never lowered) and returns the soft limit now in force. A relay holds one descriptor per
/// child, and an init's default soft limit (1024) is below what a fan-out relay needs.
/// C: `getrlimit`, `setrlimit` (RLIMIT_NOFILE)
public func raiseOpenFileLimit(to want: Int) -> Int {
  var rl = rlimit()
  let resource = CInt(EDGE_RLIMIT_NOFILE)
  guard system_getrlimit(resource, &rl) == 0 else { return 1024 }
  let target = min(rlim_t(want), rl.rlim_max)
  if rl.rlim_cur < target {
    var raised = rl
    raised.rlim_cur = target
    if system_setrlimit(resource, &raised) == 0 { rl = raised }
  }
  return rl.rlim_cur > rlim_t(Int.max) ? Int.max : Int(rl.rlim_cur)
}
