import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUSYBOX_IMAGE, dockerClient, type FleetState } from '@fleet/deploy';
import type { Progress } from '../lib/context';
import { timeCommand } from '../lib/proc';
import { round } from '../lib/stats';

/** One way of running `docker ps`, timed from spawn to exit. */
export interface DockerPsTiming {
  /** Where DOCKER_HOST points (key elided). */
  dockerHost: string;
  medianMs: number;
  minMs: number;
  maxMs: number;
  samplesMs: number[];
}

export interface DockerCliResult {
  runs: number;
  host: string;
  /** `docker --version` of the CLI binary that ran. */
  cli: string;
  /** Containers `docker ps` listed (the same on both sides, checked). */
  containers: number;
  gateway: DockerPsTiming;
  socket: DockerPsTiming;
  /** Gateway median over socket median. */
  ratio: number;
}

const HOST = 'web-01';
const CONTAINER = 'bench-docker-ps';

function timing(dockerHost: string, samples: number[]): DockerPsTiming {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    dockerHost,
    medianMs: round(sorted[Math.floor(sorted.length / 2)], 1),
    minMs: round(sorted[0], 1),
    maxMs: round(sorted[sorted.length - 1], 1),
    samplesMs: samples.map((ms) => round(ms, 1)),
  };
}

/**
 * Section "The docker CLI through the gateway": the real `docker ps` against one host, through the
 * gateway's Engine API proxy (`DOCKER_HOST=tcp://<gateway>/node/web-01/docker`, key in the config's
 * HttpHeaders) and straight on that engine's socket, alternating in the same run, `runs` each after
 * one untimed run of each; medians and their ratio. Both listings are checked to be the same.
 */
export async function runDockerCli(state: FleetState, opts: { quick: boolean }, progress: Progress): Promise<DockerCliResult> {
  const agent = state.agents.find((candidate) => candidate.hostname === HOST);
  if (!agent) throw new Error(`no ${HOST} in the fleet`);
  const runs = opts.quick ? 7 : 21;
  const dir = mkdtempSync('/tmp/flb-dcli-');
  const engine = dockerClient(agent.socket);
  await engine
    .createContainer({ Image: BUSYBOX_IMAGE, name: CONTAINER, Cmd: ['sleep', '3600'], Labels: { 'fleet.bench': '1' } })
    .then((c) => c.start());
  try {
    const config = join(dir, 'docker-config');
    mkdirSync(config);
    writeFileSync(join(config, 'config.json'), JSON.stringify({ HttpHeaders: { Authorization: `Bearer ${state.adminKey}` } }));
    const base = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, DOCKER_CONFIG: config };
    const gatewayHost = `tcp://${new URL(state.url).host}/node/${HOST}/docker`;
    const socketHost = `unix://${agent.socket}`;
    const sides = [
      { key: 'gateway' as const, env: { ...base, DOCKER_HOST: gatewayHost }, samples: [] as number[], listing: '' },
      { key: 'socket' as const, env: { ...base, DOCKER_HOST: socketHost }, samples: [] as number[], listing: '' },
    ];
    const args = ['ps', '--no-trunc', '--format', '{{.ID}}'];
    for (const side of sides) side.listing = (await timeCommand('docker', args, side.env)).stdout;
    if (sides[0].listing !== sides[1].listing)
      throw new Error(
        `docker ps through the gateway listed ${JSON.stringify(sides[0].listing)}, on the socket ${JSON.stringify(sides[1].listing)}`,
      );
    progress.say(`docker CLI: docker ps on ${HOST} through the gateway and on its socket, ${runs} runs each, alternating`);
    for (let run = 0; run < runs; run++) {
      // Alternate which side goes first, so neither always runs right after the other.
      for (const side of run % 2 === 0 ? sides : [...sides].reverse()) side.samples.push((await timeCommand('docker', args, side.env)).ms);
    }
    const gateway = timing(gatewayHost.replace(/\/\/[^/]+/, '//<gateway>'), sides[0].samples);
    const socket = timing(socketHost.replace(/^unix:\/\/.*\/(?=[^/]+\/docker\.sock$)/, 'unix://…/'), sides[1].samples);
    const cli = (await timeCommand('docker', ['--version'], base)).stdout.trim();
    const containers = sides[0].listing.split('\n').filter(Boolean).length;
    const ratio = round(gateway.medianMs / socket.medianMs, 2);
    progress.say(
      `docker CLI: docker ps median ${gateway.medianMs} ms through the gateway, ${socket.medianMs} ms on the socket: ` + `${ratio}×`,
    );
    return { runs, host: HOST, cli, containers, gateway, socket, ratio };
  } finally {
    await engine
      .getContainer(CONTAINER)
      .remove({ force: true })
      .catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
