import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { identityRotatedSubject, identityRotateSubject } from '@fleet/contracts/protocol';
import { createLogger } from '@fleet/runtime/logger';
import {
  AGENT_CREDS_FILE,
  credsFileContent,
  newAccountKey,
  newUserKey,
  userJwt,
  userJwtOfCreds,
  verifiedClaims,
} from '@fleet/runtime/nats-identity';
import { IdentityRotation, saveCreds, type AgentLogin, type RotationDeps } from './rotation';
import type { JobWorker } from './worker';

const HOST = 'web-01';
const account = newAccountKey();
const log = createLogger('rotation-test', 'silent');
const NO_PERMISSIONS = { publish: { allow: [] }, subscribe: { allow: [] } };

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fleet-rotation-'));
  saveCreds(dir, credsFor(newUserKey()));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function credsFor(key: ReturnType<typeof newUserKey>): string {
  return credsFileContent(userJwt(account, key.getPublicKey(), `agent-${HOST}`, NO_PERMISSIONS), key.getSeed());
}

const publicKeyInFile = () => verifiedClaims(userJwtOfCreds(readFileSync(join(dir, AGENT_CREDS_FILE), 'utf8'))).sub;

/** A login whose every step lands in `events`; its connection answers the two rotation steps as the gateway would. */
function fakeLogin(name: string, events: string[], opts: { bindFails?: boolean } = {}): AgentLogin {
  const nc = {
    request: jest.fn(async (subject: string, data: string) => {
      const { public_key: publicKey } = JSON.parse(data) as { public_key: string };
      events.push(
        `${name}: asks ${subject === identityRotateSubject(HOST) ? 'rotate' : subject === identityRotatedSubject(HOST) ? 'rotated' : subject}`,
      );
      const answer =
        subject === identityRotateSubject(HOST)
          ? { user_jwt: userJwt(account, publicKey, `agent-${HOST}`, NO_PERMISSIONS) }
          : { revoked: ['UOLD'] };
      return { json: () => answer };
    }),
    subscribe: jest.fn(() => ({ unsubscribe: () => events.push(`${name}: orders unsubscribed`) })),
    drain: jest.fn(
      async () => void events.push(`${name}: drained (creds file has ${publicKeyInFile() === firstKey ? 'the old' : 'the new'} key)`),
    ),
    close: jest.fn(async () => void events.push(`${name}: closed`)),
  };
  const worker = {
    start: jest.fn(async () => {
      if (opts.bindFails) throw new Error('bind failed');
      events.push(`${name}: worker bound`);
    }),
    stop: jest.fn(async () => void events.push(`${name}: worker stopped`)),
    settle: jest.fn(async () => void events.push(`${name}: worker settled`)),
  };
  return { nc: nc as unknown as NatsConnection, worker: worker as unknown as JobWorker, agents: {} as AgentLogin['agents'] };
}

let firstKey = '';

function rotationOf(first: AgentLogin, events: string[], overrides: Partial<RotationDeps> = {}): IdentityRotation {
  firstKey = publicKeyInFile();
  return new IdentityRotation(first, {
    hostname: HOST,
    identityDir: dir,
    log,
    open: async () => fakeLogin('new', events),
    adopt: async () => void events.push('proxy, heartbeats and metrics moved'),
    ...overrides,
  });
}

it('binds the new login before it saves the creds, retires the old one only then, and has the older keys revoked last', async () => {
  const events: string[] = [];
  const first = fakeLogin('old', events);
  const rotation = rotationOf(first, events);
  rotation.start();
  await rotation.rotate();
  rotation.stop();
  expect(events).toEqual([
    'old: asks rotate',
    'new: worker bound',
    'old: orders unsubscribed',
    'proxy, heartbeats and metrics moved',
    'old: worker stopped',
    'old: worker settled',
    'old: drained (creds file has the new key)',
    'new: asks rotated',
    'new: orders unsubscribed',
  ]);
  expect(rotation.current()).not.toBe(first);
  expect(publicKeyInFile()).not.toBe(firstKey);
  expect(statSync(join(dir, AGENT_CREDS_FILE)).mode & 0o777).toBe(0o600);
});

it('keeps the old login and its creds when the new one cannot bind, and asks for no revocation', async () => {
  const events: string[] = [];
  const first = fakeLogin('old', events);
  const rotation = rotationOf(first, events, { open: async () => fakeLogin('new', events, { bindFails: true }) });
  await rotation.rotate();
  expect(events).toEqual(['old: asks rotate', 'new: closed']);
  expect(rotation.current()).toBe(first);
  expect(publicKeyInFile()).toBe(firstKey);
});

it('an order that arrives during a rotation joins it: one new key, not two', async () => {
  const events: string[] = [];
  const rotation = rotationOf(fakeLogin('old', events), events);
  await Promise.all([rotation.rotate(), rotation.rotate()]);
  expect(events.filter((event) => event.endsWith('asks rotate'))).toHaveLength(1);
});

it('rotates by itself once the key is FLEET_AGENT_IDENTITY_MAX_AGE_SECONDS old', async () => {
  const events: string[] = [];
  let rotated: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (rotated = resolve));
  const rotation = rotationOf(fakeLogin('old', events), events, {
    maxAgeMs: 1,
    adopt: async () => {
      events.push('proxy, heartbeats and metrics moved');
      rotated();
    },
  });
  rotation.start();
  await done;
  rotation.stop();
  expect(events[0]).toBe('old: asks rotate');
});
