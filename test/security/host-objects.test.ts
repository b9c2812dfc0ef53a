/**
 * Issue 17, item 1 (its open part): an operator key (docker:write, docker:exec, no docker:host)
 * must not use the host-level objects an admin made: exec, attach or `docker cp` into a privileged
 * or host-PID container (or one mounting a bind volume), a container mounting an admin's bind
 * volume, a container joining an admin's macvlan network. The gateway cannot see these from the
 * request; the agent inspects them on its engine. Each attack goes through the real docker CLI and
 * the node API and is checked on the engine (execs, containers, network members) and on the host
 * (no file written in the bind volume's directory). The admin can still do each, and an operator's
 * ordinary exec, cp, run and connect still work.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { jobSubject, type JobMessage } from '@fleet/contracts/protocol';
import { BUSYBOX_IMAGE } from '@fleet/deploy';
import { attack } from '../support/attacks';
import { DispatchCapture } from '../support/dispatch-capture';
import { DockerCli } from '../support/docker-cli';
import { api } from '../support/http';
import { connectToFleetNats } from '../support/nats';
import { useTestFleet } from '../support/suite';

jest.setTimeout(300_000);
const HOST = 'web-01';
const fleet = useTestFleet({ agents: [{ hostname: HOST, labels: { role: 'web', zone: 'eu.west' } }] });
const suffix = randomUUID().slice(0, 6);
/** The macvlan network's parent: a bridge link of this test's own (never a host interface), deleted after. */
const PARENT_LINK = `flt-obj${suffix}`;
let scratch: string;
/** The directory the admin's bind volume exposes: the host path an operator must not write. */
let bindDir: string;
let cli: DockerCli;
let gatewayLogin: NatsConnection;

const operator = () => fleet.mintKey('operator', { subject: 'attacker' });
const engine = () => fleet.docker(HOST);

beforeAll(async () => {
  scratch = mkdtempSync('/tmp/flt-objects-');
  bindDir = mkdtempSync('/tmp/flt-objects-bind-');
  cli = new DockerCli(fleet.url, scratch);
  gatewayLogin = await connectToFleetNats(fleet.state);
  writeFileSync(join(scratch, 'payload.txt'), 'pwned\n');
  execFileSync('ip', ['link', 'add', PARENT_LINK, 'type', 'bridge']);
  // What the admin made, straight on the engine: nothing of it is the operator's.
  const docker = engine();
  await docker.createVolume({ Name: 'obj-bindvol', Driver: 'local', DriverOpts: { type: 'none', o: 'bind', device: bindDir } });
  await docker.createVolume({ Name: 'obj-plainvol' });
  await docker.createNetwork({ Name: 'obj-macvlan', Driver: 'macvlan', Options: { parent: PARENT_LINK } });
  await docker.createNetwork({ Name: 'obj-plainnet' });
  const containers: Array<[string, Record<string, unknown>]> = [
    ['obj-priv', { Privileged: true }],
    ['obj-hostpid', { PidMode: 'host' }],
    ['obj-onbindvol', { Binds: ['obj-bindvol:/x'] }],
    ['obj-plain', {}],
  ];
  for (const [name, hostConfig] of containers) {
    const container = await docker.createContainer({ name, Image: BUSYBOX_IMAGE, Cmd: ['sleep', '600'], HostConfig: hostConfig });
    // This test machine's runtime cannot start a privileged container; its files are reachable all the same.
    if (name !== 'obj-priv') await container.start();
  }
});

// The fleet's engine, with every object made here, goes with the fleet; the parent link is the host's.
afterAll(async () => {
  await gatewayLogin?.close();
  execFileSync('ip', ['link', 'del', PARENT_LINK]);
  for (const dir of [scratch, bindDir]) if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A command that leaves a mark in the container: the engine forgets an exec once it ended, the file stays. */
const mark = (name: string) => ['sh', '-c', `echo ran > /tmp/${name}`];

async function containerExists(name: string): Promise<boolean> {
  return (await engine().listContainers({ all: true })).some((container) => container.Names.includes(`/${name}`));
}

async function macvlanMembers(): Promise<string[]> {
  const network = (await engine().getNetwork('obj-macvlan').inspect()) as { Containers?: Record<string, { Name: string }> };
  return Object.values(network.Containers ?? {}).map((member) => member.Name);
}

async function fileInContainer(container: string, path: string): Promise<boolean> {
  return engine()
    .getContainer(container)
    .infoArchive({ path })
    .then(
      () => true,
      () => false,
    );
}

function expectCliRefused(result: { code: number | null; stderr: string }, what: string): void {
  expect(result.code).not.toBe(0);
  expect(result.stderr).toContain("using it needs 'docker:host'");
  expect(result.stderr).toContain(what);
}

/** The docker CLI prints only the status of a refused upgrade (attach), not its body. */
function expectCliUpgradeRefused(result: { code: number | null; stderr: string }): void {
  expect(result.code).not.toBe(0);
  expect(result.stderr).toContain('received 403');
}

function expectApiRefused(res: { status: number; body: { code?: number; details?: string } }, what: string): void {
  expect(res.status).toBe(403);
  expect(res.body.code).toBe(403);
  expect(res.body.details).toContain("using it needs 'docker:host'");
  expect(res.body.details).toContain(what);
}

/** A tar of the scratch payload, as `docker cp` and the node API's archive PUT take it. */
function payloadTar(): Buffer {
  return execFileSync('tar', ['-cf', '-', '-C', scratch, 'payload.txt']);
}

function archivePut(key: string, container: string): Promise<Response> {
  return fetch(`${fleet.url}/node/${HOST}/container/docker/${container}/archive?path=/tmp`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-tar' },
    body: new Uint8Array(payloadTar()),
  });
}

describe('host-level objects an admin made need docker:host to use', () => {
  for (const [container, what] of [
    ['obj-priv', 'HostConfig.Privileged'],
    ['obj-hostpid', "HostConfig.PidMode 'host'"],
    ['obj-onbindvol', "volume 'obj-bindvol'"],
  ] as const) {
    attack(`an operator execs, attaches and copies into ${container} (docker CLI, node API): refused, no exec, no file`, async () => {
      const key = operator();
      expectCliRefused(await cli.run(HOST, key, ['exec', container, ...mark('cli-exec')]), what);
      expectApiRefused(
        await api(fleet, 'POST', `/node/${HOST}/container/docker/${container}/exec`, { key, body: { cmd: mark('node-exec') } }),
        what,
      );
      expect(((await engine().getContainer(container).inspect()).ExecIDs ?? []).length).toBe(0);
      // An attach that got through would wait for the container's output until the CLI's timeout (the CLI refuses a stopped one itself).
      if (container !== 'obj-priv') expectCliUpgradeRefused(await cli.run(HOST, key, ['attach', '--no-stdin', container], 30_000));
      expectCliRefused(await cli.run(HOST, key, ['cp', join(scratch, 'payload.txt'), `${container}:/tmp/payload.txt`]), what);
      const put = await archivePut(key, container);
      expectApiRefused({ status: put.status, body: (await put.json()) as { code?: number; details?: string } }, what);
      expect(await fileInContainer(container, '/tmp/payload.txt')).toBe(false);
      expectCliRefused(await cli.run(HOST, key, ['cp', `${container}:/etc/hostname`, join(scratch, `out-${container}`)]), what);
      expect(existsSync(join(scratch, `out-${container}`))).toBe(false);
      expectApiRefused(await api(fleet, 'GET', `/node/${HOST}/container/docker/${container}/archive?path=/etc/hostname`, { key }), what);
      // Judged on the engine: the marks the refused execs would have left are not there.
      for (const name of ['cli-exec', 'node-exec']) expect(await fileInContainer(container, `/tmp/${name}`)).toBe(false);
    });
  }

  attack(
    "an operator runs a container on the admin's bind volume (docker run -v, --mount, node API): refused, nothing created, nothing written",
    async () => {
      const key = operator();
      const write = ['sh', '-c', 'echo pwned > /x/pwned'];
      expectCliRefused(
        await cli.run(HOST, key, ['run', '-d', '--name', 'obj-run-v', '-v', 'obj-bindvol:/x', BUSYBOX_IMAGE, ...write]),
        "volume 'obj-bindvol'",
      );
      expectCliRefused(
        await cli.run(HOST, key, [
          'run',
          '-d',
          '--name',
          'obj-run-mount',
          '--mount',
          'type=volume,src=obj-bindvol,dst=/x',
          BUSYBOX_IMAGE,
          ...write,
        ]),
        "volume 'obj-bindvol'",
      );
      const node = await api(fleet, 'POST', `/node/${HOST}/container/docker`, {
        key,
        body: { image: BUSYBOX_IMAGE, name: 'obj-run-node', binds: ['obj-bindvol:/x'], cmd: write, auto_start: true },
      });
      expectApiRefused(node, "volume 'obj-bindvol'");
      for (const name of ['obj-run-v', 'obj-run-mount', 'obj-run-node']) expect(await containerExists(name)).toBe(false);
      expect(readdirSync(bindDir)).toEqual([]);
    },
  );

  attack(
    "an operator joins the admin's macvlan network (docker run --network, network connect, node API): refused, no member",
    async () => {
      const key = operator();
      expectCliRefused(
        await cli.run(HOST, key, ['run', '-d', '--name', 'obj-run-net', '--network', 'obj-macvlan', BUSYBOX_IMAGE, 'sleep', '600']),
        "network 'obj-macvlan'",
      );
      expect(await containerExists('obj-run-net')).toBe(false);
      expectCliRefused(await cli.run(HOST, key, ['network', 'connect', 'obj-macvlan', 'obj-plain']), "network 'obj-macvlan'");
      expectApiRefused(
        await api(fleet, 'POST', `/node/${HOST}/container/docker/network/obj-macvlan/connect`, { key, body: { container: 'obj-plain' } }),
        "network 'obj-macvlan'",
      );
      const node = await api(fleet, 'POST', `/node/${HOST}/container/docker`, {
        key,
        body: { image: BUSYBOX_IMAGE, name: 'obj-net-node', network: 'obj-macvlan', cmd: ['sleep', '600'] },
      });
      expectApiRefused(node, "network 'obj-macvlan'");
      expect(await containerExists('obj-net-node')).toBe(false);
      expect(await macvlanMembers()).toEqual([]);
    },
  );

  attack('a sealed operator job given caller_host afterwards (gateway NATS login) does not run: the seal covers it', async () => {
    // Heard as dispatched: the job stream forgets a job once its host acks it (ARCHITECTURE.md "Dispatch at scale").
    const capture = await DispatchCapture.start(gatewayLogin, HOST);
    const refused = await api(fleet, 'POST', `/node/${HOST}/container/docker/obj-hostpid/exec`, {
      key: operator(),
      body: { cmd: mark('forged') },
    });
    expect(refused.status).toBe(403);
    const sent = JSON.parse(Buffer.from(await capture.of(refused.body.job_id)).toString()) as JobMessage;
    capture.stop();
    expect(sent.job_id).toBe(refused.body.job_id);
    expect(sent.caller_host).toBeUndefined();
    const forged = { ...sent, job_id: randomUUID(), caller_host: true, deadline: Date.now() + 20_000 };
    await jetstream(gatewayLogin).publish(jobSubject(HOST), JSON.stringify(forged));
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await fileInContainer('obj-hostpid', '/tmp/forged')).toBe(false);
  });

  it('the admin can still exec and cp into those containers, run on the bind volume and join the macvlan network', async () => {
    const key = fleet.adminKey;
    expect(await cli.run(HOST, key, ['exec', 'obj-hostpid', ...mark('admin-cli')])).toMatchObject({ code: 0 });
    const node = await api(fleet, 'POST', `/node/${HOST}/container/docker/obj-hostpid/exec`, { key, body: { cmd: mark('admin-node') } });
    expect(node.status).toBe(202);
    for (const name of ['admin-cli', 'admin-node']) expect(await fileInContainer('obj-hostpid', `/tmp/${name}`)).toBe(true);
    expect(await cli.run(HOST, key, ['cp', join(scratch, 'payload.txt'), 'obj-priv:/tmp/payload.txt'])).toMatchObject({ code: 0 });
    expect(await fileInContainer('obj-priv', '/tmp/payload.txt')).toBe(true);
    expect(await cli.run(HOST, key, ['cp', join(scratch, 'payload.txt'), 'obj-onbindvol:/x/admin.txt'])).toMatchObject({ code: 0 });
    expect(readdirSync(bindDir)).toEqual(['admin.txt']);
    rmSync(join(bindDir, 'admin.txt'));
    expect(
      await cli.run(HOST, key, ['run', '--rm', '-v', 'obj-bindvol:/x', BUSYBOX_IMAGE, 'sh', '-c', 'echo admin > /x/run.txt']),
    ).toMatchObject({ code: 0 });
    expect(readdirSync(bindDir)).toEqual(['run.txt']);
    rmSync(join(bindDir, 'run.txt'));
    expect(await cli.run(HOST, key, ['network', 'connect', 'obj-macvlan', 'obj-plain'])).toMatchObject({ code: 0 });
    expect(await macvlanMembers()).toEqual(['obj-plain']);
    await engine().getNetwork('obj-macvlan').disconnect({ Container: 'obj-plain', Force: true });
  });

  it("an operator's ordinary exec, cp, run on a plain volume and connect to a plain network still work", async () => {
    const key = operator();
    expect(await cli.run(HOST, key, ['exec', 'obj-plain', ...mark('op-cli')])).toMatchObject({ code: 0 });
    expect(await cli.run(HOST, key, ['cp', join(scratch, 'payload.txt'), 'obj-plain:/tmp/payload.txt'])).toMatchObject({ code: 0 });
    expect(await fileInContainer('obj-plain', '/tmp/payload.txt')).toBe(true);
    expect(
      (await api(fleet, 'POST', `/node/${HOST}/container/docker/obj-plain/exec`, { key, body: { cmd: mark('op-node') } })).status,
    ).toBe(202);
    for (const name of ['op-cli', 'op-node']) expect(await fileInContainer('obj-plain', `/tmp/${name}`)).toBe(true);
    expect(
      await cli.run(HOST, key, [
        'run',
        '-d',
        '--name',
        'obj-op-run',
        '-v',
        'obj-plainvol:/x',
        '--network',
        'obj-plainnet',
        BUSYBOX_IMAGE,
        'sleep',
        '600',
      ]),
    ).toMatchObject({ code: 0 });
    expect(
      (await api(fleet, 'POST', `/node/${HOST}/container/docker/network/obj-plainnet/connect`, { key, body: { container: 'obj-plain' } }))
        .status,
    ).toBe(202);
    const networks = (await engine().getContainer('obj-plain').inspect()).NetworkSettings.Networks;
    expect(Object.keys(networks)).toContain('obj-plainnet');
  });
});
