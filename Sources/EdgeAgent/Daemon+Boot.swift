import EdgeConverge
import EdgeCore
import EdgeHost
import EdgeStore
import EdgeSupervise

/// PID 1's disks (modules and mounts at boot, unmounts at shutdown) and the host id.
extension Daemon {
  /// As PID 1, before the state is opened: loads the configured kernel modules in order, then
  /// mounts the configured filesystems. A failure is logged and boot goes on: without its state
  /// disk the agent still converges, with its state in memory.
  static func prepareDisks(_ config: DaemonConfig, log: Logger) {
    for path in config.modules {
      do throws(HostError) {
        log.info(try loadKernelModule(path) ? "loaded module" : "module already loaded", [("module", path)])
      } catch {
        log.error("unable to load module", [("module", path), ("err", error.description)])
      }
    }
    for m in config.mounts {
      do throws(HostError) {
        let done = try mountFilesystem(m)
        log.info(done ? "mounted" : "already mounted", [("device", m.device), ("path", m.path), ("type", m.type)])
      } catch {
        log.error("unable to mount", [("device", m.device), ("path", m.path), ("type", m.type), ("err", error.description)])
      }
    }
  }

  /// As PID 1, after the state is closed: unmounts the configured filesystems in reverse order
  /// (read-only when still busy), so the next boot mounts them clean, with no journal replay.
  func releaseDisks() {
    for m in config.mounts.reversed() {
      do throws(HostError) {
        switch try unmountFilesystem(m.path) {
        case .unmounted: log.info("unmounted", [("path", m.path)])
        case .remountedReadOnly: log.warn("busy, remounted read-only", [("path", m.path)])
        case .notMounted: break
        }
      } catch {
        log.error("unable to unmount", [("path", m.path), ("err", error.description), ("held_by", holders(of: m.path).joined(separator: "; "))])
      }
    }
  }

  /// A random 128-bit id made on first start and kept in meta; the splay derives from it.
  /// The environment's `initialMeta` writes it with the databases on first start; this reads it.
  static func loadHostID(_ env: Environment, override: String?) throws(AgentError) -> String {
    if let override { return override }
    do throws(StoreError) {
      // Read first: a write transaction is not free on a slow disk, and it is there after boot 1.
      let txn = try env.read()
      let held = try txn.hostID()
      txn.abort()
      if let held { return held }
      return try env.withWrite { (txn) throws(StoreError) -> String in
        if let id = try txn.hostID() { return id }
        let id = randomHex(16)
        try txn.setHostID(id)
        return id
      }
    } catch { throw .store(error) }
  }
}
