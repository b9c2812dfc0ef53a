import { useState } from 'preact/hooks';
import { call, homeTarget, mayCall, startNodeCall, targetSegment } from '../api';
import { Badge, ErrorLine, LabelChips } from '../components/badge';
import { Field, Select } from '../components/field';
import { Table, type Column } from '../components/table';
import { usePoll, useAction } from '../hooks';
import { go } from '../router';
import {
  CONTAINER_ACTIONS,
  containerRows,
  groupOf,
  groupTitle,
  matches,
  type ContainerAction,
  type ContainerRow,
  type Grouping,
  type NodeList,
} from './container-rows';

const keyOf = (c: ContainerRow) => `${c.hostname}/${c.Id}`;

export function ContainersView() {
  const [target, setTarget] = useState(homeTarget());
  const [filter, setFilter] = useState('');
  const [groupBy, setGroupBy] = useState<Grouping>('host');
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [started, setStarted] = useState<string[]>([]);
  const action = useAction<ContainerAction>();
  const list = usePoll(() => call<NodeList>('GET', `/node/${targetSegment(target)}/container/docker?all=true`), 3000, [target]);
  const results = list.data?.results ?? [];
  const silent = results.filter((r) => r.status !== 'ok');
  const all = containerRows(results);
  const labelKeys = [...new Set(all.flatMap((c) => Object.keys(c.Labels ?? {})))].sort();
  const rows = all.filter((c) => matches(c, filter.toLowerCase()));
  const chosen = rows.filter((c) => selected.has(keyOf(c)));
  const toggle = (c: ContainerRow) => {
    const next = new Set(selected);
    if (!next.delete(keyOf(c))) next.add(keyOf(c));
    setSelected(next);
  };
  const run = (chosenAction: ContainerAction) =>
    action.run(chosenAction, async () => {
      const jobs = await Promise.all(chosen.map((c) => startNodeCall(c.hostname, chosenAction.call(c.Id))));
      setSelected(new Set());
      setStarted(jobs);
      if (jobs.length === 1) go(`/job/${jobs[0]}`);
    });
  const offered = CONTAINER_ACTIONS.filter((a) => mayCall(a.operation));
  const columns: Column<ContainerRow>[] = [
    {
      header: '',
      class: 'select',
      headerClass: 'select',
      shown: offered.length > 0,
      cell: (c) => (
        <input type="checkbox" aria-label={`select ${c.hostname} ${c.name}`} checked={selected.has(keyOf(c))} onChange={() => toggle(c)} />
      ),
    },
    { header: 'Host', class: 'host', sortBy: (c) => c.hostname, cell: (c) => c.hostname },
    { header: 'Name', class: 'name', sortBy: (c) => c.name, cell: (c) => c.name },
    { header: 'Image', class: 'muted image', sortBy: (c) => c.Image ?? '', cell: (c) => c.Image ?? '' },
    { header: 'State', sortBy: (c) => c.State ?? '', cell: (c) => <Badge status={c.State ?? 'unknown'} /> },
    { header: 'Status', class: 'muted', cell: (c) => c.Status ?? '' },
    { header: 'Labels', cell: (c) => <LabelChips labels={c.Labels} /> },
  ];
  const grouping = {
    of: (c: ContainerRow) => groupOf(c, groupBy),
    header: (group: string, members: ContainerRow[]) => <GroupHeader title={groupTitle(group, groupBy)} members={members} />,
  };
  return (
    <section data-view="containers">
      <h2>{`Containers · ${rows.length} on ${results.length - silent.length} hosts`}</h2>
      <div class="toolbar">
        <Field label="Target" name="target" value={target} onValue={setTarget} commit />
        <Field label="Filter" name="filter" size={32} placeholder="name, image, host, label=value" value={filter} onValue={setFilter} />
        <Select
          label="Group"
          name="group"
          value={groupBy}
          onValue={setGroupBy}
          choices={[
            { value: 'host', label: 'by host' },
            ...labelKeys.map((k) => ({ value: `label:${k}`, label: `by label ${k}` })),
            { value: 'none', label: 'none' },
          ]}
        />
        {offered.map((a) => (
          <button class="mutate" disabled={chosen.length === 0} onClick={() => action.ask(a)}>
            {a.label}
          </button>
        ))}
      </div>
      <ErrorLine error={list.error || action.error} />
      {action.asked ? <Confirm action={action.asked} chosen={chosen} onConfirm={run} onCancel={action.cancel} /> : null}
      {started.length > 1 ? (
        <p class="notice">
          Started:{' '}
          {started.map((id) => (
            <a href={`#/job/${id}`}>{id.slice(0, 8) + ' '}</a>
          ))}
        </p>
      ) : null}
      <Table
        columns={columns}
        rows={rows}
        rowKey={keyOf}
        rowAttributes={(c) => ({ 'data-host': c.hostname, 'data-name': c.name })}
        sortColumn="Name"
        partial={silent.length ? <SilentHosts silent={silent} of={results.length} /> : null}
        grouping={groupBy === 'none' ? undefined : grouping}
      />
    </section>
  );
}

/** The hosts that did not answer the list, each with why: the table lacks their containers. */
function SilentHosts({ silent, of }: { silent: NodeList['results']; of: number }) {
  const why = silent.map((r) => `${r.hostname} — ${r.error ?? r.status}`).join('; ');
  return (
    <p class="silent-hosts" role="status">
      {`${silent.length} of ${of} hosts did not answer: ${why}`}
    </p>
  );
}

function GroupHeader({ title, members }: { title: string; members: ContainerRow[] }) {
  const running = members.filter((r) => r.State === 'running').length;
  return (
    <>
      <strong>{title}</strong>
      <span class="muted">{` · ${members.length} container${members.length === 1 ? '' : 's'}, ${running} running`}</span>
    </>
  );
}

interface ConfirmProps {
  action: ContainerAction;
  chosen: ContainerRow[];
  onConfirm: (action: ContainerAction) => void;
  onCancel: () => void;
}

/** Names every container and host a mutation on the selection reaches, before it runs. */
function Confirm({ action, chosen, onConfirm, onCancel }: ConfirmProps) {
  const verb = action.label.toLowerCase();
  return (
    <div class="confirm" role="dialog">
      <p>{`${verb} ${chosen.length} container(s) on ${new Set(chosen.map((c) => c.hostname)).size} host(s):`}</p>
      <ul>
        {chosen.map((c) => (
          <li>{`${c.hostname}: ${c.name}`}</li>
        ))}
      </ul>
      <button class="mutate danger" onClick={() => onConfirm(action)}>
        {`Confirm ${verb}`}
      </button>
      <button onClick={onCancel}>Cancel</button>
    </div>
  );
}
