import { dependencyOrder, serviceConfigHash, type StackChange, type StackDrift, type StackSpec } from '@fleet/contracts/compose';
import { containerName, networkName, volumeName } from '@fleet/contracts/compose-engine';
import type { ObservedStack, StackContainer } from './observe';

/** What bringing the engine to a revision takes, as `docker compose up` would decide it. */
export interface StackPlan {
  /** One entry per service in start order (`none` for what is right), then each container to remove. */
  changes: StackChange[];
  removeContainers: StackContainer[];
  /** Keys of the spec's networks and volumes the engine lacks. */
  createNetworks: string[];
  createVolumes: string[];
  /** Engine names of the stack's networks the revision no longer has. Volumes are kept, as `compose down` keeps them. */
  removeNetworks: string[];
  /** Names the stack would use that something else already holds: never taken over. */
  conflicts: string[];
}

/** Compares what the engine holds with a revision. Pure: the apply, the diff and the drift check all read it. */
export function planStack(project: string, spec: StackSpec, observed: ObservedStack): StackPlan {
  const plan: StackPlan = { changes: [], removeContainers: [], createNetworks: [], createVolumes: [], removeNetworks: [], conflicts: [] };
  for (const service of dependencyOrder(spec)) {
    const containers = observed.containers.filter((container) => container.service === service);
    const current = containers.find((container) => container.name === containerName(project, service));
    plan.changes.push(serviceChange(spec, service, current));
    for (const extra of containers.filter((container) => container !== current)) remove(plan, extra, 'an extra container of the service');
  }
  for (const container of observed.containers.filter((each) => !spec.services[each.service])) {
    remove(plan, container, 'the revision has no such service');
  }
  for (const network of Object.keys(spec.networks)) {
    const held = observed.networks.get(networkName(project, network));
    if (!held) plan.createNetworks.push(network);
    else if (held.project !== project) plan.conflicts.push(`network ${networkName(project, network)}`);
  }
  for (const volume of Object.keys(spec.volumes)) {
    const held = observed.volumes.get(volumeName(project, volume));
    if (!held) plan.createVolumes.push(volume);
    else if (held.project !== project) plan.conflicts.push(`volume ${volumeName(project, volume)}`);
  }
  const wanted = new Set(Object.keys(spec.networks).map((network) => networkName(project, network)));
  for (const [name, held] of observed.networks) if (held.project === project && !wanted.has(name)) plan.removeNetworks.push(name);
  return plan;
}

function serviceChange(spec: StackSpec, service: string, current: StackContainer | undefined): StackChange {
  if (!current) return { service, action: 'create', reason: 'no container' };
  if (current.configHash !== serviceConfigHash(spec, service)) {
    const image = spec.services[service].image;
    const reason = current.image !== image ? `image ${current.image} → ${image}` : 'config changed';
    return { service, action: 'recreate', reason };
  }
  if (!current.running) return { service, action: 'start', reason: `container ${current.state}` };
  return { service, action: 'none', reason: 'up to date' };
}

function remove(plan: StackPlan, container: StackContainer, reason: string): void {
  plan.removeContainers.push(container);
  plan.changes.push({ service: container.service || container.name, action: 'remove', reason: `${container.name}: ${reason}` });
}

/** Whether applying the plan would change anything on the engine. */
export function planChanges(plan: StackPlan): boolean {
  return (
    plan.changes.some((change) => change.action !== 'none') ||
    plan.createNetworks.length + plan.createVolumes.length + plan.removeNetworks.length > 0
  );
}

/** How the engine differs from the revision, as drift entries (a service, or `*` for the stack's networks and volumes). */
export function driftOf(plan: StackPlan): StackDrift[] {
  return [
    ...plan.changes.filter((change) => change.action !== 'none').map((change) => ({ service: change.service, what: describe(change) })),
    ...plan.createNetworks.map((network) => ({ service: '*', what: `network ${network} missing` })),
    ...plan.createVolumes.map((volume) => ({ service: '*', what: `volume ${volume} missing` })),
    ...plan.conflicts.map((name) => ({ service: '*', what: `${name} is held by something else` })),
  ];
}

const DRIFT_WORDS: Record<StackChange['action'], string> = {
  create: 'missing',
  recreate: 'changed',
  start: 'not running',
  remove: 'not in the revision',
  none: 'up to date',
};

function describe(change: StackChange): string {
  return `${DRIFT_WORDS[change.action]} (${change.reason})`;
}
