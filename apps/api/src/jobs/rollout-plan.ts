import { createHash, randomBytes } from 'node:crypto';
import type { HealthGate, Rollout, RolloutWave } from '@fleet/contracts/protocol';

/** The wave parameters of a node call (contract `x-job-control`, README "Rollouts"), as the validator coerced them. */
export interface RolloutControls {
  batch?: string;
  canary?: string;
  maxFailures?: string;
  pauseSeconds: number;
  health?: HealthGate;
  order: 'hostname' | 'random';
  seed?: string;
}

/** Any of these makes a call a rollout; without them it runs on every host at once, as it always did. */
const WAVE_PARAMS = ['batch', 'canary', 'max_failures', 'pause', 'health', 'health_cmd', 'order'] as const;

/** Seconds after the step at which `health=running` looks at the container, when `health_delay` is absent. */
export const DEFAULT_HEALTH_DELAY_SECONDS = 5;

/** The caller's wave parameters, or undefined when the call asks for none. Throws RolloutParamsError for parameters that contradict. */
export function rolloutControls(query: Record<string, unknown>): RolloutControls | undefined {
  if (!WAVE_PARAMS.some((name) => query[name] !== undefined)) {
    if (query.seed !== undefined || query.health_delay !== undefined)
      throw new RolloutParamsError(`'seed' and 'health_delay' only steer a rollout (README "Rollouts")`);
    return undefined;
  }
  if (query.seed !== undefined && query.order !== 'random') throw new RolloutParamsError(`'seed' orders hosts only with order=random`);
  return {
    batch: optionalString(query.batch),
    canary: optionalString(query.canary),
    maxFailures: optionalString(query.max_failures),
    pauseSeconds: Number(query.pause ?? 0),
    health: healthGate(query),
    order: query.order === 'random' ? 'random' : 'hostname',
    seed: optionalString(query.seed),
  };
}

function healthGate(query: Record<string, unknown>): HealthGate | undefined {
  if (query.health !== undefined && query.health_cmd !== undefined)
    throw new RolloutParamsError(`'health' and 'health_cmd' are two gates: give one`);
  if (query.health_delay !== undefined && query.health !== 'running')
    throw new RolloutParamsError(`'health_delay' applies to health=running only`);
  if (query.health_cmd !== undefined) {
    const cmd = String(query.health_cmd)
      .split(' ')
      .filter((word) => word.length > 0);
    if (cmd.length === 0) throw new RolloutParamsError(`'health_cmd' holds no command`);
    return { check: 'exec', cmd };
  }
  if (query.health === 'running') return { check: 'running', delay_seconds: Number(query.health_delay ?? DEFAULT_HEALTH_DELAY_SECONDS) };
  if (query.health === 'healthy') return { check: 'healthy' };
  return undefined;
}

function optionalString(value: unknown): string | undefined {
  return value === undefined ? undefined : String(value);
}

/** Wave parameters that contradict one another: the caller's error (400). */
export class RolloutParamsError extends Error {}

/** A count (`2`) or a percentage of `total` (`25%`, rounded up): at least 1 and at most `total`. */
export function waveSize(spec: string, total: number): number {
  const size = spec.endsWith('%') ? Math.ceil((total * Number(spec.slice(0, -1))) / 100) : Number(spec);
  return Math.max(1, Math.min(total, size));
}

/** A count, or a percentage of `total` rounded down: `2%` of 1,000 hosts tolerates 20 failures, and the 21st stops. */
export function failureBudget(spec: string | undefined, total: number): number {
  if (spec === undefined) return 0;
  return spec.endsWith('%') ? Math.floor((total * Number(spec.slice(0, -1))) / 100) : Number(spec);
}

/** The hosts in rollout order: sorted by hostname, or shuffled by the seed (the same seed and hosts give the same order). */
export function orderHosts(hosts: readonly string[], order: RolloutControls['order'], seed: string): string[] {
  const sorted = [...hosts].sort();
  if (order === 'hostname') return sorted;
  const random = seededRandom(seed);
  for (let i = sorted.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [sorted[i], sorted[j]] = [sorted[j], sorted[i]];
  }
  return sorted;
}

/** A repeatable generator in [0, 1): SHA-256 of the seed and a counter, 48 bits a draw. */
function seededRandom(seed: string): () => number {
  let counter = 0;
  return () => createHash('sha256').update(`${seed}:${counter++}`).digest().readUIntBE(0, 6) / 2 ** 48;
}

/** A seed for order=random when the caller gave none; recorded in the plan. */
export function newSeed(): string {
  return randomBytes(8).toString('hex');
}

/**
 * Waves one rollout may have: each is stored progress and a deadline of its own, and a plan longer than this
 * (`batch=1` on thousands of hosts) would outlive the job records it is kept in.
 */
export const MAX_WAVES = 1000;

/** The plan of a rollout on `hosts`: the canary wave alone, then waves of `batch` (the rest at once without it). */
export function planRollout(hosts: readonly string[], controls: RolloutControls): Rollout {
  const seed = controls.order === 'random' ? (controls.seed ?? newSeed()) : undefined;
  const ordered = orderHosts(hosts, controls.order, seed ?? '');
  const waves: RolloutWave[] = [];
  let next = 0;
  if (controls.canary !== undefined && ordered.length > 0) {
    next = waveSize(controls.canary, ordered.length);
    waves.push({ wave: 1, canary: true, hosts: ordered.slice(0, next), state: 'pending' });
  }
  const batch = controls.batch === undefined ? Math.max(1, ordered.length) : waveSize(controls.batch, ordered.length);
  if (waves.length + Math.ceil((ordered.length - next) / batch) > MAX_WAVES) {
    throw new RolloutParamsError(`${ordered.length} hosts in waves of ${batch} make more than ${MAX_WAVES} waves: take a larger batch`);
  }
  for (; next < ordered.length; next += batch)
    waves.push({ wave: waves.length + 1, hosts: ordered.slice(next, next + batch), state: 'pending' });
  return {
    state: 'running',
    order: controls.order,
    ...(seed !== undefined ? { seed } : {}),
    ...(controls.batch !== undefined ? { batch: controls.batch } : {}),
    ...(controls.canary !== undefined ? { canary: controls.canary } : {}),
    max_failures: failureBudget(controls.maxFailures, ordered.length),
    pause_seconds: controls.pauseSeconds,
    ...(controls.health ? { health: controls.health.check } : {}),
    failures: 0,
    waves,
  };
}

/** The plan of a call without wave parameters, for a dry run: every host in one wave. */
export function singleWavePlan(hosts: readonly string[]): Rollout {
  return planRollout(hosts, { pauseSeconds: 0, order: 'hostname' });
}
