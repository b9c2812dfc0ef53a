import { useEffect, useState } from 'preact/hooks';
import type { AuditEntry, AuditList } from '@fleet/sdk';
import { call } from '../api';
import { Badge, ErrorLine } from '../components/badge';
import { Field, Select } from '../components/field';
import { Table, type Column } from '../components/table';
import { useAction } from '../hooks';
import { go, route } from '../router';

const AUDIT_FILTERS = ['caller', 'method', 'status', 'target', 'job_id'] as const;
const METHODS = [{ value: '', label: 'any' }, 'GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

const COLUMNS: Column<AuditEntry>[] = [
  { header: 'Time', class: 'muted nowrap', cell: (e) => new Date(e.time).toLocaleString() },
  { header: 'Caller', cell: (e) => e.caller ?? <span class="muted">no key</span> },
  { header: 'Role', cell: (e) => e.role ?? '' },
  {
    header: 'Request',
    class: 'path',
    cell: (e) => (
      <>
        <strong>{e.method}</strong> {e.path}
      </>
    ),
  },
  { header: 'Target', cell: (e) => e.target ?? '' },
  { header: 'Job', cell: (e) => (e.job_id ? <a href={`#/job/${e.job_id}`}>{e.job_id.slice(0, 8)}</a> : '') },
  { header: 'Status', cell: (e) => <Badge status={e.status >= 400 ? 'failed' : 'ok'}>{String(e.status)}</Badge> },
  { header: 'ms', class: 'muted', cell: (e) => e.duration_ms.toFixed(0) },
];

/** GET /audit with its filters, kept in the URL; older pages by the entry cursor. */
export function AuditLog() {
  const params = new URLSearchParams(route.value.query);
  const query = AUDIT_FILTERS.filter((f) => params.get(f))
    .map((f) => `${f}=${encodeURIComponent(params.get(f) ?? '')}`)
    .join('&');
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [cursor, setCursor] = useState<string | undefined>();
  const action = useAction();
  const load = (from?: string) =>
    action.run('load', async () => {
      const page = await call<AuditList>('GET', `/audit?limit=100${query ? `&${query}` : ''}${from ? `&cursor=${from}` : ''}`);
      setEntries((prev) => (from ? [...prev, ...page.entries] : page.entries));
      setCursor(page.next_cursor);
    });
  useEffect(() => {
    void load();
  }, [query]);
  const setFilter = (name: (typeof AUDIT_FILTERS)[number]) => (value: string) => {
    const next = new URLSearchParams(route.value.query);
    if (value.trim()) next.set(name, value.trim());
    else next.delete(name);
    go(`/admin?${next.toString()}`);
  };
  const text = (name: 'caller' | 'status' | 'target' | 'job_id', label: string, size = 14) => (
    <Field label={label} name={`audit-${name}`} size={size} value={params.get(name) ?? ''} onValue={setFilter(name)} commit />
  );
  return (
    <div class="panel" data-testid="audit">
      <h3>Audit log</h3>
      <div class="toolbar">
        {text('caller', 'Caller')}
        <Select label="Method" name="audit-method" value={params.get('method') ?? ''} onValue={setFilter('method')} choices={METHODS} />
        {text('status', 'Status', 4)}
        {text('target', 'Target')}
        {text('job_id', 'Job', 36)}
      </div>
      <ErrorLine error={action.error} />
      <Table
        columns={COLUMNS}
        rows={entries}
        rowKey={(e, index) => `${e.time}-${index}`}
        rowAttributes={(e) => ({ 'data-status': e.status })}
      />
      {cursor ? <button onClick={() => load(cursor)}>Older entries</button> : null}
    </div>
  );
}
