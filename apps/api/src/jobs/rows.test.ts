import type { HostRow, JobRecord } from '@fleet/contracts/protocol';
import { effectiveRow, jobStatus } from './rows';

const record: JobRecord = {
  job_id: '550e8400-e29b-41d4-a716-446655440000',
  operation: 'docker.container.list',
  target: '_all',
  hosts: ['a', 'b'],
  caller: 'test',
  created_at: '2026-01-01T00:00:00.000Z',
  deadline: '2026-01-01T00:00:30.000Z',
};
const before = Date.parse('2026-01-01T00:00:10Z');
const after = Date.parse('2026-01-01T00:00:31Z');
const row = (status: HostRow['status']): HostRow => ({ hostname: 'a', status, changed: false });

describe('effectiveRow', () => {
  it('keeps final rows whatever the time', () => {
    expect(effectiveRow(record, 'a', row('ok'), after).status).toBe('ok');
  });

  it('shows pending or running before the deadline', () => {
    expect(effectiveRow(record, 'a', undefined, before).status).toBe('pending');
    expect(effectiveRow(record, 'a', row('running'), before).status).toBe('running');
  });

  it('turns unfinished hosts into timeout rows past the deadline', () => {
    expect(effectiveRow(record, 'b', row('running'), after)).toEqual({
      hostname: 'b',
      status: 'failed',
      changed: false,
      error: 'timeout: agent did not respond within 30s',
      error_code: 504,
    });
  });
});

describe('jobStatus', () => {
  it('summarises rows', () => {
    expect(jobStatus([row('pending'), row('pending')])).toBe('pending');
    expect(jobStatus([row('ok'), row('pending')])).toBe('running');
    expect(jobStatus([row('ok'), row('skipped')])).toBe('partial');
    expect(jobStatus([row('failed'), row('skipped')])).toBe('failed');
    expect(jobStatus([row('failed'), row('failed')])).toBe('failed');
    expect(jobStatus([row('ok'), row('failed')])).toBe('partial');
  });
});
