import type { Logger } from 'pino';
import { STACK_NAME, type StackApplyRequest, type StackHostState } from '@fleet/contracts/compose';
import { COMPOSE_LABELS } from '@fleet/contracts/compose-engine';
import { describeEngineError } from '../engine';
import type { EngineClient } from '../executors/types';
import { forEachJsonLine } from '../ndjson';
import { driftOf, type StackPlan } from './plan';
import { applyStack, diffStack, failure, removeStack, type ReconcileBounds, type ReconcileResult } from './reconcile';
import { StackStore } from './store';

/**
 * The drift bound (README "Stacks on the agents"): an engine event on a stack's container or network is looked at
 * within EVENT_SETTLE_MS, and every stack is checked every CHECK_EVERY_MS whatever the events said; the next
 * heartbeat carries the finding.
 */
export const EVENT_SETTLE_MS = 1_000;
export const CHECK_EVERY_MS = 30_000;
/** A stack is repaired at most this often: a container that dies at once must not become a restart loop of our own. */
export const REPAIR_EVERY_MS = 30_000;
/** How long a repair may take, as an apply's deadline would bound it. */
const REPAIR_DEADLINE_MS = 120_000;
/** The heartbeat's `stacks` field is capped: this many stacks, each with this much drift and error. */
const REPORT_MAX_STACKS = 100;
const REPORT_MAX_DRIFT = 20;
const REPORT_MAX_ERROR = 1_024;
const EVENTS_RETRY_MS = 5_000;

export interface HostStacksDeps {
  docker: EngineClient;
  /** The agent's state directory for stacks; none keeps them in memory only. */
  dir?: string;
  log: Logger;
}

/**
 * The stacks this host keeps true: applies, diffs and removes (one at a time per stack), the revision each was last
 * given, and its state: in sync, drifted (found by engine events and a periodic check) or failed. A stack that says
 * `on_drift: repair` is applied again when it drifts.
 */
export class HostStacks {
  private readonly store: StackStore;
  private readonly states = new Map<string, StackHostState>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly pendingChecks = new Map<string, NodeJS.Timeout>();
  private readonly lastRepair = new Map<string, number>();
  private readonly stopped = new AbortController();
  private timer?: NodeJS.Timeout;

  constructor(private readonly deps: HostStacksDeps) {
    this.store = new StackStore(deps.dir);
  }

  /** Reads the kept revisions, checks each, then watches the engine. */
  async start(): Promise<void> {
    const unreadable = await this.store.load();
    if (unreadable.length > 0) this.deps.log.warn({ files: unreadable }, 'stack files that could not be read were left alone');
    this.checkAll();
    this.timer = setInterval(() => this.checkAll(), CHECK_EVERY_MS);
    this.timer.unref();
    void this.watchEvents();
  }

  stop(): void {
    clearInterval(this.timer);
    for (const pending of this.pendingChecks.values()) clearTimeout(pending);
    this.stopped.abort();
  }

  /** Applies a revision and keeps it (kept first: a failed apply is still the revision this host must reach). */
  apply(name: string, request: StackApplyRequest, bounds: ReconcileBounds): Promise<ReconcileResult> {
    return this.serially(name, async () => {
      // A rollout of a newer revision and a keep-true apply of an older one may cross on their way here: the newer stands.
      const kept = this.store.get(name);
      if (kept && request.revision < kept.revision)
        throw failure(
          409,
          `stack ${name} is at revision ${kept.revision} on this host: revision ${request.revision} is older, not applied`,
        );
      const applied = { revision: request.revision, spec: request.spec, on_drift: request.on_drift ?? 'report' };
      await this.store.save(name, applied);
      try {
        const result = await applyStack(this.deps.docker, name, applied, bounds);
        this.record(name, { state: 'in_sync' });
        return result;
      } catch (err) {
        this.record(name, { state: 'failed', error: describeEngineError(err).error });
        throw err;
      }
    });
  }

  diff(name: string, request: StackApplyRequest): Promise<StackPlan> {
    return this.serially(name, () => diffStack(this.deps.docker, name, request.spec));
  }

  remove(name: string): Promise<ReconcileResult> {
    return this.serially(name, async () => {
      const result = await removeStack(this.deps.docker, name);
      await this.store.forget(name);
      this.states.delete(name);
      return result;
    });
  }

  /** Every kept stack with its revision and last finding. */
  list(): StackHostState[] {
    return this.store.names().map((name) => this.stateOf(name));
  }

  /** What a heartbeat carries: the list, capped (README "Stacks on the agents"). */
  report(): StackHostState[] {
    return this.list()
      .slice(0, REPORT_MAX_STACKS)
      .map((state) => ({
        ...state,
        ...(state.drift ? { drift: state.drift.slice(0, REPORT_MAX_DRIFT) } : {}),
        ...(state.error ? { error: state.error.slice(0, REPORT_MAX_ERROR) } : {}),
      }));
  }

  private stateOf(name: string): StackHostState {
    const applied = this.store.get(name);
    const known = this.states.get(name);
    return (
      known ?? {
        name,
        revision: applied?.revision ?? 1,
        on_drift: applied?.on_drift,
        state: 'in_sync',
        checked_at: new Date(0).toISOString(),
      }
    );
  }

  private record(name: string, finding: Pick<StackHostState, 'state' | 'drift' | 'error'>): void {
    const applied = this.store.get(name);
    if (!applied) return;
    this.states.set(name, {
      name,
      revision: applied.revision,
      on_drift: applied.on_drift,
      ...finding,
      checked_at: new Date().toISOString(),
    });
  }

  /** One operation at a time per stack: an apply, a remove, a check and a repair never interleave on its objects. */
  private serially<T>(name: string, run: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(name) ?? Promise.resolve();
    const next = previous.then(run, run);
    const settled = next.catch(() => undefined);
    this.queues.set(name, settled);
    void settled.then(() => {
      if (this.queues.get(name) === settled) this.queues.delete(name);
    });
    return next;
  }

  private checkAll(): void {
    for (const name of this.store.names()) this.scheduleCheck(name, 0);
  }

  private scheduleCheck(name: string, afterMs: number): void {
    if (this.pendingChecks.has(name) || this.stopped.signal.aborted) return;
    const timer = setTimeout(() => {
      this.pendingChecks.delete(name);
      this.check(name).catch((err) => this.deps.log.warn({ err, stack: name }, 'stack check failed'));
    }, afterMs);
    timer.unref();
    this.pendingChecks.set(name, timer);
  }

  /** Compares the engine with the kept revision; repairs when the stack says so (at most every REPAIR_EVERY_MS). */
  private check(name: string): Promise<void> {
    return this.serially(name, async () => {
      const applied = this.store.get(name);
      if (!applied) return;
      const drift = driftOf(await diffStack(this.deps.docker, name, applied.spec));
      if (drift.length === 0) return this.record(name, { state: 'in_sync' });
      this.record(name, { state: 'drifted', drift });
      if (applied.on_drift !== 'repair' || Date.now() - (this.lastRepair.get(name) ?? 0) < REPAIR_EVERY_MS) return;
      this.lastRepair.set(name, Date.now());
      await this.repair(name, drift);
    });
  }

  private async repair(name: string, drift: NonNullable<StackHostState['drift']>): Promise<void> {
    const applied = this.store.get(name);
    if (!applied) return;
    const signal = AbortSignal.any([this.stopped.signal, AbortSignal.timeout(REPAIR_DEADLINE_MS)]);
    try {
      const result = await applyStack(this.deps.docker, name, applied, { signal, deadline: Date.now() + REPAIR_DEADLINE_MS });
      const changes = result.changes.filter((change) => change.action !== 'none');
      this.deps.log.warn({ stack: name, revision: applied.revision, drift, changes }, 'stack drift repaired');
      this.record(name, { state: 'in_sync' });
    } catch (err) {
      const error = `repair failed: ${describeEngineError(err).error}`;
      this.deps.log.warn({ stack: name, revision: applied.revision, drift, error }, 'stack drift repair failed');
      this.record(name, { state: 'failed', drift, error });
    }
  }

  /** Engine events on any stack's containers and networks: each schedules a check of its stack. Reopened if it ends. */
  private async watchEvents(): Promise<void> {
    const filters = JSON.stringify({ type: ['container', 'network'], label: [COMPOSE_LABELS.project] });
    while (!this.stopped.signal.aborted) {
      try {
        const stream = await this.deps.docker.getEvents({ filters, abortSignal: this.stopped.signal });
        await forEachJsonLine(stream, this.stopped.signal, (event) => this.onEvent(event));
      } catch (err) {
        if (!this.stopped.signal.aborted) this.deps.log.warn({ err }, 'engine events for stacks ended; checks go on every 30 s');
      }
      await new Promise((resolve) => setTimeout(resolve, EVENTS_RETRY_MS).unref());
    }
  }

  private onEvent(event: unknown): void {
    const project = (event as { Actor?: { Attributes?: Record<string, string> } }).Actor?.Attributes?.[COMPOSE_LABELS.project];
    if (project && STACK_NAME.test(project) && this.store.get(project)) this.scheduleCheck(project, EVENT_SETTLE_MS);
  }
}
