/**
 * Agent impersonation on a real nats-server in operator mode, with the per-agent
 * accounts, users and subject permissions the gateway issued when each agent joined: holding web-01's credentials
 * does not let anyone read web-02's jobs or speak for web-02, and the gateway
 * attributes a row by the subject it arrived on, never by its payload.
 */
import { readFileSync } from 'node:fs';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { agentDeliverSubject, agentInboxPrefix } from '@fleet/contracts/nats-permissions';
import {
  cancelSubject,
  earlyRowSubject,
  jobsStreamOf,
  jobSubject,
  kvSubject,
  RESULTS_BUCKET,
  resultKey,
  secretSubject,
} from '@fleet/contracts/protocol';
import { agentCredsFile } from '@fleet/deploy';
import { natsLogin } from '@fleet/runtime/nats';
import { useTestFleet } from '../support/suite';
import { api, type ApiResponse } from '../support/http';

const fleet = useTestFleet();
let intruder: NatsConnection;
const violations: string[] = [];

beforeAll(async () => {
  // Connects exactly as the web-01 agent does: the creds it made when it joined, its inbox prefix.
  intruder = await connect({
    servers: fleet.natsUrl,
    ...natsLogin(readFileSync(agentCredsFile(fleet.state, 'web-01'), 'utf8')),
    inboxPrefix: agentInboxPrefix('web-01'),
  });
  void (async () => {
    for await (const status of intruder.status()) if (status.type === 'error') violations.push(String(status.error));
  })();
});

afterAll(async () => {
  await intruder?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function violationFor(subject: string): Promise<void> {
  for (let i = 0; i < 50 && !violations.some((v) => v.includes(subject)); i++) await sleep(50);
  expect(violations.find((v) => v.includes(subject))).toMatch(/permissions violation/i);
}

/** A row saying web-02 listed its containers fine: what web-01's login tries to pass off. */
const okRowOfWeb02 = (message: string) => JSON.stringify({ hostname: 'web-02', status: 'ok', changed: false, message, containers: [] });
/** The row of `hostname` in a job's answer. */
const rowOf = (job: ApiResponse, hostname: string) => job.body.results.find((row: { hostname: string }) => row.hostname === hostname);

/**
 * A list job on `target` that the gateway is already waiting on (it listens for early rows) when
 * `forge(jobId)` runs; resolves with the job as that wait ends.
 */
async function whileGatewayWaits(target: string, timeoutSeconds: number, forge: (jobId: string) => unknown): Promise<ApiResponse> {
  const accepted = await api(fleet, 'GET', `/node/${target}/container/docker?async=true&timeout=${timeoutSeconds}`);
  const jobId: string = accepted.body.job_id;
  const waiting = api(fleet, 'GET', `/job/${jobId}?wait=10`);
  await sleep(200);
  await forge(jobId);
  return waiting;
}

describe("web-01's credentials", () => {
  it('cannot log in without a signed identity, nor with a user name and password', async () => {
    await expect(connect({ servers: fleet.natsUrl, user: 'agent-web-01', pass: 'wrong' })).rejects.toThrow(/authorization/i);
    await expect(connect({ servers: fleet.natsUrl })).rejects.toThrow(/authorization/i);
  });

  it("cannot receive web-02's host-addressed jobs", async () => {
    const received: string[] = [];
    const sub = intruder.subscribe(jobSubject('web-02'), { callback: (_err, msg) => void received.push(msg.subject) });
    await violationFor(jobSubject('web-02'));
    const res = await api(fleet, 'GET', '/node/web-02/container/docker');
    expect(res.status).toBe(200);
    await sleep(300);
    expect(received).toEqual([]);
    sub.unsubscribe();

    const deliveries = intruder.subscribe(agentDeliverSubject('web-02'), { callback: () => undefined });
    await violationFor(agentDeliverSubject('web-02'));
    deliveries.unsubscribe();

    const pull = `$JS.API.CONSUMER.MSG.NEXT.${jobsStreamOf('web-02')}.agent_web-02`;
    intruder.publish(pull, '{"batch":1}');
    await violationFor(pull);
  });

  it("cannot slip a forged job into web-02's deliveries", async () => {
    intruder.publish(agentDeliverSubject('web-02'), JSON.stringify({ job_id: 'forged', operation: 'docker.container.create', params: {} }));
    await violationFor(agentDeliverSubject('web-02'));
  });

  it('cannot publish a result as web-02: the forged row is dropped and web-02 times out', async () => {
    await whileDown('web-02', async () => {
      const accepted = await api(fleet, 'GET', '/node/_all/container/docker?async=true&timeout=3');
      const jobId: string = accepted.body.job_id;
      const subject = kvSubject(RESULTS_BUCKET, resultKey(jobId, 'web-02'));
      intruder.publish(subject, okRowOfWeb02('forged'));
      await violationFor(subject);

      const job = await api(fleet, 'GET', `/job/${jobId}?wait=10`);
      expect(rowOf(job, 'web-02')).toMatchObject({ status: 'failed', error_code: 504 });
    });
  });

  it('cannot announce an early row as web-02: the forged row is dropped and web-02 times out', async () => {
    await whileDown('web-02', async () => {
      // A permitted early row would end web-02's wait as ok.
      const job = await whileGatewayWaits('_all', 3, async (jobId) => {
        const subject = earlyRowSubject(jobId, 'web-02');
        intruder.publish(subject, okRowOfWeb02('forged early row'));
        await violationFor(subject);
      });
      expect(rowOf(job, 'web-02')).toMatchObject({ status: 'failed', error_code: 504 });
    });
  });

  it("may announce web-01's own early row, which the waiting gateway hears before any stored row", async () => {
    await whileDown('web-01', async () => {
      let announced = '';
      // Only announced, never written to the results bucket, and claiming to be web-02: it counts for web-01.
      const job = await whileGatewayWaits('web-01', 5, (jobId) => {
        announced = earlyRowSubject(jobId, 'web-01');
        intruder.publish(announced, okRowOfWeb02('announced by web-01'));
      });
      expect(job.body.results).toEqual([expect.objectContaining({ hostname: 'web-01', status: 'ok', message: 'announced by web-01' })]);
      expect(violations.some((v) => v.includes(announced))).toBe(false);
    });
  });

  it("cannot ask for another host's job credential, nor publish the cancels only the gateway sends", async () => {
    intruder.publish(secretSubject('6f1c2a52-93a4-4c5e-9d55-8a0a3f2b8c11', 'web-02'), '');
    await violationFor(secretSubject('6f1c2a52-93a4-4c5e-9d55-8a0a3f2b8c11', 'web-02'));
    intruder.publish(cancelSubject('6f1c2a52-93a4-4c5e-9d55-8a0a3f2b8c11'), '');
    await violationFor(cancelSubject('6f1c2a52-93a4-4c5e-9d55-8a0a3f2b8c11'));
  });

  it("is attributed by subject: a row on web-01's own key that claims to be web-02 counts for web-01", async () => {
    await whileDown('web-01', async () => {
      const accepted = await api(fleet, 'GET', '/node/role:web/container/docker?async=true&timeout=5');
      const jobId: string = accepted.body.job_id;
      const claimsToBeWeb02 = JSON.stringify({
        hostname: 'web-02',
        status: 'ok',
        changed: false,
        message: 'written with web-01 credentials',
      });
      intruder.publish(kvSubject(RESULTS_BUCKET, resultKey(jobId, 'web-01')), claimsToBeWeb02);

      const job = await api(fleet, 'GET', `/job/${jobId}?wait=10`);
      const [web01, web02] = job.body.results;
      expect(web01).toMatchObject({ hostname: 'web-01', message: 'written with web-01 credentials' });
      // web-02's row is web-02's own answer, untouched by the claim.
      expect(web02).toMatchObject({ hostname: 'web-02', status: 'ok' });
      expect(web02.message).not.toBe('written with web-01 credentials');
    });
  });
});

/** Runs `check` while `hostname`'s agent is down (SIGKILLed), so nothing but a forgery could answer for it; then starts it again. */
async function whileDown(hostname: string, check: () => Promise<void>): Promise<void> {
  await fleet.killAgent(hostname, 'SIGKILL');
  try {
    await check();
  } finally {
    await fleet.startAgent(hostname);
  }
}
