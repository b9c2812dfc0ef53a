/**
 * Issue 18, item 2: agents prove who they are with an NKey of their own, no shared password. On a
 * real nats-server in operator mode: no login without a signed identity, a forged or stolen user
 * JWT is refused, a removed agent is cut off at once and cannot reconnect (the server's connz),
 * join tokens are single-use, short-lived and for one host, the seed never leaves its file, and
 * the connect protocol carries nothing that could log in again; a rotation is asked only over the
 * host's own login, ordered only by an unscoped admin, and leaves the old creds worthless.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { connect, jwtAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { fromPublic } from '@nats-io/nkeys';
import { agentInboxPrefix, agentPermissions } from '@fleet/contracts/nats-permissions';
import {
  IDENTITIES_BUCKET,
  identityRotatedSubject,
  identityRotateSubject,
  JOIN_TOKENS_BUCKET,
  type JoinTokenRecord,
} from '@fleet/contracts/protocol';
import { agentCredsFile } from '@fleet/deploy';
import { natsLogin } from '@fleet/runtime/nats';
import { credsFileContent, newAccountKey, newUserKey, signClaims, userJwtOfCreds, verifiedClaims } from '@fleet/runtime/nats-identity';
import { attack } from '../support/attacks';
import { NatsLogin } from '../support/agent-login';
import { api } from '../support/http';
import { connectToFleetNats } from '../support/nats';
import { useTestFleet } from '../support/suite';

/** Low enough for the flood below, above the few refused joins the other attacks make. */
const FAILED_AUTH_PER_MINUTE = 20;
const fleet = useTestFleet({
  agents: [{ hostname: 'web-01', labels: { role: 'web' } }],
  gatewayEnv: { FLEET_PRE_AUTH_RATE_LIMIT_PER_MINUTE: String(FAILED_AUTH_PER_MINUTE) },
});
let gatewayNats: NatsConnection;

beforeAll(async () => {
  gatewayNats = await connectToFleetNats(fleet.state);
});

afterAll(async () => {
  await gatewayNats?.close();
});

const natsPort = () => Number(new URL(fleet.natsUrl).port);
const monitorPort = () => fleet.state.nats?.monitorPort ?? 0;
const refusedLogin = (opts: Parameters<typeof connect>[0]) =>
  expect(connect({ servers: fleet.natsUrl, maxReconnectAttempts: 0, ...opts })).rejects.toThrow(/authorization|authentication/i);

/** A join made the way an agent makes it: a fresh NKey, the token, the public key only. */
async function join(hostname: string, token: string, key = newUserKey()) {
  const res = await api(fleet, 'POST', '/agent/join', { key: null, body: { hostname, token, public_key: key.getPublicKey() } });
  return { res, key, creds: res.status === 200 ? credsFileContent(res.body.user_jwt, key.getSeed()) : undefined };
}

async function joinToken(hostname: string, ttlSeconds?: number): Promise<string> {
  const res = await api(fleet, 'POST', `/agent/${hostname}/join-token`, {
    body: ttlSeconds === undefined ? {} : { ttl_seconds: ttlSeconds },
  });
  expect(res.status).toBe(201);
  return res.body.token as string;
}

/** The server's own count of client connections in an account (its monitoring port). */
async function connectionsOf(account: string): Promise<number> {
  const connz = (await (await fetch(`http://127.0.0.1:${monitorPort()}/connz?acc=${account}`)).json()) as { num_connections: number };
  return connz.num_connections;
}

async function identityRecord(hostname: string): Promise<{ account: string; users: { public_key: string }[] } | undefined> {
  const entry = await (await new Kvm(gatewayNats).open(IDENTITIES_BUCKET)).get(hostname);
  return entry?.operation === 'PUT' ? entry.json() : undefined;
}

attack('log in to NATS with no credentials, or with a user name and password: refused', async () => {
  await refusedLogin({});
  await refusedLogin({ user: 'agent-web-01', pass: 'agent-web-01' });
  await refusedLogin({ token: 'web-01' });
});

attack("log in with a user JWT forged for web-01's account, signed by a foreign account key: refused", async () => {
  const account = (await identityRecord('web-01'))?.account;
  expect(account).toMatch(/^A[A-Z2-7]{55}$/);
  const foreignSigner = newAccountKey();
  const user = newUserKey();
  const claims = {
    type: 'user' as const,
    version: 2 as const,
    pub: agentPermissions('web-01').publish,
    sub: agentPermissions('web-01').subscribe,
  };
  // Claims to be issued for web-01's account by a key that account does not list.
  const forged = signClaims(foreignSigner, user.getPublicKey(), 'agent-web-01', { ...claims, issuer_account: account });
  await refusedLogin({ authenticator: jwtAuthenticator(forged, user.getSeed()), inboxPrefix: agentInboxPrefix('web-01') });
  // A user of an account the operator never signed.
  const unknownAccount = signClaims(foreignSigner, user.getPublicKey(), 'agent-web-01', claims);
  await refusedLogin({ authenticator: jwtAuthenticator(unknownAccount, user.getSeed()) });
});

attack("log in with web-01's real user JWT (it crosses the wire) but another seed: refused", async () => {
  const jwt = userJwtOfCreds(readFileSync(agentCredsFile(fleet.state, 'web-01'), 'utf8'));
  await refusedLogin({ authenticator: jwtAuthenticator(jwt, newUserKey().getSeed()) });
});

attack('a removed agent: its live connection is cut at once (connz), it cannot reconnect, its acceptance is gone', async () => {
  const joined = await join('ghost-01', await joinToken('ghost-01'));
  expect(joined.res.status).toBe(200);
  await api(fleet, 'POST', '/agent/ghost-01/accept', { body: { labels: { role: 'ghost' } } });
  const account = joined.res.body.account as string;
  const nc = await connect({
    servers: fleet.natsUrl,
    ...natsLogin(joined.creds),
    inboxPrefix: agentInboxPrefix('ghost-01'),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 100,
  });
  const statuses: string[] = [];
  void (async () => {
    for await (const status of nc.status()) statuses.push(`${status.type} ${'error' in status ? String(status.error) : ''}`);
  })();
  expect(await connectionsOf(account)).toBe(1);

  const removedAt = Date.now();
  const removal = await api(fleet, 'DELETE', '/agent/ghost-01/identity');
  expect(removal.status).toBe(200);
  expect(removal.body).toMatchObject({ hostname: 'ghost-01', removed: true });
  // Cut by the server as the removal answers: within the time of one request.
  for (let i = 0; i < 40 && (await connectionsOf(account)) > 0; i++) await new Promise((resolve) => setTimeout(resolve, 25));
  expect(await connectionsOf(account)).toBe(0);
  process.stderr.write(`agent-identity: a removed agent's connection was gone ${Date.now() - removedAt} ms after DELETE was sent\n`);
  expect(statuses.join('\n')).toMatch(/revoked/i);
  // Its client keeps retrying: the server admits none of the retries.
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(await connectionsOf(account)).toBe(0);
  await nc.close();
  await refusedLogin({ ...natsLogin(joined.creds) });
  expect((await api(fleet, 'GET', '/agent')).body.agents.map((agent: { hostname: string }) => agent.hostname)).not.toContain('ghost-01');
  const enrolment = await (await new Kvm(gatewayNats).open('fleet_enrollments')).get('ghost-01');
  expect(enrolment?.operation ?? 'none').not.toBe('PUT');
  expect(await identityRecord('ghost-01')).toBeUndefined();
});

attack('a join token used twice (a stolen copy replayed): the second join is refused and makes no user', async () => {
  const token = await joinToken('web-05');
  const joinStarted = Date.now();
  const first = await join('web-05', token);
  expect(first.res.status).toBe(200);
  process.stderr.write(`agent-identity: a join (account JWT signed and pushed, user JWT issued) took ${Date.now() - joinStarted} ms\n`);
  const second = await join('web-05', token);
  expect(second.res.status).toBe(401);
  expect(second.res.body).toMatchObject({ code: 401, details: expect.stringContaining('used already') });
  // A fresh token with the key that joined already: refused too (its revocation would hit it).
  const reused = await join('web-05', await joinToken('web-05'), first.key);
  expect(reused.res.status).toBe(409);
  expect((await identityRecord('web-05'))?.users.map((user) => user.public_key)).toEqual([first.key.getPublicKey()]);
  const stillIn = await connect({ servers: fleet.natsUrl, ...natsLogin(first.creds), maxReconnectAttempts: 0 });
  await stillIn.close();
});

attack('an expired join token: refused, and not spent', async () => {
  // A token whose expiry has passed, as the gateway stores one (only its hash), put by the test's own gateway login.
  const token = `fjt_${'e'.repeat(43)}`;
  const tokens = await new Kvm(gatewayNats).open(JOIN_TOKENS_BUCKET);
  const record: JoinTokenRecord = { hostname: 'web-06', expires_at: new Date(Date.now() - 1000).toISOString(), by: 'test' };
  const key = createHash('sha256').update(token).digest('hex');
  await tokens.put(key, JSON.stringify(record));
  const joined = await join('web-06', token);
  expect(joined.res.status).toBe(401);
  expect(joined.res.body.details).toContain('expired');
  expect(await identityRecord('web-06')).toBeUndefined();
  expect((await tokens.get(key))?.json<JoinTokenRecord>()).toEqual(record);
});

attack("another host's join token (web-07's, used for web-08): refused, and web-07 can still use it", async () => {
  const token = await joinToken('web-07');
  const stolen = await join('web-08', token);
  expect(stolen.res.status).toBe(403);
  expect(stolen.res.body.details).toContain('another host');
  expect(await identityRecord('web-08')).toBeUndefined();
  expect((await join('web-07', token)).res.status).toBe(200);
});

attack('a made-up join token, a public key that is a seed, an account key: refused before anything is looked up', async () => {
  expect((await join('web-09', `fjt_${'x'.repeat(43)}`)).res.status).toBe(401);
  const key = newUserKey();
  const asSeed = await api(fleet, 'POST', '/agent/join', {
    key: null,
    body: { hostname: 'web-09', token: await joinToken('web-09'), public_key: Buffer.from(key.getSeed()).toString() },
  });
  expect(asSeed.status).toBe(400);
  const asAccount = await api(fleet, 'POST', '/agent/join', {
    key: null,
    body: { hostname: 'web-09', token: await joinToken('web-09'), public_key: newAccountKey().getPublicKey() },
  });
  expect(asAccount.status).toBe(400);
  expect(await identityRecord('web-09')).toBeUndefined();
});

attack('a join token or a removal asked for with a viewer, operator or scoped admin key: refused, nothing issued or revoked', async () => {
  for (const key of [fleet.mintKey('viewer'), fleet.mintKey('operator'), fleet.mintKey('admin', { scope: 'role:web' })]) {
    const token = await api(fleet, 'POST', '/agent/web-11/join-token', { key, body: {} });
    expect(token.status).toBe(403);
    expect(token.body).not.toHaveProperty('token');
    expect((await api(fleet, 'DELETE', '/agent/web-01/identity', { key })).status).toBe(403);
  }
  expect(await identityRecord('web-01')).toBeDefined();
  // web-01 still logs in: nothing was revoked.
  const nc = await connect({
    servers: fleet.natsUrl,
    ...natsLogin(readFileSync(agentCredsFile(fleet.state, 'web-01'), 'utf8')),
    inboxPrefix: agentInboxPrefix('web-01'),
  });
  await nc.close();
});

attack(
  "an agent's seed and its join token: the seed mode 600 in a 700 directory, neither ever in a log, a gateway answer, a job record or the audit",
  async () => {
    const credsFile = agentCredsFile(fleet.state, 'web-01');
    expect((statSync(credsFile).mode & 0o777).toString(8)).toBe('600');
    expect((statSync(dirname(credsFile)).mode & 0o777).toString(8)).toBe('700');
    const seed = /SU[A-Z2-7]{56}/.exec(readFileSync(credsFile, 'utf8'))?.[0];
    expect(seed).toBeDefined();
    const token = await joinToken('web-10');
    const joined = await join('web-10', token);
    expect(joined.res.status).toBe(200);
    const joinSeed = Buffer.from(joined.key.getSeed()).toString();
    const job = await api(fleet, 'GET', '/node/web-01/container/docker');
    expect(job.status).toBe(200);
    const record = await api(fleet, 'GET', `/job/${job.body.job_id}`);
    const audit = await api(fleet, 'GET', '/audit');
    const agents = await api(fleet, 'GET', '/agent');
    const seen = [
      fleet.log('gateway'),
      fleet.log('agent-web-01'),
      fleet.log('nats'),
      JSON.stringify(job.body),
      JSON.stringify(record.body),
      JSON.stringify(audit.body),
      JSON.stringify(agents.body),
    ];
    for (const text of [...seen, JSON.stringify(joined.res.body)]) {
      for (const secret of [seed as string, joinSeed, token]) expect(text).not.toContain(secret);
    }
    expect(audit.status).toBe(200);
  },
);

attack(
  'the connect protocol carries the user JWT and a signature of the nonce: nothing that logs in again (captured on the wire)',
  async () => {
    const relay = await captureRelay(natsPort());
    try {
      const creds = readFileSync(agentCredsFile(fleet.state, 'web-01'), 'utf8');
      const nc = await connect({ servers: `127.0.0.1:${relay.port}`, ...natsLogin(creds), inboxPrefix: agentInboxPrefix('web-01') });
      await nc.flush();
      await nc.close();
      const sent = Buffer.concat(relay.fromClient).toString('utf8');
      const received = Buffer.concat(relay.fromServer).toString('utf8');
      const connectLine = /^CONNECT (\{.*\})\r$/m.exec(sent)?.[1];
      expect(connectLine).toBeDefined();
      const connectOptions = JSON.parse(connectLine as string) as Record<string, unknown>;
      const nonce = (JSON.parse(/^INFO (\{.*\}) *\r$/m.exec(received)?.[1] ?? '{}') as { nonce?: string }).nonce;
      expect(nonce).toBeDefined();
      const jwt = userJwtOfCreds(creds);
      expect(connectOptions.jwt).toBe(jwt);
      // The signature is over this connection's nonce only, by the key the JWT names: replaying it elsewhere fails (a new nonce each time).
      const userKey = verifiedClaims(jwt).sub;
      expect(fromPublic(userKey).verify(Buffer.from(nonce as string), Buffer.from(String(connectOptions.sig), 'base64url'))).toBe(true);
      expect(connectOptions).not.toHaveProperty('pass');
      expect(connectOptions).not.toHaveProperty('auth_token');
      expect(sent).not.toMatch(/SU[A-Z2-7]{56}/);
      expect(sent).not.toContain('NKEY SEED');
      // Replaying the captured CONNECT on a new connection: the server's new nonce makes the signature worthless.
      await expect(replayConnect(natsPort(), connectLine as string)).resolves.toMatch(/-ERR 'Authorization Violation'/);
    } finally {
      relay.close();
    }
  },
);

/** The public keys the broker shows logged in to `account` (connz with auth: each connection's user). */
async function loginKeysOf(account: string): Promise<string[]> {
  const connz = (await (await fetch(`http://127.0.0.1:${monitorPort()}/connz?acc=${account}&auth=true`)).json()) as {
    connections?: { authorized_user?: string; jwt?: string }[];
  };
  return (connz.connections ?? []).map(
    (connection) => connection.authorized_user ?? (connection.jwt ? verifiedClaims(connection.jwt).sub : ''),
  );
}

const web01Creds = () => readFileSync(agentCredsFile(fleet.state, 'web-01'), 'utf8');

attack(
  "a rotation asked over another host's login (web-01's, for rot-02): the broker refuses the subject, rot-02 keeps its one key",
  async () => {
    const joined = await join('rot-02', await joinToken('rot-02'));
    expect(joined.res.status).toBe(200);
    const victim = await connect({ servers: fleet.natsUrl, ...natsLogin(joined.creds), inboxPrefix: agentInboxPrefix('rot-02') });
    const web01 = await NatsLogin.asAgent(fleet, 'web-01');
    try {
      const attackerKey = newUserKey().getPublicKey();
      for (const subject of [identityRotateSubject('rot-02'), identityRotatedSubject('rot-02')]) {
        web01.nc.publish(subject, JSON.stringify({ public_key: attackerKey }), { reply: `${agentInboxPrefix('web-01')}.stolen` });
        await web01.violationFor(subject);
      }
      expect((await identityRecord('rot-02'))?.users.map((user) => user.public_key)).toEqual([joined.key.getPublicKey()]);
      expect(await loginKeysOf(joined.res.body.account)).toEqual([joined.key.getPublicKey()]);
    } finally {
      await web01.close();
      await victim.close();
    }
  },
);

attack(
  "a rotation step for a key the gateway never issued, or a seed for a key, over the agent's own login: refused, nothing revoked",
  async () => {
    const before = await identityRecord('web-01');
    const web01 = await NatsLogin.asAgent(fleet, 'web-01');
    try {
      const ask = async (subject: string, body: unknown) =>
        (await web01.nc.request(subject, JSON.stringify(body), { timeout: 5_000 })).json<{
          status?: number;
          user_jwt?: string;
          revoked?: string[];
        }>();
      const unissued = await ask(identityRotatedSubject('web-01'), { public_key: newUserKey().getPublicKey() });
      expect(unissued).toMatchObject({ status: 409 });
      expect(unissued).not.toHaveProperty('revoked');
      const seed = await ask(identityRotateSubject('web-01'), { public_key: Buffer.from(newUserKey().getSeed()).toString() });
      expect(seed).toMatchObject({ status: 400 });
      expect(seed).not.toHaveProperty('user_jwt');
      expect(await ask(identityRotateSubject('web-01'), { public_key: newAccountKey().getPublicKey() })).toMatchObject({ status: 400 });
    } finally {
      await web01.close();
    }
    expect(await identityRecord('web-01')).toEqual(before);
    expect(await loginKeysOf(String(before?.account))).toEqual([verifiedClaims(userJwtOfCreds(web01Creds())).sub]);
  },
);

attack('a rotation ordered with a viewer, operator or scoped admin key: 403, the agent keeps its key (identity and connz)', async () => {
  const before = await identityRecord('web-01');
  for (const key of [fleet.mintKey('viewer'), fleet.mintKey('operator'), fleet.mintKey('admin', { scope: 'role:web' })]) {
    const res = await api(fleet, 'POST', '/agent/web-01/rotate', { key });
    expect(res.status).toBe(403);
    expect(res.body.details).toBeTruthy();
  }
  expect(await identityRecord('web-01')).toEqual(before);
  expect(await loginKeysOf(String(before?.account))).toEqual([verifiedClaims(userJwtOfCreds(web01Creds())).sub]);
});

attack(
  'the old creds after a rotation: a thief connected with them is cut off, and they log in no more (connz: only the new key)',
  async () => {
    const oldCreds = web01Creds();
    const account = String(verifiedClaims(userJwtOfCreds(oldCreds)).nats.issuer_account);
    const thief = await connect({
      servers: fleet.natsUrl,
      ...natsLogin(oldCreds),
      inboxPrefix: agentInboxPrefix('web-01'),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
    expect((await loginKeysOf(account)).sort()).toEqual([
      verifiedClaims(userJwtOfCreds(oldCreds)).sub,
      verifiedClaims(userJwtOfCreds(oldCreds)).sub,
    ]);
    const rotation = await api(fleet, 'POST', '/agent/web-01/rotate');
    expect(rotation.status).toBe(200);
    const newCreds = web01Creds();
    expect(rotation.body.public_key).toBe(verifiedClaims(userJwtOfCreds(newCreds)).sub);
    expect(rotation.body.revoked).toContain(verifiedClaims(userJwtOfCreds(oldCreds)).sub);
    for (let i = 0; i < 40 && (await loginKeysOf(account)).length > 1; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    // The thief's client keeps retrying; the server admits none of the retries.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await loginKeysOf(account)).toEqual([rotation.body.public_key]);
    await thief.close();
    await refusedLogin({ ...natsLogin(oldCreds), inboxPrefix: agentInboxPrefix('web-01') });
    // The stolen key cannot ask for a new identity either: it has no login left to ask over.
    expect((await api(fleet, 'GET', '/node/web-01/container/docker')).body.results).toMatchObject([{ hostname: 'web-01', status: 'ok' }]);
  },
);

// Last: it uses up this address's failed authentications for the minute.
attack('guessing join tokens at speed: past the failed-authentication limit every guess is 429, and none joins', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < FAILED_AUTH_PER_MINUTE + 5; i++) {
    statuses.push((await join('web-12', `fjt_${String(i).padStart(43, 'g')}`)).res.status);
  }
  expect(statuses.slice(-5)).toEqual([429, 429, 429, 429, 429]);
  expect(statuses.filter((status) => status !== 401 && status !== 429)).toEqual([]);
  expect(await identityRecord('web-12')).toBeUndefined();
});

/** A loopback TCP relay to the NATS port that keeps every byte each side sent. */
async function captureRelay(targetPort: number): Promise<{ port: number; fromClient: Buffer[]; fromServer: Buffer[]; close(): void }> {
  const fromClient: Buffer[] = [];
  const fromServer: Buffer[] = [];
  const sockets: Socket[] = [];
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    sockets.push(client, upstream);
    client.on('data', (chunk: Buffer) => {
      fromClient.push(chunk);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      fromServer.push(chunk);
      client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    fromClient,
    fromServer,
    close() {
      sockets.forEach((socket) => socket.destroy());
      server.close();
    },
  };
}

/** Sends a captured CONNECT line on a fresh connection and resolves with what the server answered. */
function replayConnect(port: number, connectJson: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let answer = '';
    let sent = false;
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('utf8');
      if (!sent && answer.startsWith('INFO ')) {
        sent = true;
        socket.write(`CONNECT ${connectJson}\r\nPING\r\n`);
      }
      if (/-ERR|PONG/.test(answer)) socket.destroy();
    });
    socket.on('error', reject);
    const giveUp = setTimeout(() => socket.destroy(), 5_000);
    socket.on('close', () => {
      clearTimeout(giveUp);
      resolve(answer);
    });
  });
}
