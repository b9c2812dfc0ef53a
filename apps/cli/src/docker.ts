import type { Command, Option } from 'commander';
import { UsageError } from './exit';

/**
 * docker's spelling of the contract (README "CLI", "docker's flags"): pure translations from what a
 * docker user types to the contract's fields. The contract stays the source of every operation and field;
 * this only names them the way docker does where its names differ.
 */

/** docker's short flag (and its long name, where it is not the contract's) for a contract field of that name. */
export const DOCKER_SPELLING: Readonly<Record<string, { short: string; long?: string }>> = {
  all: { short: 'a' },
  force: { short: 'f' },
  follow: { short: 'f' },
  timestamps: { short: 't' },
  tail: { short: 'n' },
  limit: { short: 'n', long: 'last' },
  size: { short: 's' },
  signal: { short: 's' },
  t: { short: 't', long: 'time' },
  v: { short: 'v', long: 'volumes' },
  env: { short: 'e' },
  workdir: { short: 'w' },
  working_dir: { short: 'w', long: 'workdir' },
  user: { short: 'u' },
  labels: { short: 'l', long: 'label' },
};

const NO_TERMINAL = 'fleet runs the command on every targeted host to its end, with no terminal to attach (its output is in the rows)';

/** docker flags that mean nothing for a job on many hosts, by verb: refused with why, not left to "unknown option". */
export const REFUSED_DOCKER_FLAGS: Readonly<Record<string, ReadonlyArray<[flags: string, why: string]>>> = {
  exec: [
    ['-i, --interactive', NO_TERMINAL],
    ['-t, --tty', NO_TERMINAL],
  ],
  run: [
    ['-i, --interactive', NO_TERMINAL],
    ['-t, --tty', NO_TERMINAL],
    ['--rm', "the contract's create has no auto-remove; remove the container with fleet container rm -f"],
  ],
};

/** Refuses, with why, a docker flag in REFUSED_DOCKER_FLAGS that `command` was given (`exec -it`). */
export function refuseDockerOnlyFlags(command: Command): void {
  for (const [flags, why] of REFUSED_DOCKER_FLAGS[command.name()] ?? []) {
    const option = command.options.find((candidate) => candidate.flags === flags);
    if (option && command.getOptionValue(option.attributeName()) !== undefined) throw new UsageError(`${option.long}: ${why}`);
  }
}

/** Top-level commands docker users type, as the fleet command they stand for. */
export const TOP_LEVEL_ALIASES: Readonly<Record<string, string[]>> = {
  ps: ['container', 'ls'],
  run: ['container', 'run'],
  exec: ['container', 'exec'],
  logs: ['container', 'logs'],
  start: ['container', 'start'],
  stop: ['container', 'stop'],
  restart: ['container', 'restart'],
  rm: ['container', 'rm'],
  images: ['image', 'ls'],
  rmi: ['image', 'rm'],
  pull: ['image', 'pull'],
};

/** `-f status=running -f label=a=b` as the Engine's filters map `{"status":["running"],"label":["a=b"]}`. */
export function filtersFrom(pairs: readonly string[], base: Record<string, string[]> = {}): Record<string, string[]> {
  const filters: Record<string, string[]> = Object.fromEntries(Object.entries(base).map(([key, values]) => [key, [...values]]));
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`filter '${pair}': expected key=value (e.g. status=running)`);
    (filters[pair.slice(0, eq)] ??= []).push(pair.slice(eq + 1));
  }
  return filters;
}

const PUBLISH = /^(?:(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(\d{0,5}):)?(\d{1,5})(?:\/(tcp|udp|sctp))?$/;

/** docker's `-p [ip:][hostPort:]containerPort[/proto]` as the contract's `ports` entry `["80/tcp", "127.0.0.1:8080"]`. */
export function publishedPort(spec: string): [containerPort: string, host: string] {
  const match = PUBLISH.exec(spec);
  if (!match) throw new UsageError(`-p ${spec}: expected [ip:][hostPort:]containerPort[/tcp|udp|sctp] (one port, IPv4)`);
  const [, ip, hostPort, containerPort, proto] = match;
  return [`${containerPort}/${proto ?? 'tcp'}`, ip ? `${ip}:${hostPort ?? ''}` : (hostPort ?? '')];
}

/** docker's `--restart no|always|unless-stopped|on-failure[:N]` as the contract's `restart_policy`. */
export function restartPolicy(spec: string): { name: string; maximum_retry_count?: number } {
  const match = /^(no|always|unless-stopped|on-failure)(?::(\d{1,4}))?$/.exec(spec);
  if (!match || (match[2] !== undefined && match[1] !== 'on-failure')) {
    throw new UsageError(`--restart ${spec}: expected no, always, unless-stopped or on-failure[:max-retries]`);
  }
  return match[2] === undefined ? { name: match[1] } : { name: match[1], maximum_retry_count: Number(match[2]) };
}

/** docker's `-m 64m` (b, k, m, g; 1024-based as docker's) as bytes. */
export function memoryBytes(spec: string): number {
  const match = /^(\d+(?:\.\d+)?)([bkmg]?)b?$/i.exec(spec);
  if (!match) throw new UsageError(`--memory ${spec}: expected a size such as 512m or 1g`);
  const power = ['', 'b', 'k', 'm', 'g'].indexOf(match[2].toLowerCase());
  return Math.floor(Number(match[1]) * 1024 ** Math.max(power - 1, 0));
}

/** docker's `--cpus 0.5` as the contract's `nano_cpus`. */
export function nanoCpus(spec: string): number {
  const cpus = Number(spec);
  if (!Number.isFinite(cpus) || cpus < 0 || spec.trim() === '') {
    throw new UsageError(`--cpus ${spec}: expected a number of CPUs such as 0.5`);
  }
  return Math.round(cpus * 1e9);
}

/** What `fleet container run` was given, as commander parsed it. */
export interface RunOptions {
  detach?: boolean;
  name?: string;
  env?: string[];
  publish?: string[];
  volume?: string[];
  label?: string[];
  restart?: string;
  workdir?: string;
  user?: string;
  hostname?: string;
  network?: string;
  entrypoint?: string;
  memory?: string;
  cpus?: string;
}

/** The body of docker.container.create, started once created, for `fleet container run [options] IMAGE [COMMAND...]`. */
export function runRequest(
  opts: RunOptions,
  image: string,
  command: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Record<string, unknown> {
  const body: Record<string, unknown> = { image, auto_start: true };
  const set = (field: string, value: unknown) => {
    if (value !== undefined) body[field] = value;
  };
  set('name', opts.name);
  set('cmd', command.length > 0 ? [...command] : undefined);
  set('entrypoint', opts.entrypoint === undefined ? undefined : [opts.entrypoint]);
  set('env', opts.env && environment(opts.env, env));
  set('labels', opts.label && labels(opts.label));
  set('ports', opts.publish && ports(opts.publish));
  Object.assign(body, opts.volume ? mounts(opts.volume) : {});
  set('restart_policy', opts.restart === undefined ? undefined : restartPolicy(opts.restart));
  set('working_dir', opts.workdir);
  set('user', opts.user);
  set('hostname', opts.hostname);
  set('network', opts.network);
  set('memory', opts.memory === undefined ? undefined : memoryBytes(opts.memory));
  set('nano_cpus', opts.cpus === undefined ? undefined : nanoCpus(opts.cpus));
  return body;
}

/** `-e KEY=VAL`, or `-e KEY` for the value KEY has here (left out when unset), as docker does. */
function environment(entries: readonly string[], env: NodeJS.ProcessEnv): Record<string, string> {
  const result: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq === 0) throw new UsageError(`-e ${entry}: expected KEY=VALUE or KEY`);
    if (eq > 0) result[entry.slice(0, eq)] = entry.slice(eq + 1);
    else if (env[entry] !== undefined) result[entry] = env[entry] as string;
  }
  return result;
}

function labels(entries: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    entries.map((entry) => {
      const eq = entry.indexOf('=');
      return eq < 0 ? [entry, ''] : [entry.slice(0, eq), entry.slice(eq + 1)];
    }),
  );
}

function ports(specs: readonly string[]): Record<string, string> {
  const result: Record<string, string> = {};
  for (const spec of specs) {
    const [containerPort, host] = publishedPort(spec);
    if (containerPort in result) throw new UsageError(`-p: ${containerPort} is published twice (one host port per container port)`);
    result[containerPort] = host;
  }
  return result;
}

/** `-v src:dst[:opts]` as a bind (a host path or a volume name: the gateway judges which), `-v /dst` as an anonymous volume. */
function mounts(specs: readonly string[]): { binds?: string[]; volumes?: string[] } {
  const binds: string[] = [];
  const volumes: string[] = [];
  for (const spec of specs) {
    if (!spec.includes(':')) {
      if (!spec.startsWith('/')) throw new UsageError(`-v ${spec}: a container path starts with /`);
      volumes.push(spec);
    } else if (spec.startsWith('.') || spec.startsWith('~')) {
      // A path relative to this shell means nothing on the target hosts.
      throw new UsageError(`-v ${spec}: a host path is absolute (it names a path on every targeted host)`);
    } else {
      binds.push(spec);
    }
  }
  return { ...(binds.length > 0 ? { binds } : {}), ...(volumes.length > 0 ? { volumes } : {}) };
}

/** Does this option take the next argument as its value? */
function takesValue(option: Option): boolean {
  return option.required || option.optional;
}

/**
 * The command line with docker's shapes turned into fleet's: `ps` and `images` as the commands they
 * stand for, and `container run … IMAGE COMMAND ARGS…` with a `--` after the image, so that the
 * command's own flags (`sh -c …`) are not read as fleet's, as docker reads them.
 */
export function dockerArgv(args: readonly string[], globals: readonly Option[], runOptions: readonly Option[]): string[] {
  const first = nextOperand(args, 0, globals);
  if (first === undefined) return [...args];
  const alias = TOP_LEVEL_ALIASES[args[first]];
  const expanded = alias ? [...args.slice(0, first), ...alias, ...args.slice(first + 1)] : [...args];
  const verb = nextOperand(expanded, first + 1, globals);
  if (expanded[first] !== 'container' || verb === undefined || expanded[verb] !== 'run') return expanded;
  const image = nextOperand(expanded, verb + 1, [...globals, ...runOptions]);
  if (image === undefined || image + 1 >= expanded.length || expanded[image + 1] === '--') return expanded;
  return [...expanded.slice(0, image + 1), '--', ...expanded.slice(image + 1)];
}

/** The index of the first operand at or after `from`, skipping options and their values; undefined at the end or at `--`. */
function nextOperand(args: readonly string[], from: number, options: readonly Option[]): number | undefined {
  for (let index = from; index < args.length; index++) {
    const arg = args[index];
    if (arg === '--') return undefined;
    if (!arg.startsWith('-') || arg === '-') return index;
    if (optionConsumesNext(arg, options)) index++;
  }
  return undefined;
}

/** `--name app` and `-e A=1` take the next argument; `--name=app`, `-eA=1`, `-d` and `-dq` do not (`-de` does). */
function optionConsumesNext(arg: string, options: readonly Option[]): boolean {
  if (arg.startsWith('--')) {
    if (arg.includes('=')) return false;
    const option = options.find((candidate) => candidate.long === arg);
    return option !== undefined && takesValue(option);
  }
  for (let index = 1; index < arg.length; index++) {
    const option = options.find((candidate) => candidate.short === `-${arg[index]}`);
    if (option && takesValue(option)) return index === arg.length - 1;
  }
  return false;
}
