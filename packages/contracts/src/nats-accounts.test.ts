import { agentAccountName, GATEWAY_ACCOUNT, natsAccounts } from './nats-accounts';
import { agentImports, isOwnReplySubject } from './nats-permissions';

const login = (user: string) => ({ user, password: 'hash' });

describe('the NATS account layout', () => {
  const accounts = natsAccounts(login('gateway'), { 'web-01': login('agent-web-01'), 'web-02': login('agent-web-02') });

  it('gives JetStream to the gateway account only, and each agent an account holding its user alone', () => {
    expect(Object.keys(accounts).sort()).toEqual([GATEWAY_ACCOUNT, agentAccountName('web-01'), agentAccountName('web-02')].sort());
    expect(accounts[GATEWAY_ACCOUNT]).toMatchObject({ jetstream: 'enabled', users: [{ user: 'gateway' }] });
    for (const hostname of ['web-01', 'web-02']) {
      const account = accounts[agentAccountName(hostname)];
      expect(account.jetstream).toBeUndefined();
      expect(account.users.map((user) => user.user)).toEqual([`agent-${hostname}`]);
    }
  });

  it("exports each subject to exactly the accounts that import it, and only the shared cancel subject to more than one", () => {
    for (const entry of accounts[GATEWAY_ACCOUNT].exports ?? []) {
      const subject = entry.service ?? entry.stream ?? '';
      const importers = ['web-01', 'web-02'].filter((hostname) => agentImports(hostname).some((item) => item.subject === subject)).map(agentAccountName);
      expect({ subject, accounts: entry.accounts }).toEqual({ subject, accounts: importers });
      if (entry.accounts.length > 1) expect(subject).toBe('fleet.cancel.*');
    }
  });

  it("names the agent's own host in every import but the cancels, with a reason for each", () => {
    for (const item of agentImports('web-01')) {
      expect(item.reason.length).toBeGreaterThan(10);
      if (item.subject !== 'fleet.cancel.*') expect(item.subject).toContain('web-01');
    }
  });
});

describe('isOwnReplySubject', () => {
  it("takes the broker's service-import reply and the agent's own inbox, nothing else", () => {
    expect(isOwnReplySubject('_R_.abc.def', 'web-01')).toBe(true);
    expect(isOwnReplySubject('_INBOX_web-01.x', 'web-01')).toBe(true);
    for (const reply of [undefined, '', '_INBOX_web-02.x', '_INBOX_web-01', '_INBOX_web-010.x', 'fleet.job.s1.web-02', '$JS.API.STREAM.PURGE.X', '$KV.fleet_enrollments.db-01', 'fleet.audit']) {
      expect({ reply, own: isOwnReplySubject(reply, 'web-01') }).toEqual({ reply, own: false });
    }
  });
});
