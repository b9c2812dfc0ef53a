/**
 * The Engine API call recorder (test/support/engine-call-recorder.ts) the stack suite counts with: placed between an
 * agent and its real dockerd, it passes every call on unchanged and records its method and path, plain calls and
 * hijacked ones (an exec's start) alike. Checked against what the gateway's calls did on the engine.
 */
import { defaultAgents } from '@fleet/deploy';
import { type EngineCallRecorder, recordAgentEngineCalls } from '../support/engine-call-recorder';
import { api } from '../support/http';
import { useTestFleet } from '../support/suite';

const fleet = useTestFleet({ agents: defaultAgents(1) });
const IMAGE = 'local/busybox:latest';
let recorder: EngineCallRecorder;

beforeAll(async () => {
  recorder = await recordAgentEngineCalls(fleet, 'web-01');
});
afterAll(async () => {
  await fleet.removeContainers(['web-01'], ['recorded']);
  await fleet.stopAgent('web-01');
  await recorder.stop();
});

it('records a read as GET calls only, and nothing mutating', async () => {
  const mark = recorder.calls.length;
  const res = await api(fleet, 'GET', '/node/web-01/container/docker?all=true');

  expect(res.status).toBe(200);
  expect(res.body.results[0]).toMatchObject({ hostname: 'web-01', status: 'ok' });
  expect(recorder.since(mark)).toContainEqual({ method: 'GET', path: expect.stringMatching(/^(\/v[\d.]+)?\/containers\/json\?/) });
  expect(recorder.mutatingSince(mark)).toEqual([]);
});

it('records a create and an exec (a hijacked call) that really happened on the engine, passing their answers back', async () => {
  const mark = recorder.calls.length;
  const created = await api(fleet, 'POST', '/node/web-01/container/docker', {
    body: { image: IMAGE, name: 'recorded', cmd: ['sleep', '300'], auto_start: true },
  });
  expect(created.status).toBe(202);
  expect(created.body.results[0]).toMatchObject({ status: 'ok', changed: true });
  const onEngine = await fleet.docker('web-01').getContainer('recorded').inspect();
  expect(onEngine.State.Running).toBe(true);

  const exec = await api(fleet, 'POST', '/node/web-01/container/docker/recorded/exec', { body: { cmd: ['echo', 'through the recorder'] } });
  expect(exec.body.results[0]).toMatchObject({ status: 'ok', exit_code: 0, stdout: 'through the recorder\n' });

  const paths = recorder.mutatingSince(mark).map((call) => `${call.method} ${call.path.replace(/^\/v[\d.]+/, '').split('?')[0]}`);
  expect(paths).toEqual(
    expect.arrayContaining([
      'POST /containers/create',
      `POST /containers/${onEngine.Id}/start`,
      'POST /containers/recorded/exec',
      expect.stringMatching(/^POST \/exec\/[0-9a-f]{64}\/start$/),
    ]),
  );
});
