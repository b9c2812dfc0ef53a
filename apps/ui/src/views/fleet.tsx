import { useState } from 'preact/hooks';
import type { Agent, AgentList } from '@fleet/sdk';
import { call, homeTarget, mayCall, me, targetSegment } from '../api';
import { ago, Badge, ErrorLine, LabelChips } from '../components/badge';
import { Field } from '../components/field';
import { Table, type Column } from '../components/table';
import { usePoll, useTick, useAction } from '../hooks';
import { TargetPreview } from './target-preview';
import { containersOf, type NodeList } from './container-rows';

interface StateCounts {
  running: number;
  stopped: number;
}

/** Agents shown per page: the API pages the fleet, so the view stays as light at 10,000 agents as at 10. */
const PAGE_SIZE = 50;
/** Containers are counted by one listing over the target's hosts, and only when they are this few: never a fan-out to the fleet. */
const COUNTED_HOSTS_MAX = 200;
const STATES = [
  { state: 'live', label: 'Live' },
  { state: 'online', label: 'Online' },
  { state: 'drained', label: 'Drained' },
  { state: 'offline', label: 'Offline' },
  { state: 'all', label: 'All' },
] as const;
type StateFilter = (typeof STATES)[number]['state'];

interface AgentQuery {
  state: StateFilter;
  target: string;
  version: string;
}

function queryString(query: AgentQuery, cursor: string | undefined): string {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE), state: query.state });
  if (query.target) params.set('target', query.target);
  if (query.version) params.set('version', query.version);
  if (cursor) params.set('cursor', cursor);
  return params.toString();
}

/** Running and stopped containers per host, from one container list on the filtered hosts (the key's widest target unfiltered). */
function useContainerCounts(target: string, hosts: number | undefined): Map<string, StateCounts> | undefined {
  const counted = hosts !== undefined && hosts <= COUNTED_HOSTS_MAX;
  const list = usePoll(
    () =>
      counted
        ? call<NodeList>('GET', `/node/${targetSegment(target || homeTarget())}/container/docker?all=true`)
        : Promise.resolve(undefined),
    10_000,
    [target, counted],
  );
  if (!list.data) return undefined;
  const counts = new Map<string, StateCounts>();
  for (const row of list.data.results) {
    if (row.status !== 'ok') continue;
    const containers = containersOf(row);
    const running = containers.filter((c) => c.State === 'running').length;
    counts.set(row.hostname, { running, stopped: containers.length - running });
  }
  return counts;
}

type AgentAction = 'drain' | 'undrain' | 'accept';

export function FleetView() {
  const [query, setQuery] = useState<AgentQuery>({ state: 'live', target: '', version: '' });
  // The cursors of the pages before this one: Next pushes, Previous pops, a new filter starts over.
  const [cursors, setCursors] = useState<string[]>([]);
  const [reloads, setReloads] = useState(0);
  // Each page remembers where it starts: until the next one arrives, the pager still names the rows shown.
  const page = usePoll(
    async () => ({ ...(await call<AgentList>('GET', `/agent?${queryString(query, cursors.at(-1))}`)), first: cursors.length * PAGE_SIZE }),
    5_000,
    [query, cursors, reloads],
  );
  const action = useAction();
  // The listing reaches every live host of the target (a version filter narrows the page, not the listing).
  const reached = page.data && !query.version ? page.data.counts.online + page.data.counts.drained : undefined;
  const counts = useContainerCounts(query.target, reached);
  useTick(1000);
  const filter = (change: Partial<AgentQuery>) => {
    setQuery((prev) => ({ ...prev, ...change }));
    setCursors([]);
  };
  const act = (agent: Agent, verb: AgentAction) =>
    action
      .run(agent.hostname, () => call('POST', `/agent/${encodeURIComponent(agent.hostname)}/${verb}`))
      .then(() => setReloads((n) => n + 1));
  const list = page.data?.agents ?? [];
  // Enrolment changes which hosts every scope reaches: the gateway takes it from unscoped keys only.
  const mayEnrol = mayCall('agent.accept') && !me.value?.scope;
  const columns: Column<Agent>[] = [
    { header: 'Host', class: 'host', cell: (agent) => agent.hostname },
    { header: 'State', cell: (agent) => <AgentState agent={agent} /> },
    {
      header: 'Engine',
      cellAttributes: (agent) => ({ title: agent.engine?.error ?? '' }),
      cell: (agent) => (agent.engine ? <Badge status={agent.engine.healthy ? 'healthy' : 'unhealthy'} /> : <span class="muted">—</span>),
    },
    {
      header: 'Containers',
      class: 'counts',
      cellAttributes: (agent) => ({
        'data-testid': `counts-${agent.hostname}`,
        title:
          reached === undefined || reached > COUNTED_HOSTS_MAX ? `counted for at most ${COUNTED_HOSTS_MAX} hosts: filter by target` : '',
      }),
      cell: (agent) => <Counts count={counts?.get(agent.hostname)} />,
    },
    {
      header: 'Heard',
      cell: (agent) => (agent.last_seen_at ? ago(agent.last_seen_at) : <span class="muted">not since the gateway started</span>),
    },
    { header: 'Labels', cell: (agent) => <AgentLabels agent={agent} /> },
    { header: 'Versions', class: 'muted', cell: (agent) => <Versions agent={agent} /> },
    {
      header: '',
      class: 'actions',
      cell: (agent) => {
        const busy = action.busy === agent.hostname;
        // Drain and accept act on an agent the gateway hears: an offline one has nothing to offer.
        if (!agent.live) return null;
        if (agent.enrollment === 'pending') {
          return mayEnrol ? <Mutate busy={busy} label="Accept" onClick={() => act(agent, 'accept')} /> : null;
        }
        const verb = agent.drained ? 'undrain' : 'drain';
        const label = agent.drained ? 'Undrain' : 'Drain';
        return mayCall(`agent.${verb}`) ? <Mutate busy={busy} label={label} onClick={() => act(agent, verb)} /> : null;
      },
    },
  ];
  const status = page.error ? 'failed' : page.data ? 'live' : 'connecting';
  return (
    <section data-view="fleet">
      <h2>
        {`Fleet · ${fleetSize(page.data)} agents`}
        {page.data?.pending ? <Badge status="pending">{`${page.data.pending} pending`}</Badge> : null}
        <span class={`feed ${status}`} title={page.error ?? 'updated every 5 s'}>
          {status}
        </span>
      </h2>
      <ErrorLine error={page.error ?? action.error} />
      <FleetFilters query={query} counts={page.data?.counts} onFilter={filter} />
      <Pager
        page={page.data}
        first={page.data?.first ?? 0}
        onPrevious={cursors.length ? () => setCursors(cursors.slice(0, -1)) : undefined}
        onNext={page.data?.next_cursor ? () => setCursors([...cursors, page.data!.next_cursor!]) : undefined}
      />
      <TargetPreview />
      <Table
        columns={columns}
        rows={list}
        rowKey={(agent) => agent.hostname}
        rowAttributes={(agent) => ({ 'data-host': agent.hostname, 'data-enrollment': agent.enrollment })}
        empty={page.data ? 'No agent matches.' : undefined}
      />
    </section>
  );
}

function fleetSize(list: AgentList | undefined): string {
  if (!list) return '…';
  const { online, drained, offline } = list.counts;
  return (online + drained + offline).toLocaleString('en');
}

/** The state tabs with their counts, and the target and version filter box. */
function FleetFilters(props: { query: AgentQuery; counts?: AgentList['counts']; onFilter: (change: Partial<AgentQuery>) => void }) {
  const { query, counts, onFilter } = props;
  const countOf = (state: StateFilter) => {
    if (!counts) return '';
    if (state === 'live') return counts.online + counts.drained;
    if (state === 'all') return counts.online + counts.drained + counts.offline;
    return counts[state];
  };
  return (
    <div class="fleet-filters">
      <span class="states" role="tablist">
        {STATES.map(({ state, label }) => (
          <button
            role="tab"
            aria-selected={query.state === state}
            class={`state-tab ${state}${query.state === state ? ' selected' : ''}`}
            data-state={state}
            onClick={() => onFilter({ state })}
          >
            {`${label} ${countOf(state).toLocaleString('en')}`}
          </button>
        ))}
      </span>
      <Field
        label="Filter"
        name="fleet-target"
        value={query.target}
        commit
        size={28}
        placeholder="role:web,zone:eu or a hostname"
        onValue={(target) => onFilter({ target: target.trim() })}
      />
      <Field
        label="Version"
        name="fleet-version"
        value={query.version}
        commit
        size={8}
        placeholder="0.1.0"
        onValue={(version) => onFilter({ version: version.trim() })}
      />
    </div>
  );
}

function Pager(props: { page?: AgentList; first: number; onPrevious?: () => void; onNext?: () => void }) {
  const { page, first, onPrevious, onNext } = props;
  if (!page || page.total === 0) return null;
  const shown = `${(first + 1).toLocaleString('en')}–${(first + page.agents.length).toLocaleString('en')} of ${page.total.toLocaleString('en')}`;
  return (
    <p class="pager" data-testid="fleet-pager">
      <button disabled={!onPrevious} onClick={onPrevious}>
        Previous
      </button>{' '}
      <span>{shown}</span>{' '}
      <button disabled={!onNext} onClick={onNext}>
        Next
      </button>
    </p>
  );
}

function Versions({ agent }: { agent: Agent }) {
  if (!agent.agent_version) return <span>—</span>;
  const build = agent.build ? ` (${agent.build})` : '';
  return (
    <span
      title={agent.build ? `build ${agent.build}` : ''}
    >{`agent ${agent.agent_version ?? '?'}${build} · engine ${agent.engine_version ?? '?'}`}</span>
  );
}

function Mutate({ busy, label, onClick }: { busy: boolean; label: string; onClick: () => void }) {
  return (
    <button class="mutate" disabled={busy} onClick={onClick}>
      {label}
    </button>
  );
}

function AgentState({ agent }: { agent: Agent }) {
  return (
    <>
      <Badge status={agent.live ? 'live' : 'offline'} />
      {agent.drained ? <Badge status="drained" /> : null}
      {agent.enrollment === 'pending' ? <Badge status="pending" /> : null}
    </>
  );
}

function Counts({ count }: { count?: StateCounts }) {
  if (!count) return <span class="muted">—</span>;
  return (
    <>
      <span class="count running">{`${count.running} running`}</span> <span class="count stopped">{`${count.stopped} stopped`}</span>
    </>
  );
}

function AgentLabels({ agent }: { agent: Agent }) {
  if (agent.enrollment !== 'pending') return <LabelChips labels={agent.labels} />;
  return (
    <span class="muted">
      asks for <LabelChips labels={agent.requested_labels} />
    </span>
  );
}
