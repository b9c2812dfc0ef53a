import { JOB_SHARDS } from '@fleet/contracts/protocol';
import { readHistory, type BenchHistory } from './history';
import type { BenchResults } from './results';
import type { CallPathRecord } from './sections/callpath';
import type { LargeFleetMeasurement } from './sections/dashboard';
import type { HeapSample, MatrixMeasurement } from './sections/dashboard-fleet';
import type { HotFunction, ProfileSummary } from './sections/cpuprofile';
import { P99_LIMIT_MS } from './sections/throughput';
import type { DispatchCurve, DispatchPoint, GatewayLogSummary, ScaleLevel } from './sections/scale';
import { logLogPlot } from './lib/loglog-plot';
import type { Summary } from './lib/stats';
import type { PipelineCommand, PipelineKey } from './sections/pipelines';
import type { ThroughputTarget } from './sections/throughput';

const TARGETS = {
  addedP50: 1,
  addedP99: 5,
  /** An exec is two engine calls (create, start) and a stream; only its median has a target. */
  execAddedP50: 3,
  fanout1000P99: 300,
  fanout5000P99: 1500,
  fanout10000P99: 3000,
  gatewayHeapKiBPerAgent: 2,
  gatewayStart10000Ms: 5000,
  liveAgain10000Ms: 60_000,
  /** The broker's CPU per host per `_all` call stays within ±this share of its median from 100 to 10,000 agents. */
  brokerPerHostSpread: 0.25,
  jobsPerSecond: 2000,
  gatewayCpuUsPerJob: 300,
  /** `fleet --version` median over `node -e 0` median. */
  cliColdStartRatio: 1.5,
  /** Ansible's listing median over the CLI's, same engines. */
  cliVsAnsible: 10,
};

/** The added-latency goals of an overhead scenario: p50 and p99, or only p50 for exec. */
function addedGoals(s: { operation: string }): { p50: number; p99?: number } {
  return s.operation === 'docker.container.exec' ? { p50: TARGETS.execAddedP50 } : { p50: TARGETS.addedP50, p99: TARGETS.addedP99 };
}

function pipelineCommand(r: BenchResults, key: PipelineKey): PipelineCommand | undefined {
  return r.pipelines?.commands.find((c) => c.key === key);
}

/** `fleet --version` over `node -e 0`, and Ansible's listing over the CLI's (medians). */
function pipelineRatios(r: BenchResults): { coldStart?: number; vsAnsible?: number; cliOverCurl?: number } {
  const [node, version, cli, curl, ansible] = (['node', 'cliVersion', 'cliList', 'curlList', 'ansibleList'] as const).map((key) =>
    pipelineCommand(r, key),
  );
  return {
    coldStart: node && version ? version.medianMs / node.medianMs : undefined,
    vsAnsible: cli && ansible ? ansible.medianMs / cli.medianMs : undefined,
    cliOverCurl: cli && curl ? cli.medianMs - curl.medianMs : undefined,
  };
}

type Row = Array<string | number>;

/** Values bench/HISTORY.md's entries name that are the code's, not the run's. */
const RUN_CONSTANTS = { 'job-shards': JOB_SHARDS };

/** Section 5's "What was optimised": bench/HISTORY.md's list. */
function optimisationList(history: BenchHistory): string {
  const items = history.optimisations(RUN_CONSTANTS);
  return items.length ? items.map((item) => `- ${item}`).join('\n') : 'Nothing yet.';
}

function table(header: string[], rows: Row[]): string {
  const line = (cells: Row) => `| ${cells.map((cell) => String(cell)).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function n(value: number | undefined, digits = 1): string {
  if (value === undefined || !Number.isFinite(value)) return 'n/a';
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  return value
    .toFixed(digits)
    .replace(/\.0+$/, '')
    .replace(/(\.\d*?)0+$/, '$1');
}

/** A distribution's p50 and p99 cells, in milliseconds to two places. */
function p50p99(stats: { p50: number; p99: number }): [string, string] {
  return [n(stats.p50, 2), n(stats.p99, 2)];
}

function verdict(met: boolean | undefined): string {
  return met === undefined ? 'not measured' : met ? '**met**' : '**missed**';
}

function bytes(value: number): string {
  if (value >= 1024 * 1024) return `${n(value / 1024 / 1024, 1)} MiB`;
  if (value >= 1024) return `${n(value / 1024, 1)} KiB`;
  return `${value} B`;
}

function level(results: BenchResults, agents: number): ScaleLevel | undefined {
  return results.scale?.levels.find((l) => l.agents === agents);
}

interface Target {
  what: string;
  goal: string;
  measured: string;
  met?: boolean;
}

function targets(r: BenchResults): Target[] {
  const out: Target[] = [];
  const ratios = pipelineRatios(r);
  out.push({
    what: 'CLI cold start (`fleet --version`) over `node -e 0`, medians',
    goal: `≤ ${TARGETS.cliColdStartRatio}×`,
    measured:
      ratios.coldStart !== undefined
        ? `${n(ratios.coldStart, 2)}× (${n(pipelineCommand(r, 'cliVersion')?.medianMs)} / ${n(pipelineCommand(r, 'node')?.medianMs)} ms)`
        : 'not measured',
    met: ratios.coldStart !== undefined ? ratios.coldStart <= TARGETS.cliColdStartRatio : undefined,
  });
  out.push({
    what: '`fleet container ls --target _all` vs Ansible ad-hoc `docker_host_info`, same engines',
    goal: `≥ ${TARGETS.cliVsAnsible}× faster`,
    measured:
      ratios.vsAnsible !== undefined
        ? `${n(ratios.vsAnsible, 1)}× (${n(pipelineCommand(r, 'cliList')?.medianMs)} vs ` +
          `${n(pipelineCommand(r, 'ansibleList')?.medianMs)} ms)`
        : 'not measured',
    met: ratios.vsAnsible !== undefined ? ratios.vsAnsible >= TARGETS.cliVsAnsible : undefined,
  });
  for (const s of r.overhead?.scenarios ?? []) {
    const goals = addedGoals(s);
    out.push({
      what: `added latency p50 — ${s.name}`,
      goal: `≤ ${goals.p50} ms`,
      measured: `${n(s.addedP50, 2)} ms`,
      met: s.addedP50 <= goals.p50,
    });
    if (goals.p99 !== undefined)
      out.push({
        what: `added latency p99 — ${s.name}`,
        goal: `≤ ${goals.p99} ms`,
        measured: `${n(s.addedP99, 2)} ms`,
        met: s.addedP99 <= goals.p99,
      });
  }
  out.push(brokerFlatnessTarget(r));
  for (const [agents, goal] of [
    [1000, TARGETS.fanout1000P99],
    [5000, TARGETS.fanout5000P99],
    [10_000, TARGETS.fanout10000P99],
  ] as const) {
    const l = level(r, agents);
    const reached = r.scale?.stoppedAt ? ` (ramp stopped: ${r.scale.stoppedAt})` : '';
    out.push({
      what: `\`_all\` fan-out p99, ${agents.toLocaleString('en-US')} agents`,
      goal: `≤ ${n(goal)} ms`,
      measured: l ? `${n(l.fanout.full.p99)} ms` : `not reached${r.meta.quick ? ' (quick run)' : reached}`,
      met: l ? l.fanout.full.p99 <= goal && l.fanout.failedCalls === 0 : undefined,
    });
  }
  out.push(...fleetSizeTargets(r));
  for (const t of r.throughput ?? []) {
    out.push({
      what: `sustained jobs/s with p99 ≤ ${P99_LIMIT_MS} ms — ${t.name}`,
      goal: `≥ ${n(TARGETS.jobsPerSecond)} jobs/s`,
      measured: `${n(t.maxSustained, 0)} jobs/s`,
      met: t.maxSustained >= TARGETS.jobsPerSecond,
    });
  }
  const ceiling = r.throughput?.[0];
  const gatewayCpu = ceiling?.open?.cpuUsPerJob.gateway;
  out.push({
    what: `gateway CPU per job — ${ceiling?.name ?? 'one host'}, open-loop ceiling (no profiler)`,
    goal: `≤ ${TARGETS.gatewayCpuUsPerJob} µs`,
    measured: gatewayCpu !== undefined ? `${n(gatewayCpu, 0)} µs` : 'not measured',
    met: gatewayCpu !== undefined && Number.isFinite(gatewayCpu) ? gatewayCpu <= TARGETS.gatewayCpuUsPerJob : undefined,
  });
  return out;
}

/** Issue 21's targets on a fleet of 10,000 agents: the gateway's heap per agent, its start, and the agents back after a broker restart. */
function fleetSizeTargets(r: BenchResults): Target[] {
  const notMeasured = (stoppedAt?: string) => `not measured${r.meta.quick ? ' (quick run)' : stoppedAt ? ` (${stoppedAt})` : ''}`;
  const largest = r.fleetSize?.levels.at(-1);
  const start = r.fleetSize?.gatewayStart;
  const reconnect = r.reconnect?.levels.find((l) => l.agents === 10_000);
  return [
    {
      what: `gateway heap per live agent${largest ? `, ${largest.agents.toLocaleString('en-US')} agents` : ''}`,
      goal: `≤ ${TARGETS.gatewayHeapKiBPerAgent} KiB`,
      measured: largest ? `${n(largest.gatewayHeapKiBPerAgent, 2)} KiB` : notMeasured(r.fleetSize?.stoppedAt),
      met: largest ? largest.gatewayHeapKiBPerAgent <= TARGETS.gatewayHeapKiBPerAgent : undefined,
    },
    {
      what: 'a gateway start beside 10,000 agents (until GET /agent lists them all)',
      goal: `≤ ${n(TARGETS.gatewayStart10000Ms)} ms`,
      measured: start?.agents === 10_000 ? `${n(start.firstListMs)} ms` : notMeasured(r.fleetSize?.stoppedAt),
      met: start?.agents === 10_000 ? start.firstListMs <= TARGETS.gatewayStart10000Ms && start.listedAtFirstList === 10_000 : undefined,
    },
    {
      what: '10,000 agents live again after a broker restart (the last one, from the broker up again)',
      goal: `≤ ${n(TARGETS.liveAgain10000Ms)} ms`,
      measured: reconnect
        ? `${n(reconnect.lastAgentMs)} ms${reconnect.notBack ? `, ${reconnect.notBack} not back` : ''}`
        : notMeasured(r.reconnect?.stoppedAt),
      met: reconnect ? reconnect.lastAgentMs <= TARGETS.liveAgain10000Ms && reconnect.notBack === 0 : undefined,
    },
  ];
}

function header(r: BenchResults): string {
  const m = r.meta;
  const v = m.versions;
  const start = m.loads[0];
  const shared = m.loads.some((l) => l.otherTestProcesses > 0 || l.loadavg1 > 1.5);
  const loads = m.loads
    .map((l) => `${l.phase} ${l.loadavg1}${l.otherTestProcesses ? ` (${l.otherTestProcesses} test processes beside the bench)` : ''}`)
    .join('; ');
  const failures = r.errors?.length ? `\n> **Phases that failed in this run:** ${r.errors.join('; ')}\n` : '';
  return `# Benchmarks
${failures}
Overhead, fan-out, throughput, cost curve and profile of the fleet gateway, all
measured in **one run** of

    ${m.command}

on ${m.startedAt.slice(0, 16).replace('T', ' ')} UTC, which took **${n(m.durationSeconds / 60, 1)} minutes**
and wrote \`bench/results/latest.json\` (every number below, and more) and this
file. Nothing here is asserted by a test; the benchmark prints and records.
Re-run it to reproduce: \`npm run bench\` (full: as long as above, most of it four ramps of simulated agents to 10,000) or
\`npm run bench -- --quick\` (smaller samples and fleets, under 2 minutes).${m.quick ? '\n\n> **This is a `--quick` run**: small samples, swarm levels 10 and 100 only. Run `npm run bench` for the full picture.' : ''}

${table(
  ['machine', ''],
  [
    ['CPU', `${m.machine.cpuModel}, ${m.machine.cores} cores`],
    ['memory', `${m.machine.memoryGiB} GiB`],
    ['OS / kernel', `${m.machine.os} / ${m.machine.kernel}`],
    ['open files (ulimit -n)', m.machine.openFilesLimit],
    ['node', v.node],
    ['nats-server', v.natsServer],
    ['dockerd', v.dockerd],
    [
      'packages',
      Object.entries(v.packages)
        .map(([name, version]) => `${name} ${version}`)
        .join(', '),
    ],
    ['git', `${m.git.commit}${m.git.dirtyFiles > 0 ? ` + ${m.git.dirtyFiles} uncommitted files` : ''}`],
  ],
)}

${
  shared
    ? `> **Busy machine.** ${m.loads.some((l) => l.otherTestProcesses > 0) ? 'These numbers came from a 2-core box that was also running test suites' : 'No test suite ran beside the bench; its own fleets, load generator and swarms load the 2 cores'} (load average at start ${start.loadavg1}). Load during the run: ${loads}. Tail latencies (p99) suffer most from that; treat them as upper bounds.`
    : `Load average during the run: ${loads}.`
}

Every process runs as it does in production: NATS (\`nats-server\`, JetStream on
file storage), the gateway and each agent as their own OS processes, compiled
(\`dist/gateway.js\`, \`dist/agent.js\`: \`npm run build\`, which the bench runs
first when the sources are newer), spawned by \`deploy/lib\` exactly as
\`npm run fleet -- up\` and the e2e suites spawn them, at log level \`info\`, all on 127.0.0.1. The gateway's
per-key rate limit is raised to 10,000,000/min so that it stays on the request
path (its cost is measured) without capping a measured rate.
`;
}

function targetSection(r: BenchResults): string {
  const rows = targets(r).map((t) => [t.what, t.goal, t.measured, verdict(t.met)]);
  return `## Targets at a glance

${table(['target', 'goal', 'measured', ''], rows)}
`;
}

function overheadSection(r: BenchResults): string {
  const o = r.overhead;
  if (!o) return '## 1. Overhead per call\n\nNot run.\n';
  const rows = o.scenarios.map((s) => [
    s.name,
    s.pairs,
    ...p50p99(s.direct),
    ...p50p99(s.gateway),
    `**${n(s.addedP50, 2)}**`,
    `**${n(s.addedP99, 2)}**`,
    `${n(s.ratioP50, 2)}×`,
    ((goals) => `${verdict(s.addedP50 <= goals.p50)} / ${goals.p99 !== undefined ? verdict(s.addedP99 <= goals.p99) : '—'}`)(addedGoals(s)),
  ]);
  const errors = o.scenarios.filter((s) => s.gatewayErrors > 0).map((s) => `${s.name}: ${s.gatewayErrors} gateway errors`);
  return `## 1. Overhead per call

One real engine (${o.host}'s \`dockerd\`), same run, **interleaved**: every pair is
one direct call and one gateway call of the same operation, in alternating
order. *Direct* runs the agent's own executor function in the bench process —
exactly the dockerode calls the agent makes, with no HTTP, NATS or agent in
between. *Gateway* is \`HTTP → gateway (auth, rate limit, OpenAPI validation, job
record) → JetStream → agent (claim, execute, result) → gateway → HTTP\` over a
keep-alive connection. *Added* is gateway minus direct **of the same pair**,
then the p50 / p99 of those differences (the plain difference of the two
sides' percentiles is in \`latest.json\` too); the ratio is gateway p50 / direct
p50. Milliseconds.

${table(['operation', 'pairs', 'direct p50', 'direct p99', 'gateway p50', 'gateway p99', 'added p50', 'added p99', 'ratio p50', `target p50 ≤ ${TARGETS.addedP50} / p99 ≤ ${TARGETS.addedP99} (exec: p50 ≤ ${TARGETS.execAddedP50})`], rows)}

Calls: ${o.scenarios.map((s) => `\`${s.gatewayCall}\``).join(', ')}.
The exec container is a running busybox \`sleep 3600\`; the 50-container list
has that one plus 49 created (not started) busybox containers, all listed with
\`all=true\`.${errors.length ? `\n\nGateway errors: ${errors.join('; ')}.` : ''}

Where the added time goes: for a read, the gateway stores the job record and
publishes the dispatch in one write to the broker; the agent runs the engine call
(no claim), announces its row on core NATS and sends its ack and the row's
durable write in one more write; the gateway answers the moment it hears the row.
On that path the HTTP hop, the gateway, NATS and the agent each wake in turn on
the same two cores, and the gateway spends about ${n(r.profile?.load.cpuUsPerJob.gateway ?? NaN, 0)} µs of CPU per call (the agent
${n(r.profile?.load.cpuUsPerJob['agent web-01'] ?? NaN, 0)} µs, NATS ${n(r.profile?.load.cpuUsPerJob.nats ?? NaN, 0)} µs; section 5, under the profiler). That CPU alone is more than the 1 ms target.
`;
}

function fanoutSection(r: BenchResults): string {
  const f = r.fanoutReal;
  const real = f
    ? table(
        [
          'hosts',
          'calls',
          'full p50',
          'full p99',
          'max',
          'first row p50',
          'first row p99',
          'response',
          'failed rows',
          'gateway CPU / call',
        ],
        [
          [
            f.hosts,
            f.calls,
            ...p50p99(f.full),
            n(f.full.max, 1),
            ...p50p99(f.firstRow),
            bytes(f.responseBytes),
            f.failedRows,
            `${n(f.cpuMsPerCall.gateway, 2)} ms`,
          ],
        ],
      )
    : 'Not run.';
  const s = r.scale;
  const scaleRows = (s?.levels ?? [])
    .filter((l) => [100, 1000, 5000].includes(l.agents) || l.agents === s?.levels.at(-1)?.agents)
    .map((l) => [
      l.agents.toLocaleString('en-US'),
      l.fanout.calls,
      n(l.fanout.full.p50),
      `**${n(l.fanout.full.p99)}**`,
      n(l.fanout.full.max),
      l.fanout.callsOver1s,
      n(l.fanout.firstRow.p50),
      n(l.fanout.firstRow.p99),
      bytes(l.fanout.responseBytes),
      `${l.fanout.timeoutRows}${l.fanout.failedCalls ? ` (+${l.fanout.failedCalls} failed calls)` : ''}`,
      `${n(l.fanout.cpuMsPerCall.gateway)} ms`,
      `${n(l.fanout.watch.processes.gateway?.cpuPercentOfCore)}%`,
      `${n(l.fanout.watch.processes.gateway?.peakRssMiB)} MiB`,
      `${n(l.fanout.cpuMsPerCall.nats)} ms`,
    ]);
  const t1000 = level(r, 1000);
  const t5000 = level(r, 5000);
  return `## 2. Fan-out

\`GET /node/_all/container/docker?all=true\`, one call at a time. *Full* is call
sent → whole response (every host's row) received; *first row* is call sent →
the first host's final row seen on NATS (a bench-side subscription on the
results bucket, the same feed the gateway follows). Milliseconds.

### 3 real engines

Three \`dockerd\` (web-01, web-02, db-01), one running container each.

${real}

### Scale: simulated engines (scale harness)

> **Scale harness, clearly not production:** each agent is the real agent code
> (\`startAgent()\` from \`apps/agent/src/agent.ts\`: its own NATS connection,
> hostname, labels, durable JetStream consumer on \`FLEET_JOBS\` and KV heartbeat
> every ${s?.heartbeatMs ?? 5000} ms), but many run per OS process (\`bench/harness/swarm.ts\`, at most 1,250 per
> process) against \`bench/harness/simulated-engine.ts\`, which answers the Docker
> calls from memory (${s?.containersPerHost ?? 1} running container per host). It is never used by the functional
> tests. The gateway and NATS are the real processes. Every agent shares the
> same 2 cores with the gateway, NATS and the bench, which a real fleet would not.

${s ? table(['agents', 'calls', 'full p50', 'full p99', 'max', 'calls > 1 s', 'first row p50', 'first row p99', 'response', 'timed-out rows', 'gateway CPU / call', 'gateway CPU', 'gateway peak RSS', 'NATS CPU / call'], scaleRows) : 'Not run.'}
${s?.stoppedAt ? `\nThe ramp stopped early: ${s.stoppedAt}.\n` : ''}${gatewayLogNote(s?.gatewayLog)}
${t1000 || t5000 ? `CPU per \`_all\` call, every process (the same calls): ${[t1000, t5000].map(fanoutCpuBudget).filter(Boolean).join('; ')}.\n\n` : ''}Targets: 1,000 agents p99 ≤ ${n(TARGETS.fanout1000P99)} ms → ${t1000 ? `${n(t1000.fanout.full.p99)} ms, ${verdict(t1000.fanout.full.p99 <= TARGETS.fanout1000P99)}` : 'not measured'}; 5,000 agents p99 ≤ 1.5 s → ${t5000 ? `${n(t5000.fanout.full.p99)} ms, ${verdict(t5000.fanout.full.p99 <= TARGETS.fanout5000P99)}` : 'not measured'}.
${dispatchCurveSection(r)}`;
}

/** Levels of the dispatch cost curve the broker's flatness is judged on (issue 21: from 100 to 10,000 agents). */
const FLATNESS_LEVELS = [100, 1000, 2500, 5000, 10_000];

function brokerFlatnessTarget(r: BenchResults): Target {
  const points = (r.scale?.dispatch?.after.points ?? []).filter((p) => FLATNESS_LEVELS.includes(p.agents));
  const what = 'broker CPU per host per `_all` call, 100 → 10,000 agents';
  const goal = `within ±${n(TARGETS.brokerPerHostSpread * 100, 0)}% of its median`;
  if (points.length < FLATNESS_LEVELS.length)
    return { what, goal, measured: `${points.length} of ${FLATNESS_LEVELS.length} levels measured` };
  const values = points.map((p) => p.natsCpuUsPerHost);
  const median = [...values].sort((a, b) => a - b)[values.length >> 1];
  const spread = Math.max(...values.map((v) => Math.abs(v - median) / median));
  return {
    what,
    goal,
    measured: `${values.map((v) => n(v, 0)).join(' / ')} µs (median ${n(median, 0)}, at most ±${n(spread * 100, 0)}%)`,
    met: spread <= TARGETS.brokerPerHostSpread,
  };
}

/** The dispatch now and the one before (FLEET_DISPATCH_RETENTION=limits), each ramped on its own fleet in this run. */
function dispatchCurveSection(r: BenchResults): string {
  const d = r.scale?.dispatch;
  if (!d) return '';
  const agents = [...new Set([...d.after.points, ...d.before.points].map((p) => p.agents))].sort((a, b) => a - b);
  const at = (curve: DispatchCurve, count: number) => curve.points.find((p) => p.agents === count);
  const pair = (count: number, value: (p: DispatchPoint) => number, digits = 0) =>
    `${n(at(d.before, count) ? value(at(d.before, count) as DispatchPoint) : undefined, digits)} → **${n(
      at(d.after, count) ? value(at(d.after, count) as DispatchPoint) : undefined,
      digits,
    )}**`;
  const rows = agents.map((count) => [
    count.toLocaleString('en-US'),
    pair(count, (p) => p.natsCpuUsPerHost),
    pair(count, (p) => p.natsRawCpuUsPerHost),
    pair(count, (p) => p.p50Ms),
    pair(count, (p) => p.p99Ms),
    pair(count, (p) => p.gatewayCpuUsPerHost),
    `${at(d.before, count)?.calls ?? '–'} / ${at(d.after, count)?.calls ?? '–'}`,
  ]);
  const stopped = [d.before, d.after]
    .filter((c) => c.stoppedAt)
    .map((c) => `the ${c.retention} ramp stopped at ${c.stoppedAt}`)
    .join('; ');
  const plot = logLogPlot(
    [
      { mark: 'B', label: 'before (limits, 16 streams)', points: d.before.points.map((p) => ({ x: p.agents, y: p.natsCpuUsPerHost })) },
      { mark: 'A', label: 'after (work queues)', points: d.after.points.map((p) => ({ x: p.agents, y: p.natsCpuUsPerHost })) },
    ],
    { x: 'agents', y: 'broker CPU µs per host per _all call' },
  );
  return `
### Dispatch cost curve: before → after (ARCHITECTURE.md "Dispatch at scale")

The same ramp twice in this run, each on a fleet of its own: *before* is the gateway with \`FLEET_DISPATCH_RETENTION=limits\`
(the job streams as they were: every dispatch message kept an hour, each host consumer's state on file), *after* the
default \`workqueue\` (a message is gone once its host acks it, and each host consumer keeps its state in memory). Broker and gateway CPU per host per \`_all\` call (µs), latency in ms. *Broker CPU / host*
is net of the broker's idle load at that level (its heartbeat writes, measured over 4 s just before, times the call's
wall time): with it left in (*with heartbeats*), a slower call looks costlier per host on a busier box.

${table(['agents', 'broker CPU / host', 'with heartbeats', '`_all` p50', '`_all` p99', 'gateway CPU / host', 'calls'], rows)}
${stopped ? `\n${stopped}.\n` : ''}
\`\`\`text
${plot}
\`\`\`
`;
}

function gatewayLogNote(log: GatewayLogSummary | undefined): string {
  if (!log || (log.aliveAtEnd && log.errors === 0)) return '';
  const messages = Object.entries(log.byMessage)
    .map(([msg, count]) => `${count}× "${msg}"`)
    .join(', ');
  return `
> **The gateway ${log.aliveAtEnd ? 'logged errors' : 'was no longer running at the end of the scale run'}** (${log.errors} error and ${log.warnings} warning lines${messages ? `: ${messages}` : ''}). End of its log:
>
${log.tail.map((line) => `>     ${line}`).join('\n')}
`;
}

/**
 * Every process's CPU per job at the open-loop ceiling, summed: on this machine's 2 cores no rate above
 * 2 s of CPU per second ÷ that sum can be sustained, whatever the latency.
 */
function jobCpuBudget(t: ThroughputTarget): string {
  const perJob = t.open?.cpuUsPerJob;
  if (!perJob) return '';
  const total = Object.values(perJob).reduce((sum, us) => sum + us, 0);
  const parts = Object.entries(perJob)
    .filter(([, us]) => us >= 10)
    .sort((a, b) => b[1] - a[1])
    .map(([name, us]) => `${name} ${n(us, 0)}`)
    .join(', ');
  return (
    ` CPU per job at the open-loop ceiling, every process (µs): ${parts}; **${n(total, 0)} µs in all**, so 2 cores sustain at most ` +
    `${n(2_000_000 / total, 0)} jobs/s even at 100% busy.`
  );
}

/** Every process's CPU per `_all` call at one scale level, summed, and the wall time 2 cores need for it at least. */
function fanoutCpuBudget(level: ScaleLevel | undefined): string {
  const perCall = level?.fanout.cpuMsPerCall;
  if (!perCall) return '';
  const swarm = Object.entries(perCall).reduce((sum, [name, ms]) => (name.startsWith('swarm') ? sum + ms : sum), 0);
  const total = Object.values(perCall).reduce((sum, ms) => sum + ms, 0);
  return (
    `${n(level.agents)} agents: gateway ${n(perCall.gateway)} ms, NATS ${n(perCall.nats)} ms, the swarm's agents ${n(swarm)} ms — ` +
    `**${n(total)} ms of CPU per call**, at least ${n(total / 2)} ms on 2 cores`
  );
}

/** Which process ran out of CPU at the open-loop ceiling. */
function bottleneck(t: ThroughputTarget | undefined): string {
  const procs = t?.open?.watch.processes;
  if (!procs) return '';
  const pct = (name: string) => procs[name]?.cpuPercentOfCore;
  return (
    ` At the one-host ceiling the gateway process ran at **${n(pct('gateway'), 0)}% of one core** (NATS ${n(pct('nats'), 0)}%, ` +
    `agent web-01 ${n(pct('agent web-01'), 0)}%, its dockerd ${n(pct('dockerd web-01'), 0)}%; whole machine ` +
    `${n(t?.open?.watch.machineBusyPercent, 0)}% busy): the gateway's CPU per job — ${n(t?.open?.cpuUsPerJob.gateway, 0)} µs — is what ` +
    `caps throughput here, and section 5 shows where it goes.`
  );
}

function throughputSection(r: BenchResults): string {
  const ts = r.throughput;
  if (!ts) return '## 3. Throughput\n\nNot run.\n';
  const parts = ts.map((t) => {
    const rows = [...t.steps, ...(t.open ? [t.open] : [])].map((s) => [
      s.offered === 'open' ? 'open (no limit)' : `${n(s.offered as number)}`,
      s.connections,
      n(s.achieved, 0),
      n(s.p50),
      n(s.p99),
      s.errors + s.non2xx,
      `${n(s.cpuUsPerJob.gateway, 0)} µs`,
      `${n(s.cpuUsPerJob.nats, 0)} µs`,
      s.offered === 'open' ? '—' : s.pass ? 'pass' : 'miss',
    ]);
    return `### ${t.name}: \`GET ${t.path}\`

${table(['offered jobs/s', 'connections', 'achieved jobs/s', 'p50 ms', 'p99 ms', 'errors', 'gateway CPU / job', 'NATS CPU / job', `p99 ≤ ${P99_LIMIT_MS} ms`], rows)}

Highest sustained rate with p99 ≤ ${P99_LIMIT_MS} ms: **${n(t.maxSustained, 0)} jobs/s** — target ≥ ${n(TARGETS.jobsPerSecond)}: ${verdict(t.maxSustained >= TARGETS.jobsPerSecond)}.${jobCpuBudget(t)}
`;
  });
  const ceiling = ts.map((t) => `${t.name}: ${n(t.open?.achieved, 0)} jobs/s at p99 ${n(t.open?.p99)} ms`).join('; ');
  return `## 3. Throughput

autocannon (in the bench process) against one gateway, cheap operation
\`docker.system.ping\` (every request is one job on one host: job record,
dispatch, claim, engine ping, result). Offered rates step up until one misses
(p99 > ${P99_LIMIT_MS} ms, any error, or < 95% of the offered rate completed) twice in a
row (a miss is repeated once, since other work on the shared box can sink a
single step; both are listed); one bisection refines the last gap. A step passes only if sustained for its whole
duration (${ts[0]?.steps[0]?.durationSeconds ?? '?'} s). autocannon's rate limit releases each connection's per-second
budget at the start of each second, so load arrives in bursts of up to
*connections* concurrent requests — p99 includes that queueing. CPU per job is
from /proc for the whole step (gateway: one process; NATS: the server).

${parts.join('\n')}
Ceiling with 32 connections and no rate limit: ${ceiling}.${bottleneck(ts[0])}
`;
}

function costSection(r: BenchResults): string {
  const s = r.scale;
  if (!s || s.levels.length === 0) return '## 4. Cost curve\n\nNot run.\n';
  const rows = s.levels.map((l, i) => {
    const perHost = s.analysis.msPerHost[i];
    return [
      l.agents.toLocaleString('en-US'),
      `${n(l.startSeconds)} s`,
      n(l.fanout.full.p50),
      n(l.fanout.full.p99),
      n(perHost?.p50MsPerHost, 3),
      `${n(l.anyPing.p50, 2)} / ${n(l.anyPing.p99, 1)}`,
      `${n(l.idle.processes.gateway?.cpuPercentOfCore)}%`,
      `${n(l.idle.processes.nats?.cpuPercentOfCore)}%`,
      `${n(l.gatewayHeapMiB)} / ${n(l.gatewayIdleRssMiB)} MiB`,
      `${n(l.gatewayKiBPerAgent, 2)} KiB`,
      `${n(l.inflight.kibPerJob, 2)} KiB (${l.inflight.accepted})`,
      `${n(perHost?.gatewayCpuUsPerHost, 0)} µs`,
      `${n(perHost?.natsCpuUsPerHost, 0)} µs`,
      l.natsOpenFiles,
    ];
  });
  const biggest = s.levels.at(-1);
  const profile = [...s.levels].reverse().find((l) => l.natsProfile)?.natsProfile;
  const profileAt = [...s.levels].reverse().find((l) => l.natsProfile)?.agents;
  const profileTable = profile
    ? `nats-server's own CPU profile (its \`prof_port\`, Go pprof) over ${profile.seconds} s of \`_all\` calls at ${profileAt?.toLocaleString('en-US')} agents, by cumulative time:

${table(
  ['nats-server function', 'cumulative ms', 'self ms'],
  profile.top.map((f) => [
    `\`${f.name.replace('github.com/nats-io/nats-server/v2/server.', '').replace('github.com/nats-io/nats-server/server.', '')}\``,
    n(f.totalMs, 0),
    n(f.selfMs, 0),
  ]),
)}
`
    : '';
  const linear =
    Number.isFinite(s.analysis.latencyExponent) && s.analysis.latencyExponent <= 1.15
      ? `roughly linear (log-log slope ${s.analysis.latencyExponent})`
      : Number.isFinite(s.analysis.latencyExponent)
        ? `**super-linear** (log-log slope ${s.analysis.latencyExponent}; 1 would be linear)`
        : 'not enough levels to fit';
  return `## 4. Cost curve

The swarm grows 10 → ${biggest?.agents.toLocaleString('en-US')} agents in one gateway's life; at each level:
idle cost of the heartbeats (gateway and NATS CPU over a quiet window),
\`_all\` latency, \`_any\` ping latency (sequential), gateway memory per agent
and per in-flight job. Memory is the gateway's V8 heap in use right after a
full GC (read through \`bench/harness/probe.cjs\`, a preload; RSS moves with
GC timing and is listed for reference): per agent = (heap at the level − heap
with no agents, ${n(s.gatewayBaselineHeapMiB)} MiB) / agents; per in-flight job = (heap with N
\`?async=true\` inspects held by the simulated engines − heap before) / N, so
no HTTP request stays open. CPU per host is per \`_all\` call.

${table(['agents', 'ramp', '_all p50 ms', '_all p99 ms', 'ms per host (p50)', '_any ping p50 / p99 ms', 'gateway idle CPU', 'NATS idle CPU', 'gateway heap / RSS', 'heap per agent', 'heap per in-flight job (jobs)', 'gateway CPU per host', 'NATS CPU per host', 'NATS open fds'], rows)}

**Is it linear?** \`_all\` latency grows ${linear} from 100 agents up.
**The knee:** ${s.analysis.knee ? `at about ${s.analysis.knee.toLocaleString('en-US')} agents — ${s.analysis.kneeReason}` : s.analysis.kneeReason}.

${profileTable}
Limits checked: the bench runs with open files ${r.meta.machine.openFilesLimit}; nats-server gets
\`max_connections: 12000\` (default 64K), \`max_pending: 256MB\`, \`write_deadline: "10s"\`
and default JetStream limits (no cap on consumers); each agent holds one
connection and one durable consumer, so ${biggest?.agents.toLocaleString('en-US')} agents are ${biggest?.agents.toLocaleString('en-US')} connections and
consumers on \`FLEET_JOBS\`. Swarm memory: ${biggest ? `${n(biggest.swarmRssMiB)} MiB for ${biggest.agents.toLocaleString('en-US')} agents (${n((biggest.swarmRssMiB * 1024) / biggest.agents, 0)} KiB per agent, harness cost)` : 'n/a'}.
`;
}

function categoryTable(before: ProfileSummary | undefined, after: ProfileSummary | undefined): string {
  const names = new Set([...(after?.categories ?? []).map((c) => c.category), ...(before?.categories ?? []).map((c) => c.category)]);
  const rows = [...names]
    .map((name) => {
      const a = after?.categories.find((c) => c.category === name);
      const b = before?.categories.find((c) => c.category === name);
      return { name, a, b };
    })
    .sort((x, y) => (y.a?.selfMs ?? 0) - (x.a?.selfMs ?? 0))
    .slice(0, 14)
    .map(({ name, a, b }) => [name, b ? `${n(b.percentOfBusy)}%` : 'n/a', a ? `${n(a.percentOfBusy)}%` : 'n/a']);
  return table(['where the CPU goes (self time, % of busy)', 'before', 'after'], rows);
}

const NATS_ERRORS = (f: HotFunction) => /^(RequestError|TimeoutError)$/.test(f.name) && f.where.startsWith('@nats-io/');
const ABORT = (f: HotFunction) => f.where.startsWith('node:internal/abort_controller');

/** Self-time share of the matching functions among the profile's hottest ones ("< x%" when none is among them). */
function share(summary: ProfileSummary | undefined, match: (f: HotFunction) => boolean): string {
  if (!summary) return 'n/a';
  const hits = summary.top.filter(match);
  if (hits.length) return `${n(hits.reduce((sum, f) => sum + f.selfPercent, 0))}%`;
  return `< ${n(summary.top.at(-1)?.selfPercent)}%`;
}

function abTable(r: BenchResults): string {
  const rows = (r.ab ?? []).map((ab) => [
    ab.name,
    ab.iterations.toLocaleString('en-US'),
    `${n(ab.beforeUs, 2)} µs`,
    `${n(ab.afterUs, 2)} µs`,
    ab.beforeUs > 0 ? `${n(((ab.beforeUs - ab.afterUs) / ab.beforeUs) * 100, 0)}%` : 'n/a',
    ab.beforeRetainedBytes !== undefined ? `${n(ab.beforeRetainedBytes, 0)} B → ${n(ab.afterRetainedBytes, 0)} B` : '—',
  ]);
  return rows.length
    ? table(['operation', 'iterations', 'before (CPU)', 'after (CPU)', 'saved', 'heap held per job until its deadline'], rows)
    : 'Not measured in this run.';
}

function hotTable(summary: ProfileSummary | undefined): string {
  if (!summary) return 'No profile.';
  return table(
    ['function', 'where', 'category', 'self ms', '% of busy'],
    summary.top.slice(0, 12).map((f) => [`\`${f.name}\``, `\`${f.where}\``, f.category, n(f.selfMs), `${n(f.selfPercent)}%`]),
  );
}

function profileSection(r: BenchResults, history: BenchHistory, baseline?: BenchResults): string {
  const p = r.profile;
  if (!p) return '## 5. Profile\n\nNot run.\n';
  const b = baseline?.profile;
  const web = (x?: BenchResults) => x?.throughput?.[0];
  const any = (x?: BenchResults) => x?.throughput?.[1];
  const over = (x: BenchResults | undefined, i: number) => x?.overhead?.scenarios[i];
  const prof = (x: BenchResults | undefined, name: string) => x?.profile?.load.cpuUsPerJob[name];
  const compare: Row[] = [
    ['gateway CPU per job, profiled run @ 500/s', `${n(prof(baseline, 'gateway'), 0)} µs`, `${n(prof(r, 'gateway'), 0)} µs`],
    [
      'agent CPU per job (web-01), profiled run @ 500/s',
      `${n(prof(baseline, 'agent web-01'), 0)} µs`,
      `${n(prof(r, 'agent web-01'), 0)} µs`,
    ],
    ['NATS CPU per job, profiled run @ 500/s', `${n(prof(baseline, 'nats'), 0)} µs`, `${n(prof(r, 'nats'), 0)} µs`],
    [
      'gateway CPU per job at the one-host ceiling (no profiler)',
      `${n(web(baseline)?.open?.cpuUsPerJob.gateway, 0)} µs`,
      `${n(web(r)?.open?.cpuUsPerJob.gateway, 0)} µs`,
    ],
    [
      'agent CPU per job at the one-host ceiling (no profiler)',
      `${n(web(baseline)?.open?.cpuUsPerJob['agent web-01'], 0)} µs`,
      `${n(web(r)?.open?.cpuUsPerJob['agent web-01'], 0)} µs`,
    ],
    ['sustained jobs/s, one host (p99 ≤ 50 ms)', n(web(baseline)?.maxSustained, 0), n(web(r)?.maxSustained, 0)],
    ['sustained jobs/s, `_any` over 3', n(any(baseline)?.maxSustained, 0), n(any(r)?.maxSustained, 0)],
    ['open-loop ceiling, one host (jobs/s)', n(web(baseline)?.open?.achieved, 0), n(web(r)?.open?.achieved, 0)],
    [
      'NATS-client error objects per request (`RequestError` + `TimeoutError`), % of gateway busy CPU',
      share(b?.gateway, NATS_ERRORS),
      share(p.gateway, NATS_ERRORS),
    ],
    ['the same, % of agent busy CPU', share(b?.agent, NATS_ERRORS), share(p.agent, NATS_ERRORS)],
    ['`AbortSignal` machinery (`node:internal/abort_controller`), % of agent busy CPU', share(b?.agent, ABORT), share(p.agent, ABORT)],
    ...[0, 1, 2, 3].map(
      (i) =>
        [
          `added latency p50 — ${over(r, i)?.name ?? over(baseline, i)?.name ?? '?'}`,
          `${n(over(baseline, i)?.addedP50, 2)} ms`,
          `${n(over(r, i)?.addedP50, 2)} ms`,
        ] as Row,
    ),
    [
      '`_all` p50, 1,000 agents',
      `${n(baseline ? level(baseline, 1000)?.fanout.full.p50 : undefined)} ms`,
      `${n(level(r, 1000)?.fanout.full.p50)} ms`,
    ],
  ];
  const beforeNote = baseline
    ? `*Before* is \`bench/results/baseline.json\`: the same benchmark, same bench code (\`${baseline.meta.command}\`), run on ${baseline.meta.startedAt.slice(0, 16).replace('T', ' ')} UTC on the code without the changes below (git ${baseline.meta.git.commit} + ${baseline.meta.git.dirtyFiles} uncommitted files). *After* is this run (git ${r.meta.git.commit} + ${r.meta.git.dirtyFiles} uncommitted files)${baseline.meta.git.commit !== r.meta.git.commit ? " — other commits landed in between too, so not every difference is these changes'" : ''}. Both on the same shared machine with different load (load average before: ${baseline.meta.loads.map((l) => l.loadavg1).join(' / ')}; after: ${r.meta.loads.map((l) => l.loadavg1).join(' / ')}): compare CPU per job (nearly load-independent) rather than latencies. Even so, the system-level rows moved both ways between the two runs by more than these changes can account for (see the ceiling rows); the profile shares of the frames the changes remove, and the A/B table after this one, isolate them.`
    : '*Before* is missing: no `bench/results/baseline.json` (record one with `npm run bench -- --save-baseline` on the code to compare ' +
      'against).';
  return `## 5. Profile

The gateway and agent web-01 were restarted with V8's CPU profiler running
(the profiler \`node --cpu-prof\` uses, started by \`bench/harness/probe.cjs\`
through NODE_OPTIONS — Node 20 refuses \`--cpu-prof\` there — so they are
otherwise spawned as always) and driven at **${p.rate} jobs/s** for ${p.durationSeconds} s on
\`GET ${p.target}\` (achieved ${n(p.load.achieved, 0)}/s, p50 ${n(p.load.p50)} ms, p99 ${n(p.load.p99)} ms); only
samples inside that window count. Busy time: gateway ${n(p.gateway?.busyMs, 0)} ms, agent ${n(p.agent?.busyMs, 0)} ms
of ${n(p.gateway?.windowMs, 0)} ms. Time in Node core and native frames (socket writes, crypto,
…) is charged to the package that called them.

### Before / after

${beforeNote}

${table(['metric', 'before', 'after'], compare)}

${callPathTable(r.callPath)}### Each change measured both ways in this run

System-level numbers on a shared 2-core box move by more than these changes do,
so each change is also measured on its own, old and new pattern in the same
process of this run (alternating blocks), CPU per operation:

${abTable(r)}

### Gateway: where the CPU goes

${categoryTable(b?.gateway, p.gateway)}

Hottest functions (after):

${hotTable(p.gateway)}

### Agent: where the CPU goes

${categoryTable(b?.agent, p.agent)}

Hottest functions (after):

${hotTable(p.agent)}

### What was optimised

${optimisationList(history)}
`;
}

/** The call-path changes: the same quick bench on the code before and after them (bench/record-callpath.ts). */
function callPathTable(record: CallPathRecord | undefined): string {
  const { before, after } = record ?? {};
  if (!before || !after) return '';
  const ms = (value: number | undefined) => (value === undefined ? 'n/a' : `${n(value, 2)} ms`);
  const us = (value: number | undefined) => (value === undefined ? 'n/a' : `${n(value, 0)} µs`);
  const pct = (value: number | undefined) => (value === undefined ? 'n/a' : `${n(value)}%`);
  const rows: Row[] = [
    ...Object.keys(after.addedP50Ms).flatMap((name) => [
      [`added latency p50 — ${name}`, ms(before.addedP50Ms[name]), ms(after.addedP50Ms[name])],
      [`added latency p99 — ${name}`, ms(before.addedP99Ms[name]), ms(after.addedP99Ms[name])],
    ]),
    ['`_all` over 3 engines, p50', ms(before.fanout3P50Ms), ms(after.fanout3P50Ms)],
    ['gateway CPU per job, one-host ceiling (no profiler)', us(before.gatewayCpuPerJobOpenUs), us(after.gatewayCpuPerJobOpenUs)],
    ['one-host ceiling (jobs/s)', n(before.openJobsPerSecond, 0), n(after.openJobsPerSecond, 0)],
    ['gateway CPU per job, profiled run', us(before.gatewayCpuPerJobProfiledUs), us(after.gatewayCpuPerJobProfiledUs)],
    ['request validation, % of gateway busy CPU', pct(before.validationSharePercent), pct(after.validationSharePercent)],
    ['API keys, % of gateway busy CPU', pct(before.apiKeySharePercent), pct(after.apiKeySharePercent)],
  ];
  return `### The call path, before / after

The same quick run (\`${after.command}\`) on the code before the call-path changes (git ${before.git}, ${before.startedAt.slice(0, 16).replace('T', ' ')} UTC, load ${before.load}) and after them (git ${after.git}, ${after.startedAt.slice(0, 16).replace('T', ' ')} UTC, load ${after.load}), recorded in \`bench/results/callpath.json\`. Quick runs are small samples on a shared box: latencies move with its load; the A/B table below measures the validator and key cache on their own.

${table(['metric', 'before', 'after'], rows)}

`;
}

function categoryPercent(summary: ProfileSummary | undefined, category: string): number | undefined {
  return summary?.categories.find((c) => c.category === category)?.percentOfBusy;
}

/** What the numbers say beyond the targets: causes found, what was fixed, and what was left and why. */
function findings(r: BenchResults, history: BenchHistory): string {
  const items: string[] = [];
  const levels = r.scale?.levels ?? [];
  const stalled = levels
    .filter((l) => l.fanout.callsOver1s > 0)
    .map((l) => `${l.fanout.callsOver1s} of ${l.fanout.calls} at ${l.agents.toLocaleString('en-US')}`);
  if (levels.length) {
    items.push(history.finding('pull-expiry', { 'calls-over-1s': stalled.length ? stalled.join(', ') : 'none in this run' }));
  }
  if (levels.length >= 3) {
    const first = r.scale?.analysis.msPerHost.find((m) => m.agents >= 100);
    const last = r.scale?.analysis.msPerHost.at(-1);
    const profile = [...levels].reverse().find((l) => l.natsProfile)?.natsProfile;
    const scan = profile?.top.find((f) => f.name.endsWith('(*fileStore).LoadNextMsg'));
    const loop = profile?.top.find((f) => f.name.endsWith('(*consumer).loopAndGatherMsgs'));
    const stateWrites = levels
      .filter((l) => l.natsProfile)
      .map((l) => ({
        agents: l.agents,
        seconds: l.natsProfile?.seconds ?? 0,
        fn: l.natsProfile?.top.find((f) => f.name.endsWith('(*consumerFileStore).writeState')),
      }))
      .filter((x) => x.fn);
    const loopShare = scan && loop ? n((scan.totalMs / Math.max(1, loop.totalMs)) * 100, 0) : undefined;
    const deliveryLoop = loopShare ? `; ${history.finding('nats-delivery-loop', { share: loopShare })}` : '';
    const writes = stateWrites
      .map((x) => `${n(x.fn?.totalMs, 0)} ms in ${x.seconds} s at ${x.agents.toLocaleString('en-US')} agents`)
      .join(', ');
    items.push(
      history.finding('nats-per-host', {
        ...RUN_CONSTANTS,
        'first-us': n(first?.natsCpuUsPerHost, 0),
        'first-agents': String(first?.agents),
        'last-us': n(last?.natsCpuUsPerHost, 0),
        'last-agents': String(last?.agents.toLocaleString('en-US')),
        'delivery-loop': deliveryLoop,
        'state-writes': stateWrites.length ? `. ${history.finding('nats-state-writes', { writes })}` : '',
      }),
    );
    const any10 = levels[0];
    const anyLast = levels.at(-1);
    if (any10 && anyLast && anyLast.agents > any10.agents) {
      items.push(
        history.finding('any-and-all', {
          'first-p50': n(any10.anyPing.p50, 2),
          'first-agents': any10.agents,
          'last-p50': n(anyLast.anyPing.p50, 2),
          'last-agents': anyLast.agents.toLocaleString('en-US'),
        }),
      );
    }
  }
  const jwt = r.micro?.jwt;
  const gatewayJwt = categoryPercent(r.profile?.gateway, 'API keys (jsonwebtoken)');
  if (jwt) {
    items.push(
      history.finding('api-keys', {
        'string-secret-us': n(jwt.stringSecretUs),
        'key-object-us': n(jwt.keyObjectUs),
        'gateway-share': gatewayJwt !== undefined ? `; ${n(gatewayJwt)}% of the gateway's busy CPU in this run's profile` : '',
      }),
    );
  }
  const validator = categoryPercent(r.profile?.gateway, 'request validation (express-openapi-validator, ajv)');
  if (validator !== undefined) {
    items.push(history.finding('request-validation', { 'gateway-share': n(validator) }));
  }
  return items.length ? `## Findings\n\n${items.map((item) => `- ${item}`).join('\n')}\n` : '';
}

/** One line on what limits the numbers, from this run's measurements. */
function why(r: BenchResults): string {
  const parts: string[] = [];
  const ceiling = r.throughput?.[0]?.open;
  const jwt = categoryPercent(r.profile?.gateway, 'API keys (jsonwebtoken)');
  if (ceiling)
    parts.push(
      `the gateway needs ${n(ceiling.cpuUsPerJob.gateway, 0)} µs of CPU per job and saturates a core at ~${n(ceiling.achieved, 0)} ` +
        `jobs/s${jwt !== undefined ? `, ${n(jwt, 0)}% of it in API-key verification` : ''}`,
    );
  const levels = r.scale?.levels ?? [];
  const last = r.scale?.analysis.msPerHost.at(-1);
  if (levels.some((l) => l.fanout.callsOver1s > 0))
    parts.push('the largest fan-outs are bound by the broker: one dispatch message, one claim, one ack and one row per host');
  if (last)
    parts.push(
      `NATS spends ${n(last.natsCpuUsPerHost, 0)} µs per host per fan-out at ${last.agents.toLocaleString('en-US')} agents (one ` +
        `filtered consumer per host, ${JOB_SHARDS} job streams)`,
    );
  return parts.length ? `- **Why:** ${parts.join('; ')}.` : '';
}

function closing(r: BenchResults, history: BenchHistory): string {
  const optimisations = history.optimisations(RUN_CONSTANTS);
  const t = targets(r);
  const met = t.filter((x) => x.met === true).length;
  const missed = t.filter((x) => x.met === false);
  const o = r.overhead?.scenarios ?? [];
  const web = r.throughput?.[0];
  const any = r.throughput?.[1];
  const l1000 = level(r, 1000);
  const l5000 = level(r, 5000);
  const lines = [
    o.length
      ? `- **Overhead:** the gateway adds ` +
        `${o.map((s) => `${n(s.addedP50, 2)} ms (p50) / ${n(s.addedP99, 2)} ms (p99) to ${s.name}`).join('; ')}.`
      : '',
    r.fanoutReal
      ? `- **Fan-out:** \`_all\` over 3 real engines answers in ${n(r.fanoutReal.full.p50, 2)} ms p50 / ${n(r.fanoutReal.full.p99, 2)} ` +
        `ms p99.`
      : '',
    l1000 || l5000
      ? `- **Scale:** ${[l1000, l5000]
          .filter(Boolean)
          .map(
            (l) =>
              `${l?.agents.toLocaleString('en-US')} agents: p50 ${n(l?.fanout.full.p50)} ms, p99 ${n(l?.fanout.full.p99)} ms, first row ` +
              `p50 ${n(l?.fanout.firstRow.p50)} ms`,
          )
          .join('; ')}.`
      : r.scale?.levels.length
        ? `- **Scale:** largest level measured ${r.scale.levels.at(-1)?.agents} agents (p99 ` +
          `${n(r.scale.levels.at(-1)?.fanout.full.p99)} ms).`
        : '',
    web
      ? `- **Throughput:** ${n(web.maxSustained, 0)} jobs/s sustained on one ` +
        `host${any ? `, ${n(any.maxSustained, 0)} jobs/s on \`_any\` over 3` : ''} with p99 ≤ ${P99_LIMIT_MS} ms.`
      : '',
    why(r),
    `- **Targets:** ${met} met, ${missed.length} ` +
      `missed${missed.length ? ` (${missed.map((x) => `${x.what}: ${x.measured}`).join('; ')})` : ''}.`,
    optimisations.length
      ? `- **Optimised:** ${optimisations
          .map((o, i) => {
            const first = o
              .split('. ')[0]
              .replace(/\s*\([^)]*\)/g, '')
              .replace(/\.$/, '');
            // Lower-case the first letter of a sentence, not of an acronym (`API keys`).
            return i === 0 || /^[A-Z]{2}/.test(first) ? first : first.charAt(0).toLowerCase() + first.slice(1);
          })
          .join(
            '; ',
          )}${r.ab?.length ? ` — measured in this run: ${r.ab.map((ab) => `${ab.name} ${n(ab.beforeUs, 1)} → ${n(ab.afterUs, 1)} µs CPU${ab.beforeRetainedBytes ? ` and ${n(ab.beforeRetainedBytes, 0)} → ${n(ab.afterRetainedBytes, 0)} B held` : ''}`).join('; ')}` : ''}.`
      : '',
  ].filter(Boolean);
  return `## Closing note

${lines.join('\n')}
`;
}

function rolloutSection(r: BenchResults): string {
  const w = r.rollout;
  if (!w) return '## What a rollout wave costs\n\nNot run (`npm run bench -- --only=rollout`).\n';
  return `## What a rollout wave costs

\`POST /node/_all/container/docker/app-0/restart\` on ${w.hosts} hosts of the scale harness (${w.harness}), at once and with
\`batch=10%\` (${w.waves} waves, each sent once the one before it ended), ${w.pairs} interleaved pairs.

${table(
  ['', 'p50 (ms)', 'p99 (ms)'],
  [
    ['every host at once', n(w.plainMs.p50), n(w.plainMs.p99)],
    [`${w.waves} waves`, n(w.rolloutMs.p50), n(w.rolloutMs.p99)],
  ],
)}

- Overhead per wave: **${n(w.overheadPerWaveMs)} ms** ((waves p50 − at once p50) / ${w.waves}): a wave's dispatch, collection
  and stored progress.
`;
}

/** README "Broker restarts": the stated bound, for the largest fleet measured. */
const LIVE_AGAIN_BOUND_MS = 60_000;

function reconnectSection(r: BenchResults): string {
  const c = r.reconnect;
  if (!c) return '## A broker restart\n\nNot run (`npm run bench -- --only=reconnect`).\n';
  const largest = c.levels.at(-1);
  const verdict = largest
    ? `${largest.agents.toLocaleString('en-US')} agents: the last live again after ${n(largest.lastAgentMs / 1000)} s, ` +
      `${largest.lastAgentMs <= LIVE_AGAIN_BOUND_MS && largest.notBack === 0 ? 'met' : 'missed'} (target: 10,000 agents ≤ 60 s)`
    : 'no level measured';
  return `## A broker restart

nats-server SIGKILLed under N agents of the scale harness (${c.harness}), down ${n((largest?.downMs ?? 0) / 1000)} s, started again
on its store; an agent is live again at its first heartbeat the gateway hears after the restart (it heartbeats on
reconnect). Agents' backoff: first attempt at once, then full jitter from ${c.backoff.firstMs} ms doubling up to ${c.backoff.maxMs} ms.
"Consumers back": until the broker holds a job consumer for every agent again (they keep their state in memory, so the
gateway makes them again after the restart; a host's jobs wait in its queue meanwhile).

${table(
  [
    'agents',
    'live again p50 (ms)',
    'p99 (ms)',
    'last (ms)',
    'consumers back (ms)',
    'not back',
    'NATS CPU (s)',
    'NATS % of a core',
    'gateway CPU (s)',
  ],
  c.levels.map((l) => [
    String(l.agents),
    n(l.liveAgainMs.p50, 0),
    n(l.liveAgainMs.p99, 0),
    n(l.lastAgentMs, 0),
    l.consumersBackMs === undefined ? '–' : n(l.consumersBackMs, 0),
    String(l.notBack),
    n(l.natsCpuSeconds, 2),
    n(l.natsCpuPercentOfCore),
    n(l.gatewayCpuSeconds, 2),
  ]),
)}

- ${verdict}.${c.stoppedAt ? `\n- Stopped: ${c.stoppedAt}.` : ''}
`;
}

function stacksSection(r: BenchResults): string {
  const s = r.stacks;
  if (!s) return '## A stack deploy over the scale harness\n\nNot run (`npm run bench -- --only=stacks`).\n';
  return `## A stack deploy over the scale harness

\`PUT /stack/bench\` (${s.services} services, a new image tag for one of them: one container recreated per host) to the end of its job,
on ${s.hosts} hosts of the scale harness (${s.harness}), at once and with \`rollout: {batch: 10%}\`, ${s.pairs} interleaved pairs.

${table(
  ['', 'p50 (ms)', 'p99 (ms)'],
  [
    ['every host at once', n(s.atOnceMs.p50), n(s.atOnceMs.p99)],
    ['10 waves of 10%', n(s.wavesMs.p50), n(s.wavesMs.p99)],
  ],
)}

- Every host's heartbeat reported the stack in sync **${n(s.reportedInSyncMs, 0)} ms** after the last deploy's job ended.
`;
}

function tlsSection(r: BenchResults): string {
  const t = r.tls;
  if (!t) return '## 8. What TLS costs\n\nNot run.\n';
  const processes = Object.keys(t.tls.cpuPerJobUs);
  const rows = [
    [
      'keep-alive p50 / p99 (ms)',
      `${n(t.plain.keepAlive.p50)} / ${n(t.plain.keepAlive.p99)}`,
      `${n(t.tls.keepAlive.p50)} / ${n(t.tls.keepAlive.p99)}`,
    ],
    ['new connection per call p50 (ms)', n(t.plain.newConnection.p50), n(t.tls.newConnection.p50)],
    ...processes.map((name) => [`CPU per job, ${name} (µs)`, n(t.plain.cpuPerJobUs[name], 1), n(t.tls.cpuPerJobUs[name], 1)]),
  ];
  return `## 8. What TLS costs

Two fleets in the same run, alike but for TLS: plain HTTP on loopback and NATS without TLS (\`fleet up --no-tls\`),
and HTTPS with NATS TLS verified with the fleet's CA (\`fleet up\`), one engine and agent each. The same job,
\`${t.operation}\` (gateway → NATS → agent → engine and back), goes to both, ${t.pairs} interleaved pairs on a
kept-alive connection, then pairs on a new connection each (TCP, and the TLS handshake), then ${t.cpuCalls}
calls per side in alternating blocks, with the CPU the gateway, NATS and the agent spent read from /proc.

${table(['', 'plain', 'TLS'], rows)}

- Added per job on a kept-alive connection: **${n(t.addedP50)} ms** p50, ${n(t.addedP99)} ms p99 (differences of the pairs).
- Added by a new HTTPS connection (the handshake): ${n(t.addedNewConnectionP50)} ms p50: clients that keep connections alive pay it once.
- Added CPU per job, all three processes: **${n(t.addedCpuPerJobUs, 1)} µs**.
`;
}

function dockerCliSection(r: BenchResults): string {
  const d = r.dockerCli;
  if (!d) return '## 7. The docker CLI through the gateway\n\nNot run.\n';
  const rows = [d.gateway, d.socket].map((side) => [`\`${side.dockerHost}\``, `**${n(side.medianMs)}**`, n(side.minMs), n(side.maxMs)]);
  return `## 7. The docker CLI through the gateway

The real \`docker ps\` (${d.cli}) listing the ${d.containers} running container(s) of ${d.host}, through the
gateway's Engine API proxy (the key in \`DOCKER_CONFIG/config.json\`'s \`HttpHeaders\`; \`_ping\`, then
\`/containers/json\`, each tunnelled over NATS to the agent and on to the engine socket) and straight on that
engine's socket, in the same run: one untimed run each, then ${d.runs} runs each, alternating which goes first.
Each is a new process, timed from spawn to exit (the CLI's own start is in both). Milliseconds.

${table(['DOCKER_HOST', 'median', 'min', 'max'], rows)}

- Through the gateway / on the socket, medians: **${n(d.ratio, 2)}×** (${n(d.gateway.medianMs - d.socket.medianMs)} ms more per \`docker ps\`).
`;
}

function pipelinesSection(r: BenchResults): string {
  const p = r.pipelines;
  if (!p) return '## 6. Pipelines\n\nNot run.\n';
  const node = pipelineCommand(r, 'node');
  const rows = p.commands.map((c) => [
    c.label,
    `\`${c.shown}\``,
    `**${n(c.medianMs)}**`,
    n(c.minMs),
    n(c.maxMs),
    node ? `${n(c.medianMs / node.medianMs, 2)}×` : 'n/a',
    c.hosts !== undefined ? `${c.hosts} / ${c.containers}` : '—',
  ]);
  const ratios = pipelineRatios(r);
  const cli = pipelineCommand(r, 'cliList');
  const curl = pipelineCommand(r, 'curlList');
  const ansible = pipelineCommand(r, 'ansibleList');
  return `## 6. Pipelines

What a CI step pays to ask the fleet something, on the same real fleet (${p.engines} \`dockerd\` engines,
one running busybox container each, the gateway and agents as \`fleet up\` runs them). Each command is a new
process, timed by the bench from spawn to exit; one untimed run each first (files in the page cache, as on a
runner that ran a step before), then ${p.runs} rounds, round robin, so load on the shared box hits them alike.
*fleet* is the \`fleet\` bin (\`apps/cli/bin/fleet.js\`) with \`FLEET_URL\`/\`FLEET_API_KEY\` set, as a
pipeline calls it; Ansible (${p.ansible}, ${p.dockerCollection}) lists the same engines with one ad-hoc command
over an inventory of one host per engine socket (\`engines.ini\`: \`web-01 docker_host=unix:///…/docker.sock\`, …),
\`ansible_connection=local\`. Milliseconds.

${table(['what a pipeline step runs', 'command', 'median', 'min', 'max', 'vs `node -e 0`', 'hosts / running containers listed'], rows)}

- CLI cold start: \`fleet --version\` ${n(pipelineCommand(r, 'cliVersion')?.medianMs)} ms, ${n(ratios.coldStart, 2)}× \`node -e 0\` — target ≤ ${TARGETS.cliColdStartRatio}×: ${verdict(ratios.coldStart !== undefined ? ratios.coldStart <= TARGETS.cliColdStartRatio : undefined)}.
- The listing over ${p.engines} engines: the CLI ${n(cli?.medianMs)} ms, curl ${n(curl?.medianMs)} ms, Ansible ${n(ansible?.medianMs)} ms: the CLI is ${n(ratios.vsAnsible, 1)}× faster than Ansible — target ≥ ${TARGETS.cliVsAnsible}×: ${verdict(ratios.vsAnsible !== undefined ? ratios.vsAnsible >= TARGETS.cliVsAnsible : undefined)}; it costs ${n(ratios.cliOverCurl)} ms more than curl (Node's own start and the CLI's).

Why the CLI starts fast: it runs compiled (\`npm run build\`: esbuild bundles it into \`dist/fleet.js\`, nothing
is transpiled at start); the contract is parsed at build time (\`contract.json\`, generated from \`openapi.yaml\`,
bundled as one \`JSON.parse\`); a family's commands (\`container\`, \`image\`, …) and their flags are built from the
contract only when that family runs; and the packages only some commands need (dockerode and the NATS client
for \`up\`/\`down\`/\`status\`, jsonwebtoken, ajv, yaml, cli-table3) load when those commands run.
A call never loads fetch's classes (undici: tens of milliseconds to load, the A/B below, and ~250 ms held at exit): the SDK's plain JSON calls
go through a transport of their own, which the CLI gives Node's \`http\` (\`httpTransport\`, packages/sdk/src/node-http.ts),
loaded on the first call (\`https\`, with TLS and crypto, only for an https URL); the tar code only for \`cp\`. And the
\`fleet\` bin runs the bundle from V8's code cache (\`dist/fleet.js.<size>-<mtime>.codecache\`, written by the build),
so the bundle is not compiled at every start.

${pipelineBaselines(r)}`;
}

/** Two start-up changes, each against the CLI without it, in the same rounds (PipelineBaseline). */
function pipelineBaselines(r: BenchResults): string {
  const pairs: Array<[string, PipelineKey, PipelineKey]> = [
    ["V8's code cache of the bundle (`fleet --version`)", 'cliVersionCompiled', 'cliVersion'],
    ['no fetch classes on a call (`fleet container ls --target _all --json`)', 'cliListFetchLoaded', 'cliList'],
  ];
  const lines = pairs.flatMap(([what, beforeKey, afterKey]) => {
    const [before, after] = [pipelineCommand(r, beforeKey), pipelineCommand(r, afterKey)];
    return before && after ? [`- ${what}: ${n(before.medianMs)} → ${n(after.medianMs)} ms (before: \`${before.shown}\`).`] : [];
  });
  return lines.length ? `Before → after, medians of the same rounds:\n\n${lines.join('\n')}\n` : '';
}

/** The dashboard in headless chromium (bench/sections/dashboard.ts), from bench/results/dashboard.json. */
function dashboardSection(r: BenchResults): string {
  const d = r.dashboard;
  if (!d) return '';
  const signIn = d.signInToContainers;
  const fleets = d.fleets ?? [];
  const perFleet = (what: string, cell: (f: LargeFleetMeasurement) => string): Row => [what, ...fleets.map(cell)];
  const p50max = (s: Summary) => `${n(s.p50)} ms (max ${n(s.max)})`;
  const heap = (h: HeapSample) => `${n(h.jsHeapUsedBytes / 2 ** 20)} MiB, ${n(h.domNodes)} DOM nodes`;
  const matrix = (cell: (m: MatrixMeasurement) => string) => (f: LargeFleetMeasurement) =>
    f.matrix ? cell(f.matrix) : `not measured: ${f.matrixSkipped ?? 'n/a'}`;
  const rows: Row[] = [
    perFleet('swarm started → every agent listed live by paged `GET /agent`', (f) => `${n(f.liveAfterMs)} ms`),
    perFleet('fleet view: reload → first page (50 rows, heading and pager with the fleet total)', (f) => p50max(f.fleetView.firstPage)),
    perFleet('fleet view: a click on Next → the next 50 rows', (f) => p50max(f.fleetView.nextClick)),
    perFleet('fleet view: a click on Last → the last page', (f) => `${p50max(f.fleetView.lastClick)} (page ${n(f.fleetView.pages)})`),
    perFleet('fleet view: a click on First → page 1 again', (f) => p50max(f.fleetView.firstClick)),
    perFleet('fleet view: one hostname typed in Filter → its row alone', (f) => p50max(f.fleetView.findHost)),
    perFleet(
      'fleet view: a label selector in Filter → its first page and count',
      (f) => `${p50max(f.fleetView.labelFilter.ms)}; \`${f.fleetView.labelFilter.selector}\`, ${n(f.fleetView.labelFilter.matching)} hosts`,
    ),
    perFleet('page heap after GC: fleet view, first page', (f) => heap(f.fleetView.heap.firstPage)),
    perFleet('page heap after GC: fleet view, after paging to the end', (f) => heap(f.fleetView.heap.afterPaging)),
    perFleet(
      'job matrix of one `_all` call: started → a row for every host',
      matrix((m) => `${n(m.firstRenderMs)} ms`),
    ),
    perFleet(
      'job matrix: started → every row final',
      matrix((m) => `${n(m.allFinalMs)} ms (the gateway's own \`GET /job?wait\`: ${n(m.gatewaySettledMs)} ms)`),
    ),
    perFleet(
      'job matrix: a click on "Failed only" while rows land',
      matrix((m) => `${p50max(m.clickLatency)}, ${m.clickLatency.n} clicks`),
    ),
    perFleet(
      'job matrix: how late a 50 ms timer fires while rows land',
      matrix((m) => `p99 ${n(m.timerLag.p99)} ms (max ${n(m.timerLag.max)}); ${m.longTasks} long tasks, ${n(m.longTaskTotalMs)} ms in all`),
    ),
    perFleet(
      'page heap after GC: job matrix, every row final',
      matrix((m) => heap(m.heap)),
    ),
  ];
  const large = fleets.length
    ? `Beside ${fleets.map((f) => n(f.hosts)).join(' and ')} simulated agents (bench/harness/swarm.ts), one chromium tab signed in as admin:

${table(['what', ...fleets.map((f) => `${n(f.hosts)} agents`)], rows)}
`
    : '';
  const when = d.measuredAt
    ? `Run ${d.measuredAt.slice(0, 16).replace('T', ' ')} UTC, load average ${n(d.loadAtStart, 2)} at its start. `
    : '';
  return `## Dashboard (headless ${d.browser})

${when}Sign-in → the containers view of 3 real hosts: p50 ${n(signIn.p50)} ms, max ${n(signIn.max)} ms (${signIn.n} fresh tabs).

${large}${d.notMeasured ? `\nNot measured: ${d.notMeasured}\n` : ''}
The fleet view shows 50 agents a page from paged \`GET /agent\`, with Previous and Next only: the last page of N agents is
N / 50 − 1 clicks away; Filter (a hostname or label selectors) is the way to one host. The job matrix puts every host's row on
the page, 150 rows per slice of main-thread time. Screenshots of each step: \`${d.screenshots}/\` (not committed).
\`npm run bench -- --only=dashboard\` runs this section alone (bench/results/dashboard.json); \`--levels=1000\` one fleet size.
`;
}

export function renderMarkdown(r: BenchResults, baseline?: BenchResults): string {
  const history = readHistory();
  return [
    header(r),
    targetSection(r),
    overheadSection(r),
    fanoutSection(r),
    throughputSection(r),
    costSection(r),
    profileSection(r, history, baseline),
    pipelinesSection(r),
    dockerCliSection(r),
    tlsSection(r),
    rolloutSection(r),
    reconnectSection(r),
    stacksSection(r),
    dashboardSection(r),
    findings(r, history),
    closing(r, history),
  ].join('\n');
}
