import { JetStreamApiError, type JetStreamClient, type JetStreamManager, type PubAck } from '@nats-io/jetstream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { AUDIT_SUBJECT } from '@fleet/contracts/protocol';
import { AuditBudget } from './budget';
import { AUDIT_FULL_MESSAGE, AuditCapacity } from './capacity';
import { AuditLog, type AuditEntry } from './log';

function entry(path: string): AuditEntry {
  return {
    time: new Date().toISOString(),
    caller: 'ci',
    role: 'admin',
    key_id: 'k1',
    method: 'GET',
    path,
    target: null,
    job_id: null,
    status: 200,
    duration_ms: 1,
  };
}

/** The broker as the audit log sees it: every publish recorded in order; paths listed in `refused` are not acknowledged. */
function broker(refused: string[] = []) {
  const published: Array<{ subject: string; entry: AuditEntry }> = [];
  const js = {
    publish: async (subject: string, payload: string): Promise<PubAck> => {
      const parsed = JSON.parse(payload) as AuditEntry;
      published.push({ subject, entry: parsed });
      if (refused.includes(parsed.path)) throw new Error('no stream leader');
      return { stream: 'FLEET_AUDIT', seq: published.length, duplicate: false, domain: '' };
    },
  } as unknown as JetStreamClient;
  return { js, published };
}

function logLines() {
  const lines: Array<{ msg: string; path?: string }> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as { msg: string; path?: string }) });
  return { log, lines };
}

describe('AuditLog', () => {
  it('publishes the entries of calls ending together in one batch, in the order they were recorded', async () => {
    const { js, published } = broker();
    const audit = new AuditLog(js, {} as JetStreamManager, logLines().log);
    audit.record(entry('/a'));
    audit.record(entry('/b'));
    audit.record(entry('/c'));
    expect(published).toHaveLength(0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(published.map((p) => [p.subject, p.entry.path])).toEqual([
      [AUDIT_SUBJECT, '/a'],
      [AUDIT_SUBJECT, '/b'],
      [AUDIT_SUBJECT, '/c'],
    ]);
  });

  it('publishes what is waiting when flushed, and only once', async () => {
    const { js, published } = broker();
    const audit = new AuditLog(js, {} as JetStreamManager, logLines().log);
    audit.record(entry('/stop'));
    await audit.flush();
    expect(published.map((p) => p.entry.path)).toEqual(['/stop']);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(published).toHaveLength(1);
  });

  it('logs every entry the broker did not take, and still publishes the others', async () => {
    const { js, published } = broker(['/lost']);
    const { log, lines } = logLines();
    const audit = new AuditLog(js, {} as JetStreamManager, log);
    audit.record(entry('/kept'));
    audit.record(entry('/lost'));
    await audit.flush();
    expect(published.map((p) => p.entry.path)).toEqual(['/kept', '/lost']);
    expect(lines.filter((line) => line.msg === 'audit write failed').map((line) => line.path)).toEqual(['/lost']);
  });

  it('lists only once every entry recorded before is acknowledged, waiting or already sent', async () => {
    const acks: Array<() => void> = [];
    const published: string[] = [];
    const js = {
      publish: (_subject: string, payload: string) => {
        published.push((JSON.parse(payload) as AuditEntry).path);
        return new Promise<PubAck>((resolve) =>
          acks.push(() => resolve({ stream: 'FLEET_AUDIT', seq: published.length, duplicate: false, domain: '' })),
        );
      },
    } as unknown as JetStreamClient;
    const scanned: string[] = [];
    const jsm = {
      streams: {
        info: async () => {
          scanned.push(`scan after ${published.length} published`);
          return { state: { first_seq: 1, last_seq: 0 } };
        },
      },
    } as unknown as JetStreamManager;
    const audit = new AuditLog(js, jsm, logLines().log);
    audit.record(entry('/sent'));
    const sending = audit.flush();
    audit.record(entry('/waiting'));
    const listed = audit.list({}, 10);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(published).toEqual(['/sent', '/waiting']);
    expect(scanned).toEqual([]);
    // The waiting entry is acknowledged first: the list still waits for the one sent before it.
    acks[1]();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(scanned).toEqual([]);
    acks[0]();
    await Promise.all([sending, listed]);
    expect(scanned).toEqual(['scan after 2 published']);
  });

  it('sends a full batch without waiting for its window', () => {
    const { js, published } = broker();
    const audit = new AuditLog(js, {} as JetStreamManager, logLines().log);
    for (let i = 0; i < 256; i++) audit.record(entry(`/${i}`));
    expect(published).toHaveLength(256);
  });

  it('counts and logs, whole, every entry of a batch the full stream refused, and tells the gate it is full', async () => {
    const published: string[] = [];
    const js = {
      publish: async (_subject: string, payload: string): Promise<PubAck> => {
        published.push((JSON.parse(payload) as AuditEntry).path);
        if (published.length > 1) throw new JetStreamApiError({ code: 503, err_code: 10077, description: 'maximum messages exceeded' });
        return { stream: 'FLEET_AUDIT', seq: 1, duplicate: false, domain: '' };
      },
    } as unknown as JetStreamClient;
    const { log, lines } = logLines();
    const collectors = new Registry();
    const capacity = new AuditCapacity({} as JetStreamManager, log, collectors);
    const audit = new AuditLog(js, {} as JetStreamManager, log, { capacity });
    expect(audit.full).toBe(false);
    for (const path of ['/kept', '/first-refused', '/second-refused']) audit.record(entry(path));
    await audit.flush();
    expect(published).toEqual(['/kept', '/first-refused', '/second-refused']);
    const refusedLines = lines.filter((line) => line.msg === AUDIT_FULL_MESSAGE) as unknown as Array<{ audit_entry: AuditEntry }>;
    expect(refusedLines.map((line) => line.audit_entry.path)).toEqual(['/first-refused', '/second-refused']);
    expect(audit.full).toBe(true);
    expect((await collectors.getSingleMetric('fleet_audit_refused_total')?.get())?.values).toEqual([
      { value: 2, labels: { reason: 'full' } },
    ]);
  });

  it("writes a key's calls past its budget as one summary when it stops, and a change always in full", async () => {
    const { js, published } = broker();
    const audit = new AuditLog(js, {} as JetStreamManager, logLines().log, { budget: new AuditBudget(1), windowMs: 60_000 });
    audit.start();
    audit.record(entry('/read-1'), true);
    audit.record(entry('/read-2'), true);
    audit.record(entry('/change'), false);
    audit.record(entry('/read-3'), true);
    await audit.stop();
    expect(published.map((p) => p.entry.path)).toEqual(['/read-1', '/change', '(summary of 2 calls)']);
    expect(published[2].entry).toMatchObject({ kind: 'summary', key_id: 'k1', summary: { count: 2 } });
  });
});
