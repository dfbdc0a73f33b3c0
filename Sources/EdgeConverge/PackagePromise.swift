import EdgeCore
import EdgeHost


/// `package`: installed (at a version, or from a .deb/.apk blob of the bundle) or absent, through
/// the system's own tools, dpkg/apt or apk, chosen by the database the root holds. The agent
/// reads their database (PackageDatabase.swift) and never writes it.
///
/// The kept check never runs a tool: the database's lstat, once per run for every package, and
/// each promise's stat cache entry (the database's identity when it last found the package as
/// promised). A changed database is read and parsed once, then each promise checked against it.
///
/// Repairs are batched: the first package to install starts one transaction for every package
/// of the run that needs installing (blobs through dpkg -i or apk add, the rest through apt-get
/// or apk), one more for those to remove, each a program run as a command is (the daemon watches
/// it as a child: the loop never waits for a tool). The others of a batch take its outcome when
/// their turn comes.
enum PackagePromise: PromiseKind {
  static func check(_ c: Converger, _ p: Promise, _ pp: PreparedPromise,
                    cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                    blob: (Digest, (UnsafeRawBufferPointer?) -> Void) -> Void,
                    previous: (String) -> ActualRecord?) throws(HostError) -> CheckStep {
    try c.checkPackage(p, pp, cachedStat: cachedStat, blob: blob)
  }

  static func ended(_ c: Converger, _ p: Promise, _ pp: PreparedPromise, _ request: CommandRequest,
                    _ answer: CommandAnswer) -> CheckStep {
    c.packageToolEnded(p, pp, request, answer)
  }

  /// A tool's maintainer scripts may read what earlier promises wrote.
  static var publishesFirst: Bool { true }

  static func keptInPlace(_ v: PromiseView, _ f: inout InPlaceVerifier, _ root: borrowing Directory,
                          cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                          previous: (String) -> ActualRecord?) -> Outcome? {
    // One lstat of the database for every package of the walk, as the full check's once a run.
    if f.packageDatabase == nil {
      var backend = PackageBackend.dpkg
      var (st, ok) = StaticString("/var/lib/dpkg/status").withUTF8Buffer { f.lstat(UnsafeRawBufferPointer($0), root) }
      if ok && st == nil {
        backend = .apk
        (st, ok) = StaticString("/lib/apk/db/installed").withUTF8Buffer { f.lstat(UnsafeRawBufferPointer($0), root) }
      }
      guard ok else { return nil }
      f.packageDatabase = (backend, st)
    }
    guard let (backend, found) = f.packageDatabase, let st = found else { return nil }
    let key = StaticString("/package").withUTF8Buffer { f.keys.key(UnsafeRawBufferPointer($0), edit: v.id) }
    let cached: StatRecord? = key.withBytes { cachedStat($0) }
    if let cached, cached.identity == st.identity, cached.digest == v.digest { return .kept }
    // Not vouched for: the database is read and parsed as the full check would.
    // readLast reads the path the last lstat left: take the database's again.
    let path: StaticString = backend == .dpkg ? "/var/lib/dpkg/status" : "/lib/apk/db/installed"
    guard let p = try? PromiseRecord.decode(v.raw), let spec = p.package,
          path.withUTF8Buffer({ f.lstat(UnsafeRawBufferPointer($0), root).1 }),
          let text = path.withUTF8Buffer({ f.readLast(UnsafeRawBufferPointer($0), root, limit: 256 << 20) }) else { return nil }
    let db = backend == .dpkg ? InstalledPackages(dpkgStatus: text) : InstalledPackages(apkInstalled: text)
    guard db.holds(spec, absent: p.absent) else { return nil }
    f.remember(key, st, v.digest)
    return .kept
  }
}

/// What one run knows of the package database and the batches it started.
struct PackageRun {
  /// The database's backend and lstat, taken once per run (nil: not yet).
  var database: (backend: PackageBackend?, stat: FileStat?)? = nil
  /// The parsed database and the identity it was parsed at (kept across runs).
  var parsed: (identity: FileIdentity, packages: InstalledPackages)? = nil
  /// Outcomes decided by a batch for promises checked after the one that started it.
  var decided: [Int: Outcome] = [:]
  /// The batch in flight: its members (by index) and the programs still to run after this one.
  var batch: [Int] = []
  var queued: [CommandRequest] = []
  var tools: [String] = []
}

extension Converger {
  func checkPackage(_ p: Promise, _ pp: PreparedPromise, cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                    blob: (Digest, (UnsafeRawBufferPointer?) -> Void) -> Void) throws(HostError) -> CheckStep {
    guard let spec = p.package, let digest = pp.digest else { return .outcome(Outcome(.failed, "package promise without its package (internal error)")) }
    if let o = packages.decided[pp.index] { return .outcome(o) }
    let (backend, st) = try packageDatabase()
    guard let backend, let st else {
      return .outcome(Outcome(.failed, "no package database under \(root) (var/lib/dpkg/status or lib/apk/db/installed)"))
    }
    if let cached = pp.withCacheKey(cachedStat), cached.identity == st.identity, cached.digest == digest { return .outcome(.kept) }
    let db = try installedPackages(backend, st)
    if db.holds(spec, absent: p.absent) {
      rememberHash(pp, st, digest)
      return .outcome(.kept)
    }
    if dryRun {
      if p.absent { return .outcome(Outcome(.repaired, "would remove \(spec.name) \(db.version(of: spec.name) ?? "")")) }
      let from = p.source.map { " from blob \($0)" } ?? ""
      return .outcome(Outcome(.repaired, "would install \(spec.name)" + (spec.version.map { " " + $0 } ?? "") + from))
    }
    return startPackageBatch(backend, db, removing: p.absent, blob: blob)
  }

  /// The database's backend and lstat, once per run: dpkg's when the root has it, else apk's.
  func packageDatabase() throws(HostError) -> (PackageBackend?, FileStat?) {
    if let d = packages.database { return (d.backend, d.stat) }
    var found: (PackageBackend?, FileStat?) = (nil, nil)
    for b in [PackageBackend.dpkg, .apk] {
      if let st = try rootDir.statBeneath(b.database) {
        found = (b, st)
        break
      }
    }
    packages.database = (found.0, found.1)
    return found
  }

  func installedPackages(_ backend: PackageBackend, _ st: FileStat) throws(HostError) -> InstalledPackages {
    if let p = packages.parsed, p.identity == st.identity { return p.packages }
    let text = try rootDir.readBeneath(backend.database, limit: 256 << 20)
    let db = backend == .dpkg ? InstalledPackages(dpkgStatus: text) : InstalledPackages(apkInstalled: text)
    packages.parsed = (st.identity, db)
    return db
  }

  /// One transaction for every package of this run (from the current one on) that needs the
  /// same change: install, or remove.
  func startPackageBatch(_ backend: PackageBackend, _ db: InstalledPackages, removing: Bool,
                         blob: (Digest, (UnsafeRawBufferPointer?) -> Void) -> Void) -> CheckStep {
    guard let policy = current.policy else { return .outcome(Outcome(.failed, "internal error: a package checked outside a run")) }
    var fromBlobs: [(Int, String)] = [], fromRepositories: [(Int, String)] = []
    for k in current.cursor..<current.order.count {
      let i = current.order[k]
      let q = policy.promises[i]
      guard q.type == .package, let spec = q.package, q.absent == removing, heldBack(q) == nil,
            !db.holds(spec, absent: q.absent) else { continue }
      if let source = q.source {
        // The blob as a file the tool can open, beneath the root (nothing outside it is written).
        do throws(HostError) {
          fromBlobs.append((i, try packageFile(source, backend, blob)))
        } catch {
          packages.decided[i] = Outcome(.failed, error.description)
        }
      } else {
        let versioned = spec.version.map { spec.name + "=" + $0 } ?? spec.name
        fromRepositories.append((i, versioned))
      }
    }
    var requests: [CommandRequest] = []
    // A sandbox's tool logs in the sandbox: dpkg --root alone writes the host's /var/log/dpkg.log.
    let rootArgs = root == "/" ? [] as [String]
      : (backend == .dpkg ? ["--root=" + root, "--log=" + join(root, "var/log/dpkg.log")] : ["--root", root])
    let first = current.order[current.cursor]
    let env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND=noninteractive",
               "EDGEAGENT_ROOT=" + root]
    func request(_ argv: [String]) -> CommandRequest {
      CommandRequest(index: first, stage: .exec, argv: argv, environment: env, cwd: "/", timeout: 900, forced: false)
    }
    let all = (fromBlobs + fromRepositories).map { $0.0 }
    if removing {
      let names = fromRepositories.map { String($0.1.utf8.split(separator: UInt8(ascii: "=")).first.map { String(decoding: $0, as: UTF8.self) } ?? $0.1) }
      requests.append(request(backend == .dpkg ? ["/usr/bin/dpkg"] + rootArgs + ["--remove"] + names
                                               : ["/sbin/apk"] + rootArgs + ["del"] + names))
    } else {
      if !fromBlobs.isEmpty {
        requests.append(request(backend == .dpkg ? ["/usr/bin/dpkg"] + rootArgs + ["--force-confold", "--install"] + fromBlobs.map { $0.1 }
                                                 : ["/sbin/apk"] + rootArgs + ["add", "--allow-untrusted"] + fromBlobs.map { $0.1 }))
      }
      if !fromRepositories.isEmpty {
        let aptRoot = root == "/" ? [] as [String] : ["-o", "RootDir=" + root]
        requests.append(request(backend == .dpkg ? ["/usr/bin/apt-get"] + aptRoot + ["-y", "-q", "--no-install-recommends", "install"] + fromRepositories.map { $0.1 }
                                                 : ["/sbin/apk"] + rootArgs + ["add"] + fromRepositories.map { $0.1 }))
      }
    }
    guard let next = requests.first else {
      return .outcome(packages.decided[first] ?? Outcome(.failed, "internal error: an empty package batch"))
    }
    packages.batch = all
    packages.queued = Array(requests.dropFirst())
    packages.tools = []
    return .run(next)
  }

  /// A blob written to var/cache/edgeagent beneath the root (named by its digest), for the tool.
  func packageFile(_ digest: Digest, _ backend: PackageBackend,
                   _ blob: (Digest, (UnsafeRawBufferPointer?) -> Void) -> Void) throws(HostError) -> String {
    let dir = try directory("var/cache/edgeagent", create: true)
    let name = digest.hex + (backend == .dpkg ? ".deb" : ".apk")
    var result: Result<Bool, HostError> = .success(false)
    blob(digest) { raw in
      guard let raw else { return }
      do throws(HostError) {
        try AtomicWrite.replace(dir.dir, name, content: raw, mode: 0o600)
        result = .success(true)
      } catch {
        result = .failure(error)
      }
    }
    guard try result.get() else { throw HostError(.noEntry, "read blob", "sha256:" + digest.hex) }
    return join(root, "var/cache/edgeagent/" + name)
  }

  /// A tool ended: the next of the batch, or the batch's outcomes from the database as it is now.
  func packageToolEnded(_ p: Promise, _ pp: PreparedPromise, _ request: CommandRequest, _ answer: CommandAnswer) -> CheckStep {
    let tool = request.argv.first.map { String($0.utf8.split(separator: UInt8(ascii: "/")).last.map { String(decoding: $0, as: UTF8.self) } ?? $0) } ?? "?"
    var failure: String? = nil
    switch answer {
    case .failed(let e): failure = tool + ": " + e.description
    case .finished(let r):
      if r.timedOut { failure = tool + " killed after 900 s" }
      else if r.status != 0 {
        let how = r.status < 0 ? "killed by signal \(-r.status)" : "exited with status \(r.status)"
        let line = r.lastLine
        failure = tool + " " + how + (line.isEmpty ? "" : ": " + line)
      }
    }
    packages.tools.append(tool)
    if failure == nil, !packages.queued.isEmpty { return .run(packages.queued.removeFirst()) }
    // The database changed (or may have): read it again.
    packages.database = nil
    var db: InstalledPackages? = nil
    if let (backend, st) = try? packageDatabase(), let backend, let st { db = try? installedPackages(backend, st) }
    let others = packages.batch.count - 1
    let with = others > 0 ? " (one transaction with \(others) more)" : ""
    for i in packages.batch {
      guard let policy = current.policy, let spec = policy.promises[i].package else { continue }
      let q = policy.promises[i]
      if let db, db.holds(spec, absent: q.absent) {
        let what = q.absent ? "removed" : "installed " + (db.version(of: spec.name) ?? "")
        packages.decided[i] = Outcome(.repaired, what + " by " + joined(packages.tools, separator: " ") + with)
      } else {
        packages.decided[i] = Outcome(.failed, failure ?? ("\(spec.name) is still " + (q.absent ? "installed" : "not as promised") + " after " + tool))
      }
    }
    packages.batch = []
    return .outcome(packages.decided[pp.index] ?? Outcome(.failed, failure ?? "internal error: not in its own batch"))
  }
}
