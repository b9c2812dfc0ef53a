import type { KV } from '@nats-io/kv';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import type { AgentRecord } from '@fleet/contracts/protocol';
import { describeEngineError } from './engine';

export interface Identity {
  hostname: string;
  labels: Record<string, string>;
  agentVersion: string;
  /** The bundle's build id (README "Agents and heartbeats"). */
  build: string;
  /** Where this agent's /metrics is served, if it is. */
  metricsUrl?: string;
}

export interface HeartbeatTiming {
  /** How often the record is rebuilt and compared with the one last written: a change reaches the bucket within this. */
  checkMs: number;
  /** The longest the record goes unwritten when nothing changes: the liveness signal the gateway's TTL waits for. */
  refreshMs: number;
}

/** Optional record fields another part of the agent keeps current (e.g. `stacks`); asked at every check. */
export type RecordProvider = () => Partial<AgentRecord> | Promise<Partial<AgentRecord>>;

/**
 * A refresh comes between 80% and 100% of refreshMs after the last write: agents started together (a
 * broker restart, a fleet booted at once) spread their refreshes over the interval instead of writing in step.
 */
const REFRESH_JITTER = 0.2;

/** An engine that does not answer its version within this is reported unhealthy, and the heartbeat goes on. */
export const ENGINE_PROBE_TIMEOUT_MS = 10_000;

/**
 * Keeps this agent in the agents bucket (README "Agents and heartbeats"). Every checkMs the agent rebuilds
 * its record (engine health, providers' fields) locally and writes it only when its content changed or the
 * refresh is due, so an idle fleet costs the broker one write per agent per refresh rather than per check.
 * A clean stop deletes the record; a crashed agent ages out of the gateway's TTL. An engine that is down
 * does not stop the heartbeat: the agent stays registered and says the engine is unhealthy.
 */
export class Registration {
  private timer?: NodeJS.Timeout;
  private readonly startedAt = new Date().toISOString();
  private readonly providers: RecordProvider[] = [];
  private written?: string;
  private refreshDueAt = 0;
  private checking?: Promise<void>;

  constructor(
    private agents: KV,
    private readonly docker: Docker,
    private readonly identity: Identity,
    private readonly timing: HeartbeatTiming,
    private readonly log: Logger,
    /** Told each check's engine health (metrics). */
    private readonly onEngineHealth?: (healthy: boolean) => void,
  ) {}

  async start(): Promise<void> {
    await this.check();
    this.timer = setInterval(() => void this.checkNow(), this.timing.checkMs);
  }

  /** Adds fields to the record from now on; the next check writes them. */
  provide(provider: RecordProvider): void {
    this.providers.push(provider);
  }

  /** Checks at once (a provider's fields changed), rather than at the next tick; never two checks at a time. */
  checkNow(): Promise<void> {
    this.checking ??= this.check()
      .catch((err) => this.log.warn({ err }, 'heartbeat failed'))
      .finally(() => (this.checking = undefined));
    return this.checking;
  }

  /** Heartbeats go through `agents` (the bucket as an agent's rotated login opens it) from now on; written again at once. */
  useBucket(agents: KV): void {
    this.agents = agents;
    this.written = undefined;
  }

  /** A heartbeat outside the interval: after a reconnect, so the roster hears at once that this agent is back. */
  beatNow(): void {
    this.written = undefined;
    void this.checkNow();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.checking;
    await this.agents.delete(this.identity.hostname);
  }

  private async check(): Promise<void> {
    const record = await this.record();
    this.onEngineHealth?.(record.engine.healthy);
    const encoded = JSON.stringify(record);
    const now = Date.now();
    if (encoded === this.written && now < this.refreshDueAt) return;
    await this.agents.put(this.identity.hostname, encoded);
    this.written = encoded;
    this.refreshDueAt = now + this.timing.refreshMs * (1 - REFRESH_JITTER * Math.random());
  }

  private async record(): Promise<AgentRecord> {
    const provided = await Promise.all(this.providers.map((provide) => provide()));
    const base = {
      ...Object.assign({}, ...provided),
      hostname: this.identity.hostname,
      labels: this.identity.labels,
      agent_version: this.identity.agentVersion,
      build: this.identity.build,
      started_at: this.startedAt,
      ...(this.identity.metricsUrl ? { metrics_url: this.identity.metricsUrl } : {}),
    };
    try {
      const version = await answerWithin(this.docker.version(), ENGINE_PROBE_TIMEOUT_MS);
      if (!version)
        return { ...base, engine: { healthy: false, error: `docker engine did not answer within ${ENGINE_PROBE_TIMEOUT_MS / 1000}s` } };
      return { ...base, engine_version: version.Version, engine: { healthy: true } };
    } catch (err) {
      return { ...base, engine: { healthy: false, error: describeEngineError(err).error } };
    }
  }
}

/** What `answer` resolves to, or undefined once `ms` have passed without it: a hung engine socket must not stop heartbeats. */
async function answerWithin<T>(answer: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, ms, undefined)));
  try {
    return await Promise.race([answer, late]);
  } finally {
    clearTimeout(timer);
  }
}
