import { createHash, sign, verify, type KeyObject } from 'node:crypto';

/**
 * A host-access grant: the gateway's Ed25519 signature saying that this job, with exactly these
 * parameters, may reach these hosts' host (README "Host-level access"). Only the gateway holds the
 * private key; agents hold the public key. A flag in the job message would not do: anyone holding
 * the gateway's NATS login could set it. A grant cannot be moved to another job (its id is signed,
 * and an agent runs each job id once), another host, other parameters, or used after it expires.
 */
export interface HostGrantClaims {
  job_id: string;
  operation: string;
  hosts: string[];
  /** sha256 (hex) of the parameters' canonical JSON (paramsDigest). */
  params_sha256: string;
  /** Epoch milliseconds. */
  expires_at: number;
  /**
   * The caller holds `docker:host`: it may also use the host-level objects an admin made (a
   * privileged container, a bind volume, a macvlan network). Signed with the rest; absent means it does not.
   */
  caller_host?: true;
}

export interface HostGrant extends HostGrantClaims {
  /** Ed25519 over the claims' canonical JSON, base64. */
  signature: string;
}

/** JSON with object keys sorted at every level, so both sides hash and sign the same bytes. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, field]) => field !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, field]) => `${JSON.stringify(key)}:${canonicalJson(field)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function paramsDigest(params: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(params)).digest('hex');
}

function claimsBytes(claims: HostGrantClaims): Buffer {
  const { job_id, operation, hosts, params_sha256, expires_at, caller_host } = claims;
  // canonicalJson leaves out an undefined caller_host: a grant without it signs the same bytes as before.
  return Buffer.from(canonicalJson({ job_id, operation, hosts, params_sha256, expires_at, caller_host }));
}

export function signHostGrant(claims: HostGrantClaims, privateKey: KeyObject): HostGrant {
  return { ...claims, signature: sign(null, claimsBytes(claims), privateKey).toString('base64') };
}

/** What the agent knows about the job it is about to run. */
export interface GrantedJob {
  job_id: string;
  operation: string;
  hostname: string;
  params: Record<string, unknown>;
}

/** Why `grant` does not cover `job` on this host, or undefined when it does. */
export function hostGrantRefusal(grant: unknown, job: GrantedJob, publicKey: KeyObject, now = Date.now()): string | undefined {
  if (!isGrant(grant)) return 'the job carries no host-access grant from the gateway';
  let signed = false;
  try {
    signed = verify(null, claimsBytes(grant), publicKey, Buffer.from(grant.signature, 'base64'));
  } catch {
    signed = false;
  }
  if (!signed) return "the host-access grant's signature does not verify with this agent's gateway key";
  if (grant.job_id !== job.job_id || grant.operation !== job.operation) return 'the host-access grant is for another job';
  if (!grant.hosts.includes(job.hostname)) return 'the host-access grant does not name this host';
  if (grant.params_sha256 !== paramsDigest(job.params)) return "the host-access grant does not cover this job's parameters";
  if (now > grant.expires_at) return 'the host-access grant has expired';
  return undefined;
}

function isGrant(value: unknown): value is HostGrant {
  if (typeof value !== 'object' || value === null) return false;
  const grant = value as Record<string, unknown>;
  return (
    typeof grant.job_id === 'string' &&
    typeof grant.operation === 'string' &&
    Array.isArray(grant.hosts) &&
    grant.hosts.every((host) => typeof host === 'string') &&
    typeof grant.params_sha256 === 'string' &&
    typeof grant.expires_at === 'number' &&
    (grant.caller_host === undefined || grant.caller_host === true) &&
    typeof grant.signature === 'string'
  );
}

/**
 * The gateway's seal on every job message, one per host (README "What an agent's NATS login can
 * and cannot do"): Ed25519, with the host-grant key pair, over the host's name and a digest of the
 * whole message as the agent decodes it (job id, operation, parameters, deadline, target, flags,
 * and the host grant when host access is granted). An agent runs no job without a seal that
 * verifies for itself: a message forged, altered, or copied from another host's subject is refused.
 */
const JOB_SEAL_PURPOSE = 'fleet.job.seal';

/** sha256 (hex) of a job message's canonical JSON, its `seal` left out. */
export function jobMessageDigest(message: Record<string, unknown>): string {
  const { seal: _seal, ...unsealed } = message;
  return createHash('sha256').update(canonicalJson(unsealed)).digest('hex');
}

function sealBytes(hostname: string, digest: string): Buffer {
  // The purpose keeps a seal from ever verifying as a host grant, and the reverse.
  return Buffer.from(canonicalJson({ purpose: JOB_SEAL_PURPOSE, hostname, message_sha256: digest }));
}

/** The seal of a message (its digest from jobMessageDigest) for one of its hosts, base64. */
export function signJobSeal(hostname: string, digest: string, privateKey: KeyObject): string {
  return sign(null, sealBytes(hostname, digest), privateKey).toString('base64');
}

/** Why `message` may not run on `hostname`, or undefined when its seal verifies for this host and these exact contents. */
export function jobSealRefusal(message: Record<string, unknown>, hostname: string, publicKey: KeyObject): string | undefined {
  if (typeof message.seal !== 'string') return 'the job carries no seal from the gateway';
  let verified = false;
  try {
    verified = verify(null, sealBytes(hostname, jobMessageDigest(message)), publicKey, Buffer.from(message.seal, 'base64'));
  } catch {
    verified = false;
  }
  return verified ? undefined : "the job's seal does not verify with this agent's gateway key for this host and these contents";
}
