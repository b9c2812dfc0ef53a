/**
 * The fields the stats view reads of the Engine API's stats sample (`GET /containers/{id}/stats`): the
 * contract passes the engine's object through as it is, so its shape is Docker's, not the contract's.
 */
export interface EngineStats {
  hostname: string;
  cpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
  memory_stats?: { usage?: number; stats?: { cache?: number; inactive_file?: number } };
}

/** The engine's first streamed sample has no previous one to compare with: it carries no CPU figure. */
export function hasPrevious(s: EngineStats): boolean {
  return (s.precpu_stats?.system_cpu_usage ?? 0) > 0;
}

/** CPU as the docker CLI computes it: the container's share of the host's CPU time since the previous sample. */
export function cpuPercent(s: EngineStats): number {
  const cpu = (s.cpu_stats?.cpu_usage?.total_usage ?? 0) - (s.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const system = (s.cpu_stats?.system_cpu_usage ?? 0) - (s.precpu_stats?.system_cpu_usage ?? 0);
  return system > 0 && cpu > 0 ? (cpu / system) * (s.cpu_stats?.online_cpus ?? 1) * 100 : 0;
}

/** Memory in use without the page cache, as `docker stats` shows it. */
export function memoryBytes(s: EngineStats): number {
  const usage = s.memory_stats?.usage ?? 0;
  return Math.max(0, usage - (s.memory_stats?.stats?.inactive_file ?? s.memory_stats?.stats?.cache ?? 0));
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
