/**
 * The Engine API proxy (`/node/<hostname>/docker/…`, README "The docker CLI through the gateway")
 * attacked from each side: an agent's own NATS login opening a session to another host or answering
 * for one, a stolen gateway NATS login forging a privileged create without a valid grant, an
 * operator key reaching the host through a create body, a viewer key starting an exec, and paths
 * that try to reach an endpoint the contract does not map. Each is checked on the engines.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { paramsDigest, signHostGrant } from '@fleet/contracts/host-grant';
import {
  encodeProxyFrame,
  PROXY_FRAME,
  proxyRequestSubject,
  proxyResponseSubject,
  type ProxyAbort,
  type ProxyOpen,
} from '@fleet/contracts/protocol';
import { BUSYBOX_IMAGE } from '@fleet/deploy';
import { NatsLogin } from '../support/agent-login';
import { attack } from '../support/attacks';
import { connectToFleetNats } from '../support/nats';
import { openProxySession } from '../support/proxy-session';
import { rawRequest } from '../support/raw-http';
import { useTestFleet } from '../support/suite';

jest.setTimeout(300_000);
const fleet = useTestFleet();
let gatewayLogin: NatsConnection;

beforeAll(async () => {
  gatewayLogin = await connectToFleetNats(fleet.state);
});

afterAll(async () => {
  await gatewayLogin?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function containerExists(host: string, name: string): Promise<boolean> {
  const names = (await fleet.docker(host).listContainers({ all: true })).flatMap((container) => container.Names);
  return names.includes(`/${name}`);
}

function createOpen(name: string, body: Record<string, unknown>): ProxyOpen {
  return {
    method: 'POST',
    path: `/v1.41/containers/create?name=${name}`,
    headers: { 'content-type': 'application/json' },
    hijack: false,
    body: false,
    caller: 'attacker',
    inline_body: Buffer.from(JSON.stringify(body)).toString('base64'),
  };
}

describe('the Engine API proxy', () => {
  attack("an agent's own NATS login opens a proxy session to another host's engine (or answers for one)", async () => {
    const webAgent = await NatsLogin.asAgent(fleet, 'web-01');
    try {
      const session = randomUUID().replace(/-/g, '');
      webAgent.nc.publish(
        proxyRequestSubject('db-01', session),
        encodeProxyFrame(PROXY_FRAME.OPEN, createOpen('proxy-forged-by-agent', { Image: BUSYBOX_IMAGE, Cmd: ['sleep', '60'] })),
      );
      await webAgent.violationFor(proxyRequestSubject('db-01', session));
      webAgent.nc.subscribe(proxyRequestSubject('db-01', '*'));
      await webAgent.violationFor(proxyRequestSubject('db-01', '*'));
      webAgent.nc.publish(proxyResponseSubject('web-02', session), encodeProxyFrame(PROXY_FRAME.HEAD, { status: 200, headers: {} }));
      await webAgent.violationFor(proxyResponseSubject('web-02', session));
      await sleep(1_000);
      expect(await containerExists('db-01', 'proxy-forged-by-agent')).toBe(false);
    } finally {
      await webAgent.close();
    }
    // The control: the very same OPEN from the gateway's login does create it, so the frame itself was a working one.
    const answer = await openProxySession(
      gatewayLogin,
      'db-01',
      createOpen('proxy-control', { Image: BUSYBOX_IMAGE, Cmd: ['sleep', '60'] }),
    );
    expect(answer).toMatchObject({ kind: PROXY_FRAME.HEAD, json: { status: 201 } });
    expect(await containerExists('db-01', 'proxy-control')).toBe(true);
    await fleet.docker('db-01').getContainer('proxy-control').remove({ force: true });
  });

  attack('a privileged create forged with the gateway NATS login (no grant, a self-signed grant) is refused by the agent', async () => {
    const body = { Image: BUSYBOX_IMAGE, Cmd: ['sleep', '60'], HostConfig: { Privileged: true, Binds: ['/:/host'] } };
    const noGrant = await openProxySession(gatewayLogin, 'web-01', createOpen('proxy-priv-1', body));
    expect(noGrant.kind).toBe(PROXY_FRAME.ABORT);
    expect(noGrant.json as ProxyAbort).toMatchObject({ status: 403, details: expect.stringContaining('no host-access grant') });

    const session = randomUUID().replace(/-/g, '');
    const open = createOpen('proxy-priv-2', body);
    const { privateKey } = generateKeyPairSync('ed25519');
    const claims = {
      job_id: session,
      operation: 'engine POST /containers/create',
      hosts: ['web-01'],
      params_sha256: paramsDigest({ path: open.path, body }),
      expires_at: Date.now() + 60_000,
    };
    const selfSigned = await openProxySession(gatewayLogin, 'web-01', { ...open, host_grant: signHostGrant(claims, privateKey) }, session);
    expect(selfSigned.json as ProxyAbort).toMatchObject({ status: 403, details: expect.stringContaining('does not verify') });
    for (const name of ['proxy-priv-1', 'proxy-priv-2']) expect(await containerExists('web-01', name)).toBe(false);
  });

  attack('an operator key creates a privileged container, or binds the engine socket, through the proxy', async () => {
    const operator = fleet.mintKey('operator', { subject: 'attacker' });
    const headers = { authorization: `Bearer ${operator}`, 'content-type': 'application/json' };
    const bodies = {
      'proxy-privileged': { Image: BUSYBOX_IMAGE, HostConfig: { Privileged: true } },
      'proxy-socket': { Image: BUSYBOX_IMAGE, HostConfig: { Binds: ['/var/run/docker.sock:/var/run/docker.sock'] } },
      'proxy-hostpid': { Image: BUSYBOX_IMAGE, HostConfig: { PidMode: 'host' } },
    };
    for (const [name, body] of Object.entries(bodies)) {
      const res = await rawRequest(
        fleet.url,
        'POST',
        `/node/web-01/docker/v1.41/containers/create?name=${name}`,
        headers,
        JSON.stringify(body),
      );
      expect(res.status).toBe(403);
      expect(JSON.parse(res.body)).toMatchObject({
        code: 403,
        reason: 'permission_denied',
        message: expect.stringContaining("'docker:host'"),
      });
      expect(await containerExists('web-01', name)).toBe(false);
    }
  });

  attack('a viewer key starts an exec through a hijacked stream', async () => {
    const target = await fleet.docker('web-02').createContainer({ Image: BUSYBOX_IMAGE, name: 'proxy-exec-target', Cmd: ['sleep', '600'] });
    await target.start();
    const exec = await target.exec({ Cmd: ['touch', '/tmp/viewer-exec'], AttachStdout: true });
    const viewer = fleet.mintKey('viewer', { subject: 'attacker' });
    const headers = { authorization: `Bearer ${viewer}`, 'content-type': 'application/json', connection: 'Upgrade', upgrade: 'tcp' };
    const res = await rawRequest(
      fleet.url,
      'POST',
      `/node/web-02/docker/v1.41/exec/${exec.id}/start`,
      headers,
      '{"Detach":false,"Tty":false}',
    );
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toMatchObject({
      code: 403,
      reason: 'permission_denied',
      message: expect.stringContaining("'docker:exec'"),
    });
    await sleep(500);
    const inspected = await exec.inspect();
    expect(inspected.Running).toBe(false);
    expect(inspected.Pid).toBe(0);
  });

  attack('paths built to reach an Engine endpoint the contract does not map (swarm init)', async () => {
    const headers = { authorization: `Bearer ${fleet.adminKey}`, 'content-type': 'application/json' };
    for (const path of [
      '/v1.41/swarm/init',
      '/v1.41/containers/x/..%2F..%2Fswarm/init',
      '/v1.41/containers/%2e%2e/%2e%2e/swarm/init',
      '/v1.41//swarm/init',
    ]) {
      const res = await rawRequest(fleet.url, 'POST', `/node/web-01/docker${path}`, headers, '{}');
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
    }
    expect((await fleet.docker('web-01').info()).Swarm.LocalNodeState).toBe('inactive');
  });

  attack('an upgrade request to a gateway route that is not an Engine hijack (smuggling a second protocol past the routes)', async () => {
    const headers = {
      authorization: `Bearer ${fleet.adminKey}`,
      'content-type': 'application/json',
      connection: 'Upgrade',
      upgrade: 'websocket',
    };
    const drain = await rawRequest(fleet.url, 'POST', '/agent/web-01/drain', headers);
    expect(drain.status).toBe(400);
    expect(JSON.parse(drain.body)).toMatchObject({ code: 400, details: expect.stringContaining('only for Engine API hijacks') });
    const list = await rawRequest(fleet.url, 'GET', '/node/web-01/docker/v1.41/containers/json', headers);
    expect(list.status).toBe(400);
    const agent = await rawRequest(fleet.url, 'GET', '/agent/web-01', { authorization: `Bearer ${fleet.adminKey}` });
    expect(JSON.parse(agent.body)).toMatchObject({ drained: false });
  });
});
