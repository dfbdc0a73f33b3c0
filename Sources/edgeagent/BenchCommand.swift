import EdgeAgent
import EdgeHost

/// `edgeagent bench [--json] [--filter NAME] [--rounds N] [--quick] [--baseline FILE] [--threshold X]`
enum BenchCommand {
  static let usage = """
    usage: edgeagent bench [--json] [--filter NAME] [--rounds N] [--quick] [--baseline FILE] [--threshold X]

    Runs the hot path's microbenchmarks in a temporary directory and prints, per benchmark, the
    median ns/op over rounds, the operations per round and allocations per operation, then the
    process's peak RSS.
      --json           machine-readable output (the format --baseline reads)
      --filter NAME    only benchmarks whose name contains NAME
      --rounds N       timed rounds per benchmark (default 7)
      --quick          smaller workloads (a check that they run, e.g. under qemu)
      --baseline FILE  compare with a saved --json run; exit 1 if a benchmark is slower than
                       THRESHOLD times the baseline or allocates more per operation
      --threshold X    default 1.5

    """

  static func run(_ args: ArraySlice<String>) -> Int32 {
    withUsage(usage) { () throws(UsageError) -> Int32 in
      let o = try Options(args, valued: ["--filter", "--rounds", "--baseline", "--threshold"], flags: ["--json", "--quick"])
      if o.has("--help") { writeStdout(usage); return ExitCode.ok }
      guard o.positional.isEmpty else { throw UsageError("bench takes no arguments") }
      var options = BenchOptions()
      options.filter = o.value("--filter")
      options.quick = o.has("--quick")
      if let r = o.value("--rounds") {
        guard let n = Int(r), n > 0, n <= 1000 else { throw UsageError("--rounds needs a count from 1 to 1000") }
        options.rounds = n
      }
      var threshold = 1.5
      if let t = o.value("--threshold") {
        guard let x = parseDecimal(t), x >= 1 else { throw UsageError("--threshold needs a number >= 1, e.g. 1.5") }
        threshold = x
      }
      do throws(AgentError) {
        let report = try runBenchmarks(options)
        writeStdout(o.has("--json") ? report.json : report.text)
        guard let path = o.value("--baseline") else { return ExitCode.ok }
        let baseline: [UInt8]
        do throws(HostError) { baseline = try readWholeFile(path) } catch { throw AgentError.host(error) }
        let regressions = try compare(report, baseline: baseline, threshold: threshold)
        for r in regressions { writeStderr("edgeagent: bench: regression: \(r.message)\n") }
        return regressions.isEmpty ? ExitCode.ok : ExitCode.failed
      } catch {
        writeError("bench", "\(error)")
        return exitCode(for: error)
      }
    }
  }

  /// "1.5" -> 1.5 without a float parser (Embedded Swift lacks one): digits, one optional point.
  static func parseDecimal(_ s: String) -> Double? {
    var whole = 0.0, frac = 0.0, scale = 1.0, seenPoint = false, digits = 0
    for c in s.utf8 {
      if c == UInt8(ascii: ".") && !seenPoint { seenPoint = true; continue }
      guard c >= 0x30 && c <= 0x39 else { return nil }
      digits += 1
      if seenPoint { scale /= 10; frac += Double(c - 0x30) * scale } else { whole = whole * 10 + Double(c - 0x30) }
    }
    return digits > 0 ? whole + frac : nil
  }
}
