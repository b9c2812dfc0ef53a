import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { defaultAgents, type FleetState, type NatsServer, startFleet, startNats, stopFleet, stopNats } from '@fleet/deploy';

/**
 * The gateway is always its own OS process, spawned by deploy/lib exactly as
 * `fleet up` and the e2e suites spawn it. The rate limit is a per-key policy
 * (default 60,000/min); the bench raises it so that it is still on the path
 * (its cost is measured) but never caps a measured rate.
 */
export const BENCH_GATEWAY_ENV = { FLEET_RATE_LIMIT_PER_MINUTE: '10000000' };

/** FLEET_BENCH_KEEP_DIR=1 keeps a fleet's temp dir (logs, NATS store) for a post-mortem. */
function removeDir(dir: string): void {
  if (process.env.FLEET_BENCH_KEEP_DIR === '1') {
    process.stderr.write(`FLEET_BENCH_KEEP_DIR=1: keeping ${dir}\n`);
    return;
  }
  rmSync(dir, { recursive: true, force: true });
}

export interface RealFleet {
  state: FleetState;
  stop(): Promise<void>;
}

/**
 * NATS, dockerd engines with the busybox image (by default three: web-01, web-02, db-01), the gateway and an
 * agent per engine; with `tls`, every link in TLS.
 */
export async function startRealFleet(logLevel: string, opts: { agents?: number; tls?: boolean } = {}): Promise<RealFleet> {
  const dir = mkdtempSync('/tmp/flb-');
  try {
    const state = await startFleet({
      dir,
      agents: defaultAgents(opts.agents ?? 3),
      detached: false,
      logLevel,
      gatewayEnv: { ...BENCH_GATEWAY_ENV },
      agentEnv: {},
      tls: opts.tls ?? false,
    });
    return {
      state,
      async stop() {
        try {
          await stopFleet(state, { killContainers: true });
        } finally {
          removeDir(dir);
        }
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * nats-server limits for the scale harness. The defaults already allow 64K
 * connections and unlimited consumers; these are set explicitly so the limits
 * are on record, plus room for the bursts of a 5,000-host fan-out.
 */
export const SCALE_NATS_CONFIG = ['max_connections: 12000', 'max_payload: 1MB', 'max_pending: 256MB', 'write_deadline: "10s"'].join('\n');

export interface ScaleFleet {
  state: FleetState;
  nats: NatsServer;
  dir: string;
  stop(): Promise<void>;
}

/** NATS (with SCALE_NATS_CONFIG) and the gateway, no agents: the swarm brings them. */
export async function startScaleFleet(logLevel: string, gatewayEnv: Record<string, string>, natsExtra = ''): Promise<ScaleFleet> {
  const dir = mkdtempSync('/tmp/flb-');
  let nats: NatsServer | undefined;
  try {
    nats = await startNats({
      dir: join(dir, 'nats'),
      logFile: join(dir, 'nats.log'),
      detached: false,
      serverName: 'bench-nats',
      extraConfig: `${SCALE_NATS_CONFIG}\n${natsExtra}`,
    });
    const state = await startFleet({
      dir,
      agents: [],
      natsUrl: nats.url,
      detached: false,
      logLevel,
      gatewayEnv: { ...BENCH_GATEWAY_ENV, ...gatewayEnv },
    });
    const server = nats;
    return {
      state,
      nats: server,
      dir,
      async stop() {
        try {
          await stopFleet(state);
          await stopNats(server);
        } finally {
          removeDir(dir);
        }
      },
    };
  } catch (err) {
    if (nats) await stopNats(nats).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
