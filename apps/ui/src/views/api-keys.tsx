import { useEffect, useState } from 'preact/hooks';
import { ROLES } from '@fleet/contracts/permissions';
import type { KeyList, KeyRecord, MintedKey, Whoami } from '@fleet/sdk';
import { call, me } from '../api';
import { Badge, ErrorLine } from '../components/badge';
import { Field, Select } from '../components/field';
import { Table, type Column } from '../components/table';
import { useAction } from '../hooks';

/** A key in the list: as GET /token lists it, or the signed-in key itself, which only /whoami describes. */
type ListedKey = Omit<KeyRecord, 'minted_by' | 'minted_at' | 'revoked'> & Partial<KeyRecord>;

const TTL_CHOICES: Array<[string, number]> = [
  ['1 hour', 3600],
  ['1 day', 86_400],
  ['7 days', 604_800],
  ['30 days', 2_592_000],
  ['90 days', 7_776_000],
];
/** Seconds kept between a new key's expiry and the minting key's, for the time the request takes. */
const OWN_EXPIRY_MARGIN_SECONDS = 30;

function withOwnKey(keys: KeyRecord[], who: Whoami | null): ListedKey[] {
  if (!who || keys.some((k) => k.jti === who.key_id)) return keys;
  return [{ jti: who.key_id, sub: who.subject, role: who.role, scope: who.scope, expires_at: who.expires_at }, ...keys];
}

/**
 * GET, POST and DELETE /token: the keys the gateway minted (their claims; it never stores a key) and
 * the signed-in key, a new key shown once, revocation by id.
 */
export function ApiKeys() {
  const who = me.value;
  // A key never outlives the key that mints it: longer lifetimes are shown but locked, and "as long as this key" is offered.
  const [ownSecondsLeft] = useState(() => Math.floor((Date.parse(who?.expires_at ?? '') - Date.now()) / 1000) - OWN_EXPIRY_MARGIN_SECONDS);
  const choices = [...TTL_CHOICES, ['as long as this key', ownSecondsLeft] as [string, number]].map(([label, seconds]) => ({
    label,
    value: String(seconds),
    disabled: seconds > ownSecondsLeft,
  }));
  const [form, setForm] = useState({ role: 'viewer', subject: '', scope: who?.scope ?? '', ttl: String(Math.min(3600, ownSecondsLeft)) });
  const [fresh, setFresh] = useState<MintedKey | null>(null);
  const [keys, setKeys] = useState<KeyRecord[]>([]);
  const [revokeId, setRevokeId] = useState('');
  const action = useAction();
  const reload = async () => setKeys((await call<KeyList>('GET', '/token')).keys);
  useEffect(() => {
    void action.run('list', reload);
  }, []);
  const create = (event: Event) => {
    event.preventDefault();
    const body = {
      role: form.role,
      ttl_seconds: Number(form.ttl),
      ...(form.subject ? { subject: form.subject } : {}),
      ...(form.scope ? { scope: form.scope } : {}),
    };
    void action.run('create', async () => {
      setFresh(await call<MintedKey>('POST', '/token', body));
      await reload();
    });
  };
  const revoke = (jti: string) =>
    action.run('revoke', async () => {
      await call('DELETE', `/token/${encodeURIComponent(jti)}`);
      setRevokeId('');
      await reload();
    });
  // An unscoped key revokes any other key; a scoped one only itself, which the page does not offer (contract: token.revoke).
  const mayRevoke = (jti: string) => !who?.scope && jti !== who?.key_id;
  const set = (name: keyof typeof form) => (value: string) => setForm({ ...form, [name]: value });
  const columns: Column<ListedKey>[] = [
    { header: 'Key id', cell: (k) => <code>{k.jti}</code> },
    { header: 'Subject', cell: (k) => (k.jti === who?.key_id ? `${k.sub} (this key)` : k.sub) },
    { header: 'Role', cell: (k) => k.role },
    { header: 'Scope', cell: (k) => k.scope ?? 'whole fleet' },
    { header: 'Minted by', class: 'muted', cell: (k) => k.minted_by ?? '—' },
    { header: 'Expires', class: 'muted', cell: (k) => new Date(k.expires_at).toLocaleString() },
    {
      header: '',
      cell: (k) => {
        if (k.revoked) return <Badge status="failed">revoked</Badge>;
        return mayRevoke(k.jti) ? (
          <button class="mutate danger" onClick={() => revoke(k.jti)}>
            Revoke
          </button>
        ) : null;
      },
    },
  ];
  return (
    <div class="panel" data-testid="api-keys">
      <h3>API keys</h3>
      <form class="toolbar" onSubmit={create}>
        <Select label="Role" name="key-role" value={form.role} onValue={set('role')} choices={Object.keys(ROLES)} />
        <Field label="Subject" name="key-subject" placeholder="who it is for" value={form.subject} onValue={set('subject')} />
        <Field
          label="Scope"
          name="key-scope"
          placeholder="host or key:value (empty: whole fleet)"
          value={form.scope}
          onValue={set('scope')}
        />
        <Select label="Lifetime" name="key-ttl" value={form.ttl} onValue={set('ttl')} choices={choices} />
        <button type="submit" class="mutate">
          Create key
        </button>
      </form>
      <ErrorLine error={action.error} />
      {fresh ? <FreshKey fresh={fresh} onDone={() => setFresh(null)} /> : null}
      <Table columns={columns} rows={withOwnKey(keys, who)} rowKey={(k) => k.jti} rowAttributes={(k) => ({ 'data-jti': k.jti })} />
      {who?.scope ? (
        <p class="muted">A scoped key revokes only itself (contract: token.revoke).</p>
      ) : (
        <form class="toolbar" onSubmit={(event) => (event.preventDefault(), void revoke(revokeId.trim()))}>
          <Field label="Revoke by key id" name="revoke-jti" size={38} value={revokeId} onValue={setRevokeId} />
          <button type="submit" class="mutate danger" disabled={!revokeId.trim()}>
            Revoke
          </button>
        </form>
      )}
    </div>
  );
}

/** A key just minted: shown this once, with its claims, until the admin says done. */
function FreshKey({ fresh, onDone }: { fresh: MintedKey; onDone: () => void }) {
  const claims = `${fresh.role}${fresh.scope ? `, scope ${fresh.scope}` : ''}`;
  return (
    <div class="once" role="status" data-testid="new-key">
      <p>
        <strong>{`Key for ${fresh.sub} (${claims})`}</strong> — shown this once; copy it now.
      </p>
      <pre class="secret">{fresh.key}</pre>
      <button onClick={() => navigator.clipboard?.writeText(fresh.key)}>Copy key</button>
      <button onClick={onDone}>Done</button>
    </div>
  );
}
