import CEdge
import EdgeCore

/// An open LMDB environment with its named databases. A final class because it owns the
/// `MDB_env`: it is closed when the last reference goes, which must be after every transaction
/// has ended.
///
/// The directory is created 0700 when opened for writing: it holds the trusted keys and policy.
public final class Environment {
  let env: OpaquePointer
  /// Database handles by `Database.rawValue`; 0 when the database does not exist (read-only
  /// open of an older state), which reads treat as empty.
  var handles: [MDB_dbi]
  public let path: String
  public let readOnly: Bool
  /// Set by `close()`: the handle is gone and every later transaction is refused.
  public private(set) var isClosed = false
  /// A read transaction that ended, reset (it pins no snapshot) and kept for the next `read()`
  /// to renew: LMDB callocs an `MDB_txn` for every read-only begin, and the relay and status
  /// paths read often. One is enough: the loop is single-threaded and readers are short.
  var spareReader: OpaquePointer? = nil

  /// The schema this code writes; stored in meta "schema". 2: statcache keys are fixed-size
  /// digests (EdgeConverge's StatCacheKey), no longer root + path. 3: those keys are 8-byte
  /// FNV-1a hashes, no longer SHA-256.
  public static let schemaVersion: UInt32 = 3
  /// Where the map starts, and the most it may grow to (32-bit builds have less address space).
  public static let initialMapSize = 64 << 20
  public static let maxMapSize = MemoryLayout<Int>.size == 8 ? 16 << 30 : 1 << 30
  /// The data file is zero-filled to at least this size when opened for writing, so commits
  /// write into blocks the file system has already allocated: an fdatasync then writes data and
  /// flushes, with no journal commit for a grown file (on ext4 the first one of a boot, under
  /// an emulated CPU, was 20-60 ms of the agent's boot).
  public static let preallocatedBytes = 512 << 10

  /// Opens (creating when writable) the environment in directory `path`.
  /// `deferredMetaSync` (MDB_NOMETASYNC): a commit syncs its data pages but not the meta page,
  /// which reaches the disk with the next commit or `sync()`. A crash may then undo the last
  /// commit, never corrupt the state; one fdatasync per commit instead of two. Whoever opens
  /// it so calls `sync()` where a commit must be durable.
  /// Errors: `.noState` when read-only and nothing is there; `.lmdb` for any LMDB failure,
  /// e.g. EACCES, or MDB_INVALID for a file from another word size.
  /// `initialMeta`: meta keys written when absent, in the transaction that opens the databases
  /// (a host id made on first start costs no commit of its own). `optional`: which of
  /// `Database.optional` a writable open opens (creating them); a read-only open opens every
  /// database that exists.
  public init(path: String, readOnly: Bool = false, mapSize: Int = Environment.initialMapSize,
              deferredMetaSync: Bool = false, initialMeta: [(String, [UInt8])] = [],
              optional: [Database] = []) throws(StoreError) {
    self.path = path
    self.readOnly = readOnly
    var st = stat()
    if readOnly {
      if stat(StateLayout(path).dataFile, &st) != 0 { throw .noState(path: path) }
    } else if stat(path, &st) != 0 {
      try Environment.makeDirectories(path)
    }
    var e: OpaquePointer?
    try check(mdb_env_create(&e), "create an LMDB environment")
    guard let e else { throw .lmdb(code: ENOMEM, operation: "create an LMDB environment") }
    env = e
    handles = [MDB_dbi](repeating: 0, count: Database.allCases.count)
    // Every stored property is set: from here a throw runs deinit, which closes `env` (closing
    // it here as well was a double free).
    try check(mdb_env_set_maxdbs(env, MDB_dbi(Database.allCases.count + 1)), "set maxdbs")
    try check(mdb_env_set_mapsize(env, mapSize), "set the map size")
    // MDB_NOTLS: a read transaction is not tied to a thread slot; status and relay readers
    // are short and the loop is single-threaded.
    let flags = UInt32(MDB_NOTLS) | (readOnly ? UInt32(MDB_RDONLY) : 0) | (deferredMetaSync ? UInt32(MDB_NOMETASYNC) : 0)
    try check(mdb_env_open(env, path, flags, 0o600), "open the state in \(path)")
    try openDatabases(initialMeta: readOnly ? [] : initialMeta, optional: optional)
  }

  deinit {
    if !isClosed {
      dropSpareReader()
      mdb_env_close(env)
    }
  }

  /// Syncs and closes the environment now (an init before unmounting the state disk), rather
  /// than when the last reference goes. No transaction may be open; later ones are refused.
  public func close() {
    if isClosed { return }
    dropSpareReader()
    if !readOnly { _ = mdb_env_sync(env, 1) }
    mdb_env_close(env)
    isClosed = true
  }

  private func openDatabases(initialMeta: [(String, [UInt8])], optional: [Database]) throws(StoreError) {
    var txn: OpaquePointer?
    try check(mdb_txn_begin(env, nil, readOnly ? UInt32(MDB_RDONLY) : 0, &txn), "begin a transaction")
    for db in Database.allCases {
      if !readOnly && Database.optional.contains(db) && !optional.contains(db) { continue }
      var dbi: MDB_dbi = 0
      let rc = mdb_dbi_open(txn, db.name, readOnly ? 0 : UInt32(MDB_CREATE), &dbi)
      if rc == MDB_NOTFOUND && readOnly { continue }
      if rc != 0 {
        mdb_txn_abort(txn)
        throw .lmdb(code: rc, operation: "open database \(db.name)")
      }
      handles[db.rawValue] = dbi
    }
    // Inside the write transaction: no other writer is extending the file meanwhile.
    if !readOnly { preallocate() }
    for (key, value) in initialMeta {
      // MDB_NOOVERWRITE finds an existing key without dirtying a page: no commit cost then.
      var kb = Array(key.utf8), vb = value
      let rc = kb.withUnsafeMutableBytes { k in
        vb.withUnsafeMutableBytes { v in
          var kv = MDB_val(mv_size: k.count, mv_data: k.baseAddress)
          var vv = MDB_val(mv_size: v.count, mv_data: v.baseAddress)
          return mdb_put(txn, handles[Database.meta.rawValue], &kv, &vv, UInt32(MDB_NOOVERWRITE))
        }
      }
      if rc != 0 && rc != MDB_KEYEXIST {
        mdb_txn_abort(txn)
        throw .lmdb(code: rc, operation: "write meta \(key)")
      }
    }
    try check(mdb_txn_commit(txn), "open the databases")
  }

  /// The data file's descriptor (nil when closed). LMDB opens it without O_CLOEXEC (mdb.c's
  /// MDB_O_RDWR): an agent that execs a new image of itself marks it close-on-exec first, or
  /// the new image would hold the old descriptor, open for writing, for its whole life (a
  /// state disk that then cannot be unmounted or remounted read-only at poweroff).
  public var dataFileDescriptor: Int32? {
    if isClosed { return nil }
    var fd: mdb_filehandle_t = -1
    return mdb_env_get_fd(env, &fd) == 0 ? fd : nil
  }

  /// Zero-fills the data file from its end to `preallocatedBytes`. LMDB reads nothing past its
  /// last page, so the zeros are never taken for data. Best effort: a failure (disk full) only
  /// leaves the file shorter, and LMDB grows it as before.
  private func preallocate() {
    var fd: mdb_filehandle_t = -1
    var st = stat()
    guard mdb_env_get_fd(env, &fd) == 0, fstat(fd, &st) == 0 else { return }
    var at = Int(st.st_size)
    if at >= Environment.preallocatedBytes { return }
    let zeros = [UInt8](repeating: 0, count: 64 << 10)
    while at < Environment.preallocatedBytes {
      let n = min(zeros.count, Environment.preallocatedBytes - at)
      let w = zeros.withUnsafeBytes { pwrite(fd, $0.baseAddress, n, off_t(at)) }
      if w <= 0 { return }
      at += w
    }
  }

  static func makeDirectories(_ path: String) throws(StoreError) {
    let u = Array(path.utf8)
    var i = 1
    while i <= u.count {
      if i == u.count || u[i] == UInt8(ascii: "/") {
        let prefix = String(decoding: u[0..<i], as: UTF8.self)
        if mkdir(prefix, 0o700) != 0 && edge_errno() != EEXIST {
          throw .lmdb(code: edge_errno(), operation: "create state directory \(prefix)")
        }
      }
      i += 1
    }
  }

  /// Begins a read-only transaction: a snapshot that writers do not disturb. Keep it short.
  /// Renews the spare reader when there is one (no allocation), else begins a new one.
  public func read() throws(StoreError) -> Transaction {
    if isClosed { throw .lmdb(code: EINVAL, operation: "read the state after it was closed") }
    if let spare = spareReader {
      spareReader = nil
      if mdb_txn_renew(spare) == 0 { return Transaction(spare, self, reader: true) }
      mdb_txn_abort(spare)
    }
    var txn: OpaquePointer?
    try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "begin a read transaction")
    return Transaction(txn!, self, reader: true)
  }

  /// Ends a read transaction: reset and kept as the spare, or freed when there is one already.
  func endReader(_ txn: OpaquePointer) {
    if spareReader == nil && !isClosed {
      mdb_txn_reset(txn)
      spareReader = txn
    } else {
      mdb_txn_abort(txn)
    }
  }

  private func dropSpareReader() {
    if let spare = spareReader { mdb_txn_abort(spare) }
    spareReader = nil
  }

  /// Begins the write transaction. One at a time: LMDB blocks a second writer.
  public func write() throws(StoreError) -> Transaction {
    if isClosed { throw .lmdb(code: EINVAL, operation: "write the state after it was closed") }
    var txn: OpaquePointer?
    try check(mdb_txn_begin(env, nil, 0, &txn), "begin a write transaction")
    return Transaction(txn!, self, reader: false)
  }

  /// Runs `body` in a write transaction and commits it. When the map is full the transaction is
  /// lost, so the map is doubled and `body` runs again from the start: it must be repeatable.
  /// `synced: false` commits without an fdatasync (MDB_NOSYNC for this commit): what it wrote
  /// survives the process (it is in the page cache) and reaches the disk with the next synced
  /// commit or `sync()`; a crash of the machine may undo it whole, never corrupt the state. For
  /// records a peer sends again anyway (host reports: a relay takes one per child per round).
  public func withWrite<R>(synced: Bool = true, _ body: (inout Transaction) throws(StoreError) -> R) throws(StoreError) -> R {
    if !synced { mdb_env_set_flags(env, UInt32(MDB_NOSYNC), 1) }
    defer { if !synced { mdb_env_set_flags(env, UInt32(MDB_NOSYNC), 0) } }
    while true {
      var txn = try write()
      do {
        let r = try body(&txn)
        try txn.commit()
        return r
      } catch {
        guard error.isMapFull else { throw error }
        try grow()
      }
    }
  }

  /// Doubles the map. Precondition: no transaction of this process is open.
  public func grow() throws(StoreError) {
    dropSpareReader()   // no transaction of ours across a remap, not even a reset one
    var info = MDB_envinfo()
    try check(mdb_env_info(env, &info), "read the environment info")
    let next = info.me_mapsize * 2
    guard next <= Environment.maxMapSize else {
      throw .lmdb(code: MDB_MAP_FULL, operation: "grow the state past \(Environment.maxMapSize >> 20) MiB")
    }
    try check(mdb_env_set_mapsize(env, next), "grow the map to \(next >> 20) MiB")
  }

  /// Flushes to disk: makes the last commit durable when the meta sync is deferred.
  public func sync() throws(StoreError) {
    if isClosed { return }
    try check(mdb_env_sync(env, 1), "sync the state")
  }

  /// Drops this process's resident copies of the state's pages from `low` to `high`, two
  /// addresses of values a transaction of this environment lent (so both inside LMDB's map,
  /// which is one mapping): `madvise(MADV_DONTNEED)`. The map is read-only (no MDB_WRITEMAP), so
  /// nothing is lost: the pages stay in the page cache, and the next read of one is a minor
  /// fault giving the same bytes (LMDB never rewrites a page an open reader can see). A walk
  /// over a large state calls it every so many records, so that its peak RSS is not the size of
  /// what it walked (the in-place check of 100,000 kept files read 29 MB of the map and peaked
  /// at 32.6-33.0 MB). LMDB does not say where its map starts (`me_mapaddr` is only set with
  /// MDB_FIXEDMAP), hence the two addresses.
  public func dropResidentPages(from low: UnsafeRawPointer, to high: UnsafeRawPointer) {
    let page = UInt(4096)
    let start = UInt(bitPattern: low) & ~(page - 1)
    let end = UInt(bitPattern: high) & ~(page - 1)
    guard !isClosed, end > start, let base = UnsafeMutableRawPointer(bitPattern: start) else { return }
    // Advice only: a failure leaves the pages resident, which is what not calling it does.
    _ = madvise(base, Int(end - start), MADV_DONTNEED)
  }

  /// The id of the last committed write transaction: unchanged means nothing was written
  /// (how tests check that an unchanged bundle costs no write).
  public var lastCommittedTransaction: Int {
    var info = MDB_envinfo()
    guard mdb_env_info(env, &info) == 0 else { return -1 }
    return Int(info.me_last_txnid)
  }

  func handle(_ db: Database) -> MDB_dbi { handles[db.rawValue] }
}

/// LMDB's version, e.g. "0.9.24".
public func lmdbVersion() -> String {
  var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
  _ = mdb_version(&major, &minor, &patch)
  return "\(major).\(minor).\(patch)"
}
