import type { JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import {
  AGENTS_BUCKET,
  DRAINS_BUCKET,
  ENROLLMENTS_BUCKET,
  type AgentRecord,
  type DrainRecord,
  type EnrollmentRecord,
} from '@fleet/contracts/protocol';
import { followBucket, type BucketChange } from '@fleet/runtime/nats';
import { whileBrokerRefuses } from '../nats/broker-unavailable';
import { readBucket } from '../nats/buckets';
import { BrokerOutage } from './broker-outage';
import { ConsumerRepair } from './consumer-repair';
import { ensureAgentConsumer } from './consumers';

export type EnrollmentState = 'pending' | 'accepted';

export interface AgentView extends AgentRecord {
  /** The labels an admin set (targets and scopes match these); empty while pending. */
  labels: Record<string, string>;
  /** What the agent itself asks for (FLEET_AGENT_LABELS): shown, never matched. */
  requested_labels: Record<string, string>;
  enrollment: EnrollmentState;
  live: boolean;
  drained: boolean;
  last_seen_at: string;
}

/** Where an agent stands for `GET /agent`: each listed host is in exactly one. */
export type AgentState = 'online' | 'offline' | 'drained';
/** `live` is online or drained (every agent heard within the TTL); `all` adds the offline ones. */
export type AgentStateFilter = AgentState | 'live' | 'all';

/** An accepted host not heard from since this gateway started: its enrolment is all there is to show. */
export type UnseenAgent = Pick<AgentView, 'hostname' | 'labels' | 'requested_labels' | 'enrollment' | 'live' | 'drained'>;

export interface AgentQuery {
  /** Whether the caller may see a host at all (its key's scope): a host outside is neither listed nor counted. */
  visible(hostname: string): boolean;
  /** A target filter, judged on the labels an admin set. */
  matches?(hostname: string, labels: Record<string, string>): boolean;
  state: AgentStateFilter;
  agentVersion?: string;
  build?: string;
  /** The last hostname of the previous page: this page starts after it. */
  after?: string;
  /** Matching hosts skipped before this page (the `after` of a page found by position). */
  offset?: number;
  limit: number;
}

export interface AgentPage {
  agents: Array<AgentView | UnseenAgent>;
  /** Hosts matching the whole query, on every page. */
  total: number;
  /** Hosts matching the query but its state, by state. */
  counts: Record<AgentState, number>;
  /** Of the hosts matching the whole query, those not accepted yet. */
  pending: number;
  next_cursor?: string;
}

export interface Enrollment extends EnrollmentRecord {
  hostname: string;
  enrollment: 'accepted';
}

/** How long a gateway's start waits for its hosts' consumers to be in place before it serves (the repair goes on after). */
const START_REPAIR_WAIT_MS = 15_000;

/** The buckets the roster writes; the agents bucket is only read (readBucket) and followed. */
export interface RosterBuckets {
  drains: KV;
  enrollments: KV;
}

interface Seen {
  record: AgentRecord;
  seenAt: number;
}

/**
 * The gateway's roster of agents: an in-memory view of the agents, drains and enrollments
 * buckets, kept current by following the agents' heartbeats. Target resolution reads only this view,
 * so resolving a target costs no broker round trip.
 */
export class AgentRoster {
  private readonly seen = new Map<string, Seen>();
  /** Hostnames of `seen` in order; rebuilt only when an agent comes or goes, not per heartbeat or call. */
  private sortedHostnames: string[] | undefined;
  /** Hostnames `GET /agent` lists (heard from or accepted) in code-unit order, the order its cursor counts in. */
  private listedHostnames: string[] | undefined;
  private readonly drained = new Set<string>();
  /**
   * Each live agent's view, built once per change (heartbeat, enrolment, drain) rather than per call:
   * resolving a hostname target reads it on every request. Callers never modify a view.
   */
  private readonly views = new Map<string, AgentView>();
  private readonly enrolled = new Map<string, EnrollmentRecord>();
  private readonly unfollow: Array<() => void> = [];
  /** Drains (`d/`) and enrolments (`e/`) heard on their feeds while the buckets were being read at start. */
  private changedWhileLoading: Set<string> | undefined = new Set();
  private readonly changeListeners = new Set<(hostname: string) => void>();
  private readonly brokerOutage: BrokerOutage;
  private readonly consumerRepair: ConsumerRepair;

  constructor(
    private readonly buckets: RosterBuckets,
    private readonly jsm: JetStreamManager,
    private readonly ttlMs: number,
    log?: Pick<Logger, 'info' | 'warn'>,
  ) {
    this.brokerOutage = new BrokerOutage(ttlMs);
    this.consumerRepair = new ConsumerRepair(jsm, () => [...this.enrolled.keys()], log);
  }

  async start(nc: NatsConnection): Promise<void> {
    void this.brokerOutage.follow(nc);
    // Follow first, then load: a heartbeat landing in between is not lost.
    this.unfollow.push(followBucket(nc, AGENTS_BUCKET, (change) => this.onHeartbeat(change)));
    this.unfollow.push(followBucket(nc, DRAINS_BUCKET, (change) => this.onDrain(change)));
    this.unfollow.push(followBucket(nc, ENROLLMENTS_BUCKET, (change) => this.onEnrollment(change)));
    await this.load(nc);
    // Repairs a consumer deleted or reshaped behind the gateway's back, or lost with a restarted broker:
    // one listing of the job streams' consumers, and a round trip only for the hosts whose consumer is
    // missing or wrong.
    void this.consumerRepair.follow(nc);
    await this.consumerRepair.atStart(START_REPAIR_WAIT_MS);
  }

  /**
   * Accepts a host (also one not seen yet: `fleet up` accepts its agents before starting them):
   * its consumer is created first, so by the time it can be targeted its jobs have somewhere to go.
   * Without `labels`, the host gets the labels it asked for.
   */
  async accept(hostname: string, by: string, labels?: Record<string, string>): Promise<Enrollment> {
    await ensureAgentConsumer(this.jsm, hostname);
    return this.enroll(hostname, { labels: labels ?? this.seen.get(hostname)?.record.labels ?? {}, by, at: new Date().toISOString() });
  }

  /** Replaces an accepted host's labels; undefined when the host is not accepted. */
  async setLabels(hostname: string, labels: Record<string, string>, by: string): Promise<Enrollment | undefined> {
    if (!this.enrolled.has(hostname)) return undefined;
    return this.enroll(hostname, { labels, by, at: new Date().toISOString() });
  }

  /** Withdraws a host's acceptance (it was removed from the fleet): no target reaches it any more. */
  async withdraw(hostname: string): Promise<void> {
    await whileBrokerRefuses(() => this.buckets.enrollments.delete(hostname));
    this.enrolled.delete(hostname);
    this.listedHostnames = undefined;
    this.views.delete(hostname);
    this.changed(hostname);
  }

  private async enroll(hostname: string, record: EnrollmentRecord): Promise<Enrollment> {
    await whileBrokerRefuses(() => this.buckets.enrollments.put(hostname, JSON.stringify(record)));
    if (!this.enrolled.has(hostname)) this.listedHostnames = undefined;
    this.enrolled.set(hostname, record);
    this.views.delete(hostname);
    this.changed(hostname);
    return { hostname, enrollment: 'accepted', ...record };
  }

  stop(): void {
    this.consumerRepair.stop();
    this.unfollow.forEach((unfollow) => unfollow());
  }

  /**
   * Called with a hostname whenever what get() answers for it may have changed: a heartbeat, a
   * drain, an enrolment or new labels, heard from this replica or another. An agent going quiet
   * is no event: it simply stops being live (GET /feed/agents looks for that itself).
   */
  onChange(listener: (hostname: string) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  private changed(hostname: string): void {
    this.changeListeners.forEach((listener) => listener(hostname));
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

  /**
   * One page of `GET /agent`: the hosts heard from since start or accepted, in hostname order, filtered,
   * with the total and the counts by state of what the caller may see. Views are built for the page only.
   */
  page(query: AgentQuery): AgentPage {
    const now = Date.now();
    const counts: Record<AgentState, number> = { online: 0, offline: 0, drained: 0 };
    const agents: Array<AgentView | UnseenAgent> = [];
    let total = 0;
    let pending = 0;
    let more = false;
    let skipped = 0;
    for (const hostname of this.knownHostnames()) {
      if (!query.visible(hostname)) continue;
      const seen = this.seen.get(hostname);
      if (!this.matchesQuery(hostname, seen?.record, query)) continue;
      const state = this.stateOf(hostname, seen, now);
      counts[state]++;
      if (!stateMatches(state, query.state)) continue;
      total++;
      if (!this.enrolled.has(hostname)) pending++;
      if (query.after !== undefined && hostname <= query.after) continue;
      if (skipped < (query.offset ?? 0)) {
        skipped++;
        continue;
      }
      if (agents.length < query.limit) agents.push(this.listing(hostname, seen, now));
      else more = true;
    }
    return { agents, total, counts, pending, ...(more ? { next_cursor: agents[agents.length - 1].hostname } : {}) };
  }

  /** Every host heard from since start or accepted (live or not), in code-unit order. */
  knownHostnames(): readonly string[] {
    this.listedHostnames ??= [...new Set([...this.seen.keys(), ...this.enrolled.keys()])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return this.listedHostnames;
  }

  private matchesQuery(hostname: string, record: AgentRecord | undefined, query: AgentQuery): boolean {
    if (query.agentVersion !== undefined && record?.agent_version !== query.agentVersion) return false;
    if (query.build !== undefined && record?.build !== query.build) return false;
    return !query.matches || query.matches(hostname, this.enrolled.get(hostname)?.labels ?? {});
  }

  private stateOf(hostname: string, seen: Seen | undefined, now: number): AgentState {
    if (!seen || !this.isLive(seen, now)) return 'offline';
    return this.drained.has(hostname) ? 'drained' : 'online';
  }

  /** A live agent's cached view; an offline one's built for this page (its last record, `live: false`). */
  private listing(hostname: string, seen: Seen | undefined, now: number): AgentView | UnseenAgent {
    if (seen) return this.view(hostname, now) ?? { ...this.buildView(hostname, seen), live: false };
    const labels = this.enrolled.get(hostname)?.labels ?? {};
    return { hostname, labels, requested_labels: {}, enrollment: 'accepted', live: false, drained: this.drained.has(hostname) };
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

  /**
   * The labels an admin gave an accepted host, live or not (a scope judges a job's hosts after they
   * go quiet); undefined for a host never accepted. What an agent reports is never a scope's business.
   */
  labelsOf(hostname: string): Record<string, string> | undefined {
    return this.enrolled.get(hostname)?.labels;
  }

  async setDrained(hostname: string, drained: boolean, by: string): Promise<void> {
    const record: DrainRecord = { drained, by, at: new Date().toISOString() };
    if (drained) await this.buckets.drains.put(hostname, JSON.stringify(record));
    else await this.buckets.drains.delete(hostname);
    this.applyDrain(hostname, drained);
    this.changed(hostname);
  }

  private view(hostname: string, now: number): AgentView | undefined {
    const seen = this.seen.get(hostname);
    if (!seen || !this.isLive(seen, now)) return undefined;
    let view = this.views.get(hostname);
    if (!view) {
      view = this.buildView(hostname, seen);
      this.views.set(hostname, view);
    }
    return view;
  }

  private buildView(hostname: string, seen: Seen): AgentView {
    const enrollment = this.enrolled.get(hostname);
    return {
      ...seen.record,
      labels: enrollment?.labels ?? {},
      requested_labels: seen.record.labels,
      enrollment: enrollment ? 'accepted' : 'pending',
      live: true,
      drained: this.drained.has(hostname),
      last_seen_at: new Date(seen.seenAt).toISOString(),
    };
  }

  private isLive(seen: Seen, now: number): boolean {
    return now - seen.seenAt < this.ttlMs || this.brokerOutage.excuses(seen.seenAt, now);
  }

  /** Reads the three buckets whole, one consumer each (readBucket), not one get per agent. */
  private async load(nc: NatsConnection): Promise<void> {
    const [agents, drains, enrollments] = await Promise.all(
      [AGENTS_BUCKET, DRAINS_BUCKET, ENROLLMENTS_BUCKET].map((bucket) => readBucket(nc, this.jsm, bucket)),
    );
    for (const entry of agents) {
      const record = agentRecordOf(entry.key, entry.value);
      if (record) this.remember(entry.key, record, entry.written.getTime());
    }
    // A drain or enrolment heard on the bucket's feed while reading is newer than what was read.
    for (const entry of drains)
      if (!this.changedWhileLoading?.has(`d/${entry.key}`))
        this.applyDrain(entry.key, parseJson<DrainRecord>(entry.value)?.drained === true);
    for (const entry of enrollments) {
      const record = parseJson<EnrollmentRecord>(entry.value);
      if (record && !this.changedWhileLoading?.has(`e/${entry.key}`)) this.enrolled.set(entry.key, record);
    }
    this.views.clear();
    this.listedHostnames = undefined;
    this.changedWhileLoading = undefined;
  }

  /** Another replica accepted a host or changed its labels. */
  private onEnrollment(change: BucketChange): void {
    this.changedWhileLoading?.add(`e/${change.key}`);
    const record = change.deleted ? undefined : parseJson<EnrollmentRecord>(change.value);
    if ((record?.labels !== undefined) !== this.enrolled.has(change.key)) this.listedHostnames = undefined;
    if (record?.labels) this.enrolled.set(change.key, record);
    else this.enrolled.delete(change.key);
    this.views.delete(change.key);
    this.changed(change.key);
  }

  private onHeartbeat(change: BucketChange): void {
    if (change.deleted) {
      if (this.seen.delete(change.key)) this.sortedHostnames = this.listedHostnames = undefined;
      this.views.delete(change.key);
      return;
    }
    const record = agentRecordOf(change.key, change.value);
    if (record) {
      this.remember(change.key, record, Date.now());
      this.changed(change.key);
    }
  }

  private onDrain(change: BucketChange): void {
    this.changedWhileLoading?.add(`d/${change.key}`);
    this.applyDrain(change.key, !change.deleted && parseJson<DrainRecord>(change.value)?.drained === true);
    this.changed(change.key);
  }

  private remember(hostname: string, record: AgentRecord, seenAt: number): void {
    const previous = this.seen.get(hostname);
    if (!previous) this.sortedHostnames = this.listedHostnames = undefined;
    if (!previous || previous.seenAt <= seenAt) {
      this.seen.set(hostname, { record, seenAt });
      this.views.delete(hostname);
    }
  }

  private applyDrain(hostname: string, drained: boolean): void {
    if (drained) this.drained.add(hostname);
    else this.drained.delete(hostname);
    this.views.delete(hostname);
  }
}

/**
 * An agent writes its record itself, so the gateway keeps only what an honest agent writes: a record under
 * its own key (the subject it published on; its permissions bind it to that key) and of a bounded size, so
 * one agent's login cannot grow every gateway's heap by a megabyte per write.
 */
const MAX_AGENT_RECORD_BYTES = 64 * 1024;

function agentRecordOf(key: string, value: Uint8Array): AgentRecord | undefined {
  if (value.length > MAX_AGENT_RECORD_BYTES) return undefined;
  const record = parseJson<AgentRecord>(value);
  return record?.hostname === key ? record : undefined;
}

function stateMatches(state: AgentState, filter: AgentStateFilter): boolean {
  if (filter === 'all') return true;
  if (filter === 'live') return state !== 'offline';
  return state === filter;
}

function parseJson<T>(data: Uint8Array): T | undefined {
  try {
    return JSON.parse(new TextDecoder().decode(data)) as T;
  } catch {
    return undefined;
  }
}
