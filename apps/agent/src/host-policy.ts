import type { KeyObject } from 'node:crypto';
import { hostPathsOutside, nodeOperationHostAccess, type AccessPolicy } from '@fleet/contracts/host-access';
import { hostGrantRefusal } from '@fleet/contracts/host-grant';
import type { HostRow, JobMessage } from '@fleet/contracts/protocol';
import { nodeOperationUses, type HostObjects } from './host-objects';

/** What this agent lets reach its host (README "Host-level access"). */
export interface HostPolicy {
  /** The gateway's public key: it verifies every job's seal and every host-access grant. */
  grantKey: KeyObject;
  /** Host path prefixes a bind may expose; undefined: any path the grant covers. */
  allowedPaths?: readonly string[];
  /** What reaches the host beyond the models' own rules: the registry allowlist. */
  access: AccessPolicy;
}

/** A job refused at the host, with the status its row carries. */
export interface HostRefusal {
  refusal: string;
  status: number;
}

/** A job as it may run; `named` is the container as the caller named it, when the job was pinned to its full id. */
export interface AdmittedJob {
  job: JobMessage;
  named?: unknown;
}

/**
 * The agent's own check, whatever the gateway decided: a job whose parameters reach the host runs
 * only with a grant signed by the gateway's key for this job, host and parameters, and only on
 * host paths this agent allows. A NATS login that can publish jobs cannot forge either.
 */
export function hostAccessRefusal(job: JobMessage, hostname: string, policy: HostPolicy): string | undefined {
  const params = job.params ?? {};
  const access = nodeOperationHostAccess(job.operation, params, policy.access);
  if (access.length === 0) return undefined;
  const reasons = access.map((item) => item.reason).join('; ');
  const grantedJob = { job_id: job.job_id, operation: job.operation, hostname, params };
  const grantRefusal = hostGrantRefusal(job.host_grant, grantedJob, policy.grantKey);
  if (grantRefusal) return `${reasons}: ${grantRefusal}`;
  const outside = policy.allowedPaths ? hostPathsOutside(access, policy.allowedPaths) : [];
  if (outside.length === 0) return undefined;
  return `host path ${outside.join(', ')} is outside this agent's FLEET_AGENT_HOST_PATHS (${policy.allowedPaths?.join(',')})`;
}

/**
 * The job as it may run: its parameters judged (hostAccessRefusal), then the existing objects it
 * uses, unless the gateway sealed it as coming from a caller holding docker:host. A container is
 * pinned by the full id judged, so a rename before the engine call cannot swap it.
 */
export async function admitJob(
  job: JobMessage,
  hostname: string,
  policy: HostPolicy,
  hostObjects: HostObjects,
): Promise<HostRefusal | AdmittedJob> {
  const refusal = hostAccessRefusal(job, hostname, policy);
  if (refusal) return { refusal, status: 403 };
  const uses = job.caller_host === true ? undefined : nodeOperationUses(job.operation, job.params ?? {});
  if (!uses) return { job };
  const verdict = await hostObjects.verdict(uses);
  if ('refusal' in verdict) return { refusal: verdict.refusal.details, status: verdict.refusal.status };
  if (verdict.containerId === undefined) return { job };
  return { job: { ...job, params: { ...job.params, id: verdict.containerId } }, named: job.params.id };
}

/** The row of a pinned job names the container as the caller did, not by the full id it ran on. */
export function namedAsCalled(row: HostRow, { job, named }: AdmittedJob): HostRow {
  return named !== undefined && row.id === job.params.id ? { ...row, id: String(named) } : row;
}

export function hostRefusalRow(hostname: string, { refusal, status }: HostRefusal): HostRow {
  return { hostname, status: 'failed', changed: false, error: `host access refused: ${refusal}`, error_code: status };
}
