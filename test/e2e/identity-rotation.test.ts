/**
 * Issue 18, must-show 5: an agent rotates its NATS identity twice (`POST /agent/{hostname}/rotate`,
 * README "Rotating NATS identities") while a steady stream of calls keeps reaching it: no call
 * fails, every command ran exactly once (counted in the container), the creds file holds the new
 * key (mode 600), the old keys are refused by the broker, and the broker's connz shows the agent's
 * account on one connection, of the new key.
 */
import { readFileSync, statSync } from 'node:fs';
import { BUSYBOX_IMAGE } from '@fleet/deploy';
import { connect } from '@nats-io/transport-node';
import { natsLogin } from '@fleet/runtime/nats';
import { userJwtOfCreds, verifiedClaims } from '@fleet/runtime/nats-identity';
import { api } from '../support/http';
import { accountOfCreds, useJoiningAgent } from '../support/joining-agent';
import { useTestFleet } from '../support/suite';

const fleet = useTestFleet({ agents: [{ hostname: 'web-01', labels: { role: 'web' } }] });
const HOST = 'web-07';
const CONTAINER = 'rotation-counter';
/** Calls in flight at once, and at least this many in all (the load runs until both rotations are done). */
const PARALLEL_CALLS = 4;
const MIN_CALLS = 300;
const agent = useJoiningAgent(fleet, { hostname: HOST, logName: 'rotating', engineHost: 'web-01' });
const publicKeyOf = (creds: string) => verifiedClaims(userJwtOfCreds(creds)).sub;

/** The broker's own view of the client connections in `account`, with the key each logged in with. */
async function connectionsOf(account: string): Promise<{ authorized_user?: string; jwt?: string }[]> {
  const url = `http://127.0.0.1:${fleet.state.nats?.monitorPort}/connz?acc=${account}&auth=true`;
  const connz = (await (await fetch(url)).json()) as { connections?: { authorized_user?: string; jwt?: string }[] };
  return connz.connections ?? [];
}

const loginKeyOf = (connection: { authorized_user?: string; jwt?: string }) =>
  connection.authorized_user ?? (connection.jwt ? verifiedClaims(connection.jwt).sub : undefined);

interface Load {
  calls: number;
  failures: string[];
  markers: string[];
  /** Calls started while a rotation was under way. */
  duringRotation: number;
}

/** Calls the agent, PARALLEL_CALLS at a time, until `done()` and at least MIN_CALLS: each an exec that appends its own marker. */
async function steadyLoad(done: () => boolean, rotating: () => boolean): Promise<Load> {
  const load: Load = { calls: 0, failures: [], markers: [], duringRotation: 0 };
  const caller = async () => {
    while (!done() || load.calls < MIN_CALLS) {
      const marker = `call-${load.calls++}`;
      load.markers.push(marker);
      if (rotating()) load.duringRotation++;
      const res = await api(fleet, 'POST', `/node/${HOST}/container/docker/${CONTAINER}/exec`, {
        body: { cmd: ['sh', '-c', `echo ${marker} >> /count`] },
      });
      const row = res.body?.results?.[0];
      if (res.status !== 202 || row?.status !== 'ok' || row?.exit_code !== 0)
        load.failures.push(`${marker}: ${res.status} ${JSON.stringify(res.body)}`);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL_CALLS }, caller));
  return load;
}

it('joins with its own NKey and runs jobs once accepted', async () => {
  const issued = await api(fleet, 'POST', `/agent/${HOST}/join-token`);
  await agent.start(issued.body.token);
  expect((await api(fleet, 'POST', `/agent/${HOST}/accept`)).status).toBe(200);
  await agent.takingJobs();
  const created = await api(fleet, 'POST', `/node/${HOST}/container/docker`, {
    body: { image: BUSYBOX_IMAGE, cmd: ['sleep', '600'], name: CONTAINER },
  });
  expect(created.body.results).toMatchObject([{ hostname: HOST, status: 'ok' }]);
  const started = await api(fleet, 'POST', `/node/${HOST}/container/docker/${CONTAINER}/start`);
  expect(started.body.results).toMatchObject([{ hostname: HOST, status: 'ok' }]);
});

it('rotates twice under a steady load of calls: 0 failed, each command run once, the old keys refused, one connection of the new key', async () => {
  const firstCreds = readFileSync(agent.credsFile(), 'utf8');
  const account = accountOfCreds(firstCreds);
  expect((await connectionsOf(account)).map(loginKeyOf)).toEqual([publicKeyOf(firstCreds)]);

  let rotated = false;
  let rotating = false;
  const loadDone = steadyLoad(
    () => rotated,
    () => rotating,
  );
  // Calls are flowing before the first rotation starts, and between the two.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const rotationMs: number[] = [];
  const rotate = async () => {
    const started = Date.now();
    rotating = true;
    const res = await api(fleet, 'POST', `/agent/${HOST}/rotate`);
    rotating = false;
    rotationMs.push(Date.now() - started);
    return res;
  };
  const first = await rotate();
  const secondCreds = readFileSync(agent.credsFile(), 'utf8');
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const second = await rotate();
  rotated = true;
  const load = await loadDone;
  process.stderr.write(
    `identity-rotation: ${load.calls} calls (${PARALLEL_CALLS} at a time), ${load.duringRotation} started during a rotation, ${load.failures.length} failed; ` +
      `rotations took ${rotationMs.join(' ms, ')} ms\n`,
  );

  expect(first.status).toBe(200);
  expect(first.body).toMatchObject({ hostname: HOST, public_key: publicKeyOf(secondCreds), revoked: [publicKeyOf(firstCreds)] });
  expect(second.status).toBe(200);
  expect(second.body.revoked).toEqual(expect.arrayContaining([publicKeyOf(firstCreds), publicKeyOf(secondCreds)]));
  expect(load.failures).toEqual([]);
  expect(load.calls).toBeGreaterThanOrEqual(MIN_CALLS);
  // The load was on while the agent held two logins, not only before and after.
  expect(load.duringRotation).toBeGreaterThan(0);

  // Counted in the container on the engine: every call's command ran, and ran once.
  const exec = await fleet
    .docker('web-01')
    .getContainer(CONTAINER)
    .exec({ Cmd: ['cat', '/count'], AttachStdout: true });
  const output = await new Promise<string>((resolve, reject) => {
    exec.start({ hijack: true, stdin: false }, (err, stream) => {
      if (err || !stream) return reject(err);
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    });
  });
  const ran = output
    .split('\n')
    .map((line) => line.replace(/^[\s\S]*?(call-\d+)$/, '$1'))
    .filter((line) => line.startsWith('call-'));
  expect(ran.sort()).toEqual([...load.markers].sort());

  const finalCreds = readFileSync(agent.credsFile(), 'utf8');
  expect(statSync(agent.credsFile()).mode & 0o777).toBe(0o600);
  expect(publicKeyOf(finalCreds)).toBe(second.body.public_key);
  expect(accountOfCreds(finalCreds)).toBe(account);
  for (const oldCreds of [firstCreds, secondCreds]) {
    await expect(connect({ servers: fleet.natsUrl, ...natsLogin(oldCreds), maxReconnectAttempts: 0 })).rejects.toThrow(
      /authorization|authentication/i,
    );
  }
  expect((await connectionsOf(account)).map(loginKeyOf)).toEqual([publicKeyOf(finalCreds)]);
  expect(readFileSync(agent.logFile(), 'utf8')).not.toContain(finalCreds.split('-----BEGIN USER NKEY SEED-----')[1].trim().split('\n')[0]);
});
