import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { call, can, me } from './api';
import { go, route } from './router';
import { errorLine } from './views';

interface AuditEntry {
  time: string;
  caller: string | null;
  role: string | null;
  key_id: string | null;
  method: string;
  path: string;
  target: string | null;
  job_id: string | null;
  status: number;
  duration_ms: number;
}

const AUDIT_FILTERS = ['caller', 'method', 'status', 'target', 'job_id'] as const;

/** GET /audit with its filters, kept in the URL; older pages by the entry cursor. */
function AuditLog() {
  const params = new URLSearchParams(route.value.query);
  const query = AUDIT_FILTERS.filter((f) => params.get(f)).map((f) => `${f}=${encodeURIComponent(params.get(f) ?? '')}`).join('&');
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [cursor, setCursor] = useState<string | undefined>();
  const [error, setError] = useState('');
  const load = async (from?: string) => {
    setError('');
    try {
      const page = await call<{ entries: AuditEntry[]; next_cursor?: string }>('GET', `/audit?limit=100${query ? `&${query}` : ''}${from ? `&cursor=${from}` : ''}`);
      setEntries((prev) => (from ? [...prev, ...page.entries] : page.entries));
      setCursor(page.next_cursor);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  useEffect(() => {
    void load();
  }, [query]);
  const setFilter = (name: string, value: string) => {
    const next = new URLSearchParams(route.value.query);
    if (value) next.set(name, value);
    else next.delete(name);
    go(`/admin?${next.toString()}`);
  };
  const text = (name: 'caller' | 'status' | 'target' | 'job_id', label: string, size = 14) =>
    h('label', null, [`${label} `, h('input', { name: `audit-${name}`, size, value: params.get(name) ?? '', onChange: (e: Event) => setFilter(name, (e.target as HTMLInputElement).value.trim()) })]);
  return h('div', { class: 'panel', 'data-testid': 'audit' }, [
    h('h3', null, 'Audit log'),
    h('div', { class: 'toolbar' }, [
      text('caller', 'Caller'),
      h('label', null, [
        'Method ',
        h('select', { name: 'audit-method', value: params.get('method') ?? '', onChange: (e: Event) => setFilter('method', (e.target as HTMLSelectElement).value) }, ['', 'GET', 'POST', 'PUT', 'PATCH', 'DELETE'].map((m) => h('option', { value: m }, m || 'any'))),
      ]),
      text('status', 'Status', 4),
      text('target', 'Target'),
      text('job_id', 'Job', 36),
    ]),
    errorLine(error),
    h('table', { class: 'grid' }, [
      h('thead', null, h('tr', null, ['Time', 'Caller', 'Role', 'Request', 'Target', 'Job', 'Status', 'ms'].map((c) => h('th', null, c)))),
      h(
        'tbody',
        null,
        entries.map((e, i) =>
          h('tr', { key: `${e.time}-${i}`, 'data-status': e.status }, [
            h('td', { class: 'muted nowrap' }, new Date(e.time).toLocaleString()),
            h('td', null, e.caller ?? h('span', { class: 'muted' }, 'no key')),
            h('td', null, e.role ?? ''),
            h('td', { class: 'path' }, [h('strong', null, e.method), ' ', e.path]),
            h('td', null, e.target ?? ''),
            h('td', null, e.job_id ? h('a', { href: `#/job/${e.job_id}` }, e.job_id.slice(0, 8)) : ''),
            h('td', null, h('span', { class: `badge ${e.status >= 400 ? 'failed' : 'ok'}` }, String(e.status))),
            h('td', { class: 'muted' }, e.duration_ms.toFixed(0)),
          ]),
        ),
      ),
    ]),
    cursor ? h('button', { onClick: () => load(cursor) }, 'Older entries') : null,
  ]);
}

interface MintedKey {
  key: string;
  jti: string;
  sub: string;
  role: string;
  scope?: string;
  expires_at: string;
}

interface KeyRecord extends Omit<MintedKey, 'key'> {
  minted_by?: string;
  revoked?: boolean;
}

const TTL_CHOICES: Array<[string, number]> = [
  ['1 hour', 3600],
  ['1 day', 86_400],
  ['7 days', 604_800],
  ['30 days', 2_592_000],
  ['90 days', 7_776_000],
];
/** Seconds kept between a new key's expiry and the minting key's, for the time the request takes. */
const OWN_EXPIRY_MARGIN_SECONDS = 30;

/**
 * GET, POST and DELETE /token: the keys the gateway minted (their claims; it never stores a key) and
 * the signed-in key, a new key shown once, revocation by id.
 */
function ApiKeys() {
  // A key never outlives the key that mints it: longer lifetimes are shown but locked, and "as long as this key" is offered.
  const [ownSecondsLeft] = useState(() => Math.floor((Date.parse(me.value?.expires_at ?? '') - Date.now()) / 1000) - OWN_EXPIRY_MARGIN_SECONDS);
  const choices: Array<[string, number]> = [...TTL_CHOICES, ['as long as this key', ownSecondsLeft]];
  const [form, setForm] = useState({ role: 'viewer', subject: '', scope: me.value?.scope ?? '', ttl: String(Math.min(3600, ownSecondsLeft)) });
  const [fresh, setFresh] = useState<MintedKey | null>(null);
  const [keys, setKeys] = useState<KeyRecord[]>([]);
  const [revokeId, setRevokeId] = useState('');
  const [error, setError] = useState('');
  const reload = () =>
    call<{ keys: KeyRecord[] }>('GET', '/token').then(
      (list) => setKeys(list.keys),
      (err: Error) => setError(err.message),
    );
  useEffect(() => {
    void reload();
  }, []);
  const create = async (event: Event) => {
    event.preventDefault();
    setError('');
    try {
      const body = { role: form.role, ttl_seconds: Number(form.ttl), ...(form.subject ? { subject: form.subject } : {}), ...(form.scope ? { scope: form.scope } : {}) };
      const minted = await call<MintedKey>('POST', '/token', body);
      setFresh(minted);
      await reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const revoke = async (jti: string) => {
    setError('');
    try {
      await call('DELETE', `/token/${encodeURIComponent(jti)}`);
      setRevokeId('');
      await reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const who = me.value;
  // An unscoped key revokes any other key; a scoped one only itself, which the page does not offer (contract: token.revoke).
  const mayRevoke = (jti: string) => !who?.scope && jti !== who?.key_id;
  const field = (name: 'subject' | 'scope', label: string, placeholder: string) =>
    h('label', null, [label, h('input', { name: `key-${name}`, placeholder, value: form[name], onInput: (e: Event) => setForm({ ...form, [name]: (e.target as HTMLInputElement).value }) })]);
  return h('div', { class: 'panel', 'data-testid': 'api-keys' }, [
    h('h3', null, 'API keys'),
    h('form', { class: 'toolbar', onSubmit: create }, [
      h('label', null, ['Role', h('select', { name: 'key-role', value: form.role, onChange: (e: Event) => setForm({ ...form, role: (e.target as HTMLSelectElement).value }) }, ['viewer', 'operator', 'admin'].map((r) => h('option', { value: r }, r)))]),
      field('subject', 'Subject', 'who it is for'),
      field('scope', 'Scope', 'host or key:value (empty: whole fleet)'),
      h('label', null, ['Lifetime', h('select', { name: 'key-ttl', value: form.ttl, onChange: (e: Event) => setForm({ ...form, ttl: (e.target as HTMLSelectElement).value }) }, choices.map(([label, seconds]) => h('option', { value: String(seconds), disabled: seconds > ownSecondsLeft }, label)))]),
      h('button', { type: 'submit', class: 'mutate' }, 'Create key'),
    ]),
    errorLine(error),
    fresh
      ? h('div', { class: 'once', role: 'status', 'data-testid': 'new-key' }, [
          h('p', null, [h('strong', null, `Key for ${fresh.sub} (${fresh.role}${fresh.scope ? `, scope ${fresh.scope}` : ''})`), ' — shown this once; copy it now.']),
          h('pre', { class: 'secret' }, fresh.key),
          h('button', { onClick: () => navigator.clipboard?.writeText(fresh.key) }, 'Copy key'),
          h('button', { onClick: () => setFresh(null) }, 'Done'),
        ])
      : null,
    h('table', { class: 'grid' }, [
      h('thead', null, h('tr', null, ['Key id', 'Subject', 'Role', 'Scope', 'Minted by', 'Expires', ''].map((c) => h('th', null, c)))),
      h(
        'tbody',
        null,
        [...(who && !keys.some((k) => k.jti === who.key_id) ? [{ jti: who.key_id, sub: who.subject, role: who.role, scope: who.scope, expires_at: who.expires_at }] : []), ...keys].map((k: KeyRecord) =>
          h('tr', { key: k.jti, 'data-jti': k.jti }, [
            h('td', null, h('code', null, k.jti)),
            h('td', null, k.jti === who?.key_id ? `${k.sub} (this key)` : k.sub),
            h('td', null, k.role),
            h('td', null, k.scope ?? 'whole fleet'),
            h('td', { class: 'muted' }, k.minted_by ?? '—'),
            h('td', { class: 'muted' }, new Date(k.expires_at).toLocaleString()),
            h('td', null, k.revoked ? h('span', { class: 'badge failed' }, 'revoked') : mayRevoke(k.jti) ? h('button', { class: 'mutate danger', onClick: () => revoke(k.jti) }, 'Revoke') : null),
          ]),
        ),
      ),
    ]),
    who?.scope
      ? h('p', { class: 'muted' }, 'A scoped key revokes only itself (contract: token.revoke).')
      : h('form', { class: 'toolbar', onSubmit: (e: Event) => (e.preventDefault(), void revoke(revokeId.trim())) }, [
          h('label', null, ['Revoke by key id ', h('input', { name: 'revoke-jti', size: 38, value: revokeId, onInput: (e: Event) => setRevokeId((e.target as HTMLInputElement).value) })]),
          h('button', { type: 'submit', class: 'mutate danger', disabled: !revokeId.trim() }, 'Revoke'),
        ]),
  ]);
}

export function AdminView() {
  return h('section', { 'data-view': 'admin' }, [
    h('h2', null, 'Admin'),
    can('token:admin') ? h(ApiKeys, null) : null,
    can('audit:read') ? h(AuditLog, null) : null,
    !can('token:admin') && !can('audit:read') ? h('p', { class: 'muted' }, 'This key may neither read the audit log (audit:read) nor manage keys (token:admin).') : null,
  ]);
}
