import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { AGENTS_BUCKET, DRAINS_BUCKET, type AgentRecord, type DrainRecord } from '@fleet/contracts/protocol';
import { followBucket, type BucketChange } from '@fleet/runtime/nats';

export interface AgentView extends AgentRecord {
  live: boolean;
  drained: boolean;
  last_seen_at: string;
}

interface Seen {
  record: AgentRecord;
  seenAt: number;
}

/**
 * The gateway's roster of agents: an in-memory view of the agents and drains
 * buckets, kept current by following the agents' heartbeats. Target resolution reads only this view,
 * so resolving a target costs no broker round trip.
 */
export class AgentRoster {
  private readonly seen = new Map<string, Seen>();
  /** Hostnames of `seen` in order; rebuilt only when an agent comes or goes, not per heartbeat or call. */
  private sortedHostnames: string[] | undefined;
  private readonly drained = new Set<string>();
  private readonly unfollow: Array<() => void> = [];

  constructor(
    private readonly agents: KV,
    private readonly drains: KV,
    private readonly ttlMs: number,
  ) {}

  async start(nc: NatsConnection): Promise<void> {
    // Follow first, then load: a heartbeat landing in between is not lost.
    this.unfollow.push(followBucket(nc, AGENTS_BUCKET, (change) => this.onHeartbeat(change)));
    this.unfollow.push(followBucket(nc, DRAINS_BUCKET, (change) => this.onDrain(change)));
    await this.load();
  }

  stop(): void {
    this.unfollow.forEach((unfollow) => unfollow());
  }

  /** Every agent heard from within the TTL, sorted by hostname. */
  list(): AgentView[] {
    const now = Date.now();
    const views: AgentView[] = [];
    for (const hostname of this.hostnames()) {
      const view = this.view(hostname, now);
      if (view) views.push(view);
    }
    return views;
  }

  /** Every agent heard from since start, sorted; some may have gone quiet (get() says which are live). */
  hostnames(): readonly string[] {
    this.sortedHostnames ??= [...this.seen.keys()].sort((a, b) => a.localeCompare(b));
    return this.sortedHostnames;
  }

  /** How many agents were heard from within the TTL. */
  countLive(): number {
    const now = Date.now();
    let live = 0;
    for (const seen of this.seen.values()) if (this.isLive(seen, now)) live++;
    return live;
  }

  get(hostname: string): AgentView | undefined {
    return this.view(hostname, Date.now());
  }

  /** The labels an agent last reported, live or not (a scope judges a job's hosts after they go quiet). */
  labelsOf(hostname: string): Record<string, string> | undefined {
    return this.seen.get(hostname)?.record.labels;
  }

  async setDrained(hostname: string, drained: boolean, by: string): Promise<void> {
    const record: DrainRecord = { drained, by, at: new Date().toISOString() };
    if (drained) await this.drains.put(hostname, JSON.stringify(record));
    else await this.drains.delete(hostname);
    this.applyDrain(hostname, drained);
  }

  private view(hostname: string, now: number): AgentView | undefined {
    const seen = this.seen.get(hostname);
    if (!seen || !this.isLive(seen, now)) return undefined;
    return {
      ...seen.record,
      live: true,
      drained: this.drained.has(hostname),
      last_seen_at: new Date(seen.seenAt).toISOString(),
    };
  }

  private isLive(seen: Seen, now: number): boolean {
    return now - seen.seenAt < this.ttlMs;
  }

  private async load(): Promise<void> {
    for await (const key of await this.agents.keys()) {
      const entry = await this.agents.get(key);
      if (entry?.operation === 'PUT') this.remember(key, entry.json<AgentRecord>(), entry.created.getTime());
    }
    for await (const key of await this.drains.keys()) {
      const entry = await this.drains.get(key);
      if (entry?.operation === 'PUT') this.applyDrain(key, entry.json<DrainRecord>().drained);
    }
  }

  private onHeartbeat(change: BucketChange): void {
    if (change.deleted) {
      if (this.seen.delete(change.key)) this.sortedHostnames = undefined;
      return;
    }
    const record = parseJson<AgentRecord>(change.value);
    // The key is the subject the agent published on; its permissions bind it to its own key.
    if (record && record.hostname === change.key) this.remember(change.key, record, Date.now());
  }

  private onDrain(change: BucketChange): void {
    this.applyDrain(change.key, !change.deleted && parseJson<DrainRecord>(change.value)?.drained === true);
  }

  private remember(hostname: string, record: AgentRecord, seenAt: number): void {
    const previous = this.seen.get(hostname);
    if (!previous) this.sortedHostnames = undefined;
    if (!previous || previous.seenAt <= seenAt) this.seen.set(hostname, { record, seenAt });
  }

  private applyDrain(hostname: string, drained: boolean): void {
    if (drained) this.drained.add(hostname);
    else this.drained.delete(hostname);
  }
}

function parseJson<T>(data: Uint8Array): T | undefined {
  try {
    return JSON.parse(new TextDecoder().decode(data)) as T;
  } catch {
    return undefined;
  }
}
