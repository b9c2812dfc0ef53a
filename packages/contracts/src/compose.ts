/**
 * The compose subset of a stack (README "The compose subset"): YAML text parsed with `yaml`, its shape checked
 * against COMPOSE_SCHEMA, its values normalized into the StackSpec that agents apply. Anything outside the
 * subset is refused with the key and its path, never ignored. Bounded: the text's size, YAML aliases, counts.
 */
import { createHash } from 'node:crypto';
import Ajv, { type ErrorObject } from 'ajv';
import YAML from 'yaml';
import { COMPOSE_SCHEMA } from './compose-schema';
import type { components } from './generated';

type Schemas = components['schemas'];
/** The normalized stack agents apply: the contract's StackSpec (openapi.yaml). */
export type StackSpec = Schemas['StackSpec'];
export type ServiceSpec = Schemas['StackService'];
export type PortSpec = Schemas['StackPort'];
/** A named volume (declared at the top level) or a bind mount of an absolute host path (needs `docker:host`). */
export type MountSpec = Schemas['StackMount'];
/** Durations in nanoseconds, as the Engine takes them. `test: ['NONE']` disables the image's own check. */
export type HealthcheckSpec = Schemas['StackHealthcheck'];
export type LimitsSpec = ServiceSpec['limits'];
export type DependencyCondition = ServiceSpec['depends_on'][string]['condition'];
export type VolumeSpec = StackSpec['volumes'][string];
export type NetworkSpec = StackSpec['networks'][string];
/** What an apply does to one service, what a host reports of one stack (rows and heartbeats). */
export type StackChange = Schemas['StackChange'];
export type StackDrift = Schemas['StackDrift'];
export type StackHostState = Schemas['StackHostState'];
export type StackOnDrift = Schemas['StackOnDrift'];
export type StackApplyRequest = Schemas['StackApplyRequest'];
export type ComposeResult = { ok: true; spec: StackSpec } | { ok: false; key: string; path: string; message: string };

/** The largest compose text accepted: a stack travels inside one job message. */
export const MAX_COMPOSE_BYTES = 128 * 1024;
/** YAML aliases expanded at most: anchors are common in compose files, alias bombs are not. */
export const MAX_YAML_ALIASES = 100;
/** A stack's name is its compose project name. */
export const STACK_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** The network a service joins when it names none, as compose does. */
export const DEFAULT_NETWORK = 'default';

class Refusal extends Error {
  constructor(
    readonly key: string,
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

const refuse = (path: string, message: string): never => {
  throw new Refusal(
    path
      .split('.')
      .pop()
      ?.replace(/\[\d+\]$/, '') ?? path,
    path,
    message,
  );
};

let validate: ReturnType<Ajv['compile']> | undefined;
const validator = () => (validate ??= new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(COMPOSE_SCHEMA));

/** Parses a compose file into the StackSpec its agents apply, or names the first key or value outside the subset. */
export function parseCompose(yamlText: string): ComposeResult {
  try {
    return { ok: true, spec: normalize(readYaml(yamlText)) };
  } catch (error) {
    if (error instanceof Refusal) return { ok: false, key: error.key, path: error.path, message: error.message };
    throw error;
  }
}

function readYaml(text: string): Record<string, unknown> {
  if (Buffer.byteLength(text, 'utf8') > MAX_COMPOSE_BYTES) {
    throw new Refusal('compose', '', `the compose file is over ${MAX_COMPOSE_BYTES} bytes`);
  }
  const document = YAML.parseDocument(text, { uniqueKeys: true, merge: true, prettyErrors: false, strict: true });
  const problem = document.errors[0] ?? document.warnings[0];
  if (problem) throw new Refusal('yaml', '', `not valid YAML: ${problem.message.split('\n')[0]}`);
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (error) {
    throw new Refusal('yaml', '', `not usable YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (!validator()(value)) throw schemaRefusal(validator().errors ?? []);
  return value as Record<string, unknown>;
}

/** The most telling schema error: an unknown key first (named with its path), else the first one. */
function schemaRefusal(errors: ErrorObject[]): Refusal {
  const unknownKey = errors.find((error) => error.keyword === 'additionalProperties');
  if (unknownKey) {
    const key = String(unknownKey.params.additionalProperty);
    const path = joinPath(unknownKey.instancePath, key);
    return new Refusal(key, path, `${path}: \`${key}\` is not in the compose subset fleet applies (README "The compose subset")`);
  }
  const badName = errors.find((error) => error.keyword === 'propertyNames');
  const first = badName ?? errors[0];
  const name = badName ? String(badName.params.propertyName) : undefined;
  const missing = first.keyword === 'required' ? String(first.params.missingProperty) : undefined;
  const path = joinPath(first.instancePath, name ?? missing);
  const key =
    path
      .split('.')
      .pop()
      ?.replace(/\[\d+\]$/, '') || 'compose';
  return new Refusal(key, path, `${path || 'the document'}: ${name ? 'a name must match ' + NAME_RULE : first.message}`);
}

const NAME_RULE = '[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}';

function joinPath(instancePath: string, key?: string): string {
  const parts = instancePath.split('/').slice(1);
  if (key !== undefined) parts.push(key);
  return parts.reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path ? `${path}.${part}` : part), '');
}

type Raw = Record<string, unknown>;

function normalize(document: Raw): StackSpec {
  const volumes = topLevel(document.volumes as Raw | undefined, (entry) => ({ labels: keyValues(entry.labels, '') }));
  const networks = topLevel(document.networks as Raw | undefined, (entry) => ({
    labels: keyValues(entry.labels, ''),
    internal: entry.internal === true,
  }));
  const services: Record<string, ServiceSpec> = {};
  for (const [name, raw] of Object.entries(document.services as Record<string, Raw>)) {
    services[name] = service(raw, `services.${name}`, volumes, networks);
  }
  const usesDefault = Object.values(services).some((spec) => DEFAULT_NETWORK in spec.networks);
  if (usesDefault && !networks[DEFAULT_NETWORK]) networks[DEFAULT_NETWORK] = { labels: {}, internal: false };
  checkDependencies(services);
  return { services, volumes, networks };
}

function topLevel<T>(entries: Raw | undefined, read: (entry: Raw) => T): Record<string, T> {
  return Object.fromEntries(Object.entries(entries ?? {}).map(([name, entry]) => [name, read((entry ?? {}) as Raw)]));
}

function service(raw: Raw, path: string, volumes: Record<string, VolumeSpec>, networks: Record<string, NetworkSpec>): ServiceSpec {
  const spec: ServiceSpec = {
    image: raw.image as string,
    environment: keyValues(raw.environment, `${path}.environment`),
    ports: ((raw.ports as unknown[]) ?? []).map((entry, index) => port(entry, `${path}.ports[${index}]`)),
    volumes: ((raw.volumes as unknown[]) ?? []).map((entry, index) => mount(entry, `${path}.volumes[${index}]`, volumes)),
    networks: serviceNetworks(raw.networks, `${path}.networks`, networks),
    labels: keyValues(raw.labels, `${path}.labels`),
    restart: restartPolicy(raw.restart, `${path}.restart`),
    limits: limits(raw, path),
    depends_on: dependsOn(raw.depends_on),
  };
  if (raw.command !== undefined) spec.command = words(raw.command as string | string[], `${path}.command`);
  if (raw.entrypoint !== undefined) spec.entrypoint = words(raw.entrypoint as string | string[], `${path}.entrypoint`);
  if (raw.healthcheck !== undefined) spec.healthcheck = healthcheck(raw.healthcheck as Raw, `${path}.healthcheck`);
  if (raw.user !== undefined) spec.user = raw.user as string;
  if (raw.working_dir !== undefined) spec.working_dir = raw.working_dir as string;
  return spec;
}

/** `KEY=value` entries or a map; a key without a value would come from the operator's shell, which a fleet host has not. */
function keyValues(value: unknown, path: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  const entries: [string, unknown][] = Array.isArray(value)
    ? value.map((entry: string) =>
        entry.includes('=') ? [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)] : [entry, null],
      )
    : Object.entries(value as Raw);
  const result: Record<string, string> = {};
  for (const [key, entry] of entries) {
    if (entry === null || entry === undefined) refuse(`${path}.${key}`, `${path}.${key}: a value is required (no shell to take it from)`);
    result[key] = String(entry);
  }
  return result;
}

const IP = String.raw`(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\])`;
const SHORT_PORT = new RegExp(String.raw`^(?:(${IP}):)?(?:(\d+)?:)?(\d+)(?:/(tcp|udp))?$`);

function port(value: unknown, path: string): PortSpec {
  if (typeof value === 'object' && value !== null) {
    const entry = value as Raw;
    const spec: PortSpec = { target: portNumber(entry.target, path), protocol: (entry.protocol as 'tcp' | 'udp') ?? 'tcp' };
    if (entry.published !== undefined) spec.published = portNumber(entry.published, path);
    if (entry.host_ip !== undefined) spec.host_ip = entry.host_ip as string;
    return spec;
  }
  const match = SHORT_PORT.exec(String(value));
  if (!match) return refuse(path, `${path}: \`${String(value)}\` is not [host_ip:][published:]target[/tcp|udp] (ranges are not supported)`);
  const [, hostIp, published, target, protocol] = match;
  const spec: PortSpec = { target: portNumber(target, path), protocol: (protocol as 'tcp' | 'udp') ?? 'tcp' };
  if (published) spec.published = portNumber(published, path);
  if (hostIp) spec.host_ip = hostIp.replace(/^\[|\]$/g, '');
  return spec;
}

function portNumber(value: unknown, path: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1 || number > 65535) refuse(path, `${path}: a port is 1–65535`);
  return number;
}

function mount(value: unknown, path: string, volumes: Record<string, VolumeSpec>): MountSpec {
  const spec = typeof value === 'string' ? shortMount(value, path) : longMount(value as Raw, path);
  checkMount(spec, path, volumes);
  return spec;
}

function checkMount(spec: MountSpec, path: string, volumes: Record<string, VolumeSpec>): void {
  if (!spec.target.startsWith('/')) refuse(path, `${path}: the mount target must be an absolute path`);
  if (spec.type === 'bind' && !spec.source.startsWith('/')) {
    refuse(path, `${path}: a bind mount needs an absolute host path (a fleet host has no project directory)`);
  }
  if (spec.type === 'volume' && !spec.source) refuse(path, `${path}: an anonymous volume would be lost on recreate: name it`);
  if (spec.type === 'volume' && !volumes[spec.source]) {
    refuse(path, `${path}: volume \`${spec.source}\` is not declared under the top-level volumes`);
  }
}

function shortMount(value: string, path: string): MountSpec {
  const [source, target, mode, ...rest] = value.split(':');
  if (target === undefined) return { type: 'volume', source: '', target: source, read_only: false };
  if (rest.length > 0 || (mode !== undefined && mode !== 'ro' && mode !== 'rw')) {
    refuse(path, `${path}: \`${value}\` is not source:target[:ro|rw]`);
  }
  const type = /^[./~]/.test(source) ? 'bind' : 'volume';
  return { type, source, target, read_only: mode === 'ro' };
}

function longMount(entry: Raw, path: string): MountSpec {
  if (entry.type === 'bind' && typeof entry.source !== 'string') refuse(`${path}.source`, `${path}.source: a bind mount needs a source`);
  return {
    type: entry.type as 'volume' | 'bind',
    source: (entry.source as string | undefined) ?? '',
    target: entry.target as string,
    read_only: entry.read_only === true,
  };
}

function serviceNetworks(value: unknown, path: string, networks: Record<string, NetworkSpec>): ServiceSpec['networks'] {
  if (value === undefined) return { [DEFAULT_NETWORK]: { aliases: [] } };
  const entries: [string, Raw | null][] = Array.isArray(value)
    ? value.map((name: string) => [name, null])
    : Object.entries(value as Record<string, Raw | null>);
  const result: ServiceSpec['networks'] = {};
  for (const [name, entry] of entries) {
    if (name !== DEFAULT_NETWORK && !networks[name]) {
      refuse(`${path}.${name}`, `${path}: network \`${name}\` is not declared under the top-level networks`);
    }
    result[name] = { aliases: ((entry as Raw | null)?.aliases as string[] | undefined) ?? [] };
  }
  return result;
}

const RESTART = /^(no|always|unless-stopped|on-failure(:\d+)?)$/;

function restartPolicy(value: unknown, path: string): string {
  if (value === undefined) return 'no';
  if (!RESTART.test(value as string)) refuse(path, `${path}: one of no, always, unless-stopped, on-failure[:N]`);
  return value as string;
}

function limits(raw: Raw, path: string): LimitsSpec {
  const deployLimits = ((raw.deploy as Raw | undefined)?.resources as Raw | undefined)?.limits as Raw | undefined;
  const memory = raw.mem_limit ?? deployLimits?.memory;
  const cpus = raw.cpus ?? deployLimits?.cpus;
  const pids = raw.pids_limit ?? deployLimits?.pids;
  const spec: LimitsSpec = {};
  if (memory !== undefined)
    spec.memory_bytes = bytes(memory, `${path}.${raw.mem_limit !== undefined ? 'mem_limit' : 'deploy.resources.limits.memory'}`);
  if (cpus !== undefined) spec.nano_cpus = nanoCpus(cpus, `${path}.${raw.cpus !== undefined ? 'cpus' : 'deploy.resources.limits.cpus'}`);
  if (pids !== undefined) spec.pids = pids as number;
  return spec;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

function bytes(value: unknown, path: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([bkmg]?)b?$/i.exec(String(value));
  if (!match) return refuse(path, `${path}: a size such as 512m or 1g`);
  return Math.round(Number(match[1]) * SIZE_UNITS[match[2].toLowerCase()]);
}

function nanoCpus(value: unknown, path: string): number {
  const cpus = Number(value);
  if (!Number.isFinite(cpus) || cpus <= 0 || cpus > 1024) refuse(path, `${path}: a number of CPUs such as 0.5`);
  return Math.round(cpus * 1e9);
}

const DURATION_UNITS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** A Go duration (`1m30s`, `500ms`) in nanoseconds, as compose reads it. */
function duration(value: string, path: string): number {
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== value) refuse(path, `${path}: a duration such as 30s or 1m30s`);
  return Math.round(parts.reduce((total, [, amount, unit]) => total + Number(amount) * DURATION_UNITS[unit], 0));
}

function healthcheck(raw: Raw, path: string): HealthcheckSpec {
  if (raw.disable === true) return { test: ['NONE'] };
  const test = raw.test === undefined ? [] : typeof raw.test === 'string' ? ['CMD-SHELL', raw.test] : (raw.test as string[]);
  if (!['NONE', 'CMD', 'CMD-SHELL'].includes(test[0]))
    refuse(`${path}.test`, `${path}.test: a string, or a list starting with CMD, CMD-SHELL or NONE`);
  const spec: HealthcheckSpec = { test };
  if (raw.interval !== undefined) spec.interval_ns = duration(raw.interval as string, `${path}.interval`);
  if (raw.timeout !== undefined) spec.timeout_ns = duration(raw.timeout as string, `${path}.timeout`);
  if (raw.start_period !== undefined) spec.start_period_ns = duration(raw.start_period as string, `${path}.start_period`);
  if (raw.retries !== undefined) spec.retries = raw.retries as number;
  return spec;
}

function dependsOn(value: unknown): ServiceSpec['depends_on'] {
  if (value === undefined) return {};
  if (Array.isArray(value)) return Object.fromEntries(value.map((name: string) => [name, { condition: 'service_started' as const }]));
  return Object.fromEntries(
    Object.entries(value as Record<string, Raw>).map(([name, entry]) => [
      name,
      { condition: (entry.condition as DependencyCondition | undefined) ?? 'service_started' },
    ]),
  );
}

/** Every dependency names a service of the stack, and none loops back: the order of startServices exists. */
function checkDependencies(services: Record<string, ServiceSpec>): void {
  for (const [name, spec] of Object.entries(services)) {
    for (const dependency of Object.keys(spec.depends_on)) {
      if (!services[dependency])
        refuse(`services.${name}.depends_on.${dependency}`, `services.${name}.depends_on: no service \`${dependency}\``);
    }
  }
  dependencyOrder({ services, volumes: {}, networks: {} });
}

/**
 * What in a normalized spec, as a job carries it, cannot be applied: the value checks parseCompose makes, made again
 * by the agent on what it is asked to apply (the contract's schema checks only shapes).
 */
export function stackSpecRefusal(spec: StackSpec): string | undefined {
  try {
    for (const [name, service] of Object.entries(spec.services)) {
      service.volumes.forEach((entry, index) => checkMount(entry, `services.${name}.volumes[${index}]`, spec.volumes));
      for (const network of Object.keys(service.networks)) {
        if (!spec.networks[network])
          refuse(`services.${name}.networks.${network}`, `services.${name}.networks: \`${network}\` is not declared`);
      }
    }
    checkDependencies(spec.services);
    return undefined;
  } catch (error) {
    if (error instanceof Refusal) return error.message;
    throw error;
  }
}

/** The services in the order compose starts them: each after the ones it depends on (then by name, so the order is stable). */
export function dependencyOrder(spec: StackSpec): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, trail: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      refuse(`services.${name}.depends_on`, `services.${name}.depends_on: a cycle (${[...trail, name].join(' → ')})`);
    }
    state.set(name, 'visiting');
    for (const dependency of Object.keys(spec.services[name]?.depends_on ?? {}).sort()) visit(dependency, [...trail, name]);
    state.set(name, 'done');
    order.push(name);
  };
  for (const name of Object.keys(spec.services).sort()) visit(name, []);
  return order;
}

/** Words of a command given as a string, split as a POSIX shell would (quotes, backslashes), as compose does. */
function words(value: string | string[], path: string): string[] {
  if (Array.isArray(value)) return value;
  const result: string[] = [];
  let current: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let index = 0; index < value.length; index++) {
    const char = value[index];
    if (quote) {
      if (char === quote) quote = undefined;
      else if (char === '\\' && quote === '"' && index + 1 < value.length) current += value[++index];
      else current += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      current ??= '';
    } else if (char === '\\' && index + 1 < value.length) current = (current ?? '') + value[++index];
    else if (/\s/.test(char)) {
      if (current !== undefined) result.push(current);
      current = undefined;
    } else current = (current ?? '') + char;
  }
  if (quote) refuse(path, `${path}: an unclosed quote`);
  if (current !== undefined) result.push(current);
  return result;
}

/** The host paths a stack binds into its containers: each needs `docker:host` (README "Host-level access"). */
export function specBindMounts(spec: StackSpec): string[] {
  return Object.values(spec.services).flatMap((service) =>
    service.volumes.filter((entry) => entry.type === 'bind').map((entry) => entry.source),
  );
}

/** The `com.docker.compose.config-hash` label: a digest of the service's normalized config, keys sorted. */
export function serviceConfigHash(spec: StackSpec, service: string): string {
  return createHash('sha256').update(canonicalJson(spec.services[service])).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Raw).filter(([, entry]) => entry !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, entry]) => `${JSON.stringify(key)}:${canonicalJson(entry)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
