/**
 * Issue finding 7: `docker:write` must not be root on the host. Each attack is replayed on a real
 * fleet and checked on the engines (no container or volume was created) and on the host itself
 * (no file was written): host-path binds, the engine socket, the host network and a bind-type
 * volume need `docker:host`, and the agents refuse a host-reaching job that carries no grant the
 * gateway signed, also when it is published with the gateway's own NATS login.
 */
import { createPrivateKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { jobMessageDigest, paramsDigest, signHostGrant, signJobSeal, type HostGrant } from '@fleet/contracts/host-grant';
import { jobSubject, RESULTS_BUCKET, type JobMessage } from '@fleet/contracts/protocol';
import { BUSYBOX_IMAGE, hostGrantKeyFiles } from '@fleet/deploy';
import { attack } from '../support/attacks';
import { DispatchCapture } from '../support/dispatch-capture';
import { api } from '../support/http';
import { finalRow } from '../support/results';
import { connectToFleetNats } from '../support/nats';
import { useTestFleet } from '../support/suite';

/** The only host tree the agents of this fleet let a bind expose (FLEET_AGENT_HOST_PATHS). */
const allowed = mkdtempSync('/tmp/flt-allowed-');
// Starting three engines on a loaded 2-core machine can take longer than jest's default.
jest.setTimeout(300_000);
const fleet = useTestFleet({ agentEnv: { FLEET_AGENT_HOST_PATHS: allowed } });
let gatewayLogin: NatsConnection;

beforeAll(async () => {
  gatewayLogin = await connectToFleetNats(fleet.state);
});

afterAll(async () => {
  await gatewayLogin?.close();
  rmSync(allowed, { recursive: true, force: true });
});

const WEB_HOSTS = ['web-01', 'web-02'];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function containerNamesOn(hostname: string): Promise<string[]> {
  const containers = await fleet.docker(hostname).listContainers({ all: true });
  return containers.flatMap((container) => container.Names.map((name) => name.replace(/^\//, '')));
}

async function volumeNamesOn(hostname: string): Promise<string[]> {
  const { Volumes } = await fleet.docker(hostname).listVolumes();
  return (Volumes ?? []).map((volume) => volume.Name);
}

/** The operator key of the report: scoped to role:web, docker:write and docker:exec, no docker:host. */
function webOperator(): string {
  return fleet.mintKey('operator', { scope: 'role:web', subject: 'attacker' });
}

function expectForbiddenForHost(res: { status: number; body: { details?: string; code?: number } }): void {
  expect(res.status).toBe(403);
  expect(res.body.code).toBe(403);
  expect(res.body.details).toContain("'docker:host'");
}

async function expectNoContainer(name: string, hosts: string[] = WEB_HOSTS): Promise<void> {
  for (const host of hosts)
    expect({ host, names: await containerNamesOn(host) }).toEqual({ host, names: expect.not.arrayContaining([name]) });
}

describe('host-level access (docker:host)', () => {
  attack("an operator key scoped to role:web binds the host's / and writes there as uid 0", async () => {
    const marker = `/tmp/fleet-pwned-${randomUUID()}`;
    const body = {
      image: BUSYBOX_IMAGE,
      name: 'h-root',
      user: '0',
      binds: ['/:/host'],
      cmd: ['sh', '-c', `echo pwned > /host${marker}; sleep 300`],
      auto_start: true,
    };
    const res = await api(fleet, 'POST', '/node/role:web/container/docker', { key: webOperator(), body });
    expectForbiddenForHost(res);
    expect(res.body.details).toContain("host path '/'");
    await expectNoContainer('h-root');
    await sleep(500);
    expect(existsSync(marker)).toBe(false);
  });

  attack('an operator key binds the engine socket', async () => {
    const body = {
      image: BUSYBOX_IMAGE,
      name: 'h-socket',
      binds: ['/var/run/docker.sock:/var/run/docker.sock'],
      cmd: ['sleep', '300'],
      auto_start: true,
    };
    const res = await api(fleet, 'POST', '/node/web-01/container/docker', { key: webOperator(), body });
    expectForbiddenForHost(res);
    expect(res.body.details).toContain('engine socket');
    await expectNoContainer('h-socket');
  });

  attack('an operator key runs a container on the host network', async () => {
    const body = { image: BUSYBOX_IMAGE, name: 'h-hostnet', network: 'host', cmd: ['sleep', '300'], auto_start: true };
    const res = await api(fleet, 'POST', '/node/role:web/container/docker', { key: webOperator(), body });
    expectForbiddenForHost(res);
    await expectNoContainer('h-hostnet');
  });

  attack('an operator key creates a local volume binding /etc and reads /etc/shadow through it', async () => {
    const key = webOperator();
    const volume = await api(fleet, 'POST', '/node/role:web/container/docker/volume', {
      key,
      body: { name: 'h-etc', driver: 'local', driver_opts: { type: 'none', o: 'bind', device: '/etc' } },
    });
    expectForbiddenForHost(volume);
    for (const host of WEB_HOSTS) expect(await volumeNamesOn(host)).not.toContain('h-etc');
    // The follow-up of the report: mount the volume by name and read the shadow file. Without the
    // bind volume the name only gets an empty volume of the engine's own.
    const reader = await api(fleet, 'POST', '/node/web-01/container/docker', {
      key,
      body: { image: BUSYBOX_IMAGE, name: 'h-reader', binds: ['h-etc:/mnt'], cmd: ['sleep', '300'], auto_start: true },
    });
    expect(reader.status).toBe(202);
    const read = await api(fleet, 'POST', '/node/web-01/container/docker/h-reader/exec', { key, body: { cmd: ['cat', '/mnt/shadow'] } });
    expect(read.status).toBe(202);
    expect(read.body.results[0].stdout).not.toContain('root:');
    const inspected = await fleet.docker('web-01').getVolume('h-etc').inspect();
    expect(inspected.Options ?? {}).toEqual({});
  });

  attack(
    'a forged host-reaching job published with the gateway NATS login (no grant, a self-signed grant, a replayed grant) runs nowhere',
    async () => {
      // A genuine grant to replay: an admin's legitimate bind of the allowed tree on web-01.
      // Heard as dispatched: the job stream forgets a job once its host acks it (ARCHITECTURE.md "Dispatch at scale").
      const capture = await DispatchCapture.start(gatewayLogin, 'web-01');
      const legit = await api(fleet, 'POST', '/node/web-01/container/docker', {
        body: { image: BUSYBOX_IMAGE, name: 'h-legit-grant', binds: [`${allowed}:/data`], cmd: ['sleep', '300'] },
      });
      expect(legit.status).toBe(202);
      const dispatched = JSON.parse(Buffer.from(await capture.of(legit.body.job_id)).toString()) as JobMessage;
      capture.stop();
      expect(dispatched.job_id).toBe(legit.body.job_id);
      const genuine = dispatched.host_grant as HostGrant;
      expect(genuine.signature).toBeTruthy();

      const attacker = generateKeyPairSync('ed25519');
      const forgeries: Array<{ name: string; grant: (job: JobMessage) => HostGrant | undefined }> = [
        { name: 'h-forged-nogrant', grant: () => undefined },
        {
          name: 'h-forged-selfsigned',
          grant: (job) =>
            signHostGrant(
              {
                job_id: job.job_id,
                operation: job.operation,
                hosts: ['web-01'],
                params_sha256: paramsDigest(job.params),
                expires_at: job.deadline,
              },
              attacker.privateKey,
            ),
        },
        { name: 'h-forged-replayed', grant: () => genuine },
      ];
      const results = await new Kvm(gatewayLogin).open(RESULTS_BUCKET);
      for (const forgery of forgeries) {
        const job: JobMessage = {
          job_id: randomUUID(),
          operation: 'docker.container.create',
          target: 'web-01',
          params: {
            body: { image: BUSYBOX_IMAGE, name: forgery.name, user: '0', binds: ['/:/host'], cmd: ['sleep', '300'], auto_start: true },
          },
          deadline: Date.now() + 20_000,
        };
        const grant = forgery.grant(job);
        if (grant) job.host_grant = grant;
        // Unsealed, as a login without the gateway's key sends it; then sealed with that key, as if only the grant were wrong.
        const sealed = { ...job, job_id: randomUUID() };
        const sealKey = createPrivateKey(readFileSync(hostGrantKeyFiles(fleet.dir).privateKey, 'utf8'));
        for (const [message, refusal] of [
          [job, 'job refused: the job carries no seal from the gateway'],
          [
            { ...sealed, seal: signJobSeal('web-01', jobMessageDigest(sealed as unknown as Record<string, unknown>), sealKey) },
            'host access refused',
          ],
        ] as const) {
          await jetstream(gatewayLogin).publish(jobSubject('web-01'), JSON.stringify(message));
          const row = await finalRow(results, message.job_id, 'web-01', 200);
          expect(row).toMatchObject({ status: 'failed', error_code: 403 });
          expect(row.error).toContain(refusal);
        }
        await expectNoContainer(forgery.name, ['web-01']);
      }
    },
  );

  attack("an admin key binds a host path outside the agents' FLEET_AGENT_HOST_PATHS", async () => {
    const res = await api(fleet, 'POST', '/node/web-01/container/docker', {
      body: { image: BUSYBOX_IMAGE, name: 'h-admin-etc', binds: ['/etc:/host-etc'], cmd: ['sleep', '300'] },
    });
    expect(res.status).toBe(403);
    expect(res.body.details).toContain('FLEET_AGENT_HOST_PATHS');
    await expectNoContainer('h-admin-etc', ['web-01']);
  });

  test('an admin key (docker:host) binds an allowed host path and writes there', async () => {
    const marker = `written-${randomUUID()}`;
    const body = {
      image: BUSYBOX_IMAGE,
      name: 'h-admin-ok',
      binds: [`${allowed}:/data`],
      cmd: ['sh', '-c', `echo ok > /data/${marker}; sleep 300`],
      auto_start: true,
    };
    const res = await api(fleet, 'POST', '/node/web-01/container/docker', { body });
    expect(res.status).toBe(202);
    expect(res.body.results[0]).toMatchObject({ status: 'ok', changed: true });
    expect(await containerNamesOn('web-01')).toContain('h-admin-ok');
    for (let i = 0; i < 50 && !existsSync(join(allowed, marker)); i++) await sleep(100);
    expect(readFileSync(join(allowed, marker), 'utf8')).toBe('ok\n');
  });

  test('an operator key still creates containers and volumes that stay inside the engine', async () => {
    const key = webOperator();
    const res = await api(fleet, 'POST', '/node/web-02/container/docker', {
      key,
      body: { image: BUSYBOX_IMAGE, name: 'h-plain', binds: ['plain-data:/data'], network: 'none', cmd: ['sleep', '300'] },
    });
    expect(res.status).toBe(202);
    expect(await containerNamesOn('web-02')).toContain('h-plain');
    const volume = await api(fleet, 'POST', '/node/web-02/container/docker/volume', {
      key,
      body: { name: 'h-tmpfs', driver_opts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' } },
    });
    expect(volume.status).toBe(202);
    expect(await volumeNamesOn('web-02')).toContain('h-tmpfs');
  });
});
