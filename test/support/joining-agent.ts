import path from 'node:path';
import { abortIfDead, AGENT_ENTRYPOINT, hostGrantKeyFiles, REPO_ROOT, spawnService, stopByPid, waitFor } from '@fleet/deploy';
import { userJwtOfCreds, verifiedClaims } from '@fleet/runtime/nats-identity';
import type { TestFleet } from './fleet';
import { api } from './http';

export interface JoiningAgentOptions {
  hostname: string;
  /** Names its log file, so that two suites' agents of one hostname never share one. */
  logName: string;
  /** FLEET_AGENT_LABELS, as `key=value,…`. */
  labels?: string;
  /** The fleet host whose engine it shares: what it creates is checked there. */
  engineHost: string;
}

export interface JoiningAgent {
  readonly identityDir: () => string;
  readonly credsFile: () => string;
  readonly logFile: () => string;
  /** Starts it (a spent or absent token: it restarts on the identity it kept) and waits until the gateway lists it. */
  start(joinToken?: string): Promise<void>;
  stop(): Promise<void>;
  /** Waits until a job addressed to it is answered (it was accepted and heard a heartbeat). */
  takingJobs(): Promise<void>;
}

/**
 * An agent started the way README "Enrolling an agent" tells an operator to: nothing but
 * environment variables, a one-time join token and a directory to keep its identity in.
 * Stopped in afterAll.
 */
export function useJoiningAgent(fleet: TestFleet, opts: JoiningAgentOptions): JoiningAgent {
  let pid = 0;
  const identityDir = () => path.join(fleet.dir, 'joined', opts.hostname);
  const logFile = () => path.join(fleet.dir, 'logs', `agent-${opts.hostname}-${opts.logName}.log`);
  const stop = async () => {
    if (pid) await stopByPid(pid, { marker: AGENT_ENTRYPOINT });
    pid = 0;
  };
  afterAll(stop);
  return {
    identityDir,
    credsFile: () => path.join(identityDir(), 'agent.creds'),
    logFile,
    stop,
    async start(joinToken) {
      const startedSince = new Date();
      pid = spawnService({
        command: process.execPath,
        args: [AGENT_ENTRYPOINT],
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          FLEET_NATS_URL: fleet.natsUrl,
          FLEET_GATEWAY_URL: fleet.url,
          FLEET_AGENT_IDENTITY_DIR: identityDir(),
          ...(joinToken ? { FLEET_AGENT_JOIN_TOKEN: joinToken } : {}),
          FLEET_AGENT_HOSTNAME: opts.hostname,
          ...(opts.labels ? { FLEET_AGENT_LABELS: opts.labels } : {}),
          FLEET_AGENT_HEARTBEAT_MS: '500',
          FLEET_HOST_GRANT_PUBLIC_KEY_FILE: hostGrantKeyFiles(fleet.dir).publicKey,
          DOCKER_HOST: `unix://${fleet.socketOf(opts.engineHost)}`,
        },
        logFile: logFile(),
        detached: false,
      });
      await waitFor(`${opts.hostname} listed, started since ${startedSince.toISOString()}`, async () => startedAfter(startedSince), {
        timeoutMs: 60_000,
        abortIf: abortIfDead('agent', pid, logFile()),
      });
    },
    async takingJobs() {
      await waitFor(
        `${opts.hostname} to take jobs`,
        async () => ((await api(fleet, 'GET', `/node/${opts.hostname}/container/docker`)).status === 200 ? true : undefined),
        { timeoutMs: 30_000 },
      );
    },
  };

  async function startedAfter(since: Date): Promise<true | undefined> {
    const listed = await api(fleet, 'GET', `/agent/${opts.hostname}`);
    return listed.status === 200 && new Date(listed.body.started_at) >= since ? true : undefined;
  }
}

/** The NATS account a creds file's user JWT belongs to. */
export const accountOfCreds = (creds: string) => String(verifiedClaims(userJwtOfCreds(creds)).nats.issuer_account);
