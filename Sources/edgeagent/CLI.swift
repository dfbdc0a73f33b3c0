import EdgeAgent
import EdgeConverge
import EdgeCore
import EdgeHost

/// edgeagent's entry: picks the command and maps its result to an exit code. Commands parse
/// their own options; this file knows only their names.
@main
struct CLI {
  /// The config an init reads: the kernel runs /init with no arguments.
  static let initConfig = "/etc/edgeagent/config.json"

  static func main() {
    let started = monotonicNanoseconds()
    fixHeapMmapThreshold()
    ignoreBrokenPipes()
    var args = commandLineArguments()
    // The kernel runs /init with no arguments; a container's PID 1 is given its command.
    let isInit = processID() == 1 && args.count == 1
    if isInit {
      attachConsole()   // so that even a rejected config is seen on the console
      args += ["run", "--config", initConfig]
    }
    guard cryptoInit() else {
      writeStderr("edgeagent: fatal: unable to initialise libsodium\n")
      exit(ExitCode.system, isInit: isInit)
    }
    guard args.count >= 2 else {
      writeStderr(usage)
      exitProcess(ExitCode.usage)
    }
    let rest = args[2...]
    let code: Int32
    switch args[1] {
    case "apply": code = ApplyCommand.run(rest)
    case "status": code = StatusCommand.run(rest)
    case "run": code = RunCommand.run(rest, started: started, kernelInit: isInit)
    case "version", "--version": code = VersionCommand.run(rest)
    case "bench": code = BenchCommand.run(rest)
    case "keygen": code = KeygenCommand.run(rest)
    case "publish": code = PublishCommand.run(rest)
    case "verify": code = VerifyCommand.run(rest)
    case "validate": code = ValidateCommand.run(rest)
    case "fleet": code = FleetCommand.run(rest)
    case "facts": code = FactsCommand.run(rest)
    case "self-test": code = SelfTestCommand.run(rest)
    case "help", "--help", "-h":
      writeStdout(usage)
      code = ExitCode.ok
    default:
      writeStderr("edgeagent: unknown command \"\(escapedText(args[1]))\"\n" + usage)
      code = ExitCode.usage
    }
    exit(code, isInit: isInit)
  }

  /// The kernel's init must not exit (the kernel would panic): it says why, syncs and powers off.
  static func exit(_ code: Int32, isInit: Bool) -> Never {
    if isInit {
      writeStderr("edgeagent: PID 1 is ending (exit \(code)): powering off\n")
      syncAll()
      let e = powerOff()
      writeStderr("edgeagent: unable to power off: \(e)\n")
    }
    exitProcess(code)
  }

  static let usage = """
    usage: edgeagent COMMAND [OPTIONS]

    commands:
      apply POLICY    converge the host once to a policy file
      validate POLICY check a policy file or a signed bundle directory; touches nothing
      run             the daemon: converge, supervise, repair drift; PID 1 of an edge VM
      status          show each promise's last outcome, from the state
      bench           run the hot path's microbenchmarks (ns/op, allocations/op, RSS)
      keygen          make an Ed25519 key pair for signing bundles
      publish         sign a policy into a bundle directory for an origin
      verify          check a bundle directory's signature, blobs and expiry
      fleet           show the fleet from a collector's host reports
      facts           show this host's facts and classes (for templates and `if`)
      self-test       check this binary can take over from a running agent (updates run it)
      version         show the version, target and library versions
      help            show this text

    Run `edgeagent COMMAND --help` for a command's options.

    """
}

/// Runs a command body, printing a usage error with the command's usage.
func withUsage(_ usage: String, _ body: () throws(UsageError) -> Int32) -> Int32 {
  do {
    return try body()
  } catch {
    writeStderr("edgeagent: \(escapedText(error.message))\n" + usage)
    return ExitCode.usage
  }
}
