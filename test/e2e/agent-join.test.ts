/**
 * An agent's life with its own NATS identity (README "Enrolling an agent"): a process started with
 * nothing but environment variables and a one-time join token makes its NKey, joins, waits
 * pending, runs jobs once accepted, survives a restart on the identity it kept, rotates its key by
 * joining again, and is cut off by `fleet agent remove` — checked on the engine and the server's connz.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { BUSYBOX_IMAGE, waitFor } from '@fleet/deploy';
import { connect } from '@nats-io/transport-node';
import { natsLogin } from '@fleet/runtime/nats';
import { userJwtOfCreds } from '@fleet/runtime/nats-identity';
import { api } from '../support/http';
import { accountOfCreds, useJoiningAgent } from '../support/joining-agent';
import { useTestFleet } from '../support/suite';

const fleet = useTestFleet({ agents: [{ hostname: 'web-01', labels: { role: 'web' } }] });
const HOST = 'web-04';
const agent = useJoiningAgent(fleet, { hostname: HOST, logName: 'joined', labels: 'role=batch', engineHost: 'web-01' });

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

it('joins with a token and env vars only, is pending (never targeted), then runs jobs on its engine once accepted', async () => {
  const issued = await api(fleet, 'POST', `/agent/${HOST}/join-token`, { body: { ttl_seconds: 300 } });
  expect(issued.status).toBe(201);
  await agent.start(issued.body.token);
  expect((await listed())?.enrollment).toBe('pending');
  expect(existsSync(agent.credsFile())).toBe(true);
  expect(readFileSync(agent.logFile(), 'utf8')).not.toContain(issued.body.token);
  expect((await api(fleet, 'GET', `/node/${HOST}/container/docker`)).status).not.toBe(200);

  expect((await api(fleet, 'POST', `/agent/${HOST}/accept`)).status).toBe(200);
  await agent.takingJobs();
  const created = await api(fleet, 'POST', `/node/${HOST}/container/docker`, {
    body: { image: BUSYBOX_IMAGE, cmd: ['sleep', '300'], name: 'joined-agent-made-this' },
  });
  expect(created.status).toBe(202);
  expect(created.body.results).toMatchObject([{ hostname: HOST, status: 'ok', changed: true }]);
  const onEngine = await fleet.docker('web-01').listContainers({ all: true, filters: { name: ['joined-agent-made-this'] } });
  expect(onEngine).toHaveLength(1);
});

it('restarts on the identity it kept: no token needed, the spent one is not asked for again', async () => {
  await agent.stop();
  await agent.start();
  expect((await api(fleet, 'GET', `/node/${HOST}/container/docker`)).body.results).toMatchObject([{ hostname: HOST, status: 'ok' }]);
});

it('rotates its key by joining again: the new key logs in, the old one is cut and refused', async () => {
  const oldCreds = readFileSync(agent.credsFile(), 'utf8');
  await agent.stop();
  rmSync(agent.credsFile());
  const issued = await api(fleet, 'POST', `/agent/${HOST}/join-token`);
  await agent.start(issued.body.token);
  const newCreds = readFileSync(agent.credsFile(), 'utf8');
  expect(userJwtOfCreds(newCreds)).not.toBe(userJwtOfCreds(oldCreds));
  expect(accountOfCreds(newCreds)).toBe(accountOfCreds(oldCreds));
  await expect(connect({ servers: fleet.natsUrl, ...natsLogin(oldCreds), maxReconnectAttempts: 0 })).rejects.toThrow(
    /authorization|authentication/i,
  );
  expect((await api(fleet, 'GET', `/node/${HOST}/container/docker`)).body.results).toMatchObject([{ hostname: HOST, status: 'ok' }]);
});

it('`remove` cuts its connection at once and it cannot come back: no job reaches it', async () => {
  const account = accountOfCreds(readFileSync(agent.credsFile(), 'utf8'));
  expect(await connectionsOf(account)).toBe(1);
  const removed = await api(fleet, 'DELETE', `/agent/${HOST}/identity`);
  expect(removed.status).toBe(200);
  await waitFor('the server to drop its connection', async () => ((await connectionsOf(account)) === 0 ? true : undefined), {
    timeoutMs: 5_000,
  });
  // It keeps retrying; the server keeps refusing.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  expect(await connectionsOf(account)).toBe(0);
  expect(readFileSync(agent.logFile(), 'utf8')).toMatch(/"reason":"[^"]*(Authentication Revoked|Authorization Violation)/);
  expect((await api(fleet, 'GET', `/node/${HOST}/container/docker`)).status).not.toBe(200);
  expect((await api(fleet, 'DELETE', `/agent/${HOST}/identity`)).status).toBe(404);
});
