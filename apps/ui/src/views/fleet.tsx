import { useState } from 'preact/hooks';
import type { Agent, AgentList } from '@fleet/sdk';
import { call, homeTarget, mayCall, me, targetSegment } from '../api';
import { ago, Badge, ErrorLine, LabelChips } from '../components/badge';
import { Table, type Column } from '../components/table';
import { useBatched, useFeed } from '../feed';
import { usePoll, useTick, useAction } from '../hooks';
import { TargetPreview } from './target-preview';
import { containersOf, type NodeList } from './container-rows';

interface StateCounts {
  running: number;
  stopped: number;
}

/** Running and stopped containers per host, from one container list on the key's widest target. */
function useContainerCounts(): Map<string, StateCounts> | undefined {
  const list = usePoll(() => call<NodeList>('GET', `/node/${targetSegment(homeTarget())}/container/docker?all=true`), 10_000, []);
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

/** What the agents feed says (GET /feed/agents): the whole fleet first, then each change. */
type AgentChange = { event: 'agent'; data: Agent } | { event: 'gone'; data: Pick<Agent, 'hostname'> };

/** The agents as their feed tells them, by hostname. */
function useAgents() {
  const [agents, setAgents] = useState<Map<string, Agent>>(new Map());
  // A thousand agents heartbeat every few seconds: their changes are applied in batches, one render each.
  const applyChanges = useBatched<AgentChange>((changes) =>
    setAgents((prev) => {
      const next = new Map(prev);
      for (const change of changes) {
        if (change.event === 'agent') next.set(change.data.hostname, change.data);
        else next.delete(change.data.hostname);
      }
      return next;
    }),
  );
  const feed = useFeed(
    '/feed/agents',
    (event, data) => {
      if (event === 'agents') setAgents(new Map((data as AgentList).agents.map((a) => [a.hostname, a])));
      else if (event === 'agent' || event === 'gone') applyChanges({ event, data } as AgentChange);
    },
    [],
  );
  return { agents, feed };
}

type AgentAction = 'drain' | 'undrain' | 'accept';

export function FleetView() {
  const { agents, feed } = useAgents();
  const action = useAction();
  const counts = useContainerCounts();
  useTick(1000);
  const act = (agent: Agent, verb: AgentAction) =>
    action.run(agent.hostname, () => call('POST', `/agent/${encodeURIComponent(agent.hostname)}/${verb}`));
  const list = [...agents.values()].sort((a, b) => a.hostname.localeCompare(b.hostname));
  const pending = list.filter((a) => a.enrollment === 'pending').length;
  // Enrolment changes which hosts every scope reaches: the gateway takes it from unscoped keys only.
  const mayEnrol = mayCall('agent.accept') && !me.value?.scope;
  const columns: Column<Agent>[] = [
    { header: 'Host', class: 'host', cell: (agent) => agent.hostname },
    { header: 'State', cell: (agent) => <AgentState agent={agent} /> },
    {
      header: 'Engine',
      cellAttributes: (agent) => ({ title: agent.engine?.error ?? '' }),
      cell: (agent) => <Badge status={agent.engine?.healthy ? 'healthy' : 'unhealthy'} />,
    },
    {
      header: 'Containers',
      class: 'counts',
      cellAttributes: (agent) => ({ 'data-testid': `counts-${agent.hostname}` }),
      cell: (agent) => <Counts count={counts?.get(agent.hostname)} />,
    },
    { header: 'Heartbeat', cell: (agent) => (agent.last_seen_at ? ago(agent.last_seen_at) : '') },
    { header: 'Labels', cell: (agent) => <AgentLabels agent={agent} /> },
    { header: 'Versions', class: 'muted', cell: (agent) => `agent ${agent.agent_version ?? '?'} · engine ${agent.engine_version ?? '?'}` },
    {
      header: '',
      class: 'actions',
      cell: (agent) => {
        const busy = action.busy === agent.hostname;
        if (agent.enrollment === 'pending') {
          return mayEnrol ? <Mutate busy={busy} label="Accept" onClick={() => act(agent, 'accept')} /> : null;
        }
        const verb = agent.drained ? 'undrain' : 'drain';
        const label = agent.drained ? 'Undrain' : 'Drain';
        return mayCall(`agent.${verb}`) ? <Mutate busy={busy} label={label} onClick={() => act(agent, verb)} /> : null;
      },
    },
  ];
  return (
    <section data-view="fleet">
      <h2>
        {`Fleet · ${list.length} agents`}
        {pending ? <Badge status="pending">{`${pending} pending`}</Badge> : null}
        <span class={`feed ${feed.status}`} title={feed.error ?? ''}>
          {feed.status}
        </span>
      </h2>
      <ErrorLine error={feed.error ?? action.error} />
      <TargetPreview />
      <Table
        columns={columns}
        rows={list}
        rowKey={(agent) => agent.hostname}
        rowAttributes={(agent) => ({ 'data-host': agent.hostname, 'data-enrollment': agent.enrollment })}
      />
    </section>
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
      <Badge status={agent.live ? 'live' : 'gone'} />
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
