/**
 * Finding 5: forged stream events. An agent may publish chunks only on its own hostname's subject
 * (`fleet.stream.<job>.<hostname>`), but the gateway relayed chunks from any host, wrote event
 * names into the SSE framing unescaped (a newline forged an `end`), and let the chunk's data name
 * the host. Now: chunks only from the job's own hosts, only known event names, the gateway's hostname.
 */
import { streamSubject } from '@fleet/contracts/protocol';
import { NatsLogin } from '../support/agent-login';
import { attack } from '../support/attacks';
import { EventStreamClient, type SseEvent } from '../support/sse';
import { useTestFleet } from '../support/suite';

const fleet = useTestFleet();
let web01: NatsLogin;

beforeAll(async () => {
  web01 = await NatsLogin.asAgent(fleet, 'web-01');
});

afterAll(async () => {
  await web01?.close();
});

/** Opens an engine-events stream on `target` that ends by itself after `timeout` seconds; resolves with its job id. */
async function openStream(target: string, timeout: number): Promise<{ stream: EventStreamClient; jobId: string }> {
  const stream = new EventStreamClient(`${fleet.url}/node/${target}/container/docker/system/events?timeout=${timeout}`, {
    authorization: `Bearer ${fleet.adminKey}`,
  });
  const job = await stream.waitFor((event) => event.event === 'job');
  return { stream, jobId: job.data.job_id as string };
}

function forged(events: SseEvent[]): SseEvent[] {
  return events.filter((event) => JSON.stringify(event).includes('forged'));
}

attack("web-01 publishes chunks into a stream of db-01's job: none reaches the client", async () => {
  const { stream, jobId } = await openStream('db-01', 4);
  // On its own subject (allowed by the broker, but web-01 is not a host of this job) ...
  web01.nc.publish(streamSubject(jobId, 'web-01'), JSON.stringify({ event: 'docker', data: { Action: 'forged-by-web-01' } }));
  // ... and on db-01's (refused by the broker).
  web01.nc.publish(streamSubject(jobId, 'db-01'), JSON.stringify({ event: 'docker', data: { Action: 'forged-as-db-01' } }));
  await web01.violationFor(streamSubject(jobId, 'db-01'));
  await stream.finished();
  expect(forged(stream.events)).toEqual([]);
  expect(stream.events.filter((event) => event.event === 'end')).toHaveLength(1);
  expect(stream.events.every((event) => event.event !== 'docker' || event.data.hostname === 'db-01')).toBe(true);
});

attack(
  "web-01 forges events into its own job's stream (a newline in the event name, the gateway's `end` and `job`, another host's name): the client sees none of it",
  async () => {
    const { stream, jobId } = await openStream('web-01', 4);
    const subject = streamSubject(jobId, 'web-01');
    const chunks = [
      { event: 'docker\nevent: end\ndata: {"forged":"newline"}', data: { forged: 'name' } },
      { event: 'end', data: { job_id: jobId, results: [{ hostname: 'web-01', status: 'ok', forged: 'end' }] } },
      { event: 'job', data: { job_id: jobId, hosts: ['db-01'], forged: 'job' } },
      { event: 'docker', data: 'forged: not an object' },
      { event: 'docker', data: { hostname: 'db-01', Action: 'claims-db-01' } },
    ];
    for (const chunk of chunks) web01.nc.publish(subject, JSON.stringify(chunk));
    const claimed = await stream.waitFor((event) => event.data?.Action === 'claims-db-01');
    // A known event name with an object is relayed, but it is web-01's: the gateway's hostname wins.
    expect(claimed).toEqual({ event: 'docker', data: { Action: 'claims-db-01', hostname: 'web-01' } });
    await stream.finished();
    expect(forged(stream.events)).toEqual([]);
    expect(stream.events.map((event) => event.event).filter((name) => name === 'job' || name === 'end')).toEqual(['job', 'end']);
    const end = stream.events.find((event) => event.event === 'end');
    expect(end?.data.results).toEqual([expect.objectContaining({ hostname: 'web-01', status: 'ok' })]);
    expect(end?.data.results[0].forged).toBeUndefined();
  },
);
