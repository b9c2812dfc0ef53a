import type { NatsConnection } from '@nats-io/transport-node';

/**
 * The gateway's own outages from the broker (README "Broker restarts"). While it is cut off, no heartbeat can
 * reach it, so silence then says nothing about an agent: an agent live when the outage began stays live until a
 * full TTL after the gateway is back, time enough for it to reconnect (its backoff is shorter) and heartbeat.
 * Without this, every broker restart longer than a TTL would drop the whole fleet out of its targets.
 */
export class BrokerOutage {
  /** From when to when the gateway was cut off; `until` is unknown (Infinity) while it still is. */
  private last?: { from: number; until: number };

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
    // A disconnect within the grace of the last outage extends that outage rather than starting a new one.
    if (this.last && now < this.last.until) this.last.until = Infinity;
    else this.last = { from: now, until: Infinity };
  }

  regained(): void {
    if (this.last) this.last.until = this.now() + this.ttlMs;
  }

  /** True when an agent last heard at `seenAt` was live as the outage began and the grace after it still runs. */
  excuses(seenAt: number, now: number): boolean {
    return this.last !== undefined && now < this.last.until && this.last.from - seenAt < this.ttlMs;
  }
}
