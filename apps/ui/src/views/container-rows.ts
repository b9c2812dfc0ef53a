import type { NodeOperationName } from '@fleet/contracts';
import type { NodeResult, NodeRow } from '@fleet/sdk';
import type { NodeCall } from '../api';

/** What `GET /node/{target}/container/docker` answers, one row per host. */
export type NodeList = NodeResult<'docker.container.list'>;
type ListRow = NodeRow<'docker.container.list'>;

/**
 * The fields the page reads of the Engine API's container summary (`GET /containers/json`): the contract
 * passes the engine's objects through as they are, so their shape is Docker's, not the contract's.
 */
export interface EngineContainer {
  Id: string;
  Names?: string[];
  Image?: string;
  State?: string;
  Status?: string;
  Labels?: Record<string, string>;
}

export function containersOf(row: ListRow): EngineContainer[] {
  return (row.containers ?? []) as unknown as EngineContainer[];
}

/** A container as the containers view lists it: the engine's summary, its host, and its name without `/`. */
export interface ContainerRow extends EngineContainer {
  hostname: string;
  name: string;
}

export function containerRows(results: ListRow[]): ContainerRow[] {
  return results.flatMap((row) =>
    containersOf(row).map((c) => ({ ...c, hostname: row.hostname, name: (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, '') })),
  );
}

/** Whether a container matches the filter text: its name, host, image, state or one of its `label=value`s. */
export function matches(c: ContainerRow, needle: string): boolean {
  const labels = Object.entries(c.Labels ?? {}).map(([k, v]) => `${k}=${v}`);
  return !needle || [c.name, c.hostname, c.Image, c.State, ...labels].some((s) => s?.toLowerCase().includes(needle));
}

/** `host`, `none`, or `label:<key>` (containers grouped by the value of that label). */
export type Grouping = string;

export function groupOf(c: ContainerRow, grouping: Grouping): string {
  if (grouping === 'host') return c.hostname;
  if (grouping.startsWith('label:')) return c.Labels?.[grouping.slice('label:'.length)] ?? '';
  return '';
}

export function groupTitle(group: string, grouping: Grouping): string {
  if (grouping === 'host') return group;
  const label = grouping.slice('label:'.length);
  return group ? `${label}=${group}` : `no ${label} label`;
}

/** What the containers view offers on a selection: a button, the operation it calls, and how. */
export interface ContainerAction {
  label: string;
  operation: NodeOperationName;
  call: (id: string) => NodeCall;
}

function onContainer(operation: NodeOperationName, method: string, verb?: string): (id: string) => NodeCall {
  return (id) => ({ operation, method, rest: `/container/docker/${encodeURIComponent(id)}${verb ? `/${verb}` : ''}` });
}

export const CONTAINER_ACTIONS: readonly ContainerAction[] = [
  { label: 'Start', operation: 'docker.container.start', call: onContainer('docker.container.start', 'POST', 'start') },
  { label: 'Stop', operation: 'docker.container.stop', call: onContainer('docker.container.stop', 'POST', 'stop') },
  { label: 'Restart', operation: 'docker.container.restart', call: onContainer('docker.container.restart', 'POST', 'restart') },
  { label: 'Remove', operation: 'docker.container.remove', call: onContainer('docker.container.remove', 'DELETE') },
];
