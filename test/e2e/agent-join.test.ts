/**
 * An agent's life with its own NATS identity (README "Enrolling an agent"): a process started with
 * nothing but environment variables and a one-time join token makes its NKey, joins, waits
 * pending, runs jobs once accepted, survives a restart on the identity it kept, rotates its key by
 * joining again, and is cut off by `fleet agent remove` — checked on the engine and the server's connz.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import {
  abortIfDead,
  AGENT_ENTRYPOINT,
  BUSYBOX_IMAGE,
  hostGrantKeyFiles,
  REPO_ROOT,
  spawnService,
  stopByPid,
  waitFor,
} from '@fleet/deploy';
import { connect } from '@nats-io/transport-node';
import { natsLogin } from '@fleet/runtime/nats';
import { userJwtOfCreds, verifiedClaims } from '@fleet/runtime/nats-identity';
import { api } from '../support/http';
import { useTestFleet } from '../support/suite';

const fleet = useTestFleet({ agents: [{ hostname: 'web-01', labels: { role: 'web' } }] });
const HOST = 'web-04';
let agentPid = 0;

const identityDir = () => path.join(fleet.dir, 'joined', HOST);
const agentLog = () => path.join(fleet.dir, 'logs', `agent-${HOST}-joined.log`);

afterAll(async () => {
  if (agentPid) await stopByPid(agentPid, { marker: AGENT_ENTRYPOINT });
});

/** The agent binary with only environment variables: where the gateway is, the token, where to keep its identity. */
function startJoiningAgent(joinToken?: string): number {
  return spawnService({
    command: process.execPath,
    args: [AGENT_ENTRYPOINT],
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      FLEET_NATS_URL: fleet.natsUrl,
      FLEET_GATEWAY_URL: fleet.url,
      FLEET_AGENT_IDENTITY_DIR: identityDir(),
      ...(joinToken ? { FLEET_AGENT_JOIN_TOKEN: joinToken } : {}),
      FLEET_AGENT_HOSTNAME: HOST,
      FLEET_AGENT_LABELS: 'role=batch',
      FLEET_AGENT_HEARTBEAT_MS: '500',
      FLEET_HOST_GRANT_PUBLIC_KEY_FILE: hostGrantKeyFiles(fleet.dir).publicKey,
      // It shares web-01's engine: what it creates is checked there.
      DOCKER_HOST: `unix://${fleet.socketOf('web-01')}`,
    },
    logFile: agentLog(),
    detached: false,
  });
}

async function listed(): Promise<{ enrollment: string; started_at: string } | undefined> {
  const res = await api(fleet, 'GET', `/agent/${HOST}`);
  return res.status === 200 ? res.body : undefined;
}

async function connectionsOf(account: string): Promise<number> {
  const connz = (await (await fetch(`http://127.0.0.1:${fleet.state.nats?.monitorPort}/connz?acc=${account}`)).json()) as {
    num_connections: number;
  };
  return connz.num_connections;
}

const accountOfCreds = () =>
  String(verifiedClaims(userJwtOfCreds(readFileSync(path.join(identityDir(), 'agent.creds'), 'utf8'))).nats.issuer_account);

it('joins with a token and env vars only, is pending (never targeted), then runs jobs on its engine once accepted', async () => {
  const issued = await api(fleet, 'POST', `/agent/${HOST}/join-token`, { body: { ttl_seconds: 300 } });
  expect(issued.status).toBe(201);
  agentPid = startJoiningAgent(issued.body.token);
  const pending = await waitFor(`${HOST} listed`, listed, { timeoutMs: 60_000, abortIf: abortIfDead('agent', agentPid, agentLog()) });
  expect(pending.enrollment).toBe('pending');
  expect(existsSync(path.join(identityDir(), 'agent.creds'))).toBe(true);
  expect(readFileSync(agentLog(), 'utf8')).not.toContain(issued.body.token);
  expect((await api(fleet, 'GET', `/node/${HOST}/container/docker`)).status).not.toBe(200);

  expect((await api(fleet, 'POST', `/agent/${HOST}/accept`)).status).toBe(200);
  await waitFor(
    `${HOST} to take jobs`,
    async () => ((await api(fleet, 'GET', `/node/${HOST}/container/docker`)).status === 200 ? true : undefined),
    { timeoutMs: 30_000 },
  );
  const created = await api(fleet, 'POST', `/node/${HOST}/container/docker`, {
    body: { image: BUSYBOX_IMAGE, cmd: ['sleep', '300'], name: 'joined-agent-made-this' },
  });
  expect(created.status).toBe(202);
  expect(created.body.results).toMatchObject([{ hostname: HOST, status: 'ok', changed: true }]);
  const onEngine = await fleet.docker('web-01').listContainers({ all: true, filters: { name: ['joined-agent-made-this'] } });
  expect(onEngine).toHaveLength(1);
});

it('restarts on the identity it kept: no token needed, the spent one is not asked for again', async () => {
  await stopByPid(agentPid, { marker: AGENT_ENTRYPOINT });
  const startedSince = new Date();
  agentPid = startJoiningAgent();
  await waitFor(
    `${HOST} back`,
    async () => ((await listed()) && new Date((await listed())?.started_at ?? 0) >= startedSince ? true : undefined),
    {
      timeoutMs: 60_000,
      abortIf: abortIfDead('agent', agentPid, agentLog()),
    },
  );
  expect((await api(fleet, 'GET', `/node/${HOST}/container/docker`)).body.results).toMatchObject([{ hostname: HOST, status: 'ok' }]);
});

it('rotates its key by joining again: the new key logs in, the old one is cut and refused', async () => {
  const oldCreds = readFileSync(path.join(identityDir(), 'agent.creds'), 'utf8');
  await stopByPid(agentPid, { marker: AGENT_ENTRYPOINT });
  rmSync(path.join(identityDir(), 'agent.creds'));
  const issued = await api(fleet, 'POST', `/agent/${HOST}/join-token`);
  const startedSince = new Date();
  agentPid = startJoiningAgent(issued.body.token);
  await waitFor(`${HOST} back on a new key`, async () => (new Date((await listed())?.started_at ?? 0) >= startedSince ? true : undefined), {
    timeoutMs: 60_000,
    abortIf: abortIfDead('agent', agentPid, agentLog()),
  });
  const newCreds = readFileSync(path.join(identityDir(), 'agent.creds'), 'utf8');
  expect(userJwtOfCreds(newCreds)).not.toBe(userJwtOfCreds(oldCreds));
  expect(accountOfCreds()).toBe(String(verifiedClaims(userJwtOfCreds(oldCreds)).nats.issuer_account));
  await expect(connect({ servers: fleet.natsUrl, ...natsLogin(oldCreds), maxReconnectAttempts: 0 })).rejects.toThrow(
    /authorization|authentication/i,
  );
  expect((await api(fleet, 'GET', `/node/${HOST}/container/docker`)).body.results).toMatchObject([{ hostname: HOST, status: 'ok' }]);
});

it('`remove` cuts its connection at once and it cannot come back: no job reaches it', async () => {
  const account = accountOfCreds();
  expect(await connectionsOf(account)).toBe(1);
  const removed = await api(fleet, 'DELETE', `/agent/${HOST}/identity`);
  expect(removed.status).toBe(200);
  await waitFor('the server to drop its connection', async () => ((await connectionsOf(account)) === 0 ? true : undefined), {
    timeoutMs: 5_000,
  });
  // It keeps retrying; the server keeps refusing.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  expect(await connectionsOf(account)).toBe(0);
  expect(readFileSync(agentLog(), 'utf8')).toMatch(/"reason":"[^"]*(Authentication Revoked|Authorization Violation)/);
  expect((await api(fleet, 'GET', `/node/${HOST}/container/docker`)).status).not.toBe(200);
  expect((await api(fleet, 'DELETE', `/agent/${HOST}/identity`)).status).toBe(404);
});
