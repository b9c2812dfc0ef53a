import type { StackChange, StackOnDrift, StackSpec } from '@fleet/contracts/compose';
import {
  COMPOSE_LABELS,
  containerName,
  endpointConfig,
  networkName,
  serviceContainerBody,
  serviceNetworks,
  volumeName,
} from '@fleet/contracts/compose-engine';
import { ifPresent } from '../executors/common';
import { followTransfer } from '../executors/image/progress';
import type { EngineClient } from '../executors/types';
import { observeStack, type ObservedStack } from './observe';
import { planChanges, planStack, type StackPlan } from './plan';

/** A revision as an agent keeps it: what it applies again when it repairs drift. */
export interface AppliedStack {
  revision: number;
  spec: StackSpec;
  on_drift: StackOnDrift;
}

/** What an apply or a remove did. `containers` names the stack's containers afterwards (what a health gate looks at). */
export interface ReconcileResult {
  changed: boolean;
  changes: StackChange[];
  containers: string[];
}

/** The bounds of one reconcile: the job's deadline and its signal (a repair gets its own). */
export interface ReconcileBounds {
  signal: AbortSignal;
  deadline: number;
}

/** Seconds a container gets to stop before the engine kills it, as `docker compose` gives. */
const STOP_SECONDS = 10;
/** How often a dependency's condition is looked at again. */
const POLL_MS = 500;

/** An error the row reports as the engine's would: its status code and message. */
export const failure = (statusCode: number, message: string): Error => Object.assign(new Error(message), { statusCode, json: { message } });

/**
 * Brings the engine to a revision as `docker compose up -d` would: images pulled when missing, networks and volumes
 * created, containers removed, created, recreated or started in dependency order. What is already right is only read.
 */
export async function applyStack(
  docker: EngineClient,
  project: string,
  applied: AppliedStack,
  bounds: ReconcileBounds,
): Promise<ReconcileResult> {
  const observed = await observeStack(docker, project);
  const plan = planStack(project, applied.spec, observed);
  if (plan.conflicts.length > 0) {
    throw failure(409, `${plan.conflicts.join(', ')} exists and does not belong to stack ${project}: remove or rename it first`);
  }
  await pullMissingImages(docker, applied.spec, plan, bounds);
  await Promise.all(plan.removeContainers.map((container) => removeContainer(docker, container.id)));
  for (const network of plan.createNetworks) await createNetwork(docker, project, network, applied.spec);
  for (const volume of plan.createVolumes) await createVolume(docker, project, volume, applied.spec);
  const containers: string[] = [];
  for (const change of plan.changes.filter((each) => each.action !== 'remove')) {
    if (change.action !== 'none') await waitForDependencies(docker, project, applied.spec, change.service, bounds);
    containers.push(await bringService(docker, project, applied, change, observed));
  }
  for (const network of plan.removeNetworks) await docker.getNetwork(network).remove();
  return { changed: planChanges(plan), changes: plan.changes, containers };
}

/** What an apply would do, reading the engine only. */
export async function diffStack(docker: EngineClient, project: string, spec: StackSpec): Promise<StackPlan> {
  return planStack(project, spec, await observeStack(docker, project));
}

/** As `docker compose down`: the stack's containers and networks removed, its volumes kept. */
export async function removeStack(docker: EngineClient, project: string): Promise<ReconcileResult> {
  const observed = await observeStack(docker, project);
  // All at once, as compose stops them: each may take its STOP_SECONDS.
  await Promise.all(observed.containers.map((container) => removeContainer(docker, container.id)));
  const networks = [...observed.networks].filter(([, held]) => held.project === project);
  for (const [name] of networks) await docker.getNetwork(name).remove();
  const changes = observed.containers.map((container) => ({
    service: container.service || container.name,
    action: 'remove' as const,
    reason: `${container.name}: the stack is removed`,
  }));
  return { changed: changes.length + networks.length > 0, changes, containers: [] };
}

async function pullMissingImages(docker: EngineClient, spec: StackSpec, plan: StackPlan, bounds: ReconcileBounds): Promise<void> {
  const needed = plan.changes.filter((change) => change.action === 'create' || change.action === 'recreate');
  const images = [...new Set(needed.map((change) => spec.services[change.service].image))];
  for (const image of images) {
    if (await ifPresent(docker.getImage(image).inspect())) continue;
    const stream = await docker.createImage({ fromImage: image, abortSignal: bounds.signal });
    await followTransfer(stream, { signal: bounds.signal, emit: () => undefined }, false);
  }
}

async function createNetwork(docker: EngineClient, project: string, network: string, spec: StackSpec): Promise<void> {
  const { labels, internal } = spec.networks[network];
  await docker.createNetwork({
    Name: networkName(project, network),
    Driver: 'bridge',
    CheckDuplicate: true,
    Internal: internal,
    Labels: { ...labels, [COMPOSE_LABELS.project]: project, [COMPOSE_LABELS.network]: network },
  });
}

async function createVolume(docker: EngineClient, project: string, volume: string, spec: StackSpec): Promise<void> {
  const labels = { ...spec.volumes[volume].labels, [COMPOSE_LABELS.project]: project, [COMPOSE_LABELS.volume]: volume };
  await docker.createVolume({ Name: volumeName(project, volume), Driver: 'local', Labels: labels });
}

/** One service brought to its change; answers its container's name. */
async function bringService(
  docker: EngineClient,
  project: string,
  applied: AppliedStack,
  change: StackChange,
  observed: ObservedStack,
): Promise<string> {
  const current = observed.containers.find((container) => container.name === containerName(project, change.service));
  if (change.action === 'none' && current) return current.name;
  if (change.action === 'start' && current) {
    await docker.getContainer(current.id).start();
    return current.name;
  }
  if (current) await removeContainer(docker, current.id);
  return createService(docker, project, applied, change.service);
}

async function createService(docker: EngineClient, project: string, applied: AppliedStack, service: string): Promise<string> {
  const body = serviceContainerBody(project, applied.spec, service, applied.revision);
  const container = await docker.createContainer({ ...body, name: containerName(project, service) });
  const config = applied.spec.services[service];
  for (const network of serviceNetworks(config).slice(1)) {
    await docker
      .getNetwork(networkName(project, network))
      .connect({ Container: container.id, EndpointConfig: endpointConfig(config, service, network) });
  }
  await container.start();
  return containerName(project, service);
}

async function removeContainer(docker: EngineClient, id: string): Promise<void> {
  const container = docker.getContainer(id);
  await container.stop({ t: STOP_SECONDS }).catch((err: { statusCode?: number }) => {
    // 304: already stopped; 404: already gone. Either way there is nothing to stop.
    if (err.statusCode !== 304 && err.statusCode !== 404) throw err;
  });
  await ifPresent(container.remove({ force: true }));
}

/** Waits, as compose does, for each dependency's condition: started (nothing to wait for), healthy, or exited 0. */
async function waitForDependencies(
  docker: EngineClient,
  project: string,
  spec: StackSpec,
  service: string,
  bounds: ReconcileBounds,
): Promise<void> {
  for (const [dependency, { condition }] of Object.entries(spec.services[service].depends_on)) {
    if (condition === 'service_started') continue;
    for (;;) {
      const { State } = await docker.getContainer(containerName(project, dependency)).inspect();
      if (condition === 'service_healthy' && State.Health?.Status === 'healthy') break;
      if (condition === 'service_completed_successfully' && State.Status === 'exited') {
        if (State.ExitCode === 0) break;
        throw failure(409, `${service} depends on ${dependency} completing successfully; it exited ${State.ExitCode}`);
      }
      if (condition === 'service_healthy' && (State.Health?.Status === 'unhealthy' || !State.Health)) {
        throw failure(409, `${service} depends on ${dependency} being healthy; it is ${State.Health?.Status ?? 'without a healthcheck'}`);
      }
      if (Date.now() + POLL_MS > bounds.deadline || bounds.signal.aborted) {
        throw failure(504, `${service} waited for ${dependency} (${condition}) until the deadline`);
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}
