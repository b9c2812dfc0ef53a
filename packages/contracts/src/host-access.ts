/**
 * Host-level access: what in a request reaches the host itself rather than a container, and so
 * needs the permission `docker:host` on top of `docker:write` (README "Host-level access").
 * Pure functions over the Docker Engine API's own shapes, so the gateway's node operations and an
 * Engine API proxy (`POST /containers/create`, `POST /volumes/create`) judge a request the same
 * way; the agent runs them again before it touches its engine.
 */

/** One reason a request reaches the host. `hostPath` is set when it exposes a host path (a bind). */
export interface HostAccess {
  reason: string;
  hostPath?: string;
}

/** The parts of an Engine `HostConfig` that can reach the host (any other field is ignored here). */
export interface EngineHostConfig {
  Binds?: unknown;
  Mounts?: unknown;
  NetworkMode?: unknown;
  PidMode?: unknown;
  IpcMode?: unknown;
  UTSMode?: unknown;
  UsernsMode?: unknown;
  CgroupnsMode?: unknown;
  Privileged?: unknown;
  Devices?: unknown;
  DeviceRequests?: unknown;
  DeviceCgroupRules?: unknown;
  CapAdd?: unknown;
  SecurityOpt?: unknown;
  VolumesFrom?: unknown;
  [field: string]: unknown;
}

/** An Engine `POST /containers/create` body (only `HostConfig` matters here). */
export interface EngineContainerCreate {
  HostConfig?: EngineHostConfig | null;
  [field: string]: unknown;
}

/** An Engine `POST /volumes/create` body. */
export interface EngineVolumeCreate {
  Driver?: unknown;
  DriverOpts?: unknown;
  [field: string]: unknown;
}

/** The engine's socket: binding it hands the container the whole engine, i.e. root on the host. */
const ENGINE_SOCKETS = ['/var/run/docker.sock', '/run/docker.sock'];

/** A named volume, as the engine names them; any other bind source is a host path. */
const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Namespace modes whose value `host` shares the host's namespace with the container. */
const NAMESPACE_MODES = ['NetworkMode', 'PidMode', 'IpcMode', 'UTSMode', 'UsernsMode', 'CgroupnsMode'] as const;

/** List fields where any entry reaches the host (devices, capabilities, other containers' mounts). */
const LIST_FIELDS = {
  Devices: 'host devices',
  DeviceRequests: 'device requests (GPUs and other host devices)',
  DeviceCgroupRules: 'device cgroup rules',
  CapAdd: 'added capabilities',
  VolumesFrom: "another container's volumes (they may be host binds)",
} as const;

/** Security options that only tighten; any other (`seccomp=unconfined`, `apparmor=unconfined`, `label=disable`, …) loosens. */
const HARMLESS_SECURITY_OPTS = /^no-new-privileges(?:[:=]true)?$/;

/** Every way an Engine container-create body reaches the host; empty when it stays inside its container. */
export function containerCreateHostAccess(body: EngineContainerCreate): HostAccess[] {
  return hostConfigHostAccess(body.HostConfig ?? {});
}

export function hostConfigHostAccess(config: EngineHostConfig): HostAccess[] {
  const found: HostAccess[] = [];
  for (const bind of listOf(config.Binds)) {
    const source = String(bind).split(':')[0];
    if (!VOLUME_NAME.test(source)) found.push(hostPathAccess(source, 'bind'));
  }
  for (const mount of listOf(config.Mounts)) found.push(...mountHostAccess(mount));
  for (const mode of NAMESPACE_MODES) {
    if (config[mode] === 'host') found.push({ reason: `${mode} host (the host's namespace)` });
  }
  if (config.Privileged === true) found.push({ reason: 'Privileged (every device and capability of the host)' });
  for (const [field, what] of Object.entries(LIST_FIELDS)) {
    if (listOf(config[field]).length > 0) found.push({ reason: `${field} (${what})` });
  }
  const loosened = listOf(config.SecurityOpt).filter((opt) => !HARMLESS_SECURITY_OPTS.test(String(opt)));
  if (loosened.length > 0) found.push({ reason: `SecurityOpt ${loosened.map(String).join(', ')} (loosens the container's confinement)` });
  return found;
}

/** Every way an Engine volume-create body reaches the host: a `local` volume is mount(2) run by the engine on the host. */
export function volumeCreateHostAccess(body: EngineVolumeCreate): HostAccess[] {
  const driver = body.Driver === undefined || body.Driver === null || body.Driver === '' ? 'local' : String(body.Driver);
  return driver === 'local' ? localVolumeOptionsHostAccess(body.DriverOpts) : [];
}

/** `{type, o, device}` of the `local` driver: a bind, or a device or host path mounted on the host. */
function localVolumeOptionsHostAccess(options: unknown): HostAccess[] {
  if (!isRecord(options)) return [];
  const type = String(options.type ?? '');
  const mountOptions = String(options.o ?? '').split(',');
  const device = options.device === undefined ? undefined : String(options.device);
  const isBind = type === 'none' || type === 'bind' || mountOptions.some((option) => option === 'bind' || option === 'rbind');
  if (device?.startsWith('/')) return [hostPathAccess(device, isBind ? 'bind-type volume of' : 'volume mounting host device')];
  if (isBind) return [{ reason: `bind-type volume options (type '${type}', o '${String(options.o ?? '')}')` }];
  return [];
}

function mountHostAccess(mount: unknown): HostAccess[] {
  if (!isRecord(mount)) return [];
  const type = String(mount.Type ?? 'volume');
  if (type === 'bind' || type === 'npipe') return [hostPathAccess(String(mount.Source ?? ''), `${type} mount`)];
  if (type === 'tmpfs') return [];
  if (type !== 'volume') return [{ reason: `mount of type '${type}'` }];
  const driverConfig = isRecord(mount.VolumeOptions) && isRecord(mount.VolumeOptions.DriverConfig) ? mount.VolumeOptions.DriverConfig : undefined;
  return driverConfig ? volumeCreateHostAccess({ Driver: driverConfig.Name, DriverOpts: driverConfig.Options }) : [];
}

function hostPathAccess(path: string, what: string): HostAccess {
  const socket = ENGINE_SOCKETS.includes(path.replace(/\/+$/, '')) ? ' (the engine socket: root on the host)' : '';
  return { reason: `${what} host path '${path}'${socket}`, hostPath: path };
}

function listOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The node operations whose parameters can reach the host, each mapped from the contract's
 * parameters to the Engine shape it becomes on the agent. The contract marks the same operations
 * with `x-host-permission` (a contract test checks both lists agree).
 */
const NODE_OPERATION_HOST_ACCESS: Record<string, (params: Record<string, unknown>) => HostAccess[]> = {
  'docker.container.create': (params) => {
    const body = isRecord(params.body) ? params.body : {};
    return containerCreateHostAccess({ HostConfig: { Binds: body.binds, NetworkMode: body.network } });
  },
  'docker.volume.create': (params) => {
    const body = isRecord(params.body) ? params.body : {};
    return volumeCreateHostAccess({ Driver: body.driver, DriverOpts: body.driver_opts });
  },
};

/** The node operations that can reach the host (what `x-host-permission` marks in the contract). */
export const HOST_REACHING_OPERATIONS: readonly string[] = Object.keys(NODE_OPERATION_HOST_ACCESS);

/** How a node operation's parameters (as the gateway sends them to agents) reach the host; empty for most. */
export function nodeOperationHostAccess(operation: string, params: Record<string, unknown>): HostAccess[] {
  return Object.hasOwn(NODE_OPERATION_HOST_ACCESS, operation) ? NODE_OPERATION_HOST_ACCESS[operation](params) : [];
}

/** The host paths `access` exposes that lie outside every prefix of `allowed` (absolute paths; `..` resolved). */
export function hostPathsOutside(access: readonly HostAccess[], allowed: readonly string[]): string[] {
  return access.flatMap(({ hostPath }) => (hostPath !== undefined && !allowed.some((prefix) => isInside(hostPath, prefix)) ? [hostPath] : []));
}

function isInside(path: string, prefix: string): boolean {
  const resolved = normalizeAbsolute(path);
  const base = normalizeAbsolute(prefix);
  if (resolved === undefined || base === undefined) return false;
  return base === '/' || resolved === base || resolved.startsWith(`${base}/`);
}

/** `/srv/a/../b/` → `/srv/b`; undefined for a relative path (the engine refuses those, never allow one). */
function normalizeAbsolute(path: string): string | undefined {
  if (!path.startsWith('/')) return undefined;
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}
