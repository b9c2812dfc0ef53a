import { useEffect, useState } from 'preact/hooks';
import { homeTarget, targetSegment } from '../api';
import { Badge, ErrorLine } from '../components/badge';
import { Field, Select } from '../components/field';
import { Table, type Column } from '../components/table';
import { openStream, readEvents } from '../feed';
import { go, route } from '../router';

/**
 * The fields the page reads of an Engine API event (`GET /events`), with the host it came from: the
 * contract passes the engine's object through as it is, so its shape is Docker's, not the contract's.
 */
interface EngineEvent {
  hostname: string;
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
}

/** Events kept on the events page; older ones scroll away. */
const EVENTS_KEPT = 1000;
const EVENT_TYPES = [{ value: '', label: 'any' }, 'container', 'image', 'network', 'volume', 'daemon'];
const SINCE_MINUTES = ['1', '10', '60', '1440'].map((m) => ({ value: m, label: `${m} min` }));

const nameOf = (e: EngineEvent) => e.Actor?.Attributes?.name;

/** The engines' events of `target` (docker.system.events), newest first, while the view is shown. */
function useEngineEvents(target: string, type: string, sinceMinutes: string) {
  const [events, setEvents] = useState<EngineEvent[]>([]);
  const [status, setStatus] = useState('');
  useEffect(() => {
    const controller = new AbortController();
    setEvents([]);
    setStatus('connecting…');
    const query = new URLSearchParams({ timeout: '300', since: String(Math.floor(Date.now() / 1000) - Number(sinceMinutes) * 60) });
    if (type) query.set('filters', JSON.stringify({ type: [type] }));
    openStream(`/node/${targetSegment(target)}/container/docker/system/events?${query}`, controller.signal)
      .then((res) => {
        setStatus('following');
        return readEvents(res, (name, data) => {
          if (name === 'docker') setEvents((prev) => [JSON.parse(data) as EngineEvent, ...prev].slice(0, EVENTS_KEPT));
          else if (name === 'end') setStatus('stream ended (reload the view to follow again)');
        });
      })
      .catch((err: Error) => err.name !== 'AbortError' && setStatus(err.message));
    return () => controller.abort();
  }, [target, type, sinceMinutes]);
  return { events, status };
}

const COLUMNS: Column<EngineEvent>[] = [
  { header: 'Time', class: 'muted', cell: (e) => (e.time ? new Date(e.time * 1000).toLocaleTimeString() : '') },
  { header: 'Host', class: 'host', cell: (e) => e.hostname },
  { header: 'Type', cell: (e) => e.Type ?? '' },
  { header: 'Action', cell: (e) => <Badge status={e.Action ?? ''} /> },
  { header: 'Object', cell: (e) => nameOf(e) ?? e.Actor?.ID?.slice(0, 12) ?? '' },
];

/** The engines' events (docker.system.events), merged; host and type filters live in the URL. */
export function EventsView() {
  const params = new URLSearchParams(route.value.query);
  const target = params.get('target') ?? homeTarget();
  const type = params.get('type') ?? '';
  const sinceMinutes = params.get('since') ?? '10';
  const { events, status } = useEngineEvents(target, type, sinceMinutes);
  const [draft, setDraft] = useState(target);
  const setParam = (name: string) => (value: string) => {
    const next = new URLSearchParams(route.value.query);
    if (value) next.set(name, value);
    else next.delete(name);
    go(`/events?${next.toString()}`);
  };
  const show = (event: Event) => {
    event.preventDefault();
    setParam('target')(draft);
  };
  return (
    <section data-view="events">
      <h2>{`Events · ${events.length}`}</h2>
      <form class="toolbar" onSubmit={show}>
        <Field label="Hosts" name="target" value={draft} onValue={setDraft} />
        <button type="submit">Show</button>
        <Select label="Type" name="type" value={type} onValue={setParam('type')} choices={EVENT_TYPES} />
        <Select label="Since" name="since" value={sinceMinutes} onValue={setParam('since')} choices={SINCE_MINUTES} />
        <span class="muted" data-testid="events-status">
          {status}
        </span>
      </form>
      <ErrorLine error={status.includes('—') ? status : undefined} />
      <div class="scroll">
        <Table
          columns={COLUMNS}
          rows={events}
          rowKey={(e, index) => `${e.hostname}-${e.time}-${index}`}
          rowAttributes={(e) => ({
            'data-host': e.hostname,
            'data-type': e.Type ?? '',
            'data-action': e.Action ?? '',
            'data-name': nameOf(e) ?? '',
          })}
        />
      </div>
    </section>
  );
}
