import { randomUUID } from 'node:crypto';
import { parseCompose, type StackSpec } from '@fleet/contracts/compose';
import { redactComposeEnvironment } from '@fleet/contracts/compose-redaction';
import { hostInScope, parseTarget, TargetSyntaxError } from '@fleet/contracts/grammar';
import { nodeOperationHostAccess, type AccessPolicy, type HostAccess } from '@fleet/contracts/host-access';
import { JOB_TIMEOUT_SECONDS, jobTraits, type NodeOperationName } from '@fleet/contracts/operations';
import type { HostRow } from '@fleet/contracts/protocol';
import type { AgentRoster } from '../agents/roster';
import { requirePermission, type Caller } from '../auth/middleware';
import { ApiError, badRequest } from '../api-error';
import type { JobClient, JobRequest } from '../jobs/client';
import type { PlannedRollout, Rollouts } from '../jobs/rollout';
import { rolloutControls, RolloutParamsError, type RolloutControls } from '../jobs/rollout-plan';
import { TargetError } from '../targets/resolve';
import { KeyScope } from '../targets/scope';
import { countStates, hostState, reportedStacks, type StackHost, type StackHostCounts } from './host-state';
import type { StackOnDrift, StackRecord, StackRevisionRecord, StackRolloutPolicy, StackStore } from './store';

/** The body of PUT /stack/{name} and POST /stack/{name}/diff. */
export interface StackDeploy {
  compose: string;
  target: string;
  rollout?: StackRolloutPolicy;
  on_drift?: StackOnDrift;
}

/** A compose file judged for a caller: its spec, its images, and whether it reaches the host. */
interface JudgedCompose {
  spec: StackSpec;
  images: string[];
  hostAccess: boolean;
}

export interface StackServiceDeps {
  store: StackStore;
  jobs: JobClient;
  rollouts: Rollouts;
  roster: AgentRoster;
  accessPolicy: AccessPolicy;
  isRevoked: (jti: string) => boolean;
}

/** The node operations of a stack on each of its hosts (README "Stacks"). */
export const STACK_HOST = {
  apply: 'stack.host.apply',
  diff: 'stack.host.diff',
  remove: 'stack.host.remove',
} as const satisfies Record<string, NodeOperationName>;

/** Who acts for a stack when no key does: the keep-true controller's jobs and the revisions' applies name it as their caller. */
export const STACK_CONTROLLER = 'fleet-stack-controller';

/** How long each host's apply may take: pulls included, so the longest a job may run. */
export const APPLY_TIMEOUT_SECONDS = JOB_TIMEOUT_SECONDS.maximum;

/**
 * The `/stack` resource (README "Stacks"): every call judged for its key (permission, scope, the compose subset, host access)
 * before anything is stored or sent; a revision stored, then rolled out through the rollout machinery.
 */
export class StackService {
  constructor(private readonly deps: StackServiceDeps) {}

  /** PUT /stack/{name}: a new revision of `body`, rolled out to its target. */
  async deploy(name: string, body: StackDeploy, caller: Caller): Promise<StackRevisionRecord> {
    const current = await this.writable(name, caller);
    const judged = this.judge(name, body, caller);
    return this.rollOut(name, body.compose, judged, caller, {
      target: body.target,
      rollout: body.rollout ?? {},
      on_drift: body.on_drift ?? current?.on_drift ?? 'report',
    });
  }

  /** POST /stack/{name}/rollback?to=N: revision N's compose file as a new revision, with the stack's current target and policy. */
  async rollback(name: string, to: number, caller: Caller): Promise<StackRevisionRecord> {
    const current = await this.writable(name, caller);
    if (!current) throw stackNotFound(name);
    const earlier = await this.deps.store.revision(name, to);
    if (!earlier) throw new ApiError('not_found', `stack '${name}' has no revision ${to}`, { error: 'revision not found' });
    const settings = { target: current.target, rollout: current.rollout, on_drift: current.on_drift };
    const judged = this.judge(name, { compose: earlier.compose, ...settings }, caller);
    return this.rollOut(name, earlier.compose, judged, caller, { ...settings, rolled_back_from: to });
  }

  /** DELETE /stack/{name}: marked removed, and removed from the hosts its target reaches now (the others when they report it). */
  async remove(name: string, caller: Caller): Promise<{ record: StackRecord; jobId?: string }> {
    const current = await this.writable(name, caller);
    if (!current) throw stackNotFound(name);
    const jobId = this.reachesAnyHost(current.target) ? randomUUID() : undefined;
    const record = await this.deps.store.markRemoved(name, caller.sub, jobId);
    if (!record) throw stackNotFound(name);
    if (jobId) {
      const removal = await this.deps.jobs.start(this.hostJob(STACK_HOST.remove, current.target, { name }, caller, jobId));
      removal.rows.catch(() => undefined);
    }
    return { record, jobId };
  }

  /** Whether the target reaches a live host now; the others are told to remove the stack when they report it. */
  private reachesAnyHost(target: string): boolean {
    try {
      return this.deps.jobs.previewTarget(target).length > 0;
    } catch (err) {
      if (err instanceof TargetError) return false;
      throw err;
    }
  }

  /** POST /stack/{name}/diff: each host's answer to what an apply of `body` would change; nothing stored. */
  async diff(name: string, body: StackDeploy, caller: Caller): Promise<{ jobId: string; rows: HostRow[] }> {
    const current = await this.readable(name, caller);
    const judged = this.judge(name, body, caller);
    const revision = (current?.revision ?? 0) + 1;
    const params = { name, body: { revision, spec: judged.spec, on_drift: body.on_drift ?? current?.on_drift ?? 'report' } };
    const job = await this.deps.jobs.start({
      ...this.hostJob(STACK_HOST.diff, body.target, params, caller),
      hostAccess: judged.hostAccess,
    });
    return { jobId: job.record.job_id, rows: await job.rows };
  }

  /** GET /stack: the stacks the key may read (removed ones left out), each with its hosts counted by state. */
  async list(caller: Caller): Promise<Array<{ name: string; target: string; revision: number; hosts: StackHostCounts }>> {
    const scope = this.scopeOf(caller);
    const stacks = (await this.deps.store.list()).filter((stack) => !stack.removed && scope.coversTarget(stack.target));
    return Promise.all(
      stacks.map(async (stack) => ({
        name: stack.name,
        target: stack.target,
        revision: stack.revision,
        hosts: countStates(await this.hosts(stack, scope)),
      })),
    );
  }

  /** GET /stack/{name}. */
  async get(name: string, caller: Caller): Promise<StackRecord & { hosts: StackHost[] }> {
    const stack = await this.readable(name, caller);
    if (!stack) throw stackNotFound(name);
    const { removed: _removed, ...shown } = stack;
    return { ...shown, hosts: await this.hosts(stack, this.scopeOf(caller)) };
  }

  /**
   * GET /stack/{name}/revisions/{revision}: the compose text as it was sent, its environment values redacted for a key
   * without `docker:read-data` (as a container's are).
   */
  async revision(name: string, revision: number, caller: Caller): Promise<StackRevisionRecord> {
    if (!(await this.readable(name, caller))) throw stackNotFound(name);
    const record = await this.deps.store.revision(name, revision);
    if (!record) throw new ApiError('not_found', `stack '${name}' has no revision ${revision}`, { error: 'revision not found' });
    if (caller.permissions.includes('docker:read-data')) return record;
    return { ...record, compose: redactComposeEnvironment(record.compose) };
  }

  /**
   * The hosts the stack's target reaches (live or not, by their enrolment labels) and any other host reporting it, each with
   * its state; only those inside the key's scope.
   */
  private async hosts(stack: StackRecord, scope: KeyScope): Promise<StackHost[]> {
    const { roster } = this.deps;
    const target = parseTarget(stack.target);
    const current = stack.revisions.find((listed) => listed.revision === stack.revision);
    const job = current ? await this.deps.jobs.waitFor(current.job_id, 0) : undefined;
    const rows = new Map((job?.results ?? []).map((row) => [row.hostname, row]));
    const hosts: StackHost[] = [];
    // Accepted hosts too: one whose agent is stopped is still the stack's, `offline`.
    for (const hostname of roster.knownHostnames()) {
      if (!scope.includesHost(hostname)) continue;
      const view = roster.get(hostname);
      const labels = roster.labelsOf(hostname);
      const reported = reportedStacks(view).find((entry) => entry.name === stack.name);
      const reached = labels !== undefined && hostInScope(target, hostname, labels);
      if (!reached && !reported) continue;
      hosts.push(hostState({ hostname, live: view !== undefined, reported, row: rows.get(hostname) }, stack.revision));
    }
    return hosts;
  }

  /** Stores the revision, then starts its rollout under the job id the revision names. */
  private async rollOut(
    name: string,
    compose: string,
    judged: JudgedCompose,
    caller: Caller,
    settings: Pick<StackRevisionRecord, 'target' | 'rollout' | 'on_drift' | 'rolled_back_from'>,
  ): Promise<StackRevisionRecord> {
    const controls = this.controlsOf(settings.rollout);
    // The hosts are resolved and the waves planned (a target reaching none refused) before anything is stored.
    const planned = controls ? this.planOf({ ...this.hostJob(STACK_HOST.apply, settings.target, {}, caller) }, controls) : undefined;
    if (!planned) this.deps.jobs.resolveHosts(settings.target, caller.scope);
    const jobId = randomUUID();
    const record = await this.deps.store.addRevision({
      name,
      compose,
      images: judged.images,
      created_by: caller.sub,
      job_id: jobId,
      host_access: judged.hostAccess,
      ...settings,
    });
    const params = { name, body: { revision: record.revision, spec: judged.spec, on_drift: record.on_drift } };
    const request: JobRequest = {
      ...this.hostJob(STACK_HOST.apply, settings.target, params, caller, jobId),
      hostAccess: judged.hostAccess,
    };
    if (!controls || !planned) {
      const job = await this.deps.jobs.start(request);
      job.rows.catch(() => undefined);
      return record;
    }
    const authority = { permissions: [...caller.permissions], expiresAt: caller.exp };
    const lostAuthority = () => {
      if (this.deps.isRevoked(caller.jti)) return 'the API key that started it was revoked';
      return caller.exp * 1000 <= Date.now() ? 'the API key that started it expired' : undefined;
    };
    const rollout = await this.deps.rollouts.start({ ...request, health: controls.health, authority }, planned, lostAuthority);
    rollout.rows.catch(() => undefined);
    return record;
  }

  /** One job of a node stack operation, on the caller's authority and within its scope. */
  private hostJob(
    operation: NodeOperationName,
    target: string,
    params: Record<string, unknown>,
    caller: Caller,
    jobId?: string,
  ): JobRequest {
    return {
      jobId,
      operation,
      target,
      params: { target, ...params },
      callerHost: caller.permissions.includes('docker:host'),
      longRunning: jobTraits(operation, { streaming: false }).longRunning,
      timeoutSeconds: APPLY_TIMEOUT_SECONDS,
      caller: caller.sub,
      keyId: caller.jti,
      scope: caller.scope,
    };
  }

  /** The policy as the rollout machinery takes it (README "Rollouts"); undefined: every host at once. */
  private controlsOf(policy: StackRolloutPolicy): RolloutControls | undefined {
    return asBadRequest(() => rolloutControls({ ...policy }));
  }

  private planOf(request: JobRequest, controls: RolloutControls): PlannedRollout {
    return asBadRequest(() => this.deps.rollouts.plan(request, controls));
  }

  /**
   * The compose file and target judged for the caller: a target it may reach (`_any` never: a stack is desired state, not
   * one pick), a compose file within the subset, and `docker:host` when the stack reaches the host (bind mounts, a registry
   * outside FLEET_REGISTRY_ALLOWLIST).
   */
  private judge(name: string, body: StackDeploy, caller: Caller): JudgedCompose {
    let target;
    try {
      target = parseTarget(body.target);
    } catch (err) {
      if (err instanceof TargetSyntaxError) throw new ApiError('invalid_target', err.message);
      throw err;
    }
    if (target.kind === 'any')
      throw badRequest(`a stack's target is the hosts it runs on: '_any' picks one at random; name the host instead`);
    const scope = this.scopeOf(caller);
    if (!scope.covers(target)) throw new ApiError('target_empty', scope.nothingInside);
    const spec = parsedSpec(body.compose);
    const access = stackHostAccess(name, spec, this.deps.accessPolicy);
    if (access.length > 0) {
      requirePermission(caller, 'docker:host', `this stack reaches the host (${access.map((entry) => entry.reason).join('; ')}), so it`);
    }
    const images = [...new Set(Object.values(spec.services).map((service) => service.image))].sort();
    return { spec, images, hostAccess: access.length > 0 };
  }

  /** The stack if the key may read it: a scoped key reads only stacks whose target lies within its scope. */
  private async readable(name: string, caller: Caller): Promise<StackRecord | undefined> {
    const stack = await this.deps.store.get(name);
    if (!stack || stack.removed) return undefined;
    return this.scopeOf(caller).coversTarget(stack.target) ? stack : undefined;
  }

  /** The stack a write acts on: none yet (or removed), or one the key may read; any other is the scope's one 404. */
  private async writable(name: string, caller: Caller): Promise<StackRecord | undefined> {
    const stack = await this.deps.store.get(name);
    if (!stack || stack.removed) return undefined;
    const scope = this.scopeOf(caller);
    if (!scope.coversTarget(stack.target)) throw new ApiError('target_empty', scope.nothingInside);
    return stack;
  }

  private scopeOf(caller: Caller): KeyScope {
    return KeyScope.of(caller.scope, this.deps.roster);
  }
}

/** The compose text as a spec, or 400 `invalid_compose` naming the key and its path. */
export function parsedSpec(compose: string): StackSpec {
  let parsed;
  try {
    parsed = parseCompose(compose);
  } catch (err) {
    throw new ApiError('invalid_compose', 'the compose file could not be read as YAML', { extra: { key: '', path: '' }, cause: err });
  }
  if (!parsed.ok) throw new ApiError('invalid_compose', parsed.message, { extra: { key: parsed.key, path: parsed.path } });
  return parsed.spec;
}

/** What of a stack reaches the host (bind mounts, a registry outside the allowlist), judged as its node operation judges it. */
export function stackHostAccess(name: string, spec: StackSpec, policy: AccessPolicy): HostAccess[] {
  return nodeOperationHostAccess(STACK_HOST.apply, { name, body: { spec } }, policy);
}

/** Wave parameters that contradict each other, or the hosts they are planned on: 400 with the reason. */
function asBadRequest<T>(plan: () => T): T {
  try {
    return plan();
  } catch (err) {
    if (err instanceof RolloutParamsError) throw badRequest(`rollout: ${err.message}`);
    throw err;
  }
}

function stackNotFound(name: string): ApiError {
  return new ApiError('not_found', `no stack '${name}' this key may read`, { error: 'stack not found' });
}
