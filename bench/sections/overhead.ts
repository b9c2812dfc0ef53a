import type Docker from 'dockerode';
import pino from 'pino';
// "Direct" is the agent's own executor run in the bench process (see runOverhead). Until the executors live in a
// package of their own, these imports are the bench's one reach into an app.
// eslint-disable-next-line fleet/import-boundaries -- see above
import { containerExec } from '../../apps/agent/src/executors/container/exec';
// eslint-disable-next-line fleet/import-boundaries -- see above
import { containerInspect } from '../../apps/agent/src/executors/container/inspect';
// eslint-disable-next-line fleet/import-boundaries -- see above
import { containerList } from '../../apps/agent/src/executors/container/list';
// eslint-disable-next-line fleet/import-boundaries -- see above
import type { ExecutionContext, Outcome } from '../../apps/agent/src/executors/types';
import { BUSYBOX_IMAGE, dockerClient, type FleetState } from '@fleet/deploy';
import { boundedLoop, type Progress } from '../lib/context';
import { HttpClient } from '../lib/http';
import { round, summarize, type Summary } from '../lib/stats';

export interface OverheadScenario {
  name: string;
  operation: string;
  gatewayCall: string;
  pairs: number;
  direct: Summary;
  gateway: Summary;
  /** Gateway minus direct of the same interleaved pair, then the percentile of those differences. */
  addedP50: number;
  addedP99: number;
  /** Difference of the two sides' percentiles (for reference; can go negative on a noisy box). */
  percentileDiffP50: number;
  percentileDiffP99: number;
  ratioP50: number;
  gatewayErrors: number;
}

export interface OverheadResult {
  host: string;
  engine: string;
  scenarios: OverheadScenario[];
}

const HOST = 'web-01';
const EXEC_CONTAINER = 'bench-exec';

/**
 * Section 1. Same engine, same run, interleaved: each pair is one direct call
 * and one gateway call of the same operation, in alternating order. "Direct"
 * runs the agent's own executor function in the bench process — exactly the
 * dockerode calls the agent makes, with no HTTP, NATS or agent in between —
 * so the difference is what the gateway path adds.
 */
export async function runOverhead(state: FleetState, opts: { quick: boolean }, progress: Progress): Promise<OverheadResult> {
  const agent = state.agents.find((candidate) => candidate.hostname === HOST);
  if (!agent) throw new Error(`no ${HOST} in the fleet`);
  const docker = dockerClient(agent.socket);
  const http = new HttpClient(state.url, { authorization: `Bearer ${state.adminKey}` });
  const ctx = () => directContext(docker);
  const pairs = opts.quick ? { list: 40, inspect: 40, exec: 15 } : { list: 400, inspect: 400, exec: 150 };
  const scenarios: OverheadScenario[] = [];
  const measureList = async (count: number) => {
    progress.say(`overhead: container list, ${count} containers`);
    return measure(
      `container list (${count} containers)`,
      'docker.container.list',
      `GET /node/${HOST}/container/docker?all=true`,
      pairs.list,
      progress,
      {
        direct: () => containerList({ all: true }, ctx()),
        gateway: () => http.call('GET', `/node/${HOST}/container/docker?all=true`),
      },
    );
  };
  try {
    await removeBenchContainers(docker);
    const existing = await docker.listContainers({ all: true });
    if (existing.length !== 0) throw new Error(`${HOST}'s engine should start with no containers, has ${existing.length}`);

    scenarios.push(await measureList(0));

    await docker
      .createContainer({ Image: BUSYBOX_IMAGE, name: EXEC_CONTAINER, Cmd: ['sleep', '3600'], Labels: { 'fleet.bench': '1' } })
      .then((c) => c.start());
    progress.say('overhead: container inspect');
    scenarios.push(
      await measure(
        'container inspect',
        'docker.container.inspect',
        `GET /node/${HOST}/container/docker/${EXEC_CONTAINER}`,
        pairs.inspect,
        progress,
        {
          direct: () => containerInspect({ id: EXEC_CONTAINER }, ctx()),
          gateway: () => http.call('GET', `/node/${HOST}/container/docker/${EXEC_CONTAINER}`),
        },
      ),
    );

    progress.say('overhead: exec `true`');
    scenarios.push(
      await measure(
        'exec `true`',
        'docker.container.exec',
        `POST /node/${HOST}/container/docker/${EXEC_CONTAINER}/exec {"cmd":["true"]}`,
        pairs.exec,
        progress,
        {
          direct: () => containerExec({ id: EXEC_CONTAINER, body: { cmd: ['true'] } } as never, ctx()),
          gateway: () => http.call('POST', `/node/${HOST}/container/docker/${EXEC_CONTAINER}/exec`, { cmd: ['true'] }),
        },
      ),
    );

    progress.say('overhead: creating 49 more containers (50 in all)');
    for (let batch = 0; batch < 49; batch += 7) {
      await Promise.all(
        Array.from({ length: Math.min(7, 49 - batch) }, (_, i) =>
          docker.createContainer({
            Image: BUSYBOX_IMAGE,
            name: `bench-c${batch + i + 1}`,
            Cmd: ['sleep', '3600'],
            Labels: { 'fleet.bench': '1' },
          }),
        ),
      );
    }
    scenarios.push(await measureList((await docker.listContainers({ all: true })).length));
  } finally {
    http.close();
    await removeBenchContainers(docker).catch(() => undefined);
  }
  return { host: HOST, engine: agent.socket, scenarios };
}

interface Pair {
  direct: () => Promise<Outcome<'docker.container.list' | 'docker.container.inspect' | 'docker.container.exec'>>;
  gateway: () => Promise<{ status: number; body: string }>;
}

async function measure(
  name: string,
  operation: string,
  gatewayCall: string,
  pairs: number,
  progress: Progress,
  pair: Pair,
): Promise<OverheadScenario> {
  const direct: number[] = [];
  const gateway: number[] = [];
  const added: number[] = [];
  let gatewayErrors = 0;
  const warmup = Math.max(5, Math.round(pairs / 20));
  const timeDirect = async () => {
    const t0 = performance.now();
    await pair.direct();
    return performance.now() - t0;
  };
  const timeGateway = async () => {
    const t0 = performance.now();
    const res = await pair.gateway();
    const ms = performance.now() - t0;
    if (res.status !== 200 && res.status !== 202) {
      gatewayErrors++;
      if (gatewayErrors === 1) progress.say(`  ${name}: gateway answered ${res.status}: ${res.body.slice(0, 200)}`);
      return undefined;
    }
    return ms;
  };
  await boundedLoop(warmup + pairs, 180_000, async (i) => {
    // Alternate the order so neither side always runs on a warmer engine.
    let d: number;
    let g: number | undefined;
    if (i % 2 === 0) {
      d = await timeDirect();
      g = await timeGateway();
    } else {
      g = await timeGateway();
      d = await timeDirect();
    }
    if (i < warmup || g === undefined) return;
    direct.push(d);
    gateway.push(g);
    added.push(g - d);
  });
  const d = summarize(direct);
  const g = summarize(gateway);
  const a = summarize(added);
  const result = {
    name,
    operation,
    gatewayCall,
    pairs: added.length,
    direct: d,
    gateway: g,
    addedP50: a.p50,
    addedP99: a.p99,
    percentileDiffP50: round(g.p50 - d.p50),
    percentileDiffP99: round(g.p99 - d.p99),
    ratioP50: round(g.p50 / d.p50, 2),
    gatewayErrors,
  };
  progress.say(
    `  ${name}: direct p50 ${d.p50} p99 ${d.p99} | gateway p50 ${g.p50} p99 ${g.p99} | added p50 ${result.addedP50} p99 ` +
      `${result.addedP99} ms`,
  );
  return result;
}

/** A fresh context per call, like the worker builds per job (one deadline signal). */
function directContext(docker: Docker): ExecutionContext {
  return {
    jobId: 'bench',
    docker,
    deadline: Date.now() + 30_000,
    signal: AbortSignal.timeout(30_000),
    log: pino({ level: 'silent' }),
    emit: () => undefined,
    secret: async () => undefined,
    maxOutputBytes: 256 * 1024,
    // The bench measures no file transfers.
    upload: () => {
      throw new Error('the bench sends no uploads');
    },
    sendFile: async () => {
      throw new Error('the bench fetches no files');
    },
  };
}

async function removeBenchContainers(docker: Docker): Promise<void> {
  const mine = await docker.listContainers({ all: true, filters: JSON.stringify({ label: ['fleet.bench=1'] }) });
  await Promise.all(mine.map((info) => docker.getContainer(info.Id).remove({ force: true })));
}
