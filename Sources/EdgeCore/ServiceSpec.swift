/// What a `service` promise asks of the supervisor (DESIGN.md §7).
public struct ServiceSpec: Sendable, Equatable {
  public enum Restart: UInt8, Sendable {
    case always = 1, onFailure = 2, never = 3

    public init?(name: String) {
      switch name {
      case "always": self = .always
      case "on-failure": self = .onFailure
      case "never": self = .never
      default: return nil
      }
    }
  }

  /// `NAME=value` entries added to the service's environment.
  public var env: [String] = []
  /// Working directory (a host path, not under the root: the service runs on the host).
  public var cwd: String? = nil
  public var restart: Restart = .always
  public var health: HealthCheck? = nil
  public var stopSignal: Int32 = 15
  /// Milliseconds between the stop signal and SIGKILL.
  public var stopTimeoutMs: UInt32 = 10_000
  /// Milliseconds from a start to a passing health check; past it the start failed (the
  /// service is stopped, shown failed, and restarted by its policy). Unused without a check.
  public var startTimeoutMs: UInt32 = 60_000
  /// In a container (`run --container`), the agent exits with this service's status.
  public var main = false

  public init() {}
}

/// How the supervisor decides a service is healthy (and so ready for those `after` it).
public struct HealthCheck: Sendable, Equatable {
  public enum Kind: UInt8, Sendable { case exec = 1, tcp = 2, http = 3 }

  public var kind: Kind
  /// exec: the argv; tcp: ["HOST:PORT"]; http: ["http://HOST:PORT/PATH"].
  public var target: [String]
  public var intervalMs: UInt32 = 5_000
  public var timeoutMs: UInt32 = 2_000

  public init(kind: Kind, target: [String]) {
    self.kind = kind
    self.target = target
  }
}

/// Signal numbers by name ("TERM" or "SIGTERM"), for the signals a service may be stopped with.
/// The numbers are Linux's, the same on x86_64, aarch64 and armv7.
public func signalNumber(_ name: String) -> Int32? {
  var n = name
  if n.hasPrefix("SIG") { n = String(n.dropFirst(3)) }
  switch n {
  case "HUP": return 1
  case "INT": return 2
  case "QUIT": return 3
  case "KILL": return 9
  case "USR1": return 10
  case "USR2": return 12
  case "TERM": return 15
  case "CONT": return 18
  case "STOP": return 19
  case "PWR": return 30
  default: return nil
  }
}

/// The Linux signal numbers the agent handles (the same on x86_64, aarch64 and armv7), for
/// modules that do not import C.
public enum Signal {
  public static let hangup: Int32 = 1
  public static let interrupt: Int32 = 2
  public static let kill: Int32 = 9
  public static let user1: Int32 = 10
  public static let user2: Int32 = 12
  public static let terminate: Int32 = 15
  public static let power: Int32 = 30
}
