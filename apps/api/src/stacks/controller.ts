import { randomUUID } from 'node:crypto';
import type { StackSpec } from '@fleet/contracts/compose';
import { jobTraits, type NodeOperationName } from '@fleet/contracts/operations';
import type { Logger } from 'pino';
import type { AgentRoster } from '../agents/roster';
import type { JobClient, JobRequest } from '../jobs/client';
import { reportedStacks } from './host-state';
import {
  decideActions,
  mayClaim,
  nextClaim,
  REMOVAL,
  settledClaim,
  type ControlledHost,
  type ControlledStack,
  type RolloutPhase,
  type StackAction,
} from './keep-true';
import { APPLY_TIMEOUT_SECONDS, parsedSpec, STACK_CONTROLLER, STACK_HOST } from './service';
import type { HostClaim, StackRecord, StackStore } from './store';

/** How often every replica looks at the fleet against its stacks: the bound on catching up, past the agents' heartbeat. */
export const KEEP_TRUE_INTERVAL_MS = 5_000;
/** At most this many applies and removals start per round, so a fleet-wide change is paced. */
export const MAX_ACTIONS_PER_ROUND = 200;
/** Specs parsed from stored revisions, kept between rounds up to this many. */
const MAX_CACHED_SPECS = 256;
/** A revision whose rollout job is not stored yet is taken as still starting for this long. */
const STARTING_GRACE_MS = 30_000;

export interface StackControllerDeps {
  store: StackStore;
  jobs: JobClient;
  roster: AgentRoster;
  log: Logger;
}

/**
 * The keep-true controller (README "Stacks"): every replica runs it; each round it reads the stacks, their rollouts and the
 * fleet, decides (decideActions), and sends each apply or removal only after winning that host's claim in the store by
 * compare-and-set, so of two replicas only one sends it, and a restarted one goes on from the claims stored.
 */
export class StackController {
  private readonly specs = new Map<string, StackSpec>();
  private running = false;

  constructor(private readonly deps: StackControllerDeps) {}

  /** Runs a round every `intervalMs` until the returned function is called. */
  start(intervalMs = KEEP_TRUE_INTERVAL_MS): () => void {
    const timer = setInterval(() => void this.round(), intervalMs);
    return () => clearInterval(timer);
  }

  /** One round; rounds never overlap, and a round the broker fails is simply the next one's to do. */
  async round(now = Date.now()): Promise<StackAction[]> {
    if (this.running) return [];
    this.running = true;
    try {
      const stacks = await Promise.all((await this.deps.store.list()).map((record) => this.controlled(record, now)));
      // Claims are read only for the hosts that need something: a fleet in sync costs no read of them.
      const candidates = decideActions(stacks, this.hosts(), () => undefined, now);
      const byName = new Map(stacks.map((stack) => [stack.record.name, stack.record]));
      const sent: StackAction[] = [];
      for (const action of candidates) {
        if (sent.length >= MAX_ACTIONS_PER_ROUND) break;
        const previous = await this.deps.store.claimOf(action.stack, action.hostname);
        if (!mayClaim(previous?.claim, action.kind === 'apply' ? action.revision : REMOVAL, now)) continue;
        if (await this.send(action, byName.get(action.stack), previous, now)) sent.push(action);
      }
      if (this.specs.size > MAX_CACHED_SPECS) this.specs.clear();
      return sent;
    } catch (err) {
      this.deps.log.warn({ err }, 'stack controller round failed');
      return [];
    } finally {
      this.running = false;
    }
  }

  private async controlled(record: StackRecord, now: number): Promise<ControlledStack> {
    const current = record.revisions.find((listed) => listed.revision === record.revision);
    const job = current && !record.removed ? await this.deps.jobs.waitFor(current.job_id, 0) : undefined;
    let phase: RolloutPhase = 'ended';
    if (job?.rollout) phase = job.rollout.state === 'running' ? 'running' : job.rollout.state === 'completed' ? 'ended' : 'stopped';
    else if (job) phase = job.status === 'pending' || job.status === 'running' ? 'running' : 'ended';
    else if (current && now - Date.parse(current.created_at) < STARTING_GRACE_MS) phase = 'running';
    return { record, phase, rows: new Map((job?.results ?? []).map((row) => [row.hostname, row])) };
  }

  private hosts(): ControlledHost[] {
    const { roster } = this.deps;
    return roster.hostnames().map((hostname) => {
      const view = roster.get(hostname);
      return {
        hostname,
        live: view !== undefined,
        drained: view?.drained ?? false,
        labels: roster.labelsOf(hostname),
        stacks: reportedStacks(view),
      };
    });
  }

  /** Claims the host for the action (false: another replica did first), then sends it. */
  private async send(
    action: StackAction,
    record: StackRecord | undefined,
    previous: { claim: HostClaim; version: number } | undefined,
    now: number,
  ): Promise<boolean> {
    const jobId = randomUUID();
    const revision = action.kind === 'apply' ? action.revision : REMOVAL;
    const claim = nextClaim(previous?.claim, revision, jobId, now + (APPLY_TIMEOUT_SECONDS + 5) * 1000);
    const version = await this.deps.store.takeClaim(action.stack, action.hostname, claim, previous?.version ?? 0);
    if (version === undefined) return false;
    const settle = () => void this.deps.store.takeClaim(action.stack, action.hostname, settledClaim(claim, Date.now()), version);
    try {
      const request = action.kind === 'apply' && record ? await this.applyRequest(record, action.hostname, jobId) : removal(action, jobId);
      const job = await this.deps.jobs.start(request);
      // Ended, the claim lets the next change of this stack reach the host at once (a gateway gone before this waits out the deadline).
      job.rows.then(settle, settle);
      this.deps.log.info({ stack: action.stack, hostname: action.hostname, kind: action.kind, revision, job_id: jobId }, 'stack kept true');
      return true;
    } catch (err) {
      this.deps.log.warn({ err, stack: action.stack, hostname: action.hostname }, 'stack controller could not send');
      settle();
      return false;
    }
  }

  private async applyRequest(record: StackRecord, hostname: string, jobId: string): Promise<JobRequest> {
    const revision = await this.deps.store.revision(record.name, record.revision);
    if (!revision) throw new Error(`stack '${record.name}' revision ${record.revision} is not stored`);
    const key = `${record.name}/${record.revision}`;
    let spec = this.specs.get(key);
    if (!spec) {
      spec = parsedSpec(revision.compose);
      this.specs.set(key, spec);
    }
    const params = { name: record.name, body: { revision: record.revision, spec, on_drift: record.on_drift } };
    // The revision's author was judged when it was stored (its docker:host included): the grant follows that judgement.
    return { ...hostJob(STACK_HOST.apply, hostname, params, jobId), hostAccess: revision.host_access, callerHost: revision.host_access };
  }
}

function removal(action: StackAction, jobId: string): JobRequest {
  return hostJob(STACK_HOST.remove, action.hostname, { name: action.stack }, jobId);
}

function hostJob(operation: NodeOperationName, hostname: string, params: Record<string, unknown>, jobId: string): JobRequest {
  return {
    jobId,
    operation,
    target: hostname,
    params: { target: hostname, ...params },
    longRunning: jobTraits(operation, { streaming: false }).longRunning,
    timeoutSeconds: APPLY_TIMEOUT_SECONDS,
    caller: STACK_CONTROLLER,
  };
}
