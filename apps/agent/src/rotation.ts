import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KV } from '@nats-io/kv';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { agentRotateOrderSubject } from '@fleet/contracts/nats-permissions';
import { identityRotatedSubject, identityRotateSubject } from '@fleet/contracts/protocol';
import type { Logger } from '@fleet/runtime/logger';
import { AGENT_CREDS_FILE, credsFileContent, newUserKey, userJwtOfCreds, verifiedClaims } from '@fleet/runtime/nats-identity';
import type { JobWorker } from './worker';

/** How long the gateway may take to answer one rotation step. */
const STEP_TIMEOUT_MS = 10_000;

/** What lives on one NATS login of the agent; a rotation opens a second and retires the first. */
export interface AgentLogin {
  nc: NatsConnection;
  worker: JobWorker;
  /** The agents bucket as this login opens it (heartbeats). */
  agents: KV;
}

export interface RotationDeps {
  hostname: string;
  /** The identity directory its creds file lives in. */
  identityDir: string;
  /** Rotate once the current key is this old (FLEET_AGENT_IDENTITY_MAX_AGE_SECONDS); unset: only when ordered. */
  maxAgeMs?: number;
  log: Logger;
  /** Connects with `creds` and makes the login's worker (not started). */
  open(creds: string): Promise<AgentLogin>;
  /** Moves what outlives a login (engine proxy, heartbeats, metrics) onto `login`. */
  adopt(login: AgentLogin): Promise<void>;
}

/**
 * Gap-free rotation of the agent's NATS identity (README "Rotating NATS identities"). A fresh NKey
 * is made here and its seed never leaves this host; its user JWT is asked for over the current
 * login, so only a key the broker still accepts can ask, and only for this host. The new login
 * binds the job consumer (one queue group: each job goes to one of the two) before the creds file
 * is replaced and the old login drained once its jobs are settled; only then, asked over the new
 * login, does the gateway revoke the older keys.
 */
export class IdentityRotation {
  private rotating?: Promise<void>;
  private orders?: Subscription;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private login: AgentLogin,
    private readonly deps: RotationDeps,
  ) {}

  /** The login that carries the agent's work now. */
  current(): AgentLogin {
    return this.login;
  }

  start(): void {
    this.listenForOrders();
    this.scheduleByAge();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.orders?.unsubscribe();
  }

  /** One rotation at a time: an order that arrives during one joins it. */
  rotate(): Promise<void> {
    this.rotating ??= this.rotateOnce()
      .catch((err) => this.deps.log.error({ err: (err as Error).message }, 'identity rotation failed; the current key stays in use'))
      .finally(() => {
        this.rotating = undefined;
        this.scheduleByAge();
      });
    return this.rotating;
  }

  private async rotateOnce(): Promise<void> {
    const { hostname, log } = this.deps;
    const { creds, publicKey } = await requestRotatedCreds(this.login.nc, hostname);
    const next = await this.deps.open(creds);
    try {
      await next.worker.start();
      this.orders?.unsubscribe();
      this.listenForOrders(next.nc);
      await this.deps.adopt(next);
    } catch (err) {
      await next.nc.close().catch(() => undefined);
      throw err;
    }
    saveCreds(this.deps.identityDir, creds);
    const previous = this.login;
    this.login = next;
    await retire(previous);
    const revoked = await completeRotation(next.nc, hostname, publicKey);
    log.info({ public_key: publicKey, revoked }, 'NATS identity rotated: the older keys are revoked');
  }

  private listenForOrders(nc = this.login.nc): void {
    this.orders = nc.subscribe(agentRotateOrderSubject(this.deps.hostname), {
      callback: (err) => {
        if (err || this.stopped) return;
        this.deps.log.info('rotation ordered by an admin');
        void this.rotate();
      },
    });
  }

  private scheduleByAge(): void {
    clearTimeout(this.timer);
    if (this.stopped || this.deps.maxAgeMs === undefined) return;
    const issuedAt = verifiedClaims(userJwtOfCreds(credsOf(this.deps.identityDir))).iat * 1000;
    this.timer = setTimeout(() => void this.rotate(), Math.max(0, issuedAt + this.deps.maxAgeMs - Date.now()));
    this.timer.unref();
  }
}

/** Stops taking jobs on `login`, waits for those it took, then drains it (acks and rows are flushed). */
async function retire(login: AgentLogin): Promise<void> {
  await login.worker.stop();
  await login.worker.settle();
  await login.nc.drain();
}

/** A fresh NKey and, asked over the current login, the user JWT for it. */
async function requestRotatedCreds(nc: NatsConnection, hostname: string): Promise<{ creds: string; publicKey: string }> {
  const key = newUserKey();
  const publicKey = key.getPublicKey();
  const { user_jwt: userJwt } = await askGateway<{ user_jwt?: string }>(nc, identityRotateSubject(hostname), publicKey);
  if (!userJwt || verifiedClaims(userJwt).sub !== publicKey) throw new Error('the gateway answered no user JWT for the new key');
  return { creds: credsFileContent(userJwt, key.getSeed()), publicKey };
}

/** Asked over the new login: the gateway revokes every other key of this host. */
async function completeRotation(nc: NatsConnection, hostname: string, publicKey: string): Promise<string[]> {
  return (await askGateway<{ revoked?: string[] }>(nc, identityRotatedSubject(hostname), publicKey)).revoked ?? [];
}

async function askGateway<T>(nc: NatsConnection, subject: string, publicKey: string): Promise<T> {
  const answer = (await nc.request(subject, JSON.stringify({ public_key: publicKey }), { timeout: STEP_TIMEOUT_MS })).json<
    T & { error?: string; details?: string }
  >();
  if (answer.error) throw new Error(`the gateway refused the rotation: ${answer.details ?? answer.error}`);
  return answer;
}

/** Replaces the creds file in one rename: a crash leaves the old file or the new one, never half of one. Mode 600. */
export function saveCreds(identityDir: string, creds: string): void {
  mkdirSync(identityDir, { recursive: true, mode: 0o700 });
  const staged = join(identityDir, `.${AGENT_CREDS_FILE}.${process.pid}`);
  rmSync(staged, { force: true });
  writeFileSync(staged, creds, { mode: 0o600, flag: 'wx' });
  chmodSync(staged, 0o600);
  renameSync(staged, join(identityDir, AGENT_CREDS_FILE));
}

function credsOf(identityDir: string): string {
  return readFileSync(join(identityDir, AGENT_CREDS_FILE), 'utf8');
}
