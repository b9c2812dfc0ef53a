import { agentAccountName, GATEWAY_ACCOUNT } from './nats-accounts';
import { agentExports, agentImports, isOwnReplySubject } from './nats-permissions';

/** Whether every subject `subject` matches is matched by `pattern` (NATS wildcards). */
function containedIn(subject: string, pattern: string): boolean {
  const tokens = subject.split('.');
  const wanted = pattern.split('.');
  for (let index = 0; index < wanted.length; index++) {
    if (wanted[index] === '>') return index < tokens.length;
    if (index >= tokens.length || (wanted[index] !== '*' && wanted[index] !== tokens[index])) return false;
  }
  return tokens.length === wanted.length;
}

describe('the NATS account layout', () => {
  it("names each agent's account after its host, apart from the gateway's", () => {
    expect(agentAccountName('web-01')).toBe('AGENT_web-01');
    expect(agentAccountName('web-01')).not.toBe(GATEWAY_ACCOUNT);
  });

  it('exports, with wildcards for the host, every subject any agent imports, and nothing no agent imports', () => {
    const exports = agentExports();
    const imports = ['web-01', 'db-01', 'node-17'].flatMap(agentImports);
    for (const item of imports) {
      expect({
        subject: item.subject,
        exported: exports.some((candidate) => candidate.kind === item.kind && containedIn(item.subject, candidate.subject)),
      }).toEqual({ subject: item.subject, exported: true });
    }
    for (const exported of exports)
      expect(imports.some((item) => item.kind === exported.kind && containedIn(item.subject, exported.subject))).toBe(true);
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
    for (const reply of [
      undefined,
      '',
      '_INBOX_web-02.x',
      '_INBOX_web-01',
      '_INBOX_web-010.x',
      'fleet.job.s1.web-02',
      '$JS.API.STREAM.PURGE.X',
      '$KV.fleet_enrollments.db-01',
      'fleet.audit',
    ]) {
      expect({ reply, own: isOwnReplySubject(reply, 'web-01') }).toEqual({ reply, own: false });
    }
  });
});
