import { generateKeyPairSync } from 'node:crypto';
import type { PubAck } from '@nats-io/jetstream';
import pino from 'pino';
import { jobSealRefusal } from '@fleet/contracts/host-grant';
import { jobSubject } from '@fleet/contracts/protocol';
import { newJobRecord, publishToHosts, unsealedPayload, type DispatchDeps } from './dispatch';
import { UnsendableParamsError } from './job-errors';

const gateway = generateKeyPairSync('ed25519');
const request = { operation: 'docker.container.list' as const, target: '_all', params: {}, timeoutSeconds: 5, caller: 'test' };

/** A broker that stores every dispatch but those to `refused`, and the failures written for those. */
function brokerRefusing(refused: string) {
  const published = new Map<string, Record<string, unknown>>();
  const undelivered: string[] = [];
  const deps: DispatchDeps = {
    js: {
      publish: async (subject: string, payload?: unknown): Promise<PubAck> => {
        if (subject === jobSubject(refused)) throw new Error('maximum messages exceeded');
        published.set(subject, JSON.parse(Buffer.from(payload as Uint8Array).toString('utf8')) as Record<string, unknown>);
        return { stream: 'FLEET_JOBS', seq: 1, duplicate: false, domain: '' };
      },
    },
    store: { recordUndelivered: async (_record, hostname, reason) => void undelivered.push(`${hostname}: ${reason}`) },
    log: pino({ level: 'silent' }),
    hostGrantKey: gateway.privateKey,
  };
  return { deps, published, undelivered };
}

describe('publishToHosts', () => {
  const record = newJobRecord(request, ['web-01', 'web-02', 'web-03'], Date.now());
  const payload = unsealedPayload(record, request, gateway.privateKey);

  it("publishes to the hosts given, not to the rest of the job's, each message sealed for its own host", async () => {
    const broker = brokerRefusing('none');
    await publishToHosts(broker.deps, record, payload, ['web-01', 'web-03']);
    expect([...broker.published.keys()]).toEqual([jobSubject('web-01'), jobSubject('web-03')]);
    const toWeb01 = broker.published.get(jobSubject('web-01')) as Record<string, unknown>;
    expect(jobSealRefusal(toWeb01, 'web-01', gateway.publicKey)).toBeUndefined();
    expect(jobSealRefusal(toWeb01, 'web-03', gateway.publicKey)).toMatch(/seal does not verify/);
  });

  it("refuses a host outside the job's record before anything is sent", async () => {
    const broker = brokerRefusing('none');
    await expect(publishToHosts(broker.deps, record, payload, ['web-01', 'db-01'])).rejects.toThrow(/not resolved to db-01/);
    expect(broker.published.size).toBe(0);
  });

  it('writes a failed row for a host the broker would not take the job for, and sends the others', async () => {
    const broker = brokerRefusing('web-02');
    await publishToHosts(broker.deps, record, payload, record.hosts);
    expect([...broker.published.keys()]).toEqual([jobSubject('web-01'), jobSubject('web-03')]);
    expect(broker.undelivered).toEqual(['web-02: maximum messages exceeded']);
  });
});

describe('unsealedPayload', () => {
  it("refuses parameters JSON cannot hold as the caller's error", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const record = newJobRecord(request, ['web-01'], Date.now());
    expect(() => unsealedPayload(record, { ...request, params: cyclic }, gateway.privateKey)).toThrow(UnsendableParamsError);
  });
});
