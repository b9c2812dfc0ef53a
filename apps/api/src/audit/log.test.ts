import type { JetStreamClient, JetStreamManager, PubAck } from '@nats-io/jetstream';
import pino from 'pino';
import { AUDIT_SUBJECT } from '@fleet/contracts/protocol';
import { AuditLog, type AuditEntry } from './log';

function entry(path: string): AuditEntry {
  return { time: new Date().toISOString(), caller: 'ci', role: 'admin', key_id: 'k1', method: 'GET', path, target: null, job_id: null, status: 200, duration_ms: 1 };
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
        return new Promise<PubAck>((resolve) => acks.push(() => resolve({ stream: 'FLEET_AUDIT', seq: published.length, duplicate: false, domain: '' })));
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
});
