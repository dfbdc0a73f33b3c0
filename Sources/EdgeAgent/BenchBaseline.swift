import EdgeConverge
import EdgeCore

/// A difference from a saved `--json` run of the same build and workload: any change in a
/// count (allocations, syscalls, failed syscalls), or a time past `threshold` times the baseline's.
public struct BenchRegression {
  public var name: String
  public var message: String
}

/// A saved `edgeagent bench --json` run, checked to be of this build and workload before any
/// benchmark runs. Errors (`.input`, exit 2): not a bench run, another build or workload (its
/// counts are not this run's), or made before counts were exact (no "allocations" or
/// "syscalls" totals).
public struct BenchBaseline {
  let results: [JSONNode]

  public init(_ bytes: [UInt8], build: String, workload: String) throws(AgentError) {
    let root: JSONNode
    do { root = try JSONReader.parse(bytes) } catch { throw .input("baseline: \(error)") }
    guard let results = member(root, "results")?.array else {
      throw .input("baseline: no \"results\" array (expected the output of `edgeagent bench --json`)")
    }
    let theirs = member(root, "build")?.string ?? "(unnamed: \(member(root, "target")?.string ?? "no target"))"
    guard theirs == build else {
      throw .input("baseline is of build \(theirs), this binary is \(build): counts differ between builds;"
                   + " compare with Benchmarks/baselines/\(build).json, or make one with"
                   + " `edgeagent bench --json > Benchmarks/baselines/\(build).json`")
    }
    let load = member(root, "workload")?.string ?? "(none)"
    guard load == workload else {
      throw .input("baseline's workload is \"\(load)\", this run's \"\(workload)\": counts depend on it;"
                   + " run with the baseline's options")
    }
    for b in results where member(b, "allocations")?.integer == nil || member(b, "syscalls")?.integer == nil {
      throw .input("baseline: \(member(b, "name")?.string ?? "a result") has no \"allocations\" or \"syscalls\" total: regenerate it")
    }
    self.results = results
  }
}

private func member(_ node: JSONNode, _ key: String) -> JSONNode? {
  node.members?.first(where: { $0.key == key })?.value
}

/// Compares `report` with `baseline`. Counts must be equal, not merely no higher: a count that
/// fell is a baseline to regenerate, or the gate would let it creep back. With `countsOnly`
/// times are not compared (CI: a shared machine's times say little).
public func compare(_ report: BenchReport, baseline: BenchBaseline, threshold: Double,
                    countsOnly: Bool = false) -> [BenchRegression] {
  var out: [BenchRegression] = []
  for r in report.results {
    guard let b = baseline.results.first(where: { member($0, "name")?.string == r.name }),
          let allocs = member(b, "allocations")?.integer else {
      out.append(BenchRegression(name: r.name, message: "\(r.name): not in the baseline"))
      continue
    }
    if r.allocations != UInt64(allocs) {
      out.append(BenchRegression(name: r.name, message: "\(r.name): \(r.allocations) allocations"
                                 + " (\(hundredths(r.allocsPerOpX100))/op), baseline \(allocs)"
                                 + (r.allocations < UInt64(allocs) ? ": fewer, regenerate the baseline" : "")))
    }
    for (key, what, have) in [("syscalls", "syscalls", r.syscalls), ("failed_syscalls", "failed syscalls", r.failedSyscalls)] {
      guard let want = member(b, key)?.integer, have != UInt64(want) else { continue }
      out.append(BenchRegression(name: r.name, message: "\(r.name): \(have) \(what), baseline \(want)"
                                 + (have < UInt64(want) ? ": fewer, regenerate the baseline" : "")))
    }
    if countsOnly { continue }
    let ns = member(b, "ns_per_op")?.integer ?? 0
    // Threshold in hundredths, to compare in integers.
    let limit = UInt64(ns) * UInt64(threshold * 100) / 100
    if ns > 0 && r.nsPerOp > limit {
      out.append(BenchRegression(name: r.name, message: "\(r.name): \(r.nsPerOp) ns/op, baseline \(ns) (limit \(limit))"))
    }
  }
  for b in baseline.results {
    let name = member(b, "name")?.string ?? "?"
    if !report.results.contains(where: { $0.name == name }) {
      out.append(BenchRegression(name: name, message: "\(name): in the baseline, not run"))
    }
  }
  return out
}
