import { COMPOSE_LABELS } from '@fleet/contracts/compose-engine';
import type { EngineClient } from '../executors/types';

/** One container of a stack as the engine lists it. */
export interface StackContainer {
  id: string;
  name: string;
  service: string;
  configHash: string;
  image: string;
  running: boolean;
  state: string;
}

/** What the engine holds of one stack: its containers, and the networks and volumes labelled with it, by name. */
export interface ObservedStack {
  containers: StackContainer[];
  networks: Map<string, { id: string; project?: string }>;
  volumes: Map<string, { project?: string }>;
}

const projectFilter = (project: string) => JSON.stringify({ label: [`${COMPOSE_LABELS.project}=${project}`] });

/**
 * Reads a stack's objects off the engine, by its compose project label, with GETs only. Networks and volumes are read
 * by name too, so that one of the stack's names the stack did not create is seen (and never taken over).
 */
export async function observeStack(docker: EngineClient, project: string): Promise<ObservedStack> {
  // The engine's name filter matches a part of the name: `<project>_` finds every name the stack could own.
  const ownNames = JSON.stringify({ name: [`${project}_`] });
  const [containers, networks, volumes] = await Promise.all([
    docker.listContainers({ all: true, filters: projectFilter(project) }),
    docker.listNetworks({ filters: ownNames }),
    docker.listVolumes({ filters: ownNames }),
  ]);
  return {
    containers: containers.map((container) => ({
      id: container.Id,
      name: (container.Names?.[0] ?? '').replace(/^\//, ''),
      service: container.Labels?.[COMPOSE_LABELS.service] ?? '',
      configHash: container.Labels?.[COMPOSE_LABELS.configHash] ?? '',
      image: container.Image,
      running: container.State === 'running',
      state: container.State,
    })),
    networks: new Map(networks.map((network) => [network.Name, { id: network.Id, project: network.Labels?.[COMPOSE_LABELS.project] }])),
    volumes: new Map((volumes.Volumes ?? []).map((volume) => [volume.Name, { project: volume.Labels?.[COMPOSE_LABELS.project] }])),
  };
}
