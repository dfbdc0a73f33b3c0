/// The kinds of promise a policy can make (DESIGN.md §5). Raw values are stored in `desired`:
/// never renumber them.
public enum PromiseType: UInt8, Sendable, CaseIterable {
  case file = 1, directory = 2, link = 3, command = 4, service = 5, sysctl = 6, template = 7, line = 8, user = 9, group = 10, package = 11

  public var name: String {
    switch self {
    case .file: return "file"
    case .directory: return "directory"
    case .link: return "link"
    case .command: return "command"
    case .service: return "service"
    case .sysctl: return "sysctl"
    case .template: return "template"
    case .line: return "line"
    case .user: return "user"
    case .group: return "group"
    case .package: return "package"
    }
  }

  public init?(name: String) {
    // A switch, not a walk over `allCases`, which may build its array on every call.
    switch name {
    case "file": self = .file
    case "directory": self = .directory
    case "link": self = .link
    case "command": self = .command
    case "service": self = .service
    case "sysctl": self = .sysctl
    case "template": self = .template
    case "line": self = .line
    case "user": self = .user
    case "group": self = .group
    case "package": self = .package
    default: return nil
    }
  }

  /// Types whose subject is a path under the managed root.
  public var managesPath: Bool { self == .file || self == .directory || self == .link || self == .template || self == .line }

  /// Types that own their path wholly: one promise per path. `line` promises edit a file they
  /// share (several may edit one), so they may not name a path one of these owns.
  public var ownsPath: Bool { managesPath && self != .line }

  /// Types whose check is a file's (content, mode, owner): a template is a file whose content
  /// was rendered when the policy was accepted (Templates.swift, in EdgeConverge).
  public var holdsFileContent: Bool { self == .file || self == .template }
}

/// One promise of a policy, validated: paths are absolute and normalised, modes are parsed,
/// ids are unique. Fields a type does not use hold their "unused" value (empty, nil or false).
public struct Promise: Sendable {
  /// Unique within the policy; names the promise in outcomes, errors and `after`/`notify`.
  public var id: String
  public var type: PromiseType
  /// file, directory, link: the absolute path as the policy wrote it (the root is not included).
  public var path: String = ""
  /// file: the bytes to hold, when given inline.
  public var content: [UInt8]? = nil
  /// template: the Mustache text, inline or read from its blob (`source`) when rendered; the
  /// rendering is `content`. nil for a template decoded from a stored record (only its
  /// rendering was stored).
  public var template: [UInt8]? = nil
  /// file: the digest of the blob to hold, when given as `source: "sha256:…"`; template: the
  /// digest of its Mustache text's blob, until rendered.
  public var source: Digest? = nil
  /// file, directory: permission bits (at most 0o7777); nil leaves the mode alone.
  public var mode: UInt32? = nil
  /// file, directory, link: user and group names, resolved against the managed root's /etc files.
  public var owner: String? = nil
  public var group: String? = nil
  /// file, directory, link: the path must not exist.
  public var absent: Bool = false
  /// directory with `absent`: remove the contents too.
  public var purge: Bool = false
  /// link: what the symlink points to.
  public var target: String = ""
  /// command, service: argv; `exec[0]` is an absolute path.
  public var exec: [String] = []
  /// command: kept when this path exists.
  public var creates: String? = nil
  /// command: kept when this argv exits 0.
  public var unless: [String] = []
  /// command: seconds before the run is killed and counted failed; 0 means no limit.
  public var timeout: Int = 0
  /// line: the edit (LineEdit.swift).
  public var edit: LineEdit? = nil
  /// user, group: the account (AccountEdit.swift). A user's primary group is `group`.
  public var account: AccountSpec? = nil
  /// package: its name and version (`source`: a .deb or .apk blob to install it from).
  public var package: PackageSpec? = nil
  /// sysctl: the dotted key and the value to hold.
  public var key: String = ""
  public var value: String = ""
  /// Ids this promise is checked after.
  public var after: [String] = []
  /// Ids to restart or rerun when this promise is repaired.
  public var notify: [String] = []
  /// service: how it is supervised; nil for other types.
  public var service: ServiceSpec? = nil
  /// A class expression; the promise is skipped when it is false. nil means always.
  public var condition: ClassExpression? = nil
  /// The source text of `condition`, for messages and `status`.
  public var conditionText: String = ""
  /// Where the promise's object starts in the policy file (.none for a decoded record).
  public var position: SourcePosition = .none
  /// A team's path promise (TeamComposition.swift): the scope path that holds `path`, without
  /// its leading '/'. Its repairs resolve no symlink at or below it, so a link made under the
  /// scope after the bundle was accepted cannot carry a write out of it. "" for the baseline's;
  /// not stored in `desired` (the daemon composes the teams again from their bundles).
  public var confine: String = ""

  public init(id: String, type: PromiseType) {
    self.id = id
    self.type = type
  }
}
