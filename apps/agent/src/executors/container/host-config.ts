import type { components } from '@fleet/contracts';

type Schemas = components['schemas'];
type Resources = Schemas['ContainerUpdateRequest'];
interface PortBinding {
  HostIp: string;
  HostPort: string;
}

/** `{NAME: value}` as the Engine's `["NAME=value"]`. */
export function envList(env: Record<string, string> | undefined): string[] | undefined {
  return env && Object.entries(env).map(([name, value]) => `${name}=${value}`);
}

/**
 * The Engine's HostConfig names for the resource limits and restart policy the contract spells in snake case; absent fields stay absent.
 */
export function hostResources(body: Resources): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    Memory: body.memory,
    MemorySwap: body.memory_swap,
    CpuShares: body.cpu_shares,
    NanoCpus: body.nano_cpus,
    CpusetCpus: body.cpuset_cpus,
    PidsLimit: body.pids_limit,
    RestartPolicy: body.restart_policy && {
      Name: body.restart_policy.name,
      MaximumRetryCount: body.restart_policy.maximum_retry_count ?? 0,
    },
  };
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

/** `{"80/tcp": "127.0.0.1:8080"}` as the Engine's ExposedPorts and HostConfig.PortBindings. */
export function publishedPorts(ports: Record<string, string> | undefined): {
  ExposedPorts?: Record<string, object>;
  PortBindings?: Record<string, PortBinding[]>;
} {
  if (!ports) return {};
  const bindings = Object.entries(ports).map(([port, host]): [string, PortBinding[]] => {
    const colon = host.lastIndexOf(':');
    return [port.includes('/') ? port : `${port}/tcp`, [{ HostIp: host.slice(0, Math.max(colon, 0)), HostPort: host.slice(colon + 1) }]];
  });
  return {
    ExposedPorts: Object.fromEntries(bindings.map(([port]) => [port, {}])),
    PortBindings: Object.fromEntries(bindings),
  };
}
