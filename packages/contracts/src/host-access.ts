/**
 * Host-level access: what in a request reaches the host itself rather than a container, and so
 * needs the permission `docker:host` on top of `docker:write` (README "Host-level access").
 * Judged on Engine bodies decoded by engine-json.ts into the models of engine-models.ts, by an
 * allowlist: each field docker:write may set freely is named below; every other field is
 * host-level unless it holds its zero value (the docker CLI sends most fields zero-valued), and
 * some fields allow only the values listed. The gateway's node operations and the Engine API proxy
 * judge the same way; the agent judges again before it touches its engine.
 */
import type { StackSpec } from './compose';
import { serviceContainerBody } from './compose-engine';
import type { EngineModelName } from './engine-models';

/** One reason a request reaches the host. `hostPath` is set when it exposes a host path (a bind). */
export interface HostAccess {
  reason: string;
  hostPath?: string;
}

/** What the admin allows beyond the models' own rules: the registries an engine may be aimed at (FLEET_REGISTRY_ALLOWLIST). */
export interface AccessPolicy {
  registries: readonly string[];
}

/** Docker Hub under each of its names: the default registry allowlist. */
export const DEFAULT_REGISTRIES: readonly string[] = ['docker.io', 'index.docker.io', 'registry-1.docker.io'];

type Body = Record<string, unknown>;
/** What of one field's value reaches the host; `path` names the field. */
type Judge = (value: unknown, path: string) => HostAccess[];
/** How one field is judged: `free` (any value), or a judge. */
type Rule = 'free' | Judge;

/** The engine's socket: binding it hands the container the whole engine, i.e. root on the host. */
const ENGINE_SOCKETS = ['/var/run/docker.sock', '/run/docker.sock'];
/** A named volume, as the engine names them; any other bind source is a host path. */
const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** Security options that only tighten; any other (`seccomp=unconfined`, `apparmor=unconfined`, `label=disable`, …) loosens. */
const HARMLESS_SECURITY_OPTS = /^no-new-privileges(?:[:=]true)?$/;
/** Options of a `local` tmpfs volume: sizes, modes and owners of memory the kernel hands out, nothing on disk. */
const TMPFS_OPTIONS = new Set([
  'size',
  'mode',
  'uid',
  'gid',
  'nr_inodes',
  'nr_blocks',
  'noexec',
  'exec',
  'nosuid',
  'suid',
  'nodev',
  'dev',
  'ro',
  'rw',
  'noatime',
  'atime',
]);
/** Bridge driver options that stay inside the bridge the engine makes (no host interface, address or name). */
const BRIDGE_OPTIONS = new Set([
  'com.docker.network.bridge.enable_icc',
  'com.docker.network.bridge.enable_ip_masquerade',
  'com.docker.network.driver.mtu',
]);
/** Log drivers that write on the engine's own disk; the others send the logs to an address on the host's network. */
const LOCAL_LOG_DRIVERS = ['', 'json-file', 'local', 'none'];

/** A value as a reason shows it; of an object only its keys, since option maps may hold credentials (a cifs password). */
function show(value: unknown): string {
  const text = typeof value === 'string' ? `'${value}'` : isRecord(value) ? `{${Object.keys(value).join(', ')}}` : JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
}

function isRecord(value: unknown): value is Body {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function listOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** The zero value of a field: what the docker CLI sends for an option not given. */
function isZero(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  return isRecord(value) && Object.keys(value).length === 0;
}

/** Host-level unless zero. */
const zeroOnly =
  (what: string): Judge =>
  (value, path) =>
    isZero(value) ? [] : [{ reason: `${path} ${show(value)} (${what})` }];

/** Only these values (a missing field or null is the first one's default). */
const oneOf =
  (allowed: readonly string[], what: string): Judge =>
  (value, path) =>
    value === undefined || value === null || allowed.includes(String(value)) ? [] : [{ reason: `${path} ${show(value)} (${what})` }];

/** A field that must be left out or null: the engine's default is what confines the container, even an empty list changes it. */
const unset =
  (what: string): Judge =>
  (value, path) =>
    value === undefined || value === null ? [] : [{ reason: `${path} ${show(value)} (${what})` }];

/** Judges a decoded struct: a field without a rule here reaches the host unless it is zero. */
function judgeStruct(body: unknown, path: string, rules: Readonly<Record<string, Rule>>): HostAccess[] {
  if (!isRecord(body)) return [];
  return Object.entries(body).flatMap(([field, value]) => {
    const at = path === '' ? field : `${path}.${field}`;
    const rule = Object.hasOwn(rules, field) ? rules[field] : zeroOnly('host-level');
    return rule === 'free' ? [] : rule(value, at);
  });
}

function hostPathAccess(path: string, hostPath: string, what: string): HostAccess {
  const socket = ENGINE_SOCKETS.includes(hostPath.replace(/\/+$/, '')) ? ' (the engine socket: root on the host)' : '';
  return { reason: `${path} ${what} host path '${hostPath}'${socket}`, hostPath };
}

/** `source:target[:mode]` with a named volume (or no source: an anonymous volume) stays in the engine. */
const binds: Rule = (value, path) =>
  listOf(value).flatMap((bind, index) => {
    const parts = String(bind).split(':');
    if (parts.length === 1 || VOLUME_NAME.test(parts[0])) return [];
    return [hostPathAccess(`${path}[${index}]`, parts[0], 'bind of')];
  });

/** Options of a tmpfs mount (`size=64m,mode=1777`), none of them a mount flag such as `bind` that would turn it into something else. */
function tmpfsOptionsAccess(options: readonly string[], path: string): HostAccess[] {
  const other = options.filter((option) => option !== '' && !TMPFS_OPTIONS.has(option.split('=')[0]));
  return other.length === 0 ? [] : [{ reason: `${path} ${show(other)} (mount options beyond a tmpfs's own)` }];
}

/** `{"/run": "size=64m,noexec"}`: each tmpfs with tmpfs options only. */
const tmpfsMap: Rule = (value, path) =>
  Object.entries(isRecord(value) ? value : {}).flatMap(([target, options]) =>
    tmpfsOptionsAccess(String(options ?? '').split(','), `${path}.${target}`),
  );

/** A named or anonymous volume of the local driver without options, or a tmpfs. */
const mounts: Rule = (value, path) =>
  listOf(value).flatMap((mount, index) => {
    const at = `${path}[${index}]`;
    if (!isRecord(mount)) return [];
    const type = String(mount.Type ?? '');
    if (type === 'bind' || type === 'npipe') return [hostPathAccess(at, String(mount.Source ?? ''), `${type} mount of`)];
    if (type !== 'volume' && type !== 'tmpfs')
      return [{ reason: `${at}.Type ${show(type)} (only volume and tmpfs mounts stay inside the engine)` }];
    return judgeStruct(mount, at, {
      Type: 'free',
      Source: type === 'volume' ? volumeName : zeroOnly('a tmpfs has no source'),
      Target: 'free',
      ReadOnly: 'free',
      Consistency: 'free',
      TmpfsOptions: (options, optionsPath) =>
        judgeStruct(options, optionsPath, {
          SizeBytes: 'free',
          Mode: 'free',
          Options: (list, listPath) =>
            tmpfsOptionsAccess(
              listOf(list).map((option) => listOf(option).map(String).join('=')),
              listPath,
            ),
        }),
      VolumeOptions: (options, optionsPath) =>
        judgeStruct(options, optionsPath, {
          NoCopy: 'free',
          Labels: 'free',
          DriverConfig: (config, configPath) =>
            judgeStruct(config, configPath, {
              Name: oneOf(['', 'local'], 'a volume plugin runs on the host'),
              Options: zeroOnly('volume driver options mount on the host'),
            }),
        }),
    });
  });

/** A volume's name (or none: an anonymous volume); anything else is not a volume the engine names. */
const volumeName: Rule = (value, path) =>
  isZero(value) || VOLUME_NAME.test(String(value)) ? [] : [{ reason: `${path} ${show(value)} (not a volume name)` }];

/** A network a container joins by name: any but the host's, or another container's namespace. */
function networkNameAccess(name: string, path: string): HostAccess[] {
  if (name === 'host') return [{ reason: `${path} 'host' (the host's network namespace)` }];
  if (name.startsWith('container:')) return [{ reason: `${path} ${show(name)} (another container's network namespace, maybe the host's)` }];
  return [];
}

const RESOURCE_RULES: Readonly<Record<string, Rule>> = {
  CpuShares: 'free',
  Memory: 'free',
  NanoCpus: 'free',
  BlkioWeight: 'free',
  CpuPeriod: 'free',
  CpuQuota: 'free',
  CpusetCpus: 'free',
  CpusetMems: 'free',
  KernelMemory: 'free',
  KernelMemoryTCP: 'free',
  MemoryReservation: 'free',
  MemorySwap: 'free',
  MemorySwappiness: 'free',
  PidsLimit: 'free',
  Ulimits: 'free',
  CpuCount: 'free',
  CpuPercent: 'free',
  IOMaximumIOps: 'free',
  IOMaximumBandwidth: 'free',
  CgroupParent: zeroOnly("a cgroup of the host's choosing"),
  BlkioWeightDevice: zeroOnly('host block devices'),
  BlkioDeviceReadBps: zeroOnly('host block devices'),
  BlkioDeviceWriteBps: zeroOnly('host block devices'),
  BlkioDeviceReadIOps: zeroOnly('host block devices'),
  BlkioDeviceWriteIOps: zeroOnly('host block devices'),
  CpuRealtimePeriod: zeroOnly("real-time scheduling takes the host's CPUs"),
  CpuRealtimeRuntime: zeroOnly("real-time scheduling takes the host's CPUs"),
  Devices: zeroOnly('host devices'),
  DeviceCgroupRules: zeroOnly('device cgroup rules'),
  DeviceRequests: zeroOnly('device requests (GPUs and other host devices)'),
  OomKillDisable: zeroOnly("the host's OOM killer then kills other processes"),
};

const NAMESPACE = "the host's or another container's namespace";

const HOST_CONFIG_RULES: Readonly<Record<string, Rule>> = {
  ...RESOURCE_RULES,
  Binds: binds,
  Mounts: mounts,
  NetworkMode: (value, path) => (typeof value === 'string' ? networkNameAccess(value, path) : []),
  PidMode: oneOf([''], NAMESPACE),
  IpcMode: oneOf(['', 'private', 'shareable', 'none'], NAMESPACE),
  UTSMode: oneOf([''], NAMESPACE),
  UsernsMode: oneOf([''], NAMESPACE),
  CgroupnsMode: oneOf(['', 'private'], NAMESPACE),
  Cgroup: zeroOnly(NAMESPACE),
  Privileged: zeroOnly('every device and capability of the host'),
  CapAdd: zeroOnly('added capabilities'),
  SecurityOpt: (value, path) => {
    const loosened = listOf(value).filter((opt) => !HARMLESS_SECURITY_OPTS.test(String(opt)));
    return loosened.length === 0 ? [] : [{ reason: `${path} ${show(loosened)} (loosens the container's confinement)` }];
  },
  MaskedPaths: unset("changes which of the host's /proc and /sys the container sees"),
  ReadonlyPaths: unset("changes which of the host's /proc and /sys the container may write"),
  VolumesFrom: zeroOnly("another container's volumes (they may be host binds)"),
  Links: zeroOnly("another container's network"),
  Sysctls: zeroOnly('kernel parameters'),
  StorageOpt: zeroOnly('storage driver options'),
  Annotations: zeroOnly('OCI runtime annotations'),
  Runtime: oneOf(['', 'runc'], 'another OCI runtime'),
  Isolation: oneOf(['', 'default'], 'another isolation'),
  VolumeDriver: oneOf(['', 'local'], 'a volume plugin runs on the host'),
  OomScoreAdj: (value, path) =>
    typeof value === 'number' && value < 0 ? [{ reason: `${path} ${value} (shields the container from the host's OOM killer)` }] : [],
  LogConfig: (value, path) =>
    judgeStruct(value, path, {
      Type: oneOf(LOCAL_LOG_DRIVERS, "a log driver that sends to an address on the host's network"),
      Config: 'free',
    }),
  ContainerIDFile: 'free',
  PortBindings: 'free',
  RestartPolicy: 'free',
  AutoRemove: 'free',
  ConsoleSize: 'free',
  CapDrop: 'free',
  Dns: 'free',
  DnsOptions: 'free',
  DnsSearch: 'free',
  ExtraHosts: 'free',
  GroupAdd: 'free',
  PublishAllPorts: 'free',
  ReadonlyRootfs: 'free',
  ShmSize: 'free',
  Tmpfs: tmpfsMap,
  Init: 'free',
};

const ENDPOINT_RULES: Readonly<Record<string, Rule>> = {
  DriverOpts: zeroOnly('endpoint driver options (sysctls, host interfaces)'),
  Links: zeroOnly("another container's network"),
  IPAMConfig: 'free',
  Aliases: 'free',
  GwPriority: 'free',
  NetworkID: 'free',
  EndpointID: 'free',
  Gateway: 'free',
  IPAddress: 'free',
  IPPrefixLen: 'free',
  IPv6Gateway: 'free',
  GlobalIPv6Address: 'free',
  GlobalIPv6PrefixLen: 'free',
  MacAddress: 'free',
  DNSNames: 'free',
};

function containerCreateAccess(body: Body): HostAccess[] {
  const endpoints =
    isRecord(body.NetworkingConfig) && isRecord(body.NetworkingConfig.EndpointsConfig) ? body.NetworkingConfig.EndpointsConfig : {};
  return [
    ...judgeStruct(body.HostConfig, 'HostConfig', HOST_CONFIG_RULES),
    ...Object.entries(endpoints).flatMap(([network, settings]) => {
      const at = `NetworkingConfig.EndpointsConfig.${network}`;
      return [...networkNameAccess(network, at), ...judgeStruct(settings, at, ENDPOINT_RULES)];
    }),
  ];
}

/** A `local` volume is mount(2) run by the engine on the host: only a tmpfs keeps it off the host's disks and paths. */
function volumeCreateAccess(body: Body): HostAccess[] {
  const driver = oneOf(['', 'local'], 'a volume plugin runs on the host')(body.Driver, 'Driver');
  const options = body.DriverOpts;
  if (isZero(options) || !isRecord(options) || isTmpfsVolume(options)) return driver;
  const device = typeof options.device === 'string' && options.device.startsWith('/') ? options.device : undefined;
  const reason =
    `DriverOpts of type ${show(String(options.type ?? ''))} (the engine mounts it on the host: only tmpfs options stay off ` + `the host)`;
  return [...driver, device ? { reason, hostPath: device } : { reason }];
}

function isTmpfsVolume(options: Body): boolean {
  if (Object.keys(options).some((key) => !['type', 'device', 'o'].includes(key))) return false;
  if (options.type !== 'tmpfs' || (options.device !== undefined && options.device !== 'tmpfs')) return false;
  const mountOptions = options.o === undefined ? [] : String(options.o).split(',');
  return mountOptions.every((option) => TMPFS_OPTIONS.has(option.split('=')[0]));
}

const NETWORK_CREATE_RULES: Readonly<Record<string, Rule>> = {
  Driver: oneOf(['', 'bridge'], "a non-bridge driver (macvlan, ipvlan, …) attaches to the host's interfaces"),
  Scope: oneOf(['', 'local'], 'a swarm scope'),
  Options: (value, path) => {
    const options = isRecord(value) ? Object.keys(value).filter((key) => !BRIDGE_OPTIONS.has(key)) : [];
    return options.length === 0
      ? []
      : [{ reason: `${path} ${show(options)} (driver options naming host interfaces, addresses or bridges)` }];
  },
  IPAM: (value, path) =>
    judgeStruct(value, path, {
      Driver: oneOf(['', 'default'], 'an IPAM plugin runs on the host'),
      Options: zeroOnly('IPAM driver options'),
      Config: 'free',
    }),
  Ingress: zeroOnly('a swarm ingress network'),
  ConfigFrom: (value, path) =>
    isRecord(value) && !isZero(value.Network)
      ? [{ reason: `${path} ${show(value)} (another network's configuration, maybe a host interface's)` }]
      : [],
  Name: 'free',
  CheckDuplicate: 'free',
  EnableIPv4: 'free',
  EnableIPv6: 'free',
  Internal: 'free',
  Attachable: 'free',
  ConfigOnly: 'free',
  Labels: 'free',
};

const EXEC_CREATE_RULES: Readonly<Record<string, Rule>> = {
  Privileged: zeroOnly('every device and capability of the host'),
  ...Object.fromEntries(
    ['User', 'Tty', 'ConsoleSize', 'AttachStdin', 'AttachStderr', 'AttachStdout', 'Detach', 'DetachKeys', 'Env', 'WorkingDir', 'Cmd'].map(
      (field) => [field, 'free' as const],
    ),
  ),
};

/** How each Engine body model reaches the host. */
const MODEL_ACCESS: Record<EngineModelName, (body: Body, policy: AccessPolicy) => HostAccess[]> = {
  ContainerCreate: containerCreateAccess,
  ContainerUpdate: (body) => judgeStruct(body, '', { ...RESOURCE_RULES, RestartPolicy: 'free' }),
  ExecCreate: (body) => judgeStruct(body, '', EXEC_CREATE_RULES),
  ExecStart: () => [],
  VolumeCreate: volumeCreateAccess,
  NetworkCreate: (body) => judgeStruct(body, '', NETWORK_CREATE_RULES),
  NetworkConnect: (body) => judgeStruct(body.EndpointConfig, 'EndpointConfig', ENDPOINT_RULES),
  NetworkDisconnect: () => [],
  Auth: (body, policy) => registryAccess('serveraddress', serverAddressRegistry(String(body.serveraddress ?? '')), policy),
};

/** Every way a decoded Engine body reaches the host; empty when it stays inside the engine's containers. */
export function engineBodyHostAccess(model: EngineModelName, body: unknown, policy: AccessPolicy): HostAccess[] {
  return isRecord(body) ? MODEL_ACCESS[model](body, policy) : [];
}

/**
 * The registry an image reference names, as docker reads it: a first component with '.' or ':', `localhost`, or upper case; else Docker
 * Hub.
 */
export function registryOf(reference: string): string {
  const slash = reference.indexOf('/');
  const first = slash === -1 ? '' : reference.slice(0, slash);
  if (slash === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first === first.toLowerCase())) return 'docker.io';
  return first.toLowerCase();
}

/** The registry of `docker login`'s server address: `https://host:port/v1/` → `host:port`; empty is Docker Hub. */
export function serverAddressRegistry(address: string): string {
  const host = address.replace(/^https?:\/\//i, '').split('/')[0];
  return host === '' ? 'docker.io' : host.toLowerCase();
}

const HOST_PORT = /^(\[[^\]]*\]|[^:]*)(?::([0-9]+))?$/;

/** An allowlist entry `host:port` admits that registry; `host` admits it on any port. */
export function isRegistryAllowed(registry: string, allowlist: readonly string[]): boolean {
  const [, host, port] = HOST_PORT.exec(registry) ?? [];
  if (host === undefined) return false;
  return allowlist.some((entry) => {
    const [, allowedHost, allowedPort] = HOST_PORT.exec(entry.trim().toLowerCase()) ?? [];
    return allowedHost === host && (allowedPort === undefined || allowedPort === port);
  });
}

/** A registry outside FLEET_REGISTRY_ALLOWLIST: the engine would dial any address on the host's network (and send it credentials). */
export function registryAccess(field: string, registry: string, policy: AccessPolicy): HostAccess[] {
  if (isRegistryAllowed(registry, policy.registries)) return [];
  return [{ reason: `${field} registry '${registry}' (outside FLEET_REGISTRY_ALLOWLIST: the engine dials it from the host's network)` }];
}

/**
 * The node operations whose parameters can reach the host, each mapped from the contract's
 * parameters to the Engine body the agent's executor builds, then judged like a proxied body. The
 * contract marks the same operations with `x-host-permission` (a contract test checks both lists agree).
 */
const NODE_OPERATION_HOST_ACCESS: Record<string, (params: Body, policy: AccessPolicy) => HostAccess[]> = {
  'docker.container.create': (params, policy) => {
    const body = isRecord(params.body) ? params.body : {};
    return engineBodyHostAccess('ContainerCreate', { HostConfig: { Binds: body.binds, NetworkMode: body.network } }, policy);
  },
  'docker.volume.create': (params, policy) => {
    const body = isRecord(params.body) ? params.body : {};
    return engineBodyHostAccess('VolumeCreate', { Driver: body.driver, DriverOpts: body.driver_opts }, policy);
  },
  'docker.network.create': (params, policy) => {
    const body = isRecord(params.body) ? params.body : {};
    return engineBodyHostAccess('NetworkCreate', { Driver: body.driver }, policy);
  },
  'docker.image.pull': (params, policy) => registryAccess('fromImage', registryOf(String(params.fromImage ?? '')), policy),
  'docker.image.push': (params, policy) => registryAccess('image', registryOf(String(params.image ?? '')), policy),
  'docker.image.distribution': (params, policy) => registryAccess('image', registryOf(String(params.image ?? '')), policy),
  'stack.host.apply': stackApplyAccess,
};

/** Each service's container as the agent creates it (compose-engine.ts), and the registry its image is pulled from. */
function stackApplyAccess(params: Body, policy: AccessPolicy): HostAccess[] {
  const body = isRecord(params.body) ? params.body : {};
  const spec = body.spec as StackSpec | undefined;
  if (!isRecord(spec) || !isRecord(spec.services)) return [];
  const project = String(params.name ?? '');
  return Object.entries(spec.services).flatMap(([service, config]) => [
    ...engineBodyHostAccess('ContainerCreate', serviceContainerBody(project, spec, service, 1), policy),
    ...registryAccess(`services.${service}.image`, registryOf(String(config.image ?? '')), policy),
  ]);
}

/** The node operations that can reach the host (what `x-host-permission` marks in the contract). */
export const HOST_REACHING_OPERATIONS: readonly string[] = Object.keys(NODE_OPERATION_HOST_ACCESS);

/** How a node operation's parameters (as the gateway sends them to agents) reach the host; empty for most. */
export function nodeOperationHostAccess(operation: string, params: Record<string, unknown>, policy: AccessPolicy): HostAccess[] {
  return Object.hasOwn(NODE_OPERATION_HOST_ACCESS, operation) ? NODE_OPERATION_HOST_ACCESS[operation](params, policy) : [];
}

/** The host paths `access` exposes that lie outside every prefix of `allowed` (absolute paths; `..` resolved). */
export function hostPathsOutside(access: readonly HostAccess[], allowed: readonly string[]): string[] {
  return access.flatMap(({ hostPath }) =>
    hostPath !== undefined && !allowed.some((prefix) => isInside(hostPath, prefix)) ? [hostPath] : [],
  );
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
