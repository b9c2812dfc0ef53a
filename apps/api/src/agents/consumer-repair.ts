import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { ensureAgentConsumers } from './consumers';

/** Pauses between the attempts of one repair while the broker is still recovering its streams; the last one repeats. */
const REPAIR_RETRY_PAUSES_MS = [250, 500, 1000, 2000, 5000];

/**
 * Makes every accepted host's job consumer again (ensureAgentConsumers) at the gateway's start and after
 * each reconnect to the broker. A restarted nats-server has lost the consumers that keep their state in
 * memory (consumers.ts), and until they are made again the jobs addressed to those hosts wait in their
 * streams. A repair is tried again until it leaves no host unrepaired (JetStream answers only once it has
 * recovered its streams); a reconnect during a repair asks for one more after it.
 */
export class ConsumerRepair {
  private running?: Promise<void>;
  private requestedAgain = false;
  private stopped = false;

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly acceptedHosts: () => readonly string[],
    private readonly log?: Pick<Logger, 'info' | 'warn'>,
    private readonly retryPausesMs: readonly number[] = REPAIR_RETRY_PAUSES_MS,
  ) {}

  /** Repairs after every reconnect of `nc`, until stop(). */
  async follow(nc: Pick<NatsConnection, 'status'>): Promise<void> {
    for await (const status of nc.status()) {
      if (this.stopped) return;
      if (status.type === 'reconnect') void this.request();
    }
  }

  /**
   * The repair at the gateway's start, awaited at most `waitMs`: jobs are sent only after it, but a broker too busy to answer now
   * (a cluster electing leaders) must not keep the gateway from starting, so the repair then goes on behind it.
   */
  async atStart(waitMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)));
    await Promise.race([this.request(), waited]);
    clearTimeout(timer);
  }

  /** One repair now (or, when one is running, one more after it); resolves when no repair is left to make. */
  request(): Promise<void> {
    if (this.running) {
      this.requestedAgain = true;
      return this.running;
    }
    this.running = this.repairUntilDone().finally(() => (this.running = undefined));
    return this.running;
  }

  stop(): void {
    this.stopped = true;
  }

  private async repairUntilDone(): Promise<void> {
    do {
      this.requestedAgain = false;
      await this.repairOnce();
    } while (this.requestedAgain && !this.stopped);
  }

  private async repairOnce(): Promise<void> {
    const startedAt = Date.now();
    let repaired = 0;
    for (let attempt = 0; !this.stopped; attempt++) {
      const hosts = this.acceptedHosts();
      const outcome = await ensureAgentConsumers(this.jsm, hosts).catch((err: Error) => err);
      if (!(outcome instanceof Error)) repaired += outcome.repaired;
      if (!(outcome instanceof Error) && outcome.failed.length === 0) {
        const done = { hosts: hosts.length, repaired, attempts: attempt + 1, ms: Date.now() - startedAt };
        if (repaired > 0 || attempt > 0) this.log?.info(done, "every accepted host's job consumer is in place");
        return;
      }
      const reason = outcome instanceof Error ? outcome.message : `${outcome.failed.length} of ${hosts.length} consumers not made yet`;
      if (attempt % 10 === 0)
        this.log?.warn({ reason, attempt: attempt + 1 }, 'job consumers not all in place yet (the broker is recovering); trying again');
      await sleep(this.retryPausesMs[Math.min(attempt, this.retryPausesMs.length - 1)]);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
