/**
 * Red-team finding: one agent's NATS login had power over the whole broker. NATS checks what a
 * client publishes to, not the reply subject it names, and JetStream (and the gateway's secret,
 * upload and download services) answered that reply subject with the rights of the whole account:
 * a publish web-01 was allowed to make, with a reply subject of another host's job subject, a JS
 * API request, an enrolment key or the audit subject, forged a job, created a consumer, purged a
 * stream, rewrote a label or an audit entry. A `Nats-Rollup: all` header on its own result key
 * purged every row. Now each agent is an account of its own without JetStream, importing only
 * its host's subjects (README "What an agent's NATS login can and cannot do"): every answer lands
 * in that account, where there is nothing else, and no bucket takes a rollup, purge or delete.
 *
 * Each attack is checked on the broker (every stream's state and consumers, the KV values) and on
 * web-02's engine, never only by the error the attacker saw.
 */
import { randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { headers, type MsgHdrs } from '@nats-io/transport-node';
import { AGENT_JETSTREAM_API_PREFIX, agentDeliverSubject, agentInboxPrefix, agentPermissions } from '@fleet/contracts/nats-permissions';
import {
  identityRotateSubject,
  identityRotatedSubject,
  AGENTS_BUCKET,
  agentConsumerName,
  AUDIT_STREAM,
  AUDIT_SUBJECT,
  cancelSubject,
  downloadSubject,
  DRAINS_BUCKET,
  earlyRowSubject,
  ENROLLMENTS_BUCKET,
  IDEMPOTENCY_BUCKET,
  jobRecordSubject,
  jobsStreamOf,
  jobSubject,
  kvStreamName,
  kvSubject,
  MINTED_KEYS_BUCKET,
  proxyRequestSubject,
  proxyResponseSubject,
  RESULTS_BUCKET,
  ROLLOUT_LEASES_BUCKET,
  resultKey,
  REVOKED_BUCKET,
  secretSubject,
  streamSubject,
  TRANSFER_HEADERS,
  UPLOADS_BUCKET,
  uploadSubject,
} from '@fleet/contracts/protocol';
import { GATEWAY_LOGIN, useNatsLogins } from '../support/agent-login';
import { attack } from '../support/attacks';
import { api } from '../support/http';
import { registryAuthHeader } from '../support/registry-auth';
import { useTestFleet } from '../support/suite';

// An attack below writes web-01's own record with a delete marker: its agent writes it again at its next refresh.
const fleet = useTestFleet({ agentEnv: { FLEET_AGENT_REFRESH_MS: '1000' } });
const logins = useNatsLogins(fleet, { web01: 'web-01', web02: 'web-02', gateway: GATEWAY_LOGIN });
let jsm: JetStreamManager;

beforeAll(async () => {
  jsm = await jetstreamManager(logins.gateway.nc);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const JOB = randomUUID();
const MARK = `forged-${JOB.slice(0, 8)}`;
/** What a forged job on web-02 would run: a container whose name the engine can be asked for. */
const FORGED_JOB = JSON.stringify({
  job_id: JOB,
  operation: 'docker.container.create',
  target: 'web-02',
  params: { body: { image: 'local/busybox:latest', name: MARK } },
  deadline: Date.now() + 600_000,
});

interface StreamState {
  messages: number;
  lastSeq: number;
  consumers: string[];
  /** Messages per subject. */
  subjects: Record<string, number>;
}

/** Every stream of the gateway's account: its counts, its consumers and its messages per subject. */
async function brokerState(): Promise<Map<string, StreamState>> {
  const states = new Map<string, StreamState>();
  for await (const info of jsm.streams.list()) {
    const detail = await jsm.streams.info(info.config.name, { subjects_filter: '>' });
    const consumers: string[] = [];
    for await (const consumer of jsm.consumers.list(info.config.name)) consumers.push(consumer.name);
    states.set(info.config.name, {
      messages: detail.state.messages,
      lastSeq: detail.state.last_seq,
      consumers: consumers.sort(),
      subjects: detail.state.subjects ?? {},
    });
  }
  return states;
}

/** Streams an agent may legitimately write into: web-01's own keys there, and the live agents' heartbeats. */
const AGENT_WRITTEN = new Set([kvStreamName(RESULTS_BUCKET), kvStreamName(AGENTS_BUCKET)]);

/**
 * Asserts the broker is as it was, but for web-01's own result keys and the agents' heartbeats:
 * no stream created, deleted or purged, no message written or deleted anywhere else, no consumer
 * created or deleted, no other host's result or registry key touched, nothing ran on web-02.
 */
async function expectUntouched(before: Map<string, StreamState>, opts: { gatewayAudits?: boolean } = {}): Promise<void> {
  const after = await brokerState();
  expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
  for (const [name, was] of before) {
    const now = after.get(name) as StreamState;
    expect({ name, consumers: now.consumers }).toEqual({ name, consumers: was.consumers });
    if (name === AUDIT_STREAM && opts.gatewayAudits) {
      // The gateway's own entries for the test's HTTP calls land a little later; each must be one.
      for (const entry of await auditSince(was.lastSeq + 1))
        expect(JSON.parse(entry)).toEqual(
          expect.objectContaining({ caller: 'local-admin', method: expect.any(String), path: expect.any(String) }),
        );
      continue;
    }
    if (!AGENT_WRITTEN.has(name)) {
      expect({ name, messages: now.messages, lastSeq: now.lastSeq }).toEqual({ name, messages: was.messages, lastSeq: was.lastSeq });
      continue;
    }
    const notWeb01 = (subjects: Record<string, number>) =>
      Object.fromEntries(Object.entries(subjects).filter(([subject]) => !subject.endsWith('.web-01')));
    // A purge or rollup would have dropped the other keys; a deputy write would have added one.
    expect({ name, subjects: notWeb01(now.subjects) }).toEqual({ name, subjects: notWeb01(was.subjects) });
  }
  const registry = await jsm.streams.getMessage(kvStreamName(AGENTS_BUCKET), { last_by_subj: kvSubject(AGENTS_BUCKET, 'web-02') });
  expect(registry?.json<{ hostname: string }>().hostname).toBe('web-02');
  const forged = await fleet.docker('web-02').listContainers({ all: true, filters: JSON.stringify({ name: [MARK] }) });
  expect(forged).toEqual([]);
}

/** Every KV bucket of the gateway's account. */
const KV_BUCKETS = [
  RESULTS_BUCKET,
  AGENTS_BUCKET,
  ENROLLMENTS_BUCKET,
  DRAINS_BUCKET,
  REVOKED_BUCKET,
  MINTED_KEYS_BUCKET,
  IDEMPOTENCY_BUCKET,
  ROLLOUT_LEASES_BUCKET,
];
const STREAMS = [
  ...Array.from({ length: 16 }, (_, shard) => `FLEET_JOBS_${String(shard).padStart(2, '0')}`),
  'FLEET_JOB_RECORDS',
  AUDIT_STREAM,
  ...KV_BUCKETS.map(kvStreamName),
  `OBJ_${UPLOADS_BUCKET}`,
];

/** Every JetStream API request nats-server 2.9 takes, on every stream and its consumers, with a body that would do harm if obeyed. */
function jetStreamApiRequests(prefix = '$JS.API'): Array<[string, string]> {
  const steal = (stream: string) =>
    JSON.stringify({
      stream_name: stream,
      config: { deliver_subject: `${agentInboxPrefix('web-01')}.stolen`, ack_policy: 'none', deliver_policy: 'all' },
    });
  const requests: Array<[string, string]> = [
    [`${prefix}.INFO`, ''],
    [`${prefix}.STREAM.LIST`, '{}'],
    [`${prefix}.STREAM.NAMES`, '{}'],
    [`${prefix}.ACCOUNT.PURGE.FLEET`, ''],
    [`${prefix}.META.LEADER.STEPDOWN`, ''],
    [`${prefix}.SERVER.REMOVE`, '{"peer":"fleet-nats"}'],
    [`${prefix}.STREAM.CREATE.STOLEN`, JSON.stringify({ name: 'STOLEN', subjects: ['fleet.>', '$KV.>'] })],
  ];
  for (const stream of STREAMS) {
    for (const verb of ['CREATE', 'UPDATE'])
      requests.push([`${prefix}.STREAM.${verb}.${stream}`, JSON.stringify({ name: stream, subjects: ['fleet.>'], max_msgs: 1 })]);
    for (const verb of ['DELETE', 'INFO', 'SNAPSHOT', 'RESTORE', 'LEADER.STEPDOWN', 'PEER.REMOVE'])
      requests.push([`${prefix}.STREAM.${verb}.${stream}`, '{"deliver_subject":"_INBOX_web-01.snap","peer":"fleet-nats"}']);
    requests.push(
      [`${prefix}.STREAM.PURGE.${stream}`, '{}'],
      [`${prefix}.STREAM.MSG.GET.${stream}`, '{"seq":1}'],
      [`${prefix}.STREAM.MSG.DELETE.${stream}`, '{"seq":1,"no_erase":true}'],
    );
    requests.push(
      [`${prefix}.DIRECT.GET.${stream}`, '{"seq":1}'],
      [`${prefix}.DIRECT.GET.${stream}.${kvSubject(ENROLLMENTS_BUCKET, 'db-01')}`, ''],
    );
    requests.push(
      [`${prefix}.CONSUMER.LIST.${stream}`, '{}'],
      [`${prefix}.CONSUMER.NAMES.${stream}`, '{}'],
      [`${prefix}.CONSUMER.CREATE.${stream}`, steal(stream)],
      [`${prefix}.CONSUMER.CREATE.${stream}.stolen.${jobSubject('web-02')}`, steal(stream)],
    );
    for (const consumer of ['stolen', agentConsumerName('web-01'), agentConsumerName('web-02')]) {
      requests.push([`${prefix}.CONSUMER.DURABLE.CREATE.${stream}.${consumer}`, steal(stream)]);
      for (const verb of ['DELETE', 'INFO', 'MSG.NEXT', 'LEADER.STEPDOWN'])
        requests.push([`${prefix}.CONSUMER.${verb}.${stream}.${consumer}`, verb === 'MSG.NEXT' ? '{"batch":10}' : '']);
    }
  }
  return requests;
}

/** Subjects of the gateway's account an answer must never reach: other hosts' jobs and keys, the records the gateway trusts. */
const PROTECTED_SUBJECTS = [
  jobSubject('web-02'),
  agentDeliverSubject('web-02'),
  kvSubject(RESULTS_BUCKET, resultKey(JOB, 'web-02')),
  kvSubject(AGENTS_BUCKET, 'web-02'),
  kvSubject(ENROLLMENTS_BUCKET, 'db-01'),
  kvSubject(DRAINS_BUCKET, 'web-02'),
  kvSubject(REVOKED_BUCKET, 'forged-key'),
  kvSubject(MINTED_KEYS_BUCKET, 'forged-key'),
  // A forged lease would let a host stop a rollout (its runner loses the lease) or hand it to a replica of its choice.
  kvSubject(ROLLOUT_LEASES_BUCKET, JOB),
  `$O.${UPLOADS_BUCKET}.C.forged`,
  AUDIT_SUBJECT,
  jobRecordSubject(JOB),
  secretSubject(JOB, 'web-02'),
  earlyRowSubject(JOB, 'web-02'),
  streamSubject(JOB, 'web-02'),
  proxyRequestSubject('web-02', 'forged'),
  cancelSubject(JOB),
];

/** Everything web-01's login may publish, wildcards filled in, each with the payload it would send. */
function web01Publishes(registryRecord = ''): Array<[string, string | Uint8Array, MsgHdrs?]> {
  const uploadAsk = JSON.stringify({ after: 0 });
  const start = headers();
  start.set(TRANSFER_HEADERS.seq, '0');
  start.set(TRANSFER_HEADERS.part, 'start');
  return [
    [kvSubject(RESULTS_BUCKET, resultKey(JOB, 'web-01')), FORGED_JOB],
    // Its own current record, so the gateway still finds web-01 targetable afterwards.
    [kvSubject(AGENTS_BUCKET, 'web-01'), registryRecord],
    [`$JS.ACK.${jobsStreamOf('web-01')}.${agentConsumerName('web-01')}.1.1.1.1700000000000000000.0`, '+ACK'],
    [`${AGENT_JETSTREAM_API_PREFIX}.CONSUMER.INFO.${jobsStreamOf('web-01')}.${agentConsumerName('web-01')}`, ''],
    [earlyRowSubject(JOB, 'web-01'), FORGED_JOB],
    [streamSubject(JOB, 'web-01'), FORGED_JOB],
    [secretSubject(JOB, 'web-01'), ''],
    [uploadSubject(JOB, 'web-01'), uploadAsk],
    [downloadSubject(JOB, 'web-01'), '{}', start],
    [proxyResponseSubject('web-01', 'forged'), FORGED_JOB],
    // Rotation steps with no key: refused, and answered (if at all) on web-01's own inbox only.
    [identityRotateSubject('web-01'), '{}'],
    [identityRotatedSubject('web-01'), '{}'],
  ];
}

test("web-01 publishes exactly what its permissions list, and they are its own host's subjects only", async () => {
  const allowed = agentPermissions('web-01');
  expect(allowed.publish.allow.sort()).toEqual(
    web01Publishes()
      .map(([subject]) =>
        subject
          .replace(JOB, '*')
          .replace(/\.1\.1\.1\.1700000000000000000\.0$/, '.>')
          .replace('.forged', '.*'),
      )
      .sort(),
  );
  for (const subject of [...allowed.publish.allow, ...allowed.subscribe.allow]) expect(subject).toMatch(/web-01|^fleet\.cancel\.\*$/);
});

attack(
  'web-01 calls every JetStream API subject on every stream, under $JS.API and under its own API prefix: nothing answers, nothing changes',
  async () => {
    const before = await brokerState();
    const requests = [...jetStreamApiRequests(), ...jetStreamApiRequests(AGENT_JETSTREAM_API_PREFIX)];
    const answers = await Promise.all(
      requests.map(([subject, body]) =>
        logins.web01.nc.request(subject, body, { timeout: 2_000 }).then(
          (reply) => `${subject} answered ${reply.string()}`,
          () => undefined,
        ),
      ),
    );
    // The one API request its account imports: its own consumer's info, which it binds with.
    const ownConsumerInfo = `${AGENT_JETSTREAM_API_PREFIX}.CONSUMER.INFO.${jobsStreamOf('web-01')}.${agentConsumerName('web-01')}`;
    expect(answers.filter((answer) => answer && !answer.startsWith(`${ownConsumerInfo} `))).toEqual([]);
    expect(answers.find((answer) => answer?.startsWith(`${ownConsumerInfo} `))).toContain(
      `"deliver_subject":"${agentDeliverSubject('web-01')}"`,
    );
    await logins.web01.violationFor('$JS.API.STREAM.PURGE.KV_fleet_enrollments');
    await logins.web01.violationFor(`${AGENT_JETSTREAM_API_PREFIX}.STREAM.PURGE.KV_fleet_enrollments`);
    await expectUntouched(before);
  },
  60_000,
);

attack(
  "web-01 names a JetStream API subject, another host's job or key, an enrolment or the audit as the reply of every publish it may make: no answer lands there",
  async () => {
    const before = await brokerState();
    const replies = [...PROTECTED_SUBJECTS, ...jetStreamApiRequests().map(([subject]) => subject)];
    let sent = 0;
    const record = await jsm.streams.getMessage(kvStreamName(AGENTS_BUCKET), { last_by_subj: kvSubject(AGENTS_BUCKET, 'web-01') });
    for (const [subject, payload, hdrs] of web01Publishes(record?.string())) {
      for (const reply of replies) {
        logins.web01.nc.publish(subject, payload, { reply, headers: hdrs });
        sent++;
      }
      await logins.web01.nc.flush();
    }
    expect(sent).toBeGreaterThan(5_000);
    // JetStream's pub acks, the consumer info and the ack-acks are answered by now.
    await sleep(1_500);
    await expectUntouched(before);
  },
  90_000,
);

attack(
  'web-01 writes its own result and registry keys with Nats-Rollup (all, sub), a purge marker or any other JetStream header: no other ' +
    'key is purged or written',
  async () => {
    const before = await brokerState();
    const js = jetstream(logins.web01.nc);
    for (const key of [kvSubject(RESULTS_BUCKET, resultKey(JOB, 'web-01')), kvSubject(AGENTS_BUCKET, 'web-01')]) {
      for (const [name, value] of [
        ['Nats-Rollup', 'all'],
        ['Nats-Rollup', 'sub'],
        ['KV-Operation', 'PURGE'],
      ]) {
        const hdrs = headers();
        hdrs.set(name, value);
        if (name === 'KV-Operation') hdrs.set('Nats-Rollup', 'sub');
        await expect(js.publish(key, FORGED_JOB, { headers: hdrs, timeout: 2_000 })).rejects.toThrow(/rollup not permitted/);
      }
    }
    // The other headers JetStream reads only bind or dedupe the publisher's own message: stored or refused, nothing else moves.
    const web02Dispatch = `${JOB}.web-02`;
    for (const [name, value] of [
      ['Nats-Msg-Id', web02Dispatch],
      ['Nats-Expected-Stream', AUDIT_STREAM],
      ['Nats-Expected-Last-Sequence', '0'],
      ['Nats-Expected-Last-Subject-Sequence', '0'],
      ['Nats-Expected-Last-Msg-Id', web02Dispatch],
      ['KV-Operation', 'DEL'],
    ]) {
      const hdrs = headers();
      hdrs.set(name, value);
      await js
        .publish(kvSubject(RESULTS_BUCKET, resultKey(randomUUID(), 'web-01')), FORGED_JOB, { headers: hdrs, timeout: 2_000 })
        .catch(() => undefined);
    }
    for (const bucket of KV_BUCKETS) {
      const { config } = await jsm.streams.info(kvStreamName(bucket));
      expect({ bucket, rollup: config.allow_rollup_hdrs, purge: config.deny_purge, remove: config.deny_delete }).toEqual({
        bucket,
        rollup: false,
        purge: true,
        remove: true,
      });
    }
    await expectUntouched(before);
  },
);

attack(
  "web-01 asks the gateway for its job's credential, upload and file part with web-02's inbox or a JetStream subject as the reply: nothing lands there",
  async () => {
    const credential = `deputy-${randomUUID()}`;
    const landed: string[] = [];
    const listener = logins.web02.nc.subscribe(`${agentInboxPrefix('web-02')}.deputy.>`, {
      callback: (_err, msg) => void landed.push(`${msg.subject} ${msg.string().slice(0, 80)}`),
    });
    await untilLive('web-01');
    // web-01's real agent is frozen, so the gateway holds its jobs' credential, upload and download until their deadline.
    await fleet.killAgent('web-01', 'SIGSTOP');
    try {
      const auth = registryAuthHeader({ username: 'fleet', password: credential, serveraddress: '127.0.0.1:1' });
      const pull = await fetch(
        `${fleet.url}/node/web-01/container/docker/image/pull?fromImage=127.0.0.1:1/none&tag=t&async=true&timeout=20`,
        {
          method: 'POST',
          headers: { authorization: `Bearer ${fleet.adminKey}`, 'x-registry-auth': auth },
        },
      );
      const accepted = { status: pull.status, body: (await pull.json()) as { job_id: string } };
      expect(accepted).toEqual({ status: 202, body: expect.objectContaining({ job_id: expect.any(String) }) });
      const pullJob = accepted.body.job_id;
      const own = await logins.web01.nc.request(secretSubject(pullJob, 'web-01'), '', { timeout: 2_000 });
      // The gateway does answer this asker: the credential is really there to be diverted.
      expect(Buffer.from(own.string(), 'base64url').toString()).toContain(credential);

      // Its dispatch is stored before the broker's state is taken, so only the attack could move it.
      for (
        let i = 0;
        i < 50 &&
        (await jsm.streams.getMessage(jobsStreamOf('web-01'), { last_by_subj: jobSubject('web-01') }))?.json<{ job_id: string }>()
          .job_id !== pullJob;
        i++
      )
        await sleep(100);
      const before = await brokerState();
      const web02Shard = (await jsm.streams.info(jobsStreamOf('web-02'), { subjects_filter: jobSubject('web-02') })).state.messages;
      const replies = [
        `${agentInboxPrefix('web-02')}.deputy.1`,
        ...PROTECTED_SUBJECTS,
        `$JS.API.STREAM.PURGE.${kvStreamName(ENROLLMENTS_BUCKET)}`,
        `$JS.API.CONSUMER.CREATE.${jobsStreamOf('web-02')}`,
      ];
      const start = headers();
      start.set(TRANSFER_HEADERS.seq, '0');
      start.set(TRANSFER_HEADERS.part, 'start');
      for (const reply of replies) {
        logins.web01.nc.publish(secretSubject(pullJob, 'web-01'), '', { reply });
        logins.web01.nc.publish(uploadSubject(pullJob, 'web-01'), JSON.stringify({ after: 0 }), { reply });
        logins.web01.nc.publish(downloadSubject(pullJob, 'web-01'), '{}', { reply, headers: start });
      }
      await logins.web01.nc.flush();
      await sleep(1_000);
      expect(landed).toEqual([]);
      expect((await jsm.streams.info(jobsStreamOf('web-02'), { subjects_filter: jobSubject('web-02') })).state.messages).toBe(web02Shard);
      // The pull's job and record were written before `before`; its audit entry may land later.
      await expectUntouched(before, { gatewayAudits: true });
      for (const entry of await auditSince(0))
        expect([entry.includes(credential), entry.includes(auth.replace(/=+$/, ''))]).toEqual([false, false]);
    } finally {
      await fleet.killAgent('web-01', 'SIGCONT');
      listener.unsubscribe();
    }
  },
);

/**
 * Waits for the host's next heartbeat: the gateway follows the registry by subscription, so it also
 * heard the refused purge marker above and forgot web-01 (the agent's own record, which its login may delete anyway).
 */
async function untilLive(hostname: string): Promise<void> {
  for (let i = 0; i < 100 && !(await api(fleet, 'GET', `/agent/${hostname}`)).body.live; i++) await sleep(200);
  expect((await api(fleet, 'GET', `/agent/${hostname}`)).body.live).toBe(true);
}

/** The audit stream's messages from `seq` on, as text. */
async function auditSince(seq: number): Promise<string[]> {
  const { state } = await jsm.streams.info(AUDIT_STREAM);
  const texts: string[] = [];
  for (let at = Math.max(seq, state.first_seq); at <= state.last_seq; at++) {
    const msg = await jsm.streams.getMessage(AUDIT_STREAM, { seq: at }).catch(() => null);
    if (msg) texts.push(msg.string());
  }
  return texts;
}
