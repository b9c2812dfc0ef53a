/** How long a connection waits between reconnect attempts (README "Broker restarts"). */
export interface ReconnectPacing {
  /** The wait before the second attempt is drawn from [0, firstMs]; each further attempt doubles the range. */
  firstMs: number;
  /** The range stops growing here: no wait is ever longer. */
  maxMs: number;
}

/** The gateway: one connection that callers wait on, so it comes back as soon as the broker does. */
export const GATEWAY_RECONNECT: ReconnectPacing = { firstMs: 100, maxMs: 1_000 };

/**
 * Agents: thousands of connections that lost the same broker at the same moment. Spread over up to 8 s, a
 * restarted broker takes their logins, TLS handshakes and subscriptions a share at a time instead of all at once.
 */
export const AGENT_RECONNECT: ReconnectPacing = { firstMs: 250, maxMs: 8_000 };

/**
 * Exponential backoff with full jitter. The first attempt after a disconnect is immediate (a broker that only
 * dropped the connection is back at once); attempt n waits a uniform draw from [0, min(maxMs, firstMs·2^(n-2))].
 * A fleet whose broker went away together therefore comes back spread evenly over the last range, not in lockstep.
 */
export class ReconnectBackoff {
  private attempts = 0;

  constructor(
    private readonly pacing: ReconnectPacing,
    private readonly random: () => number = Math.random,
  ) {}

  /** The wait before the next attempt; each call is one attempt. */
  nextDelayMs(): number {
    const attempt = this.attempts++;
    if (attempt === 0) return 0;
    const range = Math.min(this.pacing.maxMs, this.pacing.firstMs * 2 ** Math.min(attempt - 1, 30));
    return Math.floor(this.random() * (range + 1));
  }

  /** Connected: the next disconnect starts over with an immediate attempt. */
  reset(): void {
    this.attempts = 0;
  }
}
