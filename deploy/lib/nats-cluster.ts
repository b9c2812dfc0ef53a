import { join } from 'node:path';
import { type NatsOptions, type NatsPlacement, type NatsServer, respawnNats, startNats, stopNats } from './nats';
import type { NatsTlsFiles } from './nats-config';
import { freePort, isOurProcess, sendSignal, waitFor, waitForExit } from './process';

/*
 * A NATS cluster on loopback: N servers with JetStream (file storage), routed to each other, so
 * streams and buckets can have replicas = N. Used by the fault suites to kill one node under load.
 */

export interface NatsClusterOptions {
  /** Each node keeps its config and store in <dir>/node-<i>. */
  dir: string;
  /** Where node i logs; default <dir>/node-<i>.log. */
  logFileOf?: (index: number) => string;
  size: number;
  detached: boolean;
  name?: string;
  /** Every node trusts the same operator, each with a full resolver of its own; they sync the account JWTs pushed to any of them. */
  operator?: NatsOptions['operator'];
  readyTimeoutMs?: number;
  /** Where node i runs (its own network namespace and address); default: all on this namespace's loopback. */
  placementOf?: (index: number) => NatsPlacement;
  /** Clients must speak TLS to every node, which presents this certificate. */
  tls?: NatsTlsFiles;
  /** Routes mutually authenticated with this certificate (client and server auth) of the same CA. */
  routeTls?: NatsTlsFiles;
}

export interface NatsClusterNode extends NatsServer {
  index: number;
  serverName: string;
  routePort: number;
}

export interface NatsCluster {
  nodes: NatsClusterNode[];
  /** Every node's client URL, comma-separated: what FLEET_NATS_URL takes. */
  urls: string;
  detached: boolean;
}

/**
 * Starts every node at once (a clustered JetStream needs a quorum before any of it is healthy) and
 * resolves when each node reports itself healthy, i.e. the JetStream meta group has a leader that
 * every node follows. On failure it stops the nodes it started.
 */
export async function startNatsCluster(opts: NatsClusterOptions): Promise<NatsCluster> {
  const name = opts.name ?? 'fleet';
  const indexes = Array.from({ length: opts.size }, (_, index) => index + 1);
  const routePorts = await Promise.all(indexes.map(() => freePort()));
  const routeHosts = indexes.map((index) => opts.placementOf?.(index).host ?? '127.0.0.1');
  const routeUrls = indexes.map((index) => `nats-route://${routeHosts[index - 1]}:${routePorts[index - 1]}`);
  const started = await Promise.allSettled(
    indexes.map(async (index): Promise<NatsClusterNode> => {
      const routePort = routePorts[index - 1];
      const serverName = `${name}-nats-${index}`;
      const server = await startNats({
        dir: join(opts.dir, `node-${index}`),
        logFile: opts.logFileOf?.(index) ?? join(opts.dir, `node-${index}.log`),
        detached: opts.detached,
        serverName,
        cluster: {
          name,
          port: routePort,
          routes: routeUrls.filter((_, other) => other !== index - 1),
          tls: opts.routeTls,
        },
        operator: opts.operator,
        tls: opts.tls,
        readyTimeoutMs: opts.readyTimeoutMs,
        placement: opts.placementOf?.(index),
      });
      return { ...server, index, serverName, routePort };
    }),
  );
  const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const cluster: NatsCluster = { nodes, urls: nodes.map((node) => node.url).join(','), detached: opts.detached };
  try {
    const failure = started.find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
    await waitForClusterHealth(cluster, opts.readyTimeoutMs);
  } catch (err) {
    await stopNatsCluster(cluster);
    throw err;
  }
  return cluster;
}

/** Resolves once every running node answers /healthz with ok (JetStream current with its meta leader). */
export async function waitForClusterHealth(cluster: NatsCluster, timeoutMs = 60_000): Promise<void> {
  const running = cluster.nodes.filter((node) => isOurProcess(node.pid, node.configFile));
  await waitFor(
    `NATS cluster nodes ${running.map((node) => node.serverName).join(', ')} to be healthy`,
    async () => {
      for (const node of running) {
        const res = await fetch(`http://${node.host}:${node.monitorPort}/healthz`, { signal: AbortSignal.timeout(2_000) });
        if (!res.ok) throw new Error(`${node.serverName}: ${res.status} ${await res.text()}`);
      }
      return true;
    },
    { timeoutMs, intervalMs: 250 },
  );
}

/** Sends `signal` (SIGKILL by default: a crash) to one node and waits until it is gone. */
export async function killNatsNode(node: NatsClusterNode, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (!isOurProcess(node.pid, node.configFile)) throw new Error(`${node.serverName} is not running`);
  sendSignal(node.pid, signal);
  if (!(await waitForExit(node.pid, 20_000))) throw new Error(`${node.serverName} (pid ${node.pid}) did not exit after ${signal}`);
}

/** Starts a stopped node again on its own store; resolves once the whole cluster is healthy again. */
export async function restartNatsNode(cluster: NatsCluster, node: NatsClusterNode, readyTimeoutMs?: number): Promise<void> {
  node.pid = await respawnNats(node, { detached: cluster.detached, readyTimeoutMs });
  await waitForClusterHealth(cluster, readyTimeoutMs);
}

/** Which node leads a stream's raft group (JetStream API through any live node's monitor port). */
export async function streamLeader(cluster: NatsCluster, stream: string): Promise<NatsClusterNode | undefined> {
  for (const node of cluster.nodes.filter((candidate) => isOurProcess(candidate.pid, candidate.configFile))) {
    const res = await fetch(`http://${node.host}:${node.monitorPort}/jsz?streams=true&raft=true`, {
      signal: AbortSignal.timeout(2_000),
    }).catch(() => undefined);
    if (!res?.ok) continue;
    const jsz = (await res.json()) as JszReport;
    for (const account of jsz.account_details ?? []) {
      for (const info of account.stream_detail ?? []) {
        const leader = info.name === stream ? info.cluster?.leader : undefined;
        const found = leader && cluster.nodes.find((candidate) => candidate.serverName === leader);
        if (found) return found;
      }
    }
  }
  return undefined;
}

interface JszReport {
  account_details?: Array<{ stream_detail?: Array<{ name: string; cluster?: { leader?: string } }> }>;
}

/** Stops every node by PID (a node already gone is fine). */
export async function stopNatsCluster(cluster: NatsCluster): Promise<void> {
  const results = await Promise.allSettled(cluster.nodes.map((node) => stopNats(node)));
  const failures = results.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
  if (failures.length > 0) throw new AggregateError(failures, 'stopping the NATS cluster failed');
}
