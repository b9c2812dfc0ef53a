/**
 * The gateway process is SIGKILLed with jobs in flight and started again: records of finished jobs
 * read back identical, and jobs that were running when it died finish on the agents and are
 * readable afterwards — counted on the engines, each exactly once.
 */
import { eventually, executionsOf, jobWhenDone, killSignalsSeen, markedContainer, newMark, useFaultFleet } from '../support/faults';
import { api } from '../support/http';
import { report } from '../support/report';

const { fleet, tally } = useFaultFleet('faults/gateway');
const HOSTS = ['db-01', 'web-01', 'web-02'];

it('keeps finished jobs intact and completes in-flight ones across a gateway SIGKILL and restart', async () => {
  // Containers on every host whose PID 1 ignores SIGTERM: `stop?t=5` keeps each agent busy 5 s.
  for (const name of ['stubborn', 'stubborn2']) {
    const created = await api(fleet, 'POST', '/node/_all/container/docker', { body: markedContainer(name, { name, start: true }) });
    expect(created.status).toBe(202);
  }
  const since = Math.floor(Date.now() / 1000) - 1;

  // Finished before the crash.
  const finished = [];
  for (let i = 0; i < 3; i++) {
    const res = await api(fleet, 'POST', '/node/_all/container/docker', { body: markedContainer(newMark('done')) });
    expect(res.status).toBe(202);
    finished.push((await api(fleet, 'GET', `/job/${res.body.job_id}`)).body);
  }

  // In flight when it dies: a slow stop on every host, one async and one sync (its caller's connection dies
  // with the gateway), and a batch of async creates.
  const slowStop = await api(fleet, 'POST', '/node/_all/container/docker/stubborn/stop?t=5&timeout=60&async=true');
  expect(slowStop.status).toBe(202);
  const cut = api(fleet, 'POST', '/node/_all/container/docker/stubborn2/stop?t=5&timeout=60', { timeoutMs: 30_000 }).then(
    (res) => res.status,
    () => 0,
  );
  await eventually(
    'the slow stops to be under way on every engine',
    async () => {
      const seen = await Promise.all(
        HOSTS.flatMap((hostname) => ['stubborn', 'stubborn2'].map((name) => killSignalsSeen(fleet, hostname, name, since))),
      );
      return seen.every((count) => count >= 1);
    },
    10_000,
    100,
  );
  // Accepted at once, still running on the engines when the gateway dies right after.
  const creates: Array<{ mark: string; jobId: string }> = [];
  for (let i = 0; i < 10; i++) {
    const mark = newMark('inflight');
    const res = await api(fleet, 'POST', '/node/_all/container/docker?async=true&timeout=60', { body: markedContainer(mark) });
    expect(res.status).toBe(202);
    creates.push({ mark, jobId: res.body.job_id });
  }

  const pid = fleet.gatewayPid;
  await fleet.killGateway('SIGKILL');
  const cutStatus = await cut;
  expect(cutStatus).toBe(0);
  await fleet.startGateway();
  expect(fleet.gatewayPid).not.toBe(pid);

  // Finished jobs: identical after the restart.
  for (const job of finished) expect((await api(fleet, 'GET', `/job/${job.job_id}`)).body).toEqual(job);

  // In-flight jobs finished without the gateway and are readable through the new process.
  const stop = await jobWhenDone(fleet, slowStop.body.job_id, 60);
  expect(stop.status).toBe('ok');
  expect(stop.results.map((row) => row.message)).toEqual(['container stopped', 'container stopped', 'container stopped']);
  for (const { jobId } of creates) {
    const job = await jobWhenDone(fleet, jobId, 60);
    expect(job.status).toBe('ok');
    expect(job.results.map((row) => row.hostname)).toEqual(HOSTS);
  }
  // Also listed: GET /job finds them newest first, and the sync stop whose caller was cut off finished too.
  const listed = await api(fleet, 'GET', '/job?operation=docker.container.create&limit=50');
  expect(listed.status).toBe(200);
  const listedIds = listed.body.jobs.map((job: { job_id: string }) => job.job_id);
  for (const { jobId } of creates) expect(listedIds).toContain(jobId);
  const stops = await api(fleet, 'GET', '/job?operation=docker.container.stop&limit=10');
  const cutJob = stops.body.jobs.find((job: { job_id: string }) => job.job_id !== slowStop.body.job_id);
  expect(cutJob).toBeDefined();
  expect((await jobWhenDone(fleet, cutJob.job_id, 60)).status).toBe('ok');

  // Counted on the engines: every in-flight create ran exactly once per host, the stop reached each engine once.
  const counts = [];
  for (const { mark } of creates) {
    const perHost = await executionsOf(fleet, mark);
    for (const hostname of HOSTS) counts.push({ mark, hostname, count: perHost[hostname] });
  }
  expect(tally.exactlyOnce(counts)).toEqual([]);
  const stopCounts = await Promise.all(
    HOSTS.flatMap((hostname) =>
      ['stubborn', 'stubborn2'].map(async (name) => ({
        mark: `${name}-stop`,
        hostname,
        count: await killSignalsSeen(fleet, hostname, name, since),
      })),
    ),
  );
  expect(tally.exactlyOnce(stopCounts)).toEqual([]);

  report('faults/gateway', 'gateway SIGKILL', {
    finished_jobs_intact: finished.length,
    inflight_jobs_completed: creates.length + 2,
    cut_sync_call_status: cutStatus,
  });
  tally.fault(true);
});
