import type { NatsConnection } from '@nats-io/transport-node';

/**
 * The gateway's own outages from the broker (README "Broker restarts"). While it is cut off, no heartbeat can
 * reach it, so silence then says nothing about an agent: an agent live when the outage began stays live until a
 * full TTL after the gateway is back, time enough for it to reconnect (its backoff is shorter) and heartbeat.
 * Without this, every broker restart longer than a TTL would drop the whole fleet out of its targets.
 */
/**
 * How long calls wait for a lost broker before they are refused: a cluster node's failover (the client dials the next
 * node at once) stays unseen by callers, a broker restart does not leave them waiting until their deadlines.
 */
const CALLS_WAIT_FOR_BROKER_MS = 2_000;

export class BrokerOutage {
  /** From when to when the gateway was cut off; `until` is unknown (Infinity) while it still is. */
  private last?: { from: number; until: number };
  /** When the current disconnect began; undefined while connected. */
  private disconnectedAt?: number;

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async follow(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') this.lost();
      if (status.type === 'reconnect') this.regained();
    }
  }

  lost(): void {
    const now = this.now();
    this.disconnectedAt ??= now;
    // A disconnect within the grace of the last outage extends that outage rather than starting a new one.
    if (this.last && now < this.last.until) this.last.until = Infinity;
    else this.last = { from: now, until: Infinity };
  }

  regained(): void {
    this.disconnectedAt = undefined;
    if (this.last) this.last.until = this.now() + this.ttlMs;
  }

  /** True once the gateway has been cut off for longer than a call waits for the broker (README "Broker restarts"). */
  refusesCalls(): boolean {
    return this.disconnectedAt !== undefined && this.now() - this.disconnectedAt >= CALLS_WAIT_FOR_BROKER_MS;
  }

  /** True when an agent last heard at `seenAt` was live as the outage began and the grace after it still runs. */
  excuses(seenAt: number, now: number): boolean {
    return this.last !== undefined && now < this.last.until && this.last.from - seenAt < this.ttlMs;
  }
}
