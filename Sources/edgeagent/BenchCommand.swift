import EdgeAgent
import EdgeConverge
import EdgeHost

/// `edgeagent bench [--json] [--filter NAME] [--rounds N] [--quick] [--baseline FILE] [--threshold X] [--counts-only] [--build-name]`
enum BenchCommand {
  static let usage = """
    usage: edgeagent bench [--json] [--filter NAME] [--rounds N] [--quick] [--baseline FILE] [--threshold X]
                           [--counts-only] [--build-name]

    Runs the hot path's microbenchmarks in a temporary directory and prints the build and
    workload, then per benchmark the median ns/op over rounds, the operations per round and the
    allocations (per operation and in all), then the process's peak RSS.
      --json           machine-readable output (the format --baseline reads)
      --filter NAME    only benchmarks whose name contains NAME
      --rounds N       timed rounds per benchmark (default 7)
      --quick          smaller workloads (a check that they run, e.g. under qemu)
      --baseline FILE  compare with a saved --json run of the same build and workload (else
                       exit 2): exit 1 if any allocation count differs, or a benchmark is slower
                       than THRESHOLD times the baseline
      --threshold X    default 1.5
      --counts-only    with --baseline, compare the counts only, not times (the CI gate)
      --build-name     print this build's name (ARCH-LIBC-LINKAGE-MODE), the baseline's file name

    """

  static func run(_ args: ArraySlice<String>) -> Int32 {
    withUsage(usage) { () throws(UsageError) -> Int32 in
      let o = try Options(args, valued: ["--filter", "--rounds", "--baseline", "--threshold"], flags: ["--json", "--quick", "--counts-only", "--build-name"])
      if o.has("--help") { writeStdout(usage); return ExitCode.ok }
      guard o.positional.isEmpty else { throw UsageError("bench takes no arguments") }
      if o.has("--build-name") { writeStdout(buildName + "\n"); return ExitCode.ok }
      if o.has("--counts-only") && o.value("--baseline") == nil { throw UsageError("--counts-only needs --baseline FILE") }
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
        // The baseline is checked before the benchmarks run: one of another build fails at once.
        var baseline: BenchBaseline? = nil
        if let path = o.value("--baseline") {
          let bytes: [UInt8]
          do throws(HostError) { bytes = try readWholeFile(path) } catch { throw AgentError.host(error) }
          baseline = try BenchBaseline(bytes, build: buildName, workload: options.workload)
        }
        let report = try runBenchmarks(options)
        writeStdout(o.has("--json") ? report.json : report.text)
        guard let baseline else { return ExitCode.ok }
        let regressions = compare(report, baseline: baseline, threshold: threshold, countsOnly: o.has("--counts-only"))
        for r in regressions { writeError("bench: regression", r.message) }
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
