// The echo service of the demo and the service tests: a base service, `extends`, a
// declared exception, `oneway`, `void`, and `@control_plane` policy.
namespace rs echo

exception EchoError {
  1: i32 code,
  2: string message,
}

/** Liveness probe every service inherits. */
service Base {
  string ping(),
}

/**
 * Echoes messages back.
 * @control_plane(timeout_ms = 1000, retry.max_attempts = 2, idempotent = true)
 */
service Echo extends Base {
  /** Returns `msg`; fails with `EchoError` when `msg` is "fail". @control_plane(timeout_ms = 200) */
  string echo(1: string msg) throws (1: EchoError err),
  /** Fire and forget. */
  oneway void notify(1: string event),
  /** Clears the server's state. */
  void reset(),
}
