import EdgeLoop
import EdgeStore

/// `/metrics` and `/healthz` on an address of their own, for every agent (`metrics` in the
/// config, `run --metrics`), relay or not. It is the relay's listener and connections
/// (RelayConnection: one request per connection, a 10 s bound on the head, 120 s on the whole
/// exchange) with the bundle paths turned off, so it never reads the state: the text comes from
/// `metrics` and the health from `health`, both called on the loop when a request asks.
/// Any other path is a 404.
public final class MetricsServer {
  let http: Relay

  /// Scrapers and probes are few: 16 connections at once; the rest are closed at accept.
  public init(loop: Loop, env: Environment, maxConnections: Int = 16) {
    http = Relay(loop: loop, env: env, maxConnections: maxConnections, servesBundles: false)
  }

  /// The body of `/metrics` (Prometheus text).
  public var metrics: () -> String {
    get { http.extraMetrics }
    set { http.extraMetrics = newValue }
  }

  /// `/healthz`: 200 with the text when `ok`, else 503 with the reason.
  public var health: () -> (ok: Bool, text: String) {
    get { http.health ?? { (true, "ok") } }
    set { http.health = newValue }
  }

  /// Binds and listens. `address` is an IPv4 literal; port 0 takes a free one (see `port`).
  public func start(address: String, port: UInt16) throws(LoopError) { try http.start(address: address, port: port) }

  public var port: UInt16 { http.port }

  public func stop() { http.stop() }
}
