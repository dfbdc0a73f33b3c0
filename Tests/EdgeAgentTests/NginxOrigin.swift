import Foundation
import XCTest
import EdgeTestSupport

/// nginx (Debian's nginx-light) on 127.0.0.1 and a free port, serving `root` as static files,
/// or as a caching proxy of `proxyTo`; config, logs and pid in its own directory. Started and
/// stopped by the test. `nil` (the test is skipped) when nginx is not installed.
final class NginxOrigin {
  let dir: String
  let port: UInt16
  let process = Process()

  static var binary: String? {
    for p in ["/usr/sbin/nginx", "/usr/bin/nginx"] where FileManager.default.isExecutableFile(atPath: p) { return p }
    return nil
  }

  init(root: String, dir: String, proxyTo: String? = nil) throws {
    guard let nginx = NginxOrigin.binary else { throw skipOrFailInCI("nginx is not installed (Cross/setup.sh --host installs nginx-light)") }
    self.dir = dir
    port = freePort()
    try FileManager.default.createDirectory(atPath: dir + "/tmp", withIntermediateDirectories: true)
    let location = proxyTo.map { """
      proxy_pass \($0);
            proxy_cache edge; proxy_cache_valid 200 1s; proxy_cache_lock on; proxy_cache_revalidate on;
            proxy_cache_use_stale updating;
      """ } ?? "root \(root);"
    let conf = """
      worker_processes 1;
      pid \(dir)/nginx.pid;
      error_log \(dir)/error.log;
      events { worker_connections 4096; }
      http {
        access_log \(dir)/access.log;
        client_body_temp_path \(dir)/tmp/body; proxy_temp_path \(dir)/tmp/proxy; fastcgi_temp_path \(dir)/tmp/fcgi;
        uwsgi_temp_path \(dir)/tmp/uwsgi; scgi_temp_path \(dir)/tmp/scgi;
        proxy_cache_path \(dir)/tmp/cache keys_zone=edge:1m;
        server {
          listen 127.0.0.1:\(port);
          location / { \(location) }
        }
      }
      """
    try conf.write(toFile: dir + "/nginx.conf", atomically: true, encoding: .utf8)
    process.executableURL = URL(fileURLWithPath: nginx)
    process.arguments = ["-c", dir + "/nginx.conf", "-p", dir, "-g", "daemon off; user root;"]
    try process.run()
    let deadline = Date().addingTimeInterval(5)
    while !canConnect(port) {
      if Date() > deadline || !process.isRunning { throw skipOrFailInCI("nginx did not start: \((try? String(contentsOfFile: dir + "/error.log")) ?? "")") }
      usleep(20_000)
    }
  }

  func stop() {
    if process.isRunning { process.terminate(); process.waitUntilExit() }
  }

  deinit { stop() }

  /// Access log lines so far.
  func requests() -> [String] {
    ((try? String(contentsOfFile: dir + "/access.log")) ?? "").split(separator: "\n").map(String.init)
  }
}

/// A port that was free a moment ago (bound to 0 and released).
func freePort() -> UInt16 {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  defer { close(fd) }
  var addr = sockaddr_in()
  addr.sin_family = sa_family_t(AF_INET)
  addr.sin_addr.s_addr = inet_addr("127.0.0.1")
  addr.sin_port = 0
  var len = socklen_t(MemoryLayout<sockaddr_in>.size)
  _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
  _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
  return UInt16(bigEndian: addr.sin_port)
}

func canConnect(_ port: UInt16) -> Bool {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  defer { close(fd) }
  var addr = sockaddr_in()
  addr.sin_family = sa_family_t(AF_INET)
  addr.sin_addr.s_addr = inet_addr("127.0.0.1")
  addr.sin_port = port.bigEndian
  return withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
}
