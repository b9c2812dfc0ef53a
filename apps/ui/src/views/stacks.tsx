import type { StackList } from '@fleet/sdk';
import { call, me } from '../api';
import { ErrorLine } from '../components/badge';
import { Table, type Column } from '../components/table';
import { usePoll } from '../hooks';

type StackSummary = StackList['stacks'][number];
type StackHostCounts = StackSummary['hosts'];

/** Stacks change by deploys and heartbeats: a few seconds behind is what an operator watching them expects. */
export const STACK_POLL_MS = 3_000;

/** A host's states in the order an operator reads them: what is wrong first. */
export const HOST_STATES: readonly (keyof StackHostCounts)[] = ['failed', 'drifted', 'offline', 'pending', 'in_sync'];

/** The stack's hosts per state (`in_sync 2 · drifted 1`), states without hosts left out. */
export function HostCounts({ counts }: { counts: StackHostCounts }) {
  const present = HOST_STATES.filter((state) => counts[state] > 0);
  if (present.length === 0) return <span class="muted">no hosts</span>;
  return (
    <span class="counts">
      {present.map((state) => (
        <span class={`badge ${state}`} data-state={state}>{`${state} ${counts[state]}`}</span>
      ))}
    </span>
  );
}

const COLUMNS: Column<StackSummary>[] = [
  { header: 'Stack', class: 'host', sortBy: (s) => s.name, cell: (s) => <a href={`#/stacks/${s.name}`}>{s.name}</a> },
  { header: 'Revision', cell: (s) => String(s.revision) },
  { header: 'Target', sortBy: (s) => s.target, cell: (s) => <code>{s.target}</code> },
  { header: 'Hosts', cell: (s) => <HostCounts counts={s.hosts} /> },
];

/** A scoped key sees only the stacks whose target lies within its scope (README "Stacks"): the empty list says so. */
function noStacks(): string {
  const scope = me.value?.scope;
  return scope ? `No stack targets hosts within this key's scope (${scope}).` : 'No stacks yet (fleet stack deploy, README "Stacks").';
}

/** Every stack the key may see (GET /stack), re-read every few seconds; each links to its page. */
export function StacksView() {
  const list = usePoll(() => call<StackList>('GET', '/stack'), STACK_POLL_MS, []);
  return (
    <section data-view="stacks">
      <h2>Stacks</h2>
      <ErrorLine error={list.error} />
      <Table
        class="matrix"
        columns={COLUMNS}
        rows={list.data?.stacks ?? []}
        rowKey={(s) => s.name}
        rowAttributes={(s) => ({ 'data-stack': s.name })}
        sortColumn="Stack"
        empty={
          list.data ? (
            <p class="muted" data-testid="no-stacks">
              {noStacks()}
            </p>
          ) : null
        }
      />
    </section>
  );
}
