/**
 * Stacks on the agents (README "Stacks on the agents"): what a key with `stack:write` but not `docker:host`, a viewer,
 * a scoped key, or a sealed job carrying a spec that never went through the compose parser can make an agent do.
 * Each attack is checked on the engines: no container, network or volume of the stack is there afterwards, and a
 * network an admin made is never taken over.
 */
import { randomUUID, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { parseCompose, type StackSpec } from '@fleet/contracts/compose';
import { jobMessageDigest, signJobSeal } from '@fleet/contracts/host-grant';
import { jobSubject, RESULTS_BUCKET, type JobMessage } from '@fleet/contracts/protocol';
import { BUSYBOX_IMAGE, hostGrantKeyFiles } from '@fleet/deploy';
import { attack } from '../support/attacks';
import { api, forbiddenBody } from '../support/http';
import { connectToFleetNats } from '../support/nats';
import { finalRow } from '../support/results';
import { useTestFleet } from '../support/suite';

jest.setTimeout(300_000);
const fleet = useTestFleet();
let gatewayLogin: NatsConnection;

beforeAll(async () => {
  gatewayLogin = await connectToFleetNats(fleet.state);
});
afterAll(() => gatewayLogin?.close());

const specOf = (text: string): StackSpec => {
  const result = parseCompose(text);
  if (!result.ok) throw new Error(result.message);
  return result.spec;
};

/** Every container, network and volume of the stack on the host, by the compose project label and by name. */
async function stackObjectsOn(host: string, stack: string): Promise<string[]> {
  const docker = fleet.docker(host);
  const label = JSON.stringify({ label: [`com.docker.compose.project=${stack}`] });
  const containers = await docker.listContainers({ all: true, filters: label });
  const networks = await docker.listNetworks({ filters: JSON.stringify({ name: [`${stack}_`] }) });
  const { Volumes } = await docker.listVolumes({ filters: JSON.stringify({ name: [`${stack}_`] }) });
  return [...containers.map((each) => each.Names[0]), ...networks.map((each) => each.Name), ...(Volumes ?? []).map((each) => each.Name)];
}

const applyAs = (key: string, target: string, stack: string, spec: StackSpec) =>
  api(fleet, 'POST', `/node/${target}/stack/${stack}/apply?timeout=30`, { key, body: { revision: 1, spec } });

describe('stack.host.apply refusals', () => {
  attack("an operator (stack:write, no docker:host) deploys a stack that binds the host's /", async () => {
    const spec = specOf(`services:\n  x: { image: ${BUSYBOX_IMAGE}, command: sleep 300, volumes: ["/:/host"] }\n`);
    const res = await applyAs(fleet.mintKey('operator'), 'role:web', 'sa-bind', spec);
    expect(res.status).toBe(403);
    expect(res.body).toEqual(forbiddenBody('docker:host'));
    for (const host of ['web-01', 'web-02']) expect(await stackObjectsOn(host, 'sa-bind')).toEqual([]);
  });

  attack('an operator deploys a stack whose image comes from a registry outside FLEET_REGISTRY_ALLOWLIST', async () => {
    const spec = specOf('services:\n  x: { image: "registry.attacker.example:5000/implant:1" }\n');
    const res = await applyAs(fleet.mintKey('operator'), 'web-01', 'sa-registry', spec);
    expect(res.status).toBe(403);
    expect(res.body.details).toContain('registry.attacker.example:5000');
    expect(await stackObjectsOn('web-01', 'sa-registry')).toEqual([]);
  });

  attack('a viewer deploys or removes a stack', async () => {
    const spec = specOf(`services:\n  x: { image: ${BUSYBOX_IMAGE}, command: sleep 300 }\n`);
    const viewer = fleet.mintKey('viewer');
    expect((await applyAs(viewer, 'web-01', 'sa-viewer', spec)).body).toEqual(forbiddenBody('stack:write'));
    expect((await api(fleet, 'DELETE', '/node/web-01/stack/sa-viewer', { key: viewer })).body).toEqual(forbiddenBody('stack:write'));
    expect(await stackObjectsOn('web-01', 'sa-viewer')).toEqual([]);
  });

  attack('an operator scoped to role:db deploys a stack to a web host', async () => {
    const spec = specOf(`services:\n  x: { image: ${BUSYBOX_IMAGE}, command: sleep 300 }\n`);
    const res = await applyAs(fleet.mintKey('operator', { scope: 'role:db' }), 'web-01', 'sa-scope', spec);
    expect(res.status).toBe(404);
    expect(await stackObjectsOn('web-01', 'sa-scope')).toEqual([]);
  });

  attack('a spec with a key outside the normalized StackSpec (privileged) sent straight to the node operation', async () => {
    const spec = specOf(`services:\n  x: { image: ${BUSYBOX_IMAGE}, command: sleep 300 }\n`);
    const forged = { ...spec, services: { x: { ...spec.services.x, privileged: true } } };
    const res = await api(fleet, 'POST', '/node/web-01/stack/sa-privileged/apply', { body: { revision: 1, spec: forged } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 400, reason: 'validation_failed' });
    expect(await stackObjectsOn('web-01', 'sa-privileged')).toEqual([]);
  });

  attack("a stack that would take over a network an admin made under the stack's name", async () => {
    const docker = fleet.docker('web-01');
    const adminNetwork = await docker.createNetwork({ Name: 'sa-takeover_default', Driver: 'bridge' });
    try {
      const spec = specOf(`services:\n  x: { image: ${BUSYBOX_IMAGE}, command: sleep 300 }\n`);
      const res = await api(fleet, 'POST', '/node/web-01/stack/sa-takeover/apply', { body: { revision: 1, spec } });
      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({ code: 409, reason: 'conflict' });
      expect(res.body.error).toContain('sa-takeover_default exists and does not belong to stack sa-takeover');
      expect((await adminNetwork.inspect()).Containers).toEqual({});
      expect(
        await docker.listContainers({ all: true, filters: JSON.stringify({ label: ['com.docker.compose.project=sa-takeover'] }) }),
      ).toEqual([]);
    } finally {
      await adminNetwork.remove();
    }
  });

  attack('a sealed job whose spec mounts a host path as a "volume" (never through the compose parser) runs nothing', async () => {
    // The gateway's own key seals it, as if a bug let it through: the agent still refuses before any Engine call.
    const spec = specOf(`services:\n  x: { image: ${BUSYBOX_IMAGE}, command: sleep 300 }\n`);
    const forged = {
      ...spec,
      services: { x: { ...spec.services.x, volumes: [{ type: 'volume', source: '/etc', target: '/e', read_only: false }] } },
    };
    const job: JobMessage = {
      job_id: randomUUID(),
      operation: 'stack.host.apply',
      target: 'web-01',
      params: { name: 'sa-sealed', body: { revision: 1, spec: forged } },
      deadline: Date.now() + 20_000,
    };
    const sealKey = createPrivateKey(readFileSync(hostGrantKeyFiles(fleet.dir).privateKey, 'utf8'));
    const sealed = { ...job, seal: signJobSeal('web-01', jobMessageDigest(job as unknown as Record<string, unknown>), sealKey) };
    await jetstream(gatewayLogin).publish(jobSubject('web-01'), JSON.stringify(sealed));
    const row = await finalRow(await new Kvm(gatewayLogin).open(RESULTS_BUCKET), job.job_id, 'web-01', 200);
    expect(row).toMatchObject({ status: 'failed', error_code: 403 });
    expect(row.error).toContain("HostConfig.Mounts[0].Source 'sa-sealed_/etc' (not a volume name)");
    expect(await stackObjectsOn('web-01', 'sa-sealed')).toEqual([]);
  });
});
