import EdgeCore
import EdgeHost

/// One benchmark's figures: the median over rounds of the time per operation, and the
/// allocations and syscalls (machine-independent, so a regression check compares them exactly).
public struct BenchResult {
  public var name: String
  public var nsPerOp: UInt64
  public var opsPerRound: Int
  public var rounds: Int
  /// Allocations over all timed rounds: the exact count the baseline gate compares. The same
  /// build and workload make the same count; a per-op average would hide a few in rounding.
  public var allocations: UInt64
  /// Calls through EdgeHost's syscall seam over all timed rounds, and those that failed: exact
  /// too (ResourceUsage.swift's `syscallCount`).
  public var syscalls: UInt64 = 0
  public var failedSyscalls: UInt64 = 0
  /// Allocations per operation, in hundredths (2.50 allocations -> 250), to stay integral.
  public var allocsPerOpX100: UInt64 {
    let total = UInt64(max(opsPerRound, 1) * rounds)
    return (allocations * 100 + total / 2) / total
  }
}

public struct BenchOptions {
  /// Only benchmarks whose name contains this.
  public var filter: String? = nil
  public var rounds = 7
  /// Smaller workloads, for a check that the benchmarks run (CI under qemu).
  public var quick = false
  public init() {}

  /// What was run, as the baseline names it: `full rounds=7`, `quick rounds=3 filter=lmdb`.
  /// Counts depend on it (the state's history before a benchmark, the rounds they sum over).
  public var workload: String {
    "\(quick ? "quick" : "full") rounds=\(rounds)" + (filter.map { " filter=\($0)" } ?? "")
  }
}

public struct BenchReport {
  public var results: [BenchResult]
  public var peakRSSKiB: Int
  /// `buildName` and `BenchOptions.workload`: a baseline is compared only with the same two.
  public var build: String = buildName
  public var workload: String = BenchOptions().workload

  public var text: String {
    var rows: [[String]] = [["BENCHMARK", "NS/OP", "OPS/ROUND", "ROUNDS", "ALLOCS/OP", "ALLOCS", "SYSCALLS", "FAILED"]]
    for r in results {
      rows.append([r.name, String(r.nsPerOp), String(r.opsPerRound), String(r.rounds), hundredths(r.allocsPerOpX100),
                   String(r.allocations), String(r.syscalls), String(r.failedSyscalls)])
    }
    return "target \(buildTarget)\nbuild \(build)  workload \(workload)\n" + table(rows) + "peak RSS \(peakRSSKiB) KiB\n"
  }

  public var json: String {
    var w = JSONWriter()
    w.beginObject()
    w.member("target", buildTarget)
    w.member("build", build)
    w.member("workload", workload)
    w.member("peak_rss_kib", Int64(peakRSSKiB))
    w.key("results")
    w.beginArray()
    for r in results {
      w.beginObject()
      w.member("name", r.name)
      w.member("ns_per_op", Int64(r.nsPerOp))
      w.member("ops_per_round", Int64(r.opsPerRound))
      w.member("rounds", Int64(r.rounds))
      w.member("allocations", Int64(r.allocations))
      w.member("allocs_per_op_x100", Int64(r.allocsPerOpX100))
      w.member("syscalls", Int64(r.syscalls))
      w.member("failed_syscalls", Int64(r.failedSyscalls))
      w.endObject()
    }
    w.endArray()
    w.endObject()
    return w.text + "\n"
  }
}

func hundredths(_ v: UInt64) -> String {
  let frac = v % 100
  return "\(v / 100).\(frac < 10 ? "0" : "")\(frac)"
}

/// Times `body` (which does `ops` operations) over `rounds` rounds after one warm-up round.
func measure(_ name: String, ops: Int, rounds: Int, _ body: () -> Void) -> BenchResult {
  body()
  var times: [UInt64] = []
  times.reserveCapacity(rounds)
  var allocs: UInt64 = 0
  var calls: UInt64 = 0, failed: UInt64 = 0
  for _ in 0..<rounds {
    let a0 = allocationCount()
    let s0 = syscallCount()
    let t0 = monotonicNanoseconds()
    body()
    let t1 = monotonicNanoseconds()
    let s1 = syscallCount()
    allocs += allocationCount() - a0
    calls += s1.calls - s0.calls
    failed += s1.failed - s0.failed
    times.append((t1 - t0) / UInt64(max(ops, 1)))
  }
  times.sort()
  return BenchResult(name: name, nsPerOp: times[times.count / 2], opsPerRound: ops, rounds: rounds, allocations: allocs,
                     syscalls: calls, failedSyscalls: failed)
}
