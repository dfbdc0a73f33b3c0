import EdgeCore
import EdgeHost

/// One benchmark's figures: the median over rounds of the time per operation, and the
/// allocations per operation (machine-independent, so a regression check can be exact).
public struct BenchResult {
  public var name: String
  public var nsPerOp: UInt64
  public var opsPerRound: Int
  public var rounds: Int
  /// Allocations per operation, in hundredths (2.50 allocations -> 250), to stay integral.
  public var allocsPerOpX100: UInt64
}

public struct BenchOptions {
  /// Only benchmarks whose name contains this.
  public var filter: String? = nil
  public var rounds = 7
  /// Smaller workloads, for a check that the benchmarks run (CI under qemu).
  public var quick = false
  public init() {}
}

public struct BenchReport {
  public var results: [BenchResult]
  public var peakRSSKiB: Int

  public var text: String {
    var rows: [[String]] = [["BENCHMARK", "NS/OP", "OPS/ROUND", "ROUNDS", "ALLOCS/OP"]]
    for r in results {
      rows.append([r.name, String(r.nsPerOp), String(r.opsPerRound), String(r.rounds), hundredths(r.allocsPerOpX100)])
    }
    return "target \(buildTarget)\n" + table(rows) + "peak RSS \(peakRSSKiB) KiB\n"
  }

  public var json: String {
    var w = JSONWriter()
    w.beginObject()
    w.member("target", buildTarget)
    w.member("peak_rss_kib", Int64(peakRSSKiB))
    w.key("results")
    w.beginArray()
    for r in results {
      w.beginObject()
      w.member("name", r.name)
      w.member("ns_per_op", Int64(r.nsPerOp))
      w.member("ops_per_round", Int64(r.opsPerRound))
      w.member("rounds", Int64(r.rounds))
      w.member("allocs_per_op_x100", Int64(r.allocsPerOpX100))
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
  var allocs: UInt64 = 0
  for _ in 0..<rounds {
    let a0 = allocationCount()
    let t0 = monotonicNanoseconds()
    body()
    let t1 = monotonicNanoseconds()
    allocs += allocationCount() - a0
    times.append((t1 - t0) / UInt64(max(ops, 1)))
  }
  times.sort()
  let total = UInt64(max(ops, 1) * rounds)
  return BenchResult(name: name, nsPerOp: times[times.count / 2], opsPerRound: ops, rounds: rounds,
                     allocsPerOpX100: (allocs * 100 + total / 2) / total)
}

/// A regression against a saved `--json` run: time past `threshold` times the baseline, or any
/// allocation per operation that the baseline did not have.
public struct BenchRegression {
  public var name: String
  public var message: String
}

public func compare(_ report: BenchReport, baseline: [UInt8], threshold: Double) throws(AgentError) -> [BenchRegression] {
  let root: JSONNode
  do { root = try JSONReader.parse(baseline) } catch { throw .input("baseline: \(error)") }
  guard let results = root.members?.first(where: { $0.key == "results" })?.value.array else {
    throw .input("baseline: no \"results\" array (expected the output of `edgeagent bench --json`)")
  }
  var out: [BenchRegression] = []
  for r in report.results {
    for b in results {
      guard let m = b.members, m.first(where: { $0.key == "name" })?.value.string == r.name else { continue }
      let ns = m.first(where: { $0.key == "ns_per_op" })?.value.integer ?? 0
      let allocs = m.first(where: { $0.key == "allocs_per_op_x100" })?.value.integer ?? 0
      // Threshold in hundredths, to compare in integers.
      let limit = UInt64(ns) * UInt64(threshold * 100) / 100
      if ns > 0 && r.nsPerOp > limit {
        out.append(BenchRegression(name: r.name, message: "\(r.name): \(r.nsPerOp) ns/op, baseline \(ns) (limit \(limit))"))
      }
      if r.allocsPerOpX100 > UInt64(allocs) {
        out.append(BenchRegression(name: r.name, message: "\(r.name): \(hundredths(r.allocsPerOpX100)) allocations/op, baseline \(hundredths(UInt64(allocs)))"))
      }
    }
  }
  return out
}
