import type { JobRecord } from '@fleet/contracts/protocol';
import { effectiveRow } from './rows';
import { hostlessStatus } from './waiting-rows';

const record: JobRecord = {
  job_id: '550e8400-e29b-41d4-a716-446655440000',
  operation: 'docker.container.create',
  target: 'role:edge',
  hosts: ['edge-1'],
  caller: 'test',
  created_at: '2026-01-01T00:00:00.000Z',
  deadline: '2026-01-01T00:10:30.000Z',
  wait: { until: '2026-01-01T00:10:00.000Z' },
};
const during = Date.parse('2026-01-01T00:05:00Z');
const afterWait = Date.parse('2026-01-01T00:10:10Z');

describe('rows of a job that waits for hosts', () => {
  it('shows a host without a row as waiting, with the end of the wait, while it waits', () => {
    expect(effectiveRow(record, 'edge-1', undefined, during)).toEqual({
      hostname: 'edge-1',
      status: 'waiting',
      changed: false,
      waiting_until: '2026-01-01T00:10:00.000Z',
    });
  });

  it('shows the row a host wrote once it has one', () => {
    expect(effectiveRow(record, 'edge-1', { hostname: 'edge-1', status: 'running', changed: false }, during).status).toBe('running');
  });

  it('no longer says waiting once the wait is over', () => {
    expect(effectiveRow(record, 'edge-1', undefined, afterWait).status).toBe('pending');
  });

  it('calls a job no host reached pending while it waits, failed after', () => {
    expect(hostlessStatus(record, [], during)).toBe('pending');
    expect(hostlessStatus(record, [], afterWait)).toBe('failed');
    expect(hostlessStatus({}, [], during)).toBeUndefined();
  });
});
