import { join } from 'node:path';
import { type NatsOperator, operatorConfig } from './nats-operator';
import { type NatsTlsFiles, routeAuthorization, routeTlsBlock, tlsBlock } from './nats-config';
import { findExecutable } from './paths';
import { abortIfDead, assertPortFree, freePort, spawnService, stopByPid, waitForServiceOrStop } from './process';
import { ensurePrivateDir, writeSecretFile } from './secret-files';

export interface NatsClusterOptions {
  name: string;
  /** Route port this server listens on for its peers. */
  port: number;
  /** Peer route URLs, e.g. nats-route://127.0.0.1:6223. */
  routes: string[];
  /** Routes mutually authenticated: each node presents this certificate and verifies its peer's against the CA. */
  tls?: NatsTlsFiles;
}

/** Where a server runs: a network namespace and the address it listens on there (client, route and monitor ports). */
export interface NatsPlacement {
  netns: string;
  host: string;
}

export interface NatsOptions {
  /** Holds the generated config and the JetStream store (in its jetstream/ subdirectory). */
  dir: string;
  logFile: string;
  detached: boolean;
  port?: number;
  monitorPort?: number;
  serverName?: string;
  cluster?: NatsClusterOptions;
  /** Operator mode: the server trusts this operator, with a full account resolver in <dir>/resolver. */
  operator?: Pick<NatsOperator, 'operatorJwt' | 'systemAccount' | 'preload'>;
  /** Appended verbatim to the config. */
  extraConfig?: string;
  /** Clients must speak TLS: this server certificate, of this CA. */
  tls?: NatsTlsFiles;
  readyTimeoutMs?: number;
  /** Default: the caller's own namespace, on 127.0.0.1. */
  placement?: NatsPlacement;
}

export interface NatsServer {
  pid: number;
  /** The address its ports listen on (127.0.0.1 unless placed elsewhere). */
  host: string;
  netns?: string;
  port: number;
  monitorPort: number;
  url: string;
  configFile: string;
  logFile: string;
}

export async function startNats(opts: NatsOptions): Promise<NatsServer> {
  ensurePrivateDir(opts.dir);
  const port = opts.port ?? (await freePort());
  const monitorPort = opts.monitorPort ?? (await freePort());
  const configFile = join(opts.dir, 'nats.conf');
  // It lists the users (and a cluster's route password): readable by its owner only.
  writeSecretFile(configFile, natsConfig(opts, port, monitorPort));
  const pid = spawnService({
    command: findExecutable('nats-server'),
    args: ['-c', configFile],
    logFile: opts.logFile,
    detached: opts.detached,
    netns: opts.placement?.netns,
  });
  const host = hostOf(opts);
  const server = {
    pid,
    host,
    netns: opts.placement?.netns,
    port,
    monitorPort,
    url: `nats://${host}:${port}`,
    configFile,
    logFile: opts.logFile,
  };
  await waitForServiceOrStop(
    `nats-server on ${host}:${port}`,
    () => jetStreamEnabled(host, monitorPort),
    { timeoutMs: opts.readyTimeoutMs ?? 20_000, abortIf: abortIfDead('nats-server', pid, opts.logFile) },
    () => stopNats(server),
  );
  return server;
}

/**
 * Starts a stopped server again from the config file startNats wrote: same ports, same JetStream
 * store, same users. Resolves with the new PID once JetStream is enabled again (a clustered server
 * may still be catching up with its peers then; see nats-cluster.ts for that wait).
 */
export async function respawnNats(
  server: { configFile: string; logFile: string; port: number; monitorPort: number; host?: string; netns?: string },
  opts: { detached: boolean; readyTimeoutMs?: number },
): Promise<number> {
  const host = server.host ?? LOOPBACK;
  if (server.netns === undefined) await assertPortFree(server.port);
  const pid = spawnService({
    command: findExecutable('nats-server'),
    args: ['-c', server.configFile],
    logFile: server.logFile,
    detached: opts.detached,
    netns: server.netns,
  });
  await waitForServiceOrStop(
    `nats-server on ${host}:${server.port}`,
    () => jetStreamEnabled(host, server.monitorPort),
    { timeoutMs: opts.readyTimeoutMs ?? 20_000, abortIf: abortIfDead('nats-server', pid, server.logFile) },
    () => stopNats({ pid, configFile: server.configFile }),
  );
  return pid;
}

/** The config file path is in nats-server's command line, so it identifies our server among others. */
export function stopNats(server: { pid: number; configFile: string }): Promise<void> {
  return stopByPid(server.pid, { marker: server.configFile });
}

const LOOPBACK = '127.0.0.1';

function hostOf(opts: NatsOptions): string {
  return opts.placement?.host ?? LOOPBACK;
}

function natsConfig(opts: NatsOptions, port: number, monitorPort: number): string {
  const host = hostOf(opts);
  const lines = [
    `server_name: ${JSON.stringify(opts.serverName ?? `fleet-nats-${port}`)}`,
    `listen: "${host}:${port}"`,
    `http: "${host}:${monitorPort}"`,
    // nats-server keeps its streams in store_dir/jetstream.
    `jetstream { store_dir: ${JSON.stringify(opts.dir)} }`,
  ];
  if (opts.tls) lines.push(tlsBlock(opts.tls));
  if (opts.cluster) lines.push(clusterBlock(opts.cluster, host));
  if (opts.operator) lines.push(operatorConfig(opts.operator, join(opts.dir, 'resolver')));
  if (opts.extraConfig) lines.push(opts.extraConfig);
  return `${lines.join('\n')}\n`;
}

function clusterBlock(cluster: NatsClusterOptions, host: string): string {
  const routes = cluster.routes.map((route) => JSON.stringify(route)).join(', ');
  const tls = cluster.tls ? `\n  ${routeAuthorization(cluster.tls)}\n${routeTlsBlock(cluster.tls).replace(/^/gm, '  ')}` : '';
  return `cluster {\n  name: ${JSON.stringify(cluster.name)}\n  listen: "${host}:${cluster.port}"\n  routes: [${routes}]${tls}\n}`;
}

/**
 * Ready means JetStream is enabled. A clustered server's full health also needs its peers, which
 * may not be started yet, so that wait belongs to whoever starts the whole cluster.
 */
async function jetStreamEnabled(host: string, monitorPort: number): Promise<boolean> {
  const res = await fetch(`http://${host}:${monitorPort}/healthz?js-enabled-only=true`, { signal: AbortSignal.timeout(2_000) });
  return res.ok;
}
