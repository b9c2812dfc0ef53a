/**
 * `npm run bench` — overhead, fan-out, throughput, cost curve and profile, in
 * one run on this machine. Writes bench/results/latest.json and renders
 * BENCHMARKS.md. Numbers are printed and recorded, never asserted.
 *
 *   npm run bench                    full run (about 17 minutes: five ramps to 10,000 simulated agents)
 *   npm run bench -- --quick         smaller samples and fleets (under 2 minutes)
 *   npm run bench -- --save-baseline also record this run as the "before" of section 5
 *   npm run bench -- --render-only   re-render BENCHMARKS.md from the recorded results
 *   npm run bench -- --only=pipelines one phase (real = sections 1–3 and 5 on the real fleet, pipelines, docker-cli, profile = the profile alone, micro = the in-process A/Bs alone, scale, dashboard, tls,
 *                                    rollout = what a wave costs, fleet-size = heartbeats, heap per agent, GET /agent, a gateway start,
 *                                    reconnect = a broker restart under 1,000–10,000 agents,
 *                                    stacks = a stack deploy over the scale harness)
 *   npm run bench -- --only=scale --out=/tmp/scale.json  records to that file only: latest.json and BENCHMARKS.md stay as they are
 *   npm run bench -- --only=dashboard the dashboard alone: writes bench/results/dashboard.json and re-renders BENCHMARKS.md
 *                                     from the recorded results, leaving latest.json as it was (beside 1,000 and 10,000
 *                                     simulated agents; --levels=1000 one fleet size)
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUSYBOX_IMAGE, dockerClient, REPO_ROOT } from '@fleet/deploy';
import { Progress, type BenchOptions } from './lib/context';
import { gitInfo, loadSnapshot, machineInfo, versions, type LoadSnapshot } from './lib/env';
import { startRealFleet, type RealFleet } from './lib/fleets';
import { RowObserver } from './lib/observer';
import { renderMarkdown } from './render';
import type { BenchResults } from './results';
import { measureKeyVerification, type CallPathRecord } from './sections/callpath';
import { runDashboard, type DashboardResult } from './sections/dashboard';
import { measureFanout } from './sections/fanout';
import { measureAgentView, measureEtag, measureJobLogLines, measureLogDestination, measureNodeCallRouting } from './sections/gateway-path';
import { measureDeadline, measureFeedDecode, measureJwtVerify, measureNatsPublish } from './sections/micro';
import { runOverhead } from './sections/overhead';
import { runDockerCli } from './sections/docker-cli';
import { runPipelines } from './sections/pipelines';
import { runReconnect } from './sections/reconnect';
import { runProfile } from './sections/profiling';
import { runFleetSize } from './sections/fleet-size';
import { runRolloutBench } from './sections/rollout';
import { runScale } from './sections/scale';
import { runStackBench } from './sections/stacks';
import { runThroughput } from './sections/throughput';
import { runTlsCost } from './sections/tls';

const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');
const { buildIfStale } = require('../scripts/build.cjs') as { buildIfStale(): Promise<boolean> };

function parseArgs(argv: string[]): BenchOptions {
  const options: BenchOptions = {
    quick: false,
    saveBaseline: false,
    renderOnly: false,
    command: `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
  };
  for (const arg of argv) {
    if (arg === '--quick') options.quick = true;
    else if (arg === '--render-only') options.renderOnly = true;
    else if (arg === '--save-baseline') options.saveBaseline = true;
    else if (arg.startsWith('--only=')) options.only = arg.slice('--only='.length).split(',');
    else if (arg.startsWith('--max-agents=')) options.maxAgents = Number(arg.slice('--max-agents='.length));
    else if (arg.startsWith('--levels=')) options.levels = arg.slice('--levels='.length).split(',').map(Number);
    else if (arg.startsWith('--out=')) options.out = arg.slice('--out='.length);
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(
        'usage: npm run bench [-- --quick] [--save-baseline] [--only=real,pipelines,docker-cli,profile,micro,scale,tls,rollout,fleet-size,reconnect,stacks] ' +
          '[--max-agents=N] [--levels=N,N] [--out=FILE] [--render-only]\n',
      );
      process.exit(0);
    } else throw new Error(`unknown option ${arg}`);
  }
  return options;
}

/** The processes whose CPU a real-fleet measurement reads, as they are when asked (a restart changes them). */
function pidsOf(state: RealFleet['state']): () => Record<string, number> {
  return () => ({
    gateway: state.gateway.pid,
    ...(state.nats ? { nats: state.nats.pid } : {}),
    ...Object.fromEntries(state.agents.map((agent) => [`agent ${agent.hostname}`, agent.agentPid])),
    ...Object.fromEntries(state.agents.map((agent) => [`dockerd ${agent.hostname}`, agent.enginePid ?? 0])),
    bench: process.pid,
  });
}

/** BENCHMARKS.md from the recorded latest.json (and baseline.json), measuring nothing. */
function render(saveBaseline: boolean): void {
  const latest = JSON.parse(readFileSync(join(RESULTS_DIR, 'latest.json'), 'utf8')) as BenchResults;
  const baselineFile = join(RESULTS_DIR, 'baseline.json');
  const baseline = existsSync(baselineFile) ? (JSON.parse(readFileSync(baselineFile, 'utf8')) as BenchResults) : undefined;
  const callPathFile = join(RESULTS_DIR, 'callpath.json');
  const callPath = existsSync(callPathFile) ? (JSON.parse(readFileSync(callPathFile, 'utf8')) as CallPathRecord) : undefined;
  const dashboardFile = join(RESULTS_DIR, 'dashboard.json');
  const dashboard = existsSync(dashboardFile) ? (JSON.parse(readFileSync(dashboardFile, 'utf8')) as DashboardResult) : undefined;
  writeFileSync(join(REPO_ROOT, 'BENCHMARKS.md'), renderMarkdown({ ...latest, callPath, dashboard }, saveBaseline ? undefined : baseline));
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  if (options.renderOnly) {
    render(false);
    process.stderr.write('rendered BENCHMARKS.md from bench/results/latest.json\n');
    return;
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  const progress = new Progress(join(RESULTS_DIR, 'run.log.tmp'));
  const own = new Set([process.pid]);
  const loads: Array<LoadSnapshot & { phase: string }> = [{ phase: 'start', ...loadSnapshot(own) }];
  const started = new Date();
  const results: BenchResults = {
    meta: {
      startedAt: started.toISOString(),
      finishedAt: '',
      durationSeconds: 0,
      command: options.command,
      quick: options.quick,
      machine: machineInfo(),
      versions: versions(),
      git: gitInfo(),
      loads,
    },
  };
  progress.say(`${options.command} — ${results.meta.machine.cores} cores, load ${loads[0].loadavg1}`);
  const wants = (phase: string) => !options.only || options.only.includes(phase);

  // A phase that fails is recorded and the run goes on, so one broken phase never loses the others' numbers.
  const phase = async (name: string, body: () => Promise<void>) => {
    try {
      await body();
    } catch (err) {
      const message = `${name}: ${err instanceof Error ? err.message : String(err)}`;
      progress.say(`PHASE FAILED — ${message}`);
      (results.errors ??= []).push(message);
    }
  };

  // Every phase runs the compiled gateway and agents (dist/), as `fleet up` and the systemd units do.
  await buildIfStale();

  if (wants('real') || wants('pipelines') || wants('docker-cli') || wants('profile'))
    await phase('real fleet', async () => {
      progress.say('real fleet: NATS, 3 dockerd engines, gateway, 3 agents');
      const fleet = await startRealFleet('info');
      const { state } = fleet;
      try {
        if (wants('pipelines')) {
          await phase('pipelines', async () => {
            progress.say('pipelines: CLI cold start, and one _all listing by the CLI, curl and Ansible (median of 11)');
            results.pipelines = await runPipelines(state, progress);
          });
          loads.push({ phase: 'after pipelines', ...loadSnapshot(own) });
        }
        if (wants('docker-cli')) {
          await phase('docker-cli', async () => {
            results.dockerCli = await runDockerCli(state, options, progress);
          });
          loads.push({ phase: 'after docker-cli', ...loadSnapshot(own) });
        }
        if (!wants('real')) {
          if (wants('profile')) results.profile = await runProfile(state, options, progress, pidsOf(state));
          return;
        }
        results.overhead = await runOverhead(state, options, progress);
        loads.push({ phase: 'after overhead', ...loadSnapshot(own) });

        progress.say('fan-out: _all on 3 real engines (one running container each)');
        const engines = state.agents.map((agent) => dockerClient(agent.socket));
        await Promise.all(
          engines.map((docker) =>
            docker
              .createContainer({ Image: BUSYBOX_IMAGE, name: 'bench-fan', Cmd: ['sleep', '3600'], Labels: { 'fleet.bench': '1' } })
              .then((c) => c.start()),
          ),
        );
        const observer = await RowObserver.connect(state.natsUrl, state.natsOperator?.gatewayCredsFile);
        try {
          results.fanoutReal = await measureFanout(
            {
              url: state.url,
              adminKey: state.adminKey,
              observer,
              path: '/node/_all/container/docker?all=true',
              expectHosts: state.agents.length,
              maxCalls: options.quick ? 50 : 400,
              maxMs: options.quick ? 4000 : 20_000,
              minCalls: 10,
              pids: { gateway: state.gateway.pid, ...(state.nats ? { nats: state.nats.pid } : {}) },
            },
            progress,
            '_all × 3 engines',
          );
        } finally {
          await observer.close();
          await Promise.all(
            engines.map((docker) =>
              docker
                .getContainer('bench-fan')
                .remove({ force: true })
                .catch(() => undefined),
            ),
          );
        }
        loads.push({ phase: 'after fan-out', ...loadSnapshot(own) });

        const pids = pidsOf(state);
        const base = { url: state.url, adminKey: state.adminKey, pids: pids() };
        results.throughput = [];
        for (const target of [
          { name: 'one host (web-01)', path: '/node/web-01/container/docker/system/ping' },
          { name: '_any over 3 hosts', path: '/node/_any/container/docker/system/ping' },
        ]) {
          progress.say(`throughput: ${target.name}`);
          results.throughput.push(await runThroughput(base, target, options, progress));
        }
        loads.push({ phase: 'after throughput', ...loadSnapshot(own) });

        progress.say('profile: gateway and agent web-01 under --cpu-prof at a fixed rate');
        results.profile = await runProfile(state, options, progress, pids);
        loads.push({ phase: 'after profile', ...loadSnapshot(own) });

        const nats = await measureNatsPublish(state.natsUrl, state.natsOperator?.gatewayCredsFile, options.quick ? 2000 : 10_000);
        (results.ab ??= []).push(nats);
        progress.say(`micro A/B: ${nats.name}: ${nats.beforeUs} → ${nats.afterUs} µs CPU`);
      } finally {
        progress.say('real fleet: stopping');
        await fleet.stop();
      }
    });

  if (wants('real') || wants('micro'))
    await phase('micro', async () => {
      results.micro = { jwt: measureJwtVerify(options.quick ? 500 : 3000) };
      progress.say(
        `micro: jwt.verify ${results.micro.jwt.stringSecretUs} µs with the secret as a string, ${results.micro.jwt.keyObjectUs} µs with ` +
          `a KeyObject`,
      );
      const callPath = [
        await measureKeyVerification(options.quick ? 2000 : 10_000),
        await measureEtag(options.quick ? 1000 : 5000),
        await measureJobLogLines(options.quick ? 5000 : 20_000),
        await measureAgentView(options.quick ? 20_000 : 100_000),
        await measureNodeCallRouting(options.quick ? 1000 : 5000),
        await measureLogDestination(options.quick ? 5000 : 20_000),
      ];
      for (const ab of [
        await measureDeadline(options.quick ? 5000 : 20_000),
        measureFeedDecode(options.quick ? 20_000 : 100_000),
        ...callPath,
      ]) {
        (results.ab ??= []).push(ab);
        progress.say(
          `micro A/B: ${ab.name}: ${ab.beforeUs} → ${ab.afterUs} µs ` +
            `CPU${ab.beforeRetainedBytes !== undefined ? `, ${ab.beforeRetainedBytes} → ${ab.afterRetainedBytes} B held per job` : ''}`,
        );
      }
    });

  if (wants('tls'))
    await phase('tls', async () => {
      results.tls = await runTlsCost(options, progress);
      progress.say(
        `tls: +${results.tls.addedP50} ms p50 per job (keep-alive), +${results.tls.addedNewConnectionP50} ms on a new connection, ` +
          `+${results.tls.addedCpuPerJobUs} µs CPU per job`,
      );
      loads.push({ phase: 'after tls', ...loadSnapshot(own) });
    });

  if (wants('scale'))
    await phase('scale', async () => {
      results.scale = await runScale(options, progress);
      loads.push({ phase: 'after scale', ...loadSnapshot(own) });
    });

  if (wants('fleet-size'))
    await phase('fleet-size', async () => {
      results.fleetSize = await runFleetSize(options, progress);
      loads.push({ phase: 'after fleet-size', ...loadSnapshot(own) });
    });

  if (wants('reconnect'))
    await phase('reconnect', async () => {
      results.reconnect = await runReconnect(options, progress);
      loads.push({ phase: 'after reconnect', ...loadSnapshot(own) });
    });

  if (wants('rollout'))
    await phase('rollout', async () => {
      results.rollout = await runRolloutBench(options, progress);
      loads.push({ phase: 'after rollout', ...loadSnapshot(own) });
    });

  if (wants('stacks'))
    await phase('stacks', async () => {
      results.stacks = await runStackBench(options, progress);
      loads.push({ phase: 'after stacks', ...loadSnapshot(own) });
    });

  if (wants('dashboard'))
    await phase('dashboard', async () => {
      const dashboard = await runDashboard(options, progress);
      writeFileSync(join(RESULTS_DIR, 'dashboard.json'), `${JSON.stringify(dashboard, null, 2)}\n`);
      loads.push({ phase: 'after dashboard', ...loadSnapshot(own) });
    });
  // The dashboard alone keeps its own file: the other sections' recorded numbers stay as they were.
  if (options.only?.every((name) => name === 'dashboard')) {
    if (existsSync(join(RESULTS_DIR, 'latest.json'))) render(false);
    progress.say(
      `done in ${round1(progress.elapsedSeconds())} s: wrote ` +
        `bench/results/dashboard.json${results.errors ? ` (failed: ${results.errors.join('; ')})` : ''}`,
    );
    progress.close();
    return;
  }

  const finished = new Date();
  results.meta.finishedAt = finished.toISOString();
  results.meta.durationSeconds = Math.round((finished.getTime() - started.getTime()) / 100) / 10;
  loads.push({ phase: 'end', ...loadSnapshot(own) });

  if (options.out) {
    // A partial run (one phase, other levels) must not stand in for the full run's record.
    writeFileSync(options.out, `${JSON.stringify(results, null, 2)}\n`);
    progress.say(`done in ${results.meta.durationSeconds} s: wrote ${options.out}`);
    progress.close();
    return;
  }
  const latest = join(RESULTS_DIR, 'latest.json');
  writeFileSync(latest, `${JSON.stringify(results, null, 2)}\n`);
  if (options.saveBaseline) copyFileSync(latest, join(RESULTS_DIR, 'baseline.json'));
  render(options.saveBaseline);
  progress.say(
    `done in ${results.meta.durationSeconds} s: wrote ` +
      `bench/results/latest.json${options.saveBaseline ? ', bench/results/baseline.json' : ''} and BENCHMARKS.md`,
  );
  progress.close();
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
