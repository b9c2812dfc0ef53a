import { randomBytes } from 'node:crypto';
import { KeyVerifier, mintToken, verificationKey, verifyToken } from '@fleet/api-keys';
import { alternateCpu } from '../lib/ab';
import { round } from '../lib/stats';
import type { BenchResults } from '../results';
import type { AbMeasurement } from './micro';

/**
 * API-key verification per request as it was (jsonwebtoken's verify with the KeyObject, every
 * request) and as it is (KeyVerifier: verified once, then looked up until it expires), in
 * alternating blocks; the revocation check, an in-memory set lookup on both sides, is not part of it.
 */
export async function measureKeyVerification(iterations: number): Promise<AbMeasurement> {
  const secret = randomBytes(32).toString('hex');
  const token = mintToken({ secret, role: 'operator', ttlSeconds: 3600, subject: 'bench' });
  const key = verificationKey(secret);
  const verifier = new KeyVerifier(key);
  const ran = await alternateCpu(iterations, [() => verifyToken(token, key), () => verifier.verify(token)]);
  return {
    name: 'API key verification, per request',
    iterations: ran.iterations,
    beforeUs: round(ran.beforeUs, 2),
    afterUs: round(ran.afterUs, 2),
  };
}

/** The system-level numbers the call-path changes move, taken from one bench run's results. */
export interface CallPathSnapshot {
  command: string;
  startedAt: string;
  git: string;
  /** Load average (1 min) at the start and end of the run: the box is shared. */
  load: string;
  addedP50Ms: Record<string, number>;
  addedP99Ms: Record<string, number>;
  fanout3P50Ms?: number;
  gatewayCpuPerJobOpenUs?: number;
  openJobsPerSecond?: number;
  gatewayCpuPerJobProfiledUs?: number;
  validationSharePercent?: number;
  apiKeySharePercent?: number;
}

/** `bench/results/callpath.json`: the same quick bench on the code before the call-path changes and after. */
export interface CallPathRecord {
  before?: CallPathSnapshot;
  after?: CallPathSnapshot;
}

export function callPathSnapshot(r: BenchResults): CallPathSnapshot {
  const scenarios = r.overhead?.scenarios ?? [];
  const share = (category: string) => r.profile?.gateway?.categories.find((c) => c.category === category)?.percentOfBusy;
  return {
    command: r.meta.command,
    startedAt: r.meta.startedAt,
    git: `${r.meta.git.commit}${r.meta.git.dirtyFiles ? ` + ${r.meta.git.dirtyFiles} uncommitted files` : ''}`,
    load: `${r.meta.loads[0]?.loadavg1} → ${r.meta.loads.at(-1)?.loadavg1}`,
    addedP50Ms: Object.fromEntries(scenarios.map((s) => [s.name, s.addedP50])),
    addedP99Ms: Object.fromEntries(scenarios.map((s) => [s.name, s.addedP99])),
    fanout3P50Ms: r.fanoutReal?.full.p50,
    gatewayCpuPerJobOpenUs: r.throughput?.[0]?.open?.cpuUsPerJob.gateway ?? undefined,
    openJobsPerSecond: r.throughput?.[0]?.open?.achieved,
    gatewayCpuPerJobProfiledUs: r.profile?.load.cpuUsPerJob.gateway ?? undefined,
    validationSharePercent: share(VALIDATION_CATEGORY),
    apiKeySharePercent: share('API keys (jsonwebtoken)'),
  };
}

export const VALIDATION_CATEGORY = 'request validation (express-openapi-validator, ajv)';
