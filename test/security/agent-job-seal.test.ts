/**
 * Every job message carries the gateway's seal for the one host it is sent to (README "What an
 * agent's NATS login can and cannot do"): whoever can publish into the job streams without the
 * gateway's private key (a leaked gateway NATS login, a broker operator), or replays a message the
 * gateway sent to another host, runs nothing. Each attack publishes with the gateway's own NATS
 * login, the strongest position short of its key, and checks web-02's engine and its row.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { jobMessageDigest, signJobSeal } from '@fleet/contracts/host-grant';
import { jobSubject, RESULTS_BUCKET, type JobMessage } from '@fleet/contracts/protocol';
import { BUSYBOX_IMAGE } from '@fleet/deploy';
import { attack } from '../support/attacks';
import { DispatchCapture } from '../support/dispatch-capture';
import { api } from '../support/http';
import { finalRow } from '../support/results';
import { connectToFleetNats } from '../support/nats';
import { useTestFleet } from '../support/suite';

const fleet = useTestFleet();
let gatewayLogin: NatsConnection;
let results: KV;

beforeAll(async () => {
  gatewayLogin = await connectToFleetNats(fleet.state);
  results = await new Kvm(gatewayLogin).open(RESULTS_BUCKET);
});

afterAll(async () => {
  await gatewayLogin?.close();
});

function createJob(name: string): JobMessage {
  return {
    job_id: randomUUID(),
    operation: 'docker.container.create',
    target: 'web-02',
    params: { body: { image: BUSYBOX_IMAGE, name, cmd: ['sleep', '300'] } },
    deadline: Date.now() + 20_000,
  };
}

async function publish(hostname: string, message: object): Promise<void> {
  await jetstream(gatewayLogin).publish(jobSubject(hostname), JSON.stringify(message));
}

async function expectRefusedAndNotRun(jobId: string, name: string): Promise<void> {
  const row = await finalRow(results, jobId, 'web-02', 100);
  expect(row).toMatchObject({ status: 'failed', error_code: 403, error: expect.stringMatching(/^job refused: /) });
  const containers = await fleet.docker('web-02').listContainers({ all: true, filters: JSON.stringify({ name: [name] }) });
  expect(containers).toEqual([]);
}

attack("a job published into web-02's subject without a seal, or sealed with another key, runs nowhere", async () => {
  const unsealed = createJob(`seal-none-${randomUUID().slice(0, 8)}`);
  await publish('web-02', unsealed);
  await expectRefusedAndNotRun(unsealed.job_id, (unsealed.params.body as { name: string }).name);

  const attacker = generateKeyPairSync('ed25519');
  const selfSealed = createJob(`seal-other-${randomUUID().slice(0, 8)}`);
  await publish('web-02', {
    ...selfSealed,
    seal: signJobSeal('web-02', jobMessageDigest(selfSealed as unknown as Record<string, unknown>), attacker.privateKey),
  });
  await expectRefusedAndNotRun(selfSealed.job_id, (selfSealed.params.body as { name: string }).name);
});

attack("the gateway's own sealed message for web-01, copied into web-02's subject or changed, runs nowhere", async () => {
  const name = `seal-copy-${randomUUID().slice(0, 8)}`;
  // Heard as dispatched: the job stream forgets a job once its host acks it (ARCHITECTURE.md "Dispatch at scale").
  const capture = await DispatchCapture.start(gatewayLogin, 'web-01');
  const genuine = await api(fleet, 'POST', '/node/web-01/container/docker', {
    body: { image: BUSYBOX_IMAGE, name, cmd: ['sleep', '300'] },
  });
  expect(genuine.status).toBe(202);
  const sent = JSON.parse(Buffer.from(await capture.of(genuine.body.job_id)).toString()) as JobMessage;
  capture.stop();
  expect(sent).toMatchObject({ job_id: genuine.body.job_id, seal: expect.any(String) });
  // The genuine job ran where it was sent, so the sealed message is the real thing.
  expect(await fleet.docker('web-01').listContainers({ all: true, filters: JSON.stringify({ name: [name] }) })).toHaveLength(1);

  await publish('web-02', sent);
  await expectRefusedAndNotRun(sent.job_id, name);

  const renamed = `seal-changed-${randomUUID().slice(0, 8)}`;
  const changed = { ...sent, job_id: randomUUID(), params: { body: { image: BUSYBOX_IMAGE, name: renamed, cmd: ['sleep', '300'] } } };
  await publish('web-01', changed);
  const row = await finalRow(results, changed.job_id, 'web-01', 100);
  expect(row).toMatchObject({ status: 'failed', error_code: 403, error: expect.stringMatching(/^job refused: /) });
  expect(await fleet.docker('web-01').listContainers({ all: true, filters: JSON.stringify({ name: [renamed] }) })).toEqual([]);
});
