/**
 * A stack on the Engine, named and labelled as `docker compose` v2 names and labels it (README "Stacks on the agents"):
 * what the agent creates, and what the gateway judges for host access before it sends the job. One mapping for both,
 * so the judged body is the created one.
 */
import { serviceConfigHash, type ServiceSpec, type StackSpec } from './compose';

export const COMPOSE_LABELS = {
  project: 'com.docker.compose.project',
  service: 'com.docker.compose.service',
  containerNumber: 'com.docker.compose.container-number',
  configHash: 'com.docker.compose.config-hash',
  oneoff: 'com.docker.compose.oneoff',
  network: 'com.docker.compose.network',
  volume: 'com.docker.compose.volume',
} as const;
/** The revision that created a container (a container left alone by a later revision keeps its own). */
export const STACK_REVISION_LABEL = 'fleet.stack.revision';

/** A compose v2 container name: one container per service, number 1. */
export const containerName = (project: string, service: string): string => `${project}-${service}-1`;
export const networkName = (project: string, network: string): string => `${project}_${network}`;
export const volumeName = (project: string, volume: string): string => `${project}_${volume}`;

/** The networks a service joins, sorted: it is created on the first and connected to the others. */
export const serviceNetworks = (service: ServiceSpec): string[] => Object.keys(service.networks).sort();

/** The Engine's ContainerCreate body for one service of a stack at a revision. */
export function serviceContainerBody(project: string, spec: StackSpec, service: string, revision: number): Record<string, unknown> {
  const config = spec.services[service];
  const [firstNetwork] = serviceNetworks(config);
  const body: Record<string, unknown> = {
    Image: config.image,
    Env: Object.entries(config.environment).map(([key, value]) => `${key}=${value}`),
    Labels: {
      ...config.labels,
      [COMPOSE_LABELS.project]: project,
      [COMPOSE_LABELS.service]: service,
      [COMPOSE_LABELS.containerNumber]: '1',
      [COMPOSE_LABELS.configHash]: serviceConfigHash(spec, service),
      [COMPOSE_LABELS.oneoff]: 'False',
      [STACK_REVISION_LABEL]: String(revision),
    },
    ExposedPorts: Object.fromEntries(config.ports.map((port) => [`${port.target}/${port.protocol}`, {}])),
    HostConfig: hostConfig(project, config),
  };
  if (config.command) body.Cmd = config.command;
  if (config.entrypoint) body.Entrypoint = config.entrypoint;
  if (config.user !== undefined) body.User = config.user;
  if (config.working_dir !== undefined) body.WorkingDir = config.working_dir;
  if (config.healthcheck) body.Healthcheck = healthcheckBody(config.healthcheck);
  if (firstNetwork) {
    body.NetworkingConfig = { EndpointsConfig: { [networkName(project, firstNetwork)]: endpointConfig(config, service, firstNetwork) } };
  }
  return body;
}

/** A service's endpoint on one of its networks: reachable by its service name and its aliases, as in compose. */
export function endpointConfig(config: ServiceSpec, service: string, network: string): Record<string, unknown> {
  return { Aliases: [service, ...config.networks[network].aliases] };
}

function hostConfig(project: string, config: ServiceSpec): Record<string, unknown> {
  const portBindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const port of config.ports) {
    const key = `${port.target}/${port.protocol}`;
    (portBindings[key] ??= []).push({ HostIp: port.host_ip ?? '', HostPort: port.published === undefined ? '' : String(port.published) });
  }
  const [name, retries] = config.restart.split(':');
  const [firstNetwork] = serviceNetworks(config);
  const host: Record<string, unknown> = {
    PortBindings: portBindings,
    Mounts: config.volumes.map((mount) => ({
      Type: mount.type,
      Source: mount.type === 'volume' ? volumeName(project, mount.source) : mount.source,
      Target: mount.target,
      ReadOnly: mount.read_only,
    })),
    RestartPolicy: { Name: name, MaximumRetryCount: retries === undefined ? 0 : Number(retries) },
  };
  if (firstNetwork) host.NetworkMode = networkName(project, firstNetwork);
  if (config.limits.memory_bytes !== undefined) host.Memory = config.limits.memory_bytes;
  if (config.limits.nano_cpus !== undefined) host.NanoCpus = config.limits.nano_cpus;
  if (config.limits.pids !== undefined) host.PidsLimit = config.limits.pids;
  return host;
}

function healthcheckBody(check: NonNullable<ServiceSpec['healthcheck']>): Record<string, unknown> {
  const body: Record<string, unknown> = { Test: check.test };
  if (check.interval_ns !== undefined) body.Interval = check.interval_ns;
  if (check.timeout_ns !== undefined) body.Timeout = check.timeout_ns;
  if (check.retries !== undefined) body.Retries = check.retries;
  if (check.start_period_ns !== undefined) body.StartPeriod = check.start_period_ns;
  return body;
}
