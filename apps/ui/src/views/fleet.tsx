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

/**
 * Where the page shown starts: `start` agents in (First, Last, a page number: `offset`), then one Next per cursor
 * (`cursor`, the last hostname of the page before), so Next and Previous keep the API's cursor paging.
 */
interface PagePosition {
  start: number;
  cursors: string[];
}

const FIRST_PAGE: PagePosition = { start: 0, cursors: [] };

function queryString(query: AgentQuery, position: PagePosition): string {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE), state: query.state });
  if (query.target) params.set('target', query.target);
  if (query.version) params.set('version', query.version);
  const cursor = position.cursors.at(-1);
  if (cursor) params.set('cursor', cursor);
  else if (position.start) params.set('offset', String(position.start));
  return params.toString();
}

const firstOf = (position: PagePosition) => position.start + position.cursors.length * PAGE_SIZE;

/** The fleet's size whatever the filters (in the key's scope): asked apart only while a filter narrows the page's counts. */
function useFleetSize(query: AgentQuery, page: AgentList | undefined): number | undefined {
  const filtered = Boolean(query.target || query.version);
  const whole = usePoll(() => (filtered ? call<AgentList>('GET', '/agent?limit=1&state=all') : Promise.resolve(undefined)), 5_000, [
    filtered,
  ]);
  return filtered ? whole.data && agentsIn(whole.data) : page && agentsIn(page);
}

const agentsIn = (list: AgentList) => list.counts.online + list.counts.drained + list.counts.offline;

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

/**
 * An agent checks its record every FLEET_AGENT_HEARTBEAT_MS but writes it only when it changed or its refresh is due
 * (README "Agents and heartbeats"): an idle agent is heard every 24–30 s by default, and is live until the TTL.
 */
const HEARD_NOTE =
  'When the gateway last heard the agent write its record: at once on a change, else every 24–30 s ' +
  '(FLEET_AGENT_REFRESH_MS, 30 s by default); it stays live until FLEET_AGENT_TTL_MS (75 s by default).';

export function FleetView() {
  const [query, setQuery] = useState<AgentQuery>({ state: 'live', target: '', version: '' });
  // Next pushes a cursor, Previous pops one (or steps back from `start`), a new filter starts over.
  const [position, setPosition] = useState<PagePosition>(FIRST_PAGE);
  const [reloads, setReloads] = useState(0);
  // Each page remembers where it starts: until the next one arrives, the pager still names the rows shown.
  const page = usePoll(
    async () => ({ ...(await call<AgentList>('GET', `/agent?${queryString(query, position)}`)), first: firstOf(position) }),
    5_000,
    [query, position, reloads],
  );
  const fleetSize = useFleetSize(query, page.data);
  const action = useAction();
  // The listing reaches every live host of the target (a version filter narrows the page, not the listing).
  const reached = page.data && !query.version ? page.data.counts.online + page.data.counts.drained : undefined;
  const counts = useContainerCounts(query.target, reached);
  const counted = reached !== undefined && reached <= COUNTED_HOSTS_MAX;
  useTick(1000);
  const filter = (change: Partial<AgentQuery>) => {
    setQuery((prev) => ({ ...prev, ...change }));
    setPosition(FIRST_PAGE);
  };
  const drain = useAction<Agent>();
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
      header: counted || !page.data ? 'Containers' : <NotCountedHeader reached={reached} />,
      class: 'counts',
      cellAttributes: (agent) => ({ 'data-testid': `counts-${agent.hostname}` }),
      cell: (agent) => {
        if (!counted) return <span class="muted">not counted</span>;
        return counts ? <Counts count={counts.get(agent.hostname)} /> : <span class="muted">counting…</span>;
      },
    },
    {
      header: <span title={HEARD_NOTE}>Heard</span>,
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
        if (agent.drained)
          return mayCall('agent.undrain') ? <Mutate busy={busy} label="Undrain" onClick={() => act(agent, 'undrain')} /> : null;
        // Draining takes the host out of every group target: asked first, naming the host.
        return mayCall('agent.drain') ? <Mutate busy={busy} label="Drain" onClick={() => drain.ask(agent)} /> : null;
      },
    },
  ];
  const status = page.error ? 'failed' : page.data ? 'live' : 'connecting';
  const total = page.data?.total ?? 0;
  const lastStart = Math.max(0, Math.ceil(total / PAGE_SIZE) - 1) * PAGE_SIZE;
  const goTo = (start: number) => setPosition({ start: Math.min(Math.max(0, start), lastStart), cursors: [] });
  const first = page.data?.first ?? 0;
  return (
    <section data-view="fleet">
      <h2>
        {`Fleet · ${fleetSize === undefined ? '…' : agentCount(fleetSize)}`}
        {page.data?.pending ? <Badge status="pending">{`${page.data.pending} pending`}</Badge> : null}
        <span class={`feed ${status}`} title={page.error ?? 'updated every 5 s'}>
          {status}
        </span>
      </h2>
      <ErrorLine error={page.error ?? action.error} />
      {drain.asked ? (
        <DrainDialog
          agent={drain.asked}
          onConfirm={(agent) => {
            drain.cancel();
            void act(agent, 'drain');
          }}
          onCancel={drain.cancel}
        />
      ) : null}
      <FleetFilters query={query} counts={page.data?.counts} onFilter={filter} />
      <FilteredLine query={query} page={page.data} fleetSize={fleetSize} />
      <Pager
        page={page.data}
        first={first}
        onFirst={first > 0 ? () => setPosition(FIRST_PAGE) : undefined}
        onPrevious={
          position.cursors.length
            ? () => setPosition({ ...position, cursors: position.cursors.slice(0, -1) })
            : position.start > 0
              ? () => goTo(position.start - PAGE_SIZE)
              : undefined
        }
        onNext={
          page.data?.next_cursor ? () => setPosition({ ...position, cursors: [...position.cursors, page.data!.next_cursor!] }) : undefined
        }
        onLast={page.data?.next_cursor ? () => goTo(lastStart) : undefined}
        onPage={(n) => goTo((n - 1) * PAGE_SIZE)}
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

const agentCount = (n: number) => `${n.toLocaleString('en')} ${n === 1 ? 'agent' : 'agents'}`;

/** With a filter set: how many of the fleet's agents it matches (any state), apart from the fleet's size in the heading. */
function FilteredLine({ query, page, fleetSize }: { query: AgentQuery; page?: AgentList; fleetSize?: number }) {
  if (!page || fleetSize === undefined || !(query.target || query.version)) return null;
  const filters = [query.target, query.version && `version ${query.version}`].filter(Boolean).join(', ');
  const matching = agentsIn(page);
  return (
    <p class="muted" data-testid="fleet-matching">
      {`${matching.toLocaleString('en')} of ${agentCount(fleetSize)} ${matching === 1 ? 'matches' : 'match'} ${filters}`}
    </p>
  );
}

function NotCountedHeader({ reached }: { reached?: number }) {
  const why = reached === undefined ? 'not counted with a version filter' : `not counted above ${COUNTED_HOSTS_MAX} hosts`;
  return (
    <span title={`Counted by one container listing over the filtered hosts, when they are at most ${COUNTED_HOSTS_MAX}`}>
      Containers{' '}
      <small class="muted counts-note" data-testid="counts-note">{`(${why}: filter to ${COUNTED_HOSTS_MAX} or fewer to count)`}</small>
    </span>
  );
}

function DrainDialog({ agent, onConfirm, onCancel }: { agent: Agent; onConfirm: (agent: Agent) => void; onCancel: () => void }) {
  return (
    <div class="confirm" role="dialog" aria-label={`Drain ${agent.hostname}`}>
      <p>{`Drain ${agent.hostname}? It leaves _all, _any and label targets (calls naming it still reach it) until it is undrained.`}</p>
      <button class="mutate" onClick={() => onConfirm(agent)}>{`Confirm drain ${agent.hostname}`}</button>
      <button onClick={onCancel}>Cancel</button>
    </div>
  );
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

interface PagerProps {
  page?: AgentList;
  first: number;
  onFirst?: () => void;
  onPrevious?: () => void;
  onNext?: () => void;
  onLast?: () => void;
  /** Goes to page n (from 1). */
  onPage: (n: number) => void;
}

function Pager({ page, first, onFirst, onPrevious, onNext, onLast, onPage }: PagerProps) {
  if (!page || page.total === 0) return null;
  const shown = `${(first + 1).toLocaleString('en')}–${(first + page.agents.length).toLocaleString('en')} of ${page.total.toLocaleString('en')}`;
  const pages = Math.ceil(page.total / PAGE_SIZE);
  const jump = (typed: string) => {
    const n = Number(typed);
    if (Number.isInteger(n) && n >= 1) onPage(Math.min(n, pages));
  };
  return (
    <p class="pager" data-testid="fleet-pager">
      <button disabled={!onFirst} onClick={onFirst}>
        First
      </button>
      <button disabled={!onPrevious} onClick={onPrevious}>
        Previous
      </button>{' '}
      <span>{shown}</span>{' '}
      <button disabled={!onNext} onClick={onNext}>
        Next
      </button>
      <button disabled={!onLast} onClick={onLast}>
        Last
      </button>
      {pages > 1 ? (
        <Field label="Page" name="fleet-page" value={String(Math.floor(first / PAGE_SIZE) + 1)} commit size={5} onValue={jump} />
      ) : null}
      {pages > 1 ? `of ${pages.toLocaleString('en')}` : null}
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
