import { request } from 'node:http';
import { engineBodyHostAccess, type AccessPolicy, type HostAccess } from '@fleet/contracts/host-access';

/**
 * Host-level objects an admin made (README "Host-level access"): a privileged or host-namespace
 * container, a `local` volume binding a host path, a macvlan or ipvlan network. Using one is host
 * access too, whatever the request itself says, and only this agent can see them: it inspects
 * each object a request names on its own engine and judges what it finds by the same allowlist as
 * a request that would make it (host-access.ts). One inspect per object, nothing cached (objects
 * change). Inspect and use are two engine calls; a container is pinned by the full id inspected (a
 * rename in between cannot swap it), and only an admin can make a volume or network host-level in
 * between, since nobody else may create one.
 */

/** The objects one request uses: a container (by id or name), an exec's container, the volumes and networks it joins. */
export interface ObjectUses {
  container?: string;
  exec?: string;
  volumes: string[];
  networks: string[];
}

/** Why the request may not go on (status and details), or the full id of the container it uses, to act on that one. */
export type ObjectVerdict = { refusal: { status: 403 | 502; details: string } } | { containerId?: string };

/** Networks the engine makes itself, which no one can create or replace: `bridge` and `none` stay inside the engine. */
const PREDEFINED_NETWORKS = new Set(['', 'default', 'bridge', 'none']);

/**
 * Paths the engine masks or makes read-only in every container it makes (unless privileged); a
 * container without any of them sees the host's /proc and /sys (`systempaths=unconfined`, or
 * paths an admin chose). The engine masks more in newer versions; these it always has.
 */
const DEFAULT_MASKED_PATHS = [
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
];
const DEFAULT_READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
/** `host` is the engine's own cgroup namespace default on cgroup v1 hosts: every container an operator makes there has it too. */
const INSPECTED_CGROUPNS_MODES = ['', 'private', 'host'];

const INSPECT_TIMEOUT_MS = 10_000;

type Json = Record<string, unknown>;

class InspectFailure extends Error {}

export class HostObjects {
  constructor(
    /** The engine's unix socket: the same engine the request will reach. */
    private readonly socketPath: string,
    private readonly policy: AccessPolicy,
  ) {}

  /** Judges every object `uses` names; a missing object is left to the engine to answer. */
  async verdict(uses: ObjectUses): Promise<ObjectVerdict> {
    try {
      const found: string[] = [];
      let containerId: string | undefined;
      if (uses.exec !== undefined) {
        const exec = await this.inspect(`/exec/${encodeURIComponent(uses.exec)}/json`);
        if (exec && typeof exec.ContainerID === 'string') found.push(...(await this.containerReasons(exec.ContainerID)).reasons);
      }
      if (uses.container !== undefined) {
        const judged = await this.containerReasons(uses.container);
        containerId = judged.id;
        found.push(...judged.reasons);
      }
      for (const name of uses.volumes) found.push(...(await this.volumeReasons(name)));
      for (const name of uses.networks) found.push(...(await this.networkReasons(name)));
      if (found.length > 0) return { refusal: { status: 403, details: `${found.join('; ')}: using it needs 'docker:host'` } };
      return containerId === undefined ? {} : { containerId };
    } catch (err) {
      if (err instanceof InspectFailure)
        return { refusal: { status: 502, details: `the objects this request uses could not be judged: ${err.message}` } };
      throw err;
    }
  }

  /** A container is host-level when what made it would need docker:host, or any volume or network it uses is. */
  private async containerReasons(idOrName: string): Promise<{ id?: string; reasons: string[] }> {
    const container = await this.inspect(`/containers/${encodeURIComponent(idOrName)}/json`);
    if (!container) return { reasons: [] };
    const hostConfig = isJson(container.HostConfig) ? container.HostConfig : {};
    const { MaskedPaths, ReadonlyPaths, CgroupnsMode, ...judgedAsCreated } = hostConfig;
    const access: HostAccess[] = [
      ...engineBodyHostAccess('ContainerCreate', { HostConfig: judgedAsCreated }, this.policy),
      ...unmasked('MaskedPaths', MaskedPaths, DEFAULT_MASKED_PATHS, hostConfig.Privileged === true),
      ...unmasked('ReadonlyPaths', ReadonlyPaths, DEFAULT_READONLY_PATHS, hostConfig.Privileged === true),
      ...(INSPECTED_CGROUPNS_MODES.includes(String(CgroupnsMode ?? ''))
        ? []
        : [{ reason: `HostConfig.CgroupnsMode '${String(CgroupnsMode)}'` }]),
    ];
    const name = String(container.Name ?? idOrName).replace(/^\//, '');
    const reasons = access.length > 0 ? [`container '${name}' is host-level (${access.map((item) => item.reason).join('; ')})`] : [];
    const mounts = Array.isArray(container.Mounts) ? container.Mounts.filter(isJson) : [];
    for (const mount of mounts)
      if (mount.Type === 'volume' && typeof mount.Name === 'string') reasons.push(...(await this.volumeReasons(mount.Name, name)));
    const settings =
      isJson(container.NetworkSettings) && isJson(container.NetworkSettings.Networks) ? container.NetworkSettings.Networks : {};
    for (const network of Object.keys(settings)) reasons.push(...(await this.networkReasons(network, name)));
    return { id: typeof container.Id === 'string' ? container.Id : undefined, reasons };
  }

  /** A volume is host-level when creating it with its driver and options would be. */
  private async volumeReasons(name: string, usedBy?: string): Promise<string[]> {
    const volume = await this.inspect(`/volumes/${encodeURIComponent(name)}`);
    if (!volume) return [];
    const access = engineBodyHostAccess('VolumeCreate', { Driver: volume.Driver, DriverOpts: volume.Options }, this.policy);
    return access.length === 0
      ? []
      : [
          `${usedBy ? `container '${usedBy}' uses ` : ''}volume '${name}', which is host-level ` +
            `(${access.map((item) => item.reason).join('; ')})`,
        ];
  }

  /** A network is host-level when creating it with its driver and options would be; the engine's own `bridge` and `none` are not. */
  private async networkReasons(name: string, usedBy?: string): Promise<string[]> {
    if (PREDEFINED_NETWORKS.has(name)) return [];
    const network = await this.inspect(`/networks/${encodeURIComponent(name)}`);
    if (!network) return [];
    const ipam = isJson(network.IPAM) ? network.IPAM : {};
    const access = engineBodyHostAccess(
      'NetworkCreate',
      {
        Driver: network.Driver,
        Scope: network.Scope,
        Options: network.Options,
        Ingress: network.Ingress,
        ConfigFrom: network.ConfigFrom,
        IPAM: { Driver: ipam.Driver, Options: ipam.Options },
      },
      this.policy,
    );
    return access.length === 0
      ? []
      : [
          `${usedBy ? `container '${usedBy}' joins ` : ''}network '${String(network.Name ?? name)}', which is host-level ` +
            `(${access.map((item) => item.reason).join('; ')})`,
        ];
  }

  /** The engine's inspect answer, or undefined when the object does not exist. */
  private inspect(path: string): Promise<Json | undefined> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, method: 'GET', path, timeout: INSPECT_TIMEOUT_MS }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (err) => reject(new InspectFailure(err.message)));
        res.on('end', () => {
          if (res.statusCode === 404) return resolve(undefined);
          if (res.statusCode !== 200) return reject(new InspectFailure(`GET ${path} answered ${res.statusCode}`));
          try {
            const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            resolve(isJson(body) ? body : {});
          } catch {
            reject(new InspectFailure(`GET ${path} answered no JSON`));
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
      req.on('error', (err) => reject(new InspectFailure(err.message)));
      req.end();
    });
  }
}

/** A container's masked or read-only paths must still hold each of the engine's defaults (a privileged one is judged as such). */
function unmasked(field: string, value: unknown, defaults: readonly string[], privileged: boolean): HostAccess[] {
  if (privileged) return [];
  const paths = Array.isArray(value) ? value.map(String) : [];
  const missing = defaults.filter((path) => !paths.includes(path));
  return missing.length === 0 ? [] : [{ reason: `HostConfig.${field} without ${missing.join(', ')} (the host's /proc and /sys)` }];
}

function isJson(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What a node operation's parameters use, for the operations that run in or attach to existing objects. */
export function nodeOperationUses(operation: string, params: Json): ObjectUses | undefined {
  const body = isJson(params.body) ? params.body : {};
  switch (operation) {
    case 'docker.container.exec':
    case 'docker.container.archive-get':
    case 'docker.container.archive-put':
    case 'docker.container.export':
      return { container: String(params.id), volumes: [], networks: [] };
    case 'docker.container.create':
      return { volumes: bindVolumes(body.binds), networks: typeof body.network === 'string' ? [body.network] : [] };
    case 'docker.network.connect':
      return { volumes: [], networks: [String(params.id)] };
    default:
      return undefined;
  }
}

/** What a proxied Engine request uses: its endpoint, the path's `{id}` (decoded), and its judged JSON body. */
export function engineRequestUses(
  method: string,
  path: string,
  params: Readonly<Record<string, string>>,
  body: Buffer | undefined,
): ObjectUses | undefined {
  const endpoint = `${method} ${path}`;
  if (CONTAINER_ENDPOINTS.has(endpoint)) return { container: params.id, volumes: [], networks: [] };
  if (endpoint === 'POST /exec/{id}/start') return { exec: params.id, volumes: [], networks: [] };
  if (endpoint === 'POST /networks/{id}/connect') return { volumes: [], networks: [params.id] };
  if (endpoint === 'POST /containers/create') return containerCreateUses(body ? (JSON.parse(body.toString('utf8')) as unknown) : undefined);
  return undefined;
}

/** Endpoints that run in, attach to, or read or write the files of an existing container. */
const CONTAINER_ENDPOINTS = new Set([
  'POST /containers/{id}/exec',
  'POST /containers/{id}/attach',
  'GET /containers/{id}/archive',
  'HEAD /containers/{id}/archive',
  'PUT /containers/{id}/archive',
  'GET /containers/{id}/export',
]);

/** The named volumes (Binds `name:/path`, Mounts of type volume) and networks (NetworkMode, EndpointsConfig) of a container create body. */
function containerCreateUses(body: unknown): ObjectUses {
  const create = isJson(body) ? body : {};
  const hostConfig = isJson(create.HostConfig) ? create.HostConfig : {};
  const mounts = Array.isArray(hostConfig.Mounts) ? hostConfig.Mounts.filter(isJson) : [];
  const mountVolumes = mounts
    .filter((mount) => mount.Type === 'volume' && typeof mount.Source === 'string' && mount.Source !== '')
    .map((mount) => String(mount.Source));
  const networking =
    isJson(create.NetworkingConfig) && isJson(create.NetworkingConfig.EndpointsConfig) ? create.NetworkingConfig.EndpointsConfig : {};
  const networkMode = typeof hostConfig.NetworkMode === 'string' ? [hostConfig.NetworkMode] : [];
  return { volumes: [...bindVolumes(hostConfig.Binds), ...mountVolumes], networks: [...networkMode, ...Object.keys(networking)] };
}

/** The sources of `name:/path[:mode]` binds that are not host paths (a host path is judged from the request itself). */
function bindVolumes(binds: unknown): string[] {
  if (!Array.isArray(binds)) return [];
  return binds.map(String).flatMap((bind) => {
    const parts = bind.split(':');
    return parts.length > 1 && parts[0] !== '' && !parts[0].startsWith('/') ? [parts[0]] : [];
  });
}
