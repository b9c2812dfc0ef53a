import type Docker from 'dockerode';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findExecutable } from './paths';
import { abortIfDead, spawnService, stopByPid, waitForServiceOrStop } from './process';

export interface EngineOptions {
  /** Holds the engine's data root, exec root, socket and pid file; keep it short (see assertSocketPathsFit). */
  dir: string;
  logFile: string;
  detached: boolean;
  readyTimeoutMs?: number;
  /** Run dockerd inside this network namespace; its socket is a file, so the caller still reaches it. */
  netns?: string;
  /** Registries (`host:port` or CIDR) this engine may pull from over plain HTTP besides loopback ones. */
  insecureRegistries?: string[];
}

export interface Engine {
  dir: string;
  pid: number;
  socket: string;
  logFile: string;
}

/** Unix socket paths are limited to 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;

export function engineSocketOf(dir: string): string {
  return join(dir, 'docker.sock');
}

/** Starts a private dockerd next to any others: own roots, own socket, no bridge and no iptables changes. */
export async function startEngine(opts: EngineOptions): Promise<Engine> {
  assertSocketPathsFit(opts.dir);
  mkdirSync(opts.dir, { recursive: true });
  const socket = engineSocketOf(opts.dir);
  const pid = spawnService({
    command: findExecutable('dockerd'),
    args: dockerdArgs(opts.dir, socket, opts.insecureRegistries ?? []),
    logFile: opts.logFile,
    detached: opts.detached,
    netns: opts.netns,
  });
  const engine = { dir: opts.dir, pid, socket, logFile: opts.logFile };
  await waitForServiceOrStop(
    `dockerd at ${socket}`,
    () =>
      dockerClient(socket, 2_000)
        .ping()
        .then(() => true),
    { timeoutMs: opts.readyTimeoutMs ?? 60_000, abortIf: abortIfDead('dockerd', pid, opts.logFile) },
    () => stopEngine(engine),
  );
  return engine;
}

function dockerdArgs(dir: string, socket: string, insecureRegistries: string[]): string[] {
  // A config file of our own, so a system-wide /etc/docker/daemon.json (hosts, bridge, ...) cannot interfere.
  const configFile = join(dir, 'daemon.json');
  const config = insecureRegistries.length > 0 ? { 'insecure-registries': insecureRegistries } : {};
  writeFileSync(configFile, `${JSON.stringify(config)}\n`);
  return [
    '--config-file',
    configFile,
    '--data-root',
    join(dir, 'data'),
    '--exec-root',
    join(dir, 'exec'),
    '--host',
    `unix://${socket}`,
    '--pidfile',
    join(dir, 'docker.pid'),
    '--bridge=none',
    '--iptables=false',
    '--ip6tables=false',
  ];
}

/** dockerd's managed containerd puts the longest socket path under the exec root; fail early and clearly. */
function assertSocketPathsFit(dir: string): void {
  const longest = join(dir, 'exec', 'containerd', 'containerd.sock.ttrpc');
  if (Buffer.byteLength(longest) > MAX_SOCKET_PATH) {
    throw new Error(`engine dir ${dir} is too long for unix socket paths (${longest}); use a shorter directory`);
  }
}

export interface EngineStopOptions {
  /**
   * Kill running containers first. dockerd gives each container its own stop timeout (10 s) on
   * shutdown; when the engine's data is about to be deleted anyway that wait is pointless.
   */
  killContainers?: boolean;
}

/**
 * Stops dockerd and waits for it and its managed containerd to exit, then removes the host bridge
 * interfaces of its networks. dockerd leaves those behind when it stops (and re-creates them when
 * it starts again); left over, each one holds a subnet of the default address pools, and after 31
 * of them no engine on the machine can create a bridge network any more.
 */
export async function stopEngine(engine: { pid: number; dir: string }, opts: EngineStopOptions = {}): Promise<void> {
  const socket = engineSocketOf(engine.dir);
  if (opts.killContainers) await killRunningContainers(socket);
  const bridges = await bridgeInterfacesOf(socket);
  const containerdPid = readContainerdPid(engine.dir);
  // Running containers may need their full stop timeout before dockerd exits.
  await stopByPid(engine.pid, { marker: socket, graceMs: 30_000 });
  // containerd normally exits with dockerd; after a SIGKILL of dockerd it would be orphaned.
  if (containerdPid !== undefined) await stopByPid(containerdPid, { marker: join(engine.dir, 'exec', 'containerd') });
  removeInterfaces(bridges);
}

const BRIDGE_NAME_OPTION = 'com.docker.network.bridge.name';

/** The interfaces the engine's bridge networks own; none when the engine does not answer. */
export async function bridgeInterfacesOf(socket: string): Promise<string[]> {
  try {
    const networks = await dockerClient(socket, 5_000).listNetworks({ filters: { driver: ['bridge'] } });
    return networks.map((network) => network.Options?.[BRIDGE_NAME_OPTION] ?? `br-${network.Id.slice(0, 12)}`);
  } catch {
    return [];
  }
}

function removeInterfaces(names: string[]): void {
  for (const name of names) {
    if (existsSync(join('/sys/class/net', name))) execFileSync(findExecutable('ip'), ['link', 'delete', name]);
  }
}

function readContainerdPid(dir: string): number | undefined {
  try {
    return Number(readFileSync(join(dir, 'exec', 'containerd', 'containerd.pid'), 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

/** Best effort: an engine that does not answer is stopped by signal anyway. */
async function killRunningContainers(socket: string): Promise<void> {
  try {
    const docker = dockerClient(socket, 5_000);
    const running = await docker.listContainers();
    await Promise.allSettled(running.map((info) => docker.getContainer(info.Id).kill()));
  } catch {
    // engine not answering; signals will do
  }
}

export function dockerClient(socket: string, timeoutMs?: number): Docker {
  // Loaded here, on first use: dockerode and its gRPC stack cost a command that reads the local fleet's state
  // (`fleet container ls` without --url, through this package) a third of a second at start.
  const Dockerode = require('dockerode') as typeof Docker;
  return new Dockerode({ socketPath: socket, timeout: timeoutMs });
}
