import CEdge
import EdgeCore

/// One LMDB transaction. Non-copyable so it ends exactly once: `commit()` or `abort()` consume
/// it, and dropping it aborts. Bytes read are lent to a closure and valid only inside it (LMDB:
/// until the next update or the end of the transaction), so they are never returned.
///
/// Precondition (LMDB's): the environment outlives its transactions. The reference to it is
/// unretained so that `commit`/`abort` can `discard` the value.
@frozen
public struct Transaction: ~Copyable {
  @usableFromInline let txn: OpaquePointer
  @usableFromInline let env: Unmanaged<Environment>
  /// Read-only: ending it hands it back to the environment to renew (`Environment.read`).
  @usableFromInline let isReader: Bool

  init(_ txn: OpaquePointer, _ environment: Environment, reader: Bool) {
    self.txn = txn
    self.env = Unmanaged.passUnretained(environment)
    self.isReader = reader
  }

  var environment: Environment { env.takeUnretainedValue() }

  deinit { Transaction.end(txn, environment, reader: isReader) }

  static func end(_ txn: OpaquePointer, _ environment: Environment, reader: Bool) {
    if reader { environment.endReader(txn) } else { mdb_txn_abort(txn) }
  }

  /// Commits. Errors: MDB_MAP_FULL (the caller grows the map and retries), ENOSPC, EIO.
  /// The transaction is gone either way; on any error the last committed state is untouched.
  /// LMDB reports a short write as EIO, and a filesystem that fills mid-write gives a short
  /// write: when the state's filesystem then has under 1 MiB free, the error is ENOSPC.
  public consuming func commit() throws(StoreError) {
    let t = txn
    let path = environment.path
    discard self
    var rc = mdb_txn_commit(t)
    if rc == EIO, let free = freeBytes(path), free < 1 << 20 { rc = ENOSPC }
    try check(rc, "commit the state")
  }

  public consuming func abort() {
    let t = txn, e = environment, reader = isReader
    discard self
    Transaction.end(t, e, reader: reader)
  }

  /// The handle of `db` for a write. A database this environment did not open (an optional one,
  /// `Database.optional`) has handle 0, which is LMDB's free-page database: refused, never
  /// written.
  @inline(__always)
  func writable(_ db: Database) throws(StoreError) -> MDB_dbi {
    let dbi = environment.handle(db)
    if dbi == 0 { throw notOpened(db) }
    return dbi
  }

  /// Lends the value stored under `key`, or nil when there is none, to `body`.
  public func get<R, E: Error>(_ db: Database, _ key: UnsafeRawBufferPointer,
                               _ body: (UnsafeRawBufferPointer?) throws(E) -> R) throws(StoreError) -> Result<R, E> {
    let dbi = environment.handle(db)
    if dbi == 0 { return result(body, nil) }
    var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
    var v = MDB_val()
    let rc = mdb_get(txn, dbi, &k, &v)
    if rc == MDB_NOTFOUND { return result(body, nil) }
    try check(rc, "read \(db.name)")
    return result(body, UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
  }

  /// `get` for bodies that cannot fail.
  public func value<R>(_ db: Database, _ key: UnsafeRawBufferPointer,
                       _ body: (UnsafeRawBufferPointer?) -> R) throws(StoreError) -> R {
    switch try get(db, key, { (v) throws(Never) -> R in body(v) }) {
    case .success(let r): return r
    }
  }

  /// `value` keyed by a string.
  public func value<R>(_ db: Database, _ key: String, _ body: (UnsafeRawBufferPointer?) -> R) throws(StoreError) -> R {
    try withUTF8(key) { (kb) throws(StoreError) -> R in try value(db, kb, body) }
  }

  public func put(_ db: Database, _ key: UnsafeRawBufferPointer, _ data: UnsafeRawBufferPointer) throws(StoreError) {
    var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
    var v = MDB_val(mv_size: data.count, mv_data: UnsafeMutableRawPointer(mutating: data.baseAddress))
    try check(mdb_put(txn, try writable(db), &k, &v, 0), "write \(db.name)")
  }

  public func put(_ db: Database, _ key: String, _ data: [UInt8]) throws(StoreError) {
    try withUTF8(key) { (kb) throws(StoreError) in
      try withBytes(data) { (vb) throws(StoreError) in try put(db, kb, vb) }
    }
  }

  /// Deletes `key`; returns whether it was there.
  @discardableResult
  public func delete(_ db: Database, _ key: String) throws(StoreError) -> Bool {
    return try withUTF8(key) { (kb) throws(StoreError) -> Bool in
      var k = MDB_val(mv_size: kb.count, mv_data: UnsafeMutableRawPointer(mutating: kb.baseAddress))
      let rc = mdb_del(txn, try writable(db), &k, nil)
      if rc == MDB_NOTFOUND { return false }
      try check(rc, "delete from \(db.name)")
      return true
    }
  }

  /// Deletes a binary key; returns whether it was there.
  @discardableResult
  public func deleteKey(_ db: Database, _ key: [UInt8]) throws(StoreError) -> Bool {
    try withBytes(key) { (kb) throws(StoreError) -> Bool in
      var k = MDB_val(mv_size: kb.count, mv_data: UnsafeMutableRawPointer(mutating: kb.baseAddress))
      let rc = mdb_del(txn, try writable(db), &k, nil)
      if rc == MDB_NOTFOUND { return false }
      try check(rc, "delete from \(db.name)")
      return true
    }
  }

  /// Empties a database, keeping it.
  public func clear(_ db: Database) throws(StoreError) {
    try check(mdb_drop(txn, try writable(db), 0), "clear \(db.name)")
  }

  /// Calls `body` with each key and value in key order until it returns false.
  public func forEach(_ db: Database, from start: UnsafeRawBufferPointer? = nil, reverse: Bool = false,
                      _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Bool) throws(StoreError) {
    let dbi = environment.handle(db)
    if dbi == 0 { return }
    var cursor: OpaquePointer?
    try check(mdb_cursor_open(txn, dbi, &cursor), "open a cursor on \(db.name)")
    defer { mdb_cursor_close(cursor) }
    var k = MDB_val(), v = MDB_val()
    var op = reverse ? MDB_LAST : MDB_FIRST
    if let start {
      k = MDB_val(mv_size: start.count, mv_data: UnsafeMutableRawPointer(mutating: start.baseAddress))
      op = MDB_SET_RANGE
    }
    var rc = mdb_cursor_get(cursor, &k, &v, op)
    while rc == 0 {
      let more = body(UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size),
                      UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
      if !more { return }
      rc = mdb_cursor_get(cursor, &k, &v, reverse ? MDB_PREV : MDB_NEXT)
    }
    if rc != MDB_NOTFOUND { try check(rc, "iterate \(db.name)") }
  }

  /// The number of entries in a database.
  public func count(_ db: Database) throws(StoreError) -> Int {
    let dbi = environment.handle(db)
    if dbi == 0 { return 0 }
    var st = MDB_stat()
    try check(mdb_stat(txn, dbi, &st), "stat \(db.name)")
    return Int(st.ms_entries)
  }
}

/// The error of a write to a database that was not opened; out of line, so each write site
/// carries a test and a call, not the message's construction.
@inline(never)
func notOpened(_ db: Database) -> StoreError { .lmdb(code: EINVAL, operation: "write " + db.name + ": the database was not opened") }

@inline(__always)
private func result<R, E: Error>(_ body: (UnsafeRawBufferPointer?) throws(E) -> R, _ v: UnsafeRawBufferPointer?) -> Result<R, E> {
  do { return .success(try body(v)) } catch { return .failure(error) }
}


/// Bytes available to unprivileged writers on the filesystem holding `path`; nil if unknown.
func freeBytes(_ path: String) -> UInt64? {
  var st = statvfs()
  guard statvfs(path, &st) == 0 else { return nil }
  return UInt64(st.f_bavail) * UInt64(st.f_frsize)
}
