import { AuditBudget } from './budget';
import type { AuditEntry } from './log';

function call(key: string, overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    kind: 'call',
    time: new Date().toISOString(),
    caller: `sub-${key}`,
    role: 'viewer',
    key_id: key,
    method: 'GET',
    path: '/agent',
    operation: 'agent.list',
    target: null,
    job_id: null,
    status: 200,
    duration_ms: 1.5,
    ...overrides,
  };
}

describe('AuditBudget', () => {
  it("writes a key's first calls in full and counts the rest into one summary per key when the window closes", () => {
    const budget = new AuditBudget(2);
    const admitted = [call('a'), call('a'), call('a', { status: 403, operation: undefined, method: 'POST' }), call('a'), call('b')].map(
      (entry) => budget.admit(entry),
    );
    expect(admitted).toEqual([true, true, false, false, true]);
    const [summary, ...others] = budget.closeWindow(new Date('2026-12-07T05:00:00.000Z'));
    expect(others).toHaveLength(0);
    expect(summary).toMatchObject({
      kind: 'summary',
      time: '2026-12-07T05:00:00.000Z',
      caller: 'sub-a',
      key_id: 'a',
      method: 'GET,POST',
      path: '(summary of 2 calls)',
      duration_ms: 3,
      summary: { count: 2, methods: { GET: 1, POST: 1 }, operations: { 'agent.list': 1, unmatched: 1 }, statuses: { '200': 1, '403': 1 } },
    });
  });

  it('starts every key afresh in the next window', () => {
    const budget = new AuditBudget(1);
    budget.admit(call('a'));
    expect(budget.admit(call('a'))).toBe(false);
    budget.closeWindow();
    expect(budget.admit(call('a'))).toBe(true);
    expect(budget.closeWindow()).toEqual([]);
  });

  it("keeps a summary's target only when every call it counts had the same one", () => {
    const budget = new AuditBudget(1);
    for (const target of ['web-01', 'web-01', 'web-01']) budget.admit(call('a', { target }));
    for (const target of ['web-01', 'web-01', 'db-01']) budget.admit(call('b', { target }));
    expect(budget.closeWindow().map((summary) => [summary.key_id, summary.target])).toEqual([
      ['a', 'web-01'],
      ['b', null],
    ]);
  });

  it('counts calls without a key under one budget', () => {
    const budget = new AuditBudget(1);
    expect([call('x', { key_id: null }), call('y', { key_id: null })].map((entry) => budget.admit(entry))).toEqual([true, false]);
  });

  it('writes everything in full when the budget is 0', () => {
    const budget = new AuditBudget(0);
    for (let i = 0; i < 1000; i++) expect(budget.admit(call('a'))).toBe(true);
    expect(budget.closeWindow()).toEqual([]);
  });
});
