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
///
/// What every promise may carry is stored inline; what only some types use (commands, services,
/// sysctls, links, templates, lines, accounts, packages, conditions) lives in one shared box
/// (`Rare`), absent for a plain file or directory. A promise was 352 bytes with every field inline:
/// 100,000 of them held 35 MB while a policy was decoded, and twice that while their array grew.
public struct Promise: Sendable {
  /// Unique within the policy; names the promise in outcomes, errors and `after`/`notify`.
  public var id: String
  /// file, directory, link: the absolute path as the policy wrote it (the root is not included).
  public var path: String = ""
  /// file: the bytes to hold, when given inline.
  public var content: [UInt8]? = nil
  /// file: the digest of the blob to hold, when given as `source: "sha256:…"`; template: the
  /// digest of its Mustache text's blob, until rendered.
  public var source: Digest? = nil
  public var type: PromiseType
  /// file, directory, link: the path must not exist.
  public var absent: Bool = false
  /// directory with `absent`: remove the contents too.
  public var purge: Bool = false
  /// file, directory: permission bits (at most 0o7777); nil leaves the mode alone.
  public var mode: UInt32? {
    get { modeBits == .max ? nil : modeBits }
    set { modeBits = newValue ?? .max }
  }
  /// `mode`, or UInt32.max for none: an optional's tag, with the padding after it, made every
  /// promise 8 bytes larger.
  private var modeBits: UInt32 = .max
  /// file, directory, link: user and group names, resolved against the managed root's /etc files.
  public var owner: String? = nil
  public var group: String? = nil
  /// Ids this promise is checked after.
  public var after: [String] = []
  /// Ids to restart or rerun when this promise is repaired.
  public var notify: [String] = []
  /// Where the promise's object starts in the policy file (.none for a decoded record).
  public var position: SourcePosition = .none
  /// The fields below; nil while all of them hold their unused value.
  private var rare: RareBox? = nil

  public init(id: String, type: PromiseType) {
    self.id = id
    self.type = type
  }

  /// template: the Mustache text, inline or read from its blob (`source`) when rendered; the
  /// rendering is `content`. nil for a template decoded from a stored record (only its
  /// rendering was stored).
  public var template: [UInt8]? { get { rare?.fields.template } set { edit { $0.template = newValue } } }
  /// link: what the symlink points to.
  public var target: String { get { rare?.fields.target ?? "" } set { edit { $0.target = newValue } } }
  /// command, service: argv; `exec[0]` is an absolute path.
  public var exec: [String] { get { rare?.fields.exec ?? [] } set { edit { $0.exec = newValue } } }
  /// command: kept when this path exists.
  public var creates: String? { get { rare?.fields.creates } set { edit { $0.creates = newValue } } }
  /// command: kept when this argv exits 0.
  public var unless: [String] { get { rare?.fields.unless ?? [] } set { edit { $0.unless = newValue } } }
  /// command: seconds before the run is killed and counted failed; 0 means no limit.
  public var timeout: Int { get { rare?.fields.timeout ?? 0 } set { edit { $0.timeout = newValue } } }
  /// line: the edit (LineEdit.swift).
  public var edit: LineEdit? { get { rare?.fields.edit } set { edit { $0.edit = newValue } } }
  /// user, group: the account (AccountEdit.swift). A user's primary group is `group`.
  public var account: AccountSpec? { get { rare?.fields.account } set { edit { $0.account = newValue } } }
  /// package: its name and version (`source`: a .deb or .apk blob to install it from).
  public var package: PackageSpec? { get { rare?.fields.package } set { edit { $0.package = newValue } } }
  /// sysctl: the dotted key and the value to hold.
  public var key: String { get { rare?.fields.key ?? "" } set { edit { $0.key = newValue } } }
  public var value: String { get { rare?.fields.value ?? "" } set { edit { $0.value = newValue } } }
  /// service: how it is supervised; nil for other types.
  public var service: ServiceSpec? { get { rare?.fields.service } set { edit { $0.service = newValue } } }
  /// A class expression; the promise is skipped when it is false. nil means always.
  public var condition: ClassExpression? { get { rare?.fields.condition } set { edit { $0.condition = newValue } } }
  /// The source text of `condition`, for messages and `status`.
  public var conditionText: String { get { rare?.fields.conditionText ?? "" } set { edit { $0.conditionText = newValue } } }
  /// A team's path promise (TeamComposition.swift): the scope path that holds `path`, without
  /// its leading '/'. Its repairs resolve no symlink at or below it, so a link made under the
  /// scope after the bundle was accepted cannot carry a write out of it. "" for the baseline's;
  /// not stored in `desired` (the daemon composes the teams again from their bundles).
  public var confine: String { get { rare?.fields.confine ?? "" } set { edit { $0.confine = newValue } } }

  /// Changes the boxed fields, copying the box first when another promise shares it (a copy of
  /// this one): promises stay values.
  private mutating func edit(_ change: (inout RareFields) -> Void) {
    if rare == nil {
      rare = RareBox(RareFields())
    } else if !isKnownUniquelyReferenced(&rare!) {
      rare = RareBox(rare!.fields)
    }
    change(&rare!.fields)
  }
}

/// The fields of `Promise` that only some types use, with their unused values.
private struct RareFields {
  var template: [UInt8]? = nil
  var target: String = ""
  var exec: [String] = []
  var creates: String? = nil
  var unless: [String] = []
  var timeout: Int = 0
  var edit: LineEdit? = nil
  var account: AccountSpec? = nil
  var package: PackageSpec? = nil
  var key: String = ""
  var value: String = ""
  var service: ServiceSpec? = nil
  var condition: ClassExpression? = nil
  var conditionText: String = ""
  var confine: String = ""
}

/// Mutated only while uniquely referenced (`Promise.edit`), so sharing it between threads is
/// sharing an immutable value.
private final class RareBox: @unchecked Sendable {
  var fields: RareFields
  init(_ fields: RareFields) { self.fields = fields }
}
