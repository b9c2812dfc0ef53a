import type { Msg, NatsConnection, SubscriptionOptions } from '@nats-io/transport-node';
import { secretSubject } from '@fleet/contracts/protocol';
import { SecretVault } from './secrets';

/** A vault started on a fake connection; `ask` hands it one request and says what it answered. */
function vaultWith(secret: string): { ask: (hostname: string, reply: string) => string | undefined; stop: () => void } {
  let deliver: SubscriptionOptions['callback'] | undefined;
  const nc = {
    subscribe: (_subject: string, opts: SubscriptionOptions) => ((deliver = opts.callback), { unsubscribe: () => undefined }),
  } as unknown as NatsConnection;
  const vault = new SecretVault();
  vault.start(nc);
  vault.hold('job-1', ['web-01'], secret, Date.now() + 60_000);
  return {
    ask(hostname, reply) {
      let answered: string | undefined;
      const msg = {
        subject: secretSubject('job-1', hostname),
        reply,
        respond: (data: string) => ((answered = data), true),
      } as unknown as Msg;
      deliver?.(null, msg);
      return answered;
    },
    stop: () => vault.stop(),
  };
}

describe('SecretVault', () => {
  it("answers the job's host on a reply only it receives: the broker's service-import reply, or its own inbox", () => {
    const vault = vaultWith('registry-auth');
    expect(vault.ask('web-01', '_R_.abc.1')).toBe('registry-auth');
    expect(vault.ask('web-01', '_INBOX_web-01.abc')).toBe('registry-auth');
    vault.stop();
  });

  it("says nothing to another host, nor to a reply subject the host named elsewhere (another host's inbox or job, a JetStream subject)", () => {
    const vault = vaultWith('registry-auth');
    expect(vault.ask('web-02', '_R_.abc.1')).toBeUndefined();
    for (const reply of [
      '_INBOX_web-02.abc',
      'fleet.job.s3.web-02',
      '$KV.fleet_enrollments.db-01',
      '$JS.API.STREAM.PURGE.KV_fleet_results',
      'fleet.audit',
    ]) {
      expect({ reply, answered: vault.ask('web-01', reply) }).toEqual({ reply, answered: undefined });
    }
    vault.stop();
  });
});
