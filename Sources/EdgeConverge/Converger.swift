import EdgeCore
import EdgeHost

/// Checks a policy's promises in plan order and repairs what drifted: observe, compare, repair
/// only if not kept, and report an outcome with its reason.
///
/// It does not touch the store. What it learns for the stat cache is returned in `statUpdates`,
/// and the caller records outcomes after `finish()` has made every repair durable, so that a
/// recorded outcome is never ahead of the disk.
///
/// File contents are staged (temporary file, no fsync), and published in `finish()` or before
/// any promise that runs a program: one syncfs per filesystem, then the renames, then one fsync
/// per directory. A crash before the renames leaves old contents; after, new ones.
public final class Converger {
  public let root: String
  let rootDir: Directory
  public let dryRun: Bool
  let classes: Set<String>
  /// Read on first use from the root's /etc; nil until then.
  var accountsCache: Accounts?
  /// 64 KiB for hashing files, allocated once.
  let buffer: UnsafeMutableRawBufferPointer
  /// Directories opened this run, by relative path; closed by `finish()`.
  var directories: [String: OpenDirectory] = [:]
  /// The promise being checked: its `confine` (Promise.swift), which `directory` honours.
  var confine = ""
  /// Staged file writes waiting for `publish()`.
  var staged: [Staged] = []
  /// Statuses so far this run, by promise index (nil: not yet checked).
  public package(set) var outcomes: [Outcome?] = []
  /// In a dry run, the diff each content repair would make, by promise index (FilePromise.swift).
  public package(set) var diffs: [Int: String] = [:]
  /// Promises notified by a repair this run, by index.
  public package(set) var notified: [Bool] = []
  /// The daemon's supervisor answers for services; nil under `apply`, which skips them.
  public var serviceOutcome: ((Promise) -> Outcome)? = nil
  /// Promise index by id (of the run's policy), for `after` and `notify`; empty when no promise
  /// has either.
  var ids = IndexTable()
  /// A run begun `preparingBy` a window: each promise's digest (`PreparedPromise.digest`, .zero
  /// for none), by index, for the state to record beside it (`Fingerprints.digests`).
  public package(set) var fingerprints: [Digest] = []
  /// Stat cache entries to store: key (StatCacheKey) bytes and the record.
  public package(set) var statUpdates: [(key: StatKey, record: StatRecord)] = []
  /// The run in progress (Converger+Steps.swift): what it converges, how far it got, and the
  /// program it waits for.
  var current = Run()
  /// The package database as this run saw it, and its batches (PackagePromise.swift).
  var packages = PackageRun()
  /// The wall clock when the run (or the lone `check`) began: every file is observed after it,
  /// so a hash taken this run is vouched for when its ctime is settled before it.
  var observedFrom: Int64 = 0
  /// From how many written files `publish` waits, twice up to a clock tick (4 ms here), for the
  /// clock to pass their stamps, so that it can vouch for them at once (FileIdentity.settled)
  /// instead of leaving each to be hashed by the next run; nil: never. `apply` sets 1,000
  /// (hashing a small file costs the next run about 5 us: fewer cost it less than the waits);
  /// the daemon's loop must never wait.
  public var waitToVouchFrom: Int? = nil

  /// At most this many files wait staged: `advance` publishes when there are as many, so that
  /// what a run of 100,000 files holds for its renames stays under 3 MB (about 150 bytes each;
  /// all of them took 15 MB). Each publish costs a syncfs, up to four clock ticks from
  /// `waitToVouchFrom` files, and an lstat for each file staged after it in a directory this run
  /// made (OpenDirectory.empty): above 10,000, so runs that size publish once.
  package var publishEvery = 16_384

  struct Staged {
    var index: Int
    var directory: OpenDirectory
    var name: String
    var cacheKey: StatKey
    var digest: Digest
    /// The staged file as written (rename keeps inode, size and mtime; it changes ctime).
    var written: FileIdentity
  }

  /// Errors: the root cannot be opened as a directory.
  public init(root: String, classes: Set<String>, dryRun: Bool) throws(HostError) {
    self.root = root
    self.rootDir = try Directory.openRoot(root)
    self.classes = classes
    self.dryRun = dryRun
    buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
  }

  deinit { buffer.deallocate() }

  public func prepare(_ policy: Policy) -> [PreparedPromise] {
    var out: [PreparedPromise] = []
    out.reserveCapacity(policy.promises.count)
    let keys = StatCacheKey(root: root)
    for (i, p) in policy.promises.enumerated() { out.append(PreparedPromise(index: i, promise: p, keys: keys)) }
    return out
  }

  /// Converges every promise in `order`. `cachedStat` looks a host path up in the stat cache;
  /// `blob` lends the bytes of a stored blob (nil when missing); `previous` gives a promise's
  /// last recorded outcome (commands without `creates`/`unless` run once per argv). Returns the
  /// outcome of each promise checked, by index; nil for those not in `order`.
  ///
  /// Commands run here, blocking the caller (`apply`); the daemon steps through the same run
  /// with `begin`/`advance`/`resume` instead (Converger+Steps.swift).
  public func run(_ policy: Policy, _ prepared: [PreparedPromise], preparingBy window: Int = 0, order: [Int],
                  cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
                  blob: (Digest, (UnsafeRawBufferPointer?) -> Void) -> Void,
                  previous: (String) -> ActualRecord?) -> [Outcome?] {
    begin(policy, prepared, preparingBy: window, order: order)
    while let request = advance(cachedStat: cachedStat, blob: blob, previous: previous) { resume(runBlocking(request)) }
    return outcomes
  }

  /// One promise's check, for a caller that runs no program (a command's step is a failure).
  package func check(_ p: Promise, _ pp: PreparedPromise,
             cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
             blob: (Digest, (UnsafeRawBufferPointer?) -> Void) -> Void,
             previous: (String) -> ActualRecord?) -> Outcome {
    observedFrom = coarseWallClockNanoseconds()
    switch step(p, pp, cachedStat: cachedStat, blob: blob, previous: previous) {
    case .outcome(let o): return o
    // Only `advance` runs commands (it can wait for them); a command reaching here is a bug.
    case .run: return Outcome(.failed, "internal error: a command checked outside a run")
    }
  }

  /// One promise's check through its type (PromiseKind.swift), unless it is held back.
  func step(_ p: Promise, _ pp: PreparedPromise,
            cachedStat: (UnsafeRawBufferPointer) -> StatRecord?,
            blob: (Digest, (UnsafeRawBufferPointer?) -> Void) -> Void,
            previous: (String) -> ActualRecord?) -> CheckStep {
    if let held = heldBack(p) { return .outcome(held) }
    confine = p.confine
    defer { confine = "" }
    do throws(HostError) {
      return try p.type.check(self, p, pp, cachedStat: cachedStat, blob: blob, previous: previous)
    } catch {
      return .outcome(Outcome(.failed, error.description))
    }
  }

  /// Skipped without a look: a false condition, or a failed dependency.
  func heldBack(_ p: Promise) -> Outcome? {
    if let c = p.condition, !c.evaluate(classes: classes) {
      return Outcome(.skipped, Converger.conditionFalse(p.conditionText))
    }
    for k in p.after.indices {
      let dep = p.after[k]
      if let d = indexOfId(dep), let o = outcomes[d], o.status == .failed {
        return Outcome(.skipped, "dependency \"\(dep)\" failed")
      }
    }
    return nil
  }

  /// The index of promise `id` in the run's policy.
  func indexOfId(_ id: String) -> Int? {
    guard let policy = current.policy else { return nil }
    return ids.find(IndexTable.hash(0, id)) { policy.promises[$0].id == id }
  }

  static func conditionFalse(_ text: String) -> String { "condition \"\(text)\" is false" }
  static let serviceInApply = "services are supervised by `edgeagent run`"

  /// Makes staged contents durable and visible, and records their stat cache entries.
  ///
  /// A written file is vouched for (its identity and the digest written) only when no later
  /// write could leave that identity as it is: the renames come a settled while after the last
  /// write (else a write in the same tick as ours, after the rename, would keep our mtime), and
  /// the lstat that records it a settled while after the renames (else one after the lstat
  /// would keep the ctime). A file not vouched for is hashed by the next check of it.
  func publish() {
    if staged.isEmpty { return }
    var synced: [UInt64] = []
    var lastWrite: Int64 = 0
    // The directories staged in, each once: files come in runs of one directory, so a look at
    // the previous one spares the list's scan, and each directory costs one fstat, not each file.
    var seen: [ObjectIdentifier] = []
    var previous: ObjectIdentifier? = nil
    for s in staged {
      lastWrite = max(lastWrite, s.written.mtime)
      let id = ObjectIdentifier(s.directory)
      if id == previous || seen.contains(id) { continue }
      previous = id
      seen.append(id)
      // Its files are about to appear; a directory nothing was staged in stays as it was.
      s.directory.empty = false
      // One syncfs per filesystem flushes every staged file on it (a per-file fsync costs one
      // journal commit each).
      guard let st = try? s.directory.dir.fd.stat() else { continue }
      if !synced.contains(st.identity.device) {
        synced.append(st.identity.device)
        do { try s.directory.dir.fd.syncFilesystem() } catch { markFailed(s.index, error) }
      }
    }
    let wait = waitToVouchFrom.map { staged.count >= $0 } ?? false
    if wait { waitUntilSettled(lastWrite) }
    let renamedFrom = coarseWallClockNanoseconds()
    var touched: [ObjectIdentifier] = []
    for s in staged where outcomes[s.index]?.status != .failed {
      do {
        try AtomicWrite.publish(s.directory.dir, s.name)
        let id = ObjectIdentifier(s.directory)
        if !touched.contains(id) { touched.append(id) }
      } catch {
        markFailed(s.index, error)
      }
    }
    for (_, d) in directories where touched.contains(ObjectIdentifier(d)) {
      do { try d.dir.sync() } catch { writeStderr("edgeagent: warning: \(error)\n") }
    }
    if wait { waitUntilSettled(coarseWallClockNanoseconds()) }
    let lookedFrom = coarseWallClockNanoseconds()
    // Room for every promise's entry at the first publish that needs more: reserved to each
    // batch's count instead, 100,000 files' entries were copied at every batch (14.4 MB at the
    // peak of a run, old and new array). Pages of the room no entry fills are never touched.
    if statUpdates.capacity < statUpdates.count + staged.count {
      statUpdates.reserveCapacity(max(statUpdates.count + staged.count, outcomes.count))
    }
    for s in staged where outcomes[s.index]?.status != .failed {
      // Vouch for the content only if the published file is still the one written: an edit
      // between the rename and this lstat changes size or mtime (or the inode), and then the
      // next check hashes what is really there instead of trusting what was written.
      guard FileIdentity.settled(s.written.mtime, before: renamedFrom),
            let st = try? s.directory.dir.stat(s.name), st.identity.inode == s.written.inode, st.identity.device == s.written.device,
            st.identity.size == s.written.size, st.identity.mtime == s.written.mtime,
            FileIdentity.settled(st.identity.ctime, before: lookedFrom) else { continue }
      statUpdates.append((s.cacheKey, StatRecord(identity: st.identity, digest: s.digest)))
    }
    // The daemon's runs stage a few files each and keep the room (no allocation in steady
    // state); a large apply gives it back before the run is recorded.
    if staged.count > publishEvery / 4 { staged = [] } else { staged.removeAll(keepingCapacity: true) }
  }

  /// Sleeps until a stamp the kernel took no later than `stamp` (coarse wall clock) is settled,
  /// if that is a tick or so away; a stamp on a whole second would take two: not worth a wait.
  func waitUntilSettled(_ stamp: Int64) {
    let granule = FileIdentity.granule(stamp)
    if granule > 10_000_000 { return }
    while true {
      let now = coarseWallClockNanoseconds()
      if FileIdentity.settled(stamp, before: now) { return }
      // The coarse clock moves a tick at a time: sleep to the next tick, not past it.
      sleepNanoseconds(UInt64(min(stamp + granule - now, 1_000_000)))
    }
  }

  func markFailed(_ index: Int, _ error: HostError) {
    outcomes[index] = Outcome(.failed, error.description)
  }

  /// Publishes what is staged and closes the directories opened this run.
  public func finish() {
    publish()
    directories.removeAll()
  }

  /// The directory `relative` under the root, opened once per run. With `create`, missing
  /// components are made (mode 0755) as `mkdir -p` would, never through a symlink.
  func directory(_ relative: String, create: Bool) throws(HostError) -> OpenDirectory {
    // A team's confined directory is cached apart: one opened for the baseline through a
    // symlink must not serve a team's repair.
    let key = confine.isEmpty || !(relative == confine || relative.hasPrefix(confine + "/")) ? relative : "\u{1}" + relative
    if let d = directories[key] { return d }
    do {
      let d = OpenDirectory(try Directory.open(relative, in: rootDir, confine: confine))
      directories[key] = d
      return d
    } catch where create && error.errno == .noEntry {
      var current = ""
      for component in relative.utf8.split(separator: UInt8(ascii: "/")) {
        let name = String(decoding: component, as: UTF8.self)
        let parent = try directory(current, create: false)
        let child = current.isEmpty ? name : current + "/" + name
        if try lstatIn(parent, name) == nil { try makeDirectory(parent, current, name) }
        current = child
      }
      return try directory(relative, create: false)
    }
  }

  /// lstat of `name` in the open directory `parent`: none without a syscall when this run made
  /// `parent` and nothing in it since (`OpenDirectory.empty`).
  func lstatIn(_ parent: OpenDirectory, _ name: String) throws(HostError) -> FileStat? {
    if parent.empty { return nil }
    return try parent.dir.stat(name)
  }

  /// Makes directory `name` in `parent` (at `relative`), mode 0755 less the umask, and opens it:
  /// it is empty, and `parent` is not any more.
  func makeDirectory(_ parent: OpenDirectory, _ relative: String, _ name: String, mode: UInt32 = 0o755) throws(HostError) {
    try parent.dir.makeDirectory(name, mode: mode)
    parent.empty = false
    try directory(relative.isEmpty ? name : relative + "/" + name, create: false).empty = true
  }

  /// Notes that something other than a staged file may now be in directory `relative`.
  func madeEntry(in relative: String) {
    directories[relative]?.empty = false
  }

  func accounts() -> Accounts {
    if let a = accountsCache { return a }
    let a = readAccounts(root: root)
    accountsCache = a
    return a
  }

  /// The uid and gid a promise asks for (-1: not managed). Throws a reason for unknown names.
  func owner(_ p: Promise) -> (uid: Int, gid: Int, problem: String?) {
    var uid = -1, gid = -1
    if let o = p.owner {
      guard let u = accounts().uid(o) else { return (-1, -1, "unknown user \"\(o)\" (not in \(join(root, "etc/passwd")))") }
      uid = Int(u)
    }
    if let g = p.group {
      guard let n = accounts().gid(g) else { return (-1, -1, "unknown group \"\(g)\" (not in \(join(root, "etc/group")))") }
      gid = Int(n)
    }
    return (uid, gid, nil)
  }
}

/// An open directory shared by the promises of one run.
final class OpenDirectory {
  let dir: Directory
  /// This run made it, and has made nothing in it since but staged files, which are not
  /// visible yet: a name checked in it is absent without an lstat (from nothing, that lstat was
  /// one syscall of about ten per file, and always ENOENT). Cleared as soon as anything else may
  /// appear in it: a directory or link made in it, the files staged in it published, and (the
  /// directories are closed) a program run.
  var empty = false
  init(_ dir: consuming Directory) { self.dir = dir }
}

/// `0640`-style text of permission bits.
func octal(_ mode: UInt32) -> String {
  var s = String(mode, radix: 8)
  while s.utf8.count < 4 { s = "0" + s }
  return s
}

/// Joins the parts of a repair's reason (or, with `separator`, of any list said in one).
func joined(_ parts: [String], separator: String = "; ") -> String {
  var s = ""
  for (i, p) in parts.enumerated() { s += (i > 0 ? separator : "") + p }
  return s
}
