import EdgeCore
import EdgeHost

/// What a promise type is to the engines that converge it: one enum per type, in one file
/// (FilePromise.swift, DirectoryPromise.swift, ...), holding the type's whole idea of "kept":
///
/// - `check`: the full check. Observe, compare, and repair what drifted (with `dryRun`, say what
///   it would do instead); or ask for a program to be run (`.run`, commands). The Converger walks
///   a plan through it (Converger.swift, Converger+Steps.swift).
/// - `ended`: only for a type whose `check` asks for programs: what the program's end means.
/// - `keptInPlace`: the fast check of `apply`'s steady state (FastVerify.swift), straight
///   from the stored record (`PromiseView`) without decoding it: `.kept` (or `.skipped`) only
///   when `check` would say so, nil when not certain (the full path then runs). It must not
///   allocate: it reads through the verifier's buffers, its parent-directory cursor and the
///   stat cache.
/// - `publishesFirst`: whether staged file writes must be visible before its check (it runs a
///   program or writes through the kernel, which may read them).
///
/// A new type is: its case and fields in EdgeCore (PromiseType, Promise, PolicyDecoder,
/// PromiseRecord), one file with its enum conforming here, one line for it in each switch of
/// `PromiseType`'s table below, and its tests, among them a row of PromiseKindTests (the fast
/// and the full check agree, kept and drifted).
///
/// Static functions on enums and a switch, not `any PromiseKind`: Embedded Swift dispatches
/// them statically, and a kept check allocates nothing.
protocol PromiseKind {
  static func check(_ c: Converger, _ p: Promise, _ pp: PreparedPromise,
                    cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                    blob: (Digest, (UnsafeRawBufferPointer?) -> Void) -> Void,
                    previous: (String) -> ActualRecord?) throws(HostError) -> CheckStep

  static func ended(_ c: Converger, _ p: Promise, _ pp: PreparedPromise, _ request: CommandRequest,
                    _ answer: CommandAnswer) -> CheckStep

  static func keptInPlace(_ v: PromiseView, _ verifier: inout InPlaceVerifier, _ root: borrowing Directory,
                          cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                          previous: (String) -> ActualRecord?) -> Outcome?

  static var publishesFirst: Bool { get }
}

extension PromiseKind {
  static func ended(_ c: Converger, _ p: Promise, _ pp: PreparedPromise, _ request: CommandRequest,
                    _ answer: CommandAnswer) -> CheckStep {
    .outcome(Outcome(.failed, "internal error: a \(p.type.name) promise asked for no program"))
  }

  static var publishesFirst: Bool { false }
}

/// Where a check stands: decided, or waiting for a program to be run.
enum CheckStep {
  case outcome(Outcome)
  case run(CommandRequest)
}

/// The table: each promise type's enum. One line per type in each switch; nothing else in the
/// engines names a type.
extension PromiseType {
  func check(_ c: Converger, _ p: Promise, _ pp: PreparedPromise,
             cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
             blob: (Digest, (UnsafeRawBufferPointer?) -> Void) -> Void,
             previous: (String) -> ActualRecord?) throws(HostError) -> CheckStep {
    switch self {
    case .file: return try FilePromise.check(c, p, pp, cachedStat: cachedStat, blob: blob, previous: previous)
    case .directory: return try DirectoryPromise.check(c, p, pp, cachedStat: cachedStat, blob: blob, previous: previous)
    case .link: return try LinkPromise.check(c, p, pp, cachedStat: cachedStat, blob: blob, previous: previous)
    case .command: return try CommandPromise.check(c, p, pp, cachedStat: cachedStat, blob: blob, previous: previous)
    case .service: return try ServicePromise.check(c, p, pp, cachedStat: cachedStat, blob: blob, previous: previous)
    case .sysctl: return try SysctlPromise.check(c, p, pp, cachedStat: cachedStat, blob: blob, previous: previous)
    case .template: return try TemplatePromise.check(c, p, pp, cachedStat: cachedStat, blob: blob, previous: previous)
    case .line: return try LinePromise.check(c, p, pp, cachedStat: cachedStat, blob: blob, previous: previous)
    case .user, .group: return try AccountPromise.check(c, p, pp, cachedStat: cachedStat, blob: blob, previous: previous)
    case .package: return try PackagePromise.check(c, p, pp, cachedStat: cachedStat, blob: blob, previous: previous)
    }
  }

  func ended(_ c: Converger, _ p: Promise, _ pp: PreparedPromise, _ request: CommandRequest,
             _ answer: CommandAnswer) -> CheckStep {
    switch self {
    case .file: return FilePromise.ended(c, p, pp, request, answer)
    case .directory: return DirectoryPromise.ended(c, p, pp, request, answer)
    case .link: return LinkPromise.ended(c, p, pp, request, answer)
    case .command: return CommandPromise.ended(c, p, pp, request, answer)
    case .service: return ServicePromise.ended(c, p, pp, request, answer)
    case .sysctl: return SysctlPromise.ended(c, p, pp, request, answer)
    case .template: return TemplatePromise.ended(c, p, pp, request, answer)
    case .line: return LinePromise.ended(c, p, pp, request, answer)
    case .user, .group: return AccountPromise.ended(c, p, pp, request, answer)
    case .package: return PackagePromise.ended(c, p, pp, request, answer)
    }
  }

  func keptInPlace(_ v: PromiseView, _ verifier: inout InPlaceVerifier, _ root: borrowing Directory,
                   cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                   previous: (String) -> ActualRecord?) -> Outcome? {
    switch self {
    case .file: return FilePromise.keptInPlace(v, &verifier, root, cachedStat: cachedStat, previous: previous)
    case .directory: return DirectoryPromise.keptInPlace(v, &verifier, root, cachedStat: cachedStat, previous: previous)
    case .link: return LinkPromise.keptInPlace(v, &verifier, root, cachedStat: cachedStat, previous: previous)
    case .command: return CommandPromise.keptInPlace(v, &verifier, root, cachedStat: cachedStat, previous: previous)
    case .service: return ServicePromise.keptInPlace(v, &verifier, root, cachedStat: cachedStat, previous: previous)
    case .sysctl: return SysctlPromise.keptInPlace(v, &verifier, root, cachedStat: cachedStat, previous: previous)
    case .template: return TemplatePromise.keptInPlace(v, &verifier, root, cachedStat: cachedStat, previous: previous)
    case .line: return LinePromise.keptInPlace(v, &verifier, root, cachedStat: cachedStat, previous: previous)
    case .user, .group: return AccountPromise.keptInPlace(v, &verifier, root, cachedStat: cachedStat, previous: previous)
    case .package: return PackagePromise.keptInPlace(v, &verifier, root, cachedStat: cachedStat, previous: previous)
    }
  }

  var publishesFirst: Bool {
    switch self {
    case .file: return FilePromise.publishesFirst
    case .directory: return DirectoryPromise.publishesFirst
    case .link: return LinkPromise.publishesFirst
    case .command: return CommandPromise.publishesFirst
    case .service: return ServicePromise.publishesFirst
    case .sysctl: return SysctlPromise.publishesFirst
    case .template: return TemplatePromise.publishesFirst
    case .line: return LinePromise.publishesFirst
    case .user, .group: return AccountPromise.publishesFirst
    case .package: return PackagePromise.publishesFirst
    }
  }
}
