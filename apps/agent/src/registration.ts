import type { KV } from '@nats-io/kv';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import type { AgentRecord } from '@fleet/contracts/protocol';
import { describeEngineError } from './engine';

export interface Identity {
  hostname: string;
  labels: Record<string, string>;
  agentVersion: string;
  /** Where this agent's /metrics is served, if it is. */
  metricsUrl?: string;
}

/**
 * Keeps this agent in the agents bucket: a heartbeat rewrites its record (with the
 * engine's health) well inside the bucket's TTL, a clean stop deletes it, and
 * a crashed agent simply ages out. An engine that is down does not stop the
 * heartbeat: the agent stays registered and says the engine is unhealthy.
 */
export class Registration {
  private timer?: NodeJS.Timeout;
  private readonly startedAt = new Date().toISOString();
  private stacksReport?: () => NonNullable<AgentRecord['stacks']>;

  constructor(
    private agents: KV,
    private readonly docker: Docker,
    private readonly identity: Identity,
    private readonly heartbeatMs: number,
    private readonly log: Logger,
    /** Told each heartbeat's engine health (metrics). */
    private readonly onEngineHealth?: (healthy: boolean) => void,
  ) {}

  async start(): Promise<void> {
    await this.heartbeat();
    this.timer = setInterval(() => {
      this.heartbeat().catch((err) => this.log.warn({ err }, 'heartbeat failed'));
    }, this.heartbeatMs);
  }

  /** Heartbeats go through `agents` (the bucket as an agent's rotated login opens it) from now on. */
  useBucket(agents: KV): void {
    this.agents = agents;
  }

  /** Each heartbeat carries what `report` says of the host's stacks (README "Stacks on the agents"). */
  reportStacks(report: () => NonNullable<AgentRecord['stacks']>): void {
    this.stacksReport = report;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.agents.delete(this.identity.hostname);
  }

  private async heartbeat(): Promise<void> {
    const record = await this.record();
    this.onEngineHealth?.(record.engine.healthy);
    await this.agents.put(this.identity.hostname, JSON.stringify(record));
  }

  private async record(): Promise<AgentRecord> {
    const base = {
      hostname: this.identity.hostname,
      labels: this.identity.labels,
      agent_version: this.identity.agentVersion,
      started_at: this.startedAt,
      ...(this.identity.metricsUrl ? { metrics_url: this.identity.metricsUrl } : {}),
      ...(this.stacksReport ? { stacks: this.stacksReport() } : {}),
    };
    try {
      const version = await this.docker.version();
      return { ...base, engine_version: version.Version, engine: { healthy: true } };
    } catch (err) {
      return { ...base, engine: { healthy: false, error: describeEngineError(err).error } };
    }
  }
}
