import type { LoadSnapshot, MachineInfo, Versions } from './lib/env';
import type { FanoutMeasurement } from './sections/fanout';
import type { CallPathRecord } from './sections/callpath';
import type { DashboardResult } from './sections/dashboard';
import type { AbMeasurement, JwtMicro } from './sections/micro';
import type { OverheadResult } from './sections/overhead';
import type { DockerCliResult } from './sections/docker-cli';
import type { PipelinesResult } from './sections/pipelines';
import type { ProfileResult } from './sections/profiling';
import type { FleetSizeResult } from './sections/fleet-size';
import type { RolloutBenchResult } from './sections/rollout';
import type { ReconnectResult } from './sections/reconnect';
import type { ScaleResult } from './sections/scale';
import type { StackBenchResult } from './sections/stacks';
import type { ThroughputTarget } from './sections/throughput';
import type { TlsCostResult } from './sections/tls';

/** Everything one `npm run bench` measured: bench/results/latest.json. */
export interface BenchResults {
  meta: {
    startedAt: string;
    finishedAt: string;
    durationSeconds: number;
    command: string;
    quick: boolean;
    machine: MachineInfo;
    versions: Versions;
    git: { commit: string; dirtyFiles: number };
    loads: Array<LoadSnapshot & { phase: string }>;
  };
  /** What a pipeline step pays: CLI cold start and one listing by the CLI, curl and Ansible. */
  pipelines?: PipelinesResult;
  dockerCli?: DockerCliResult;
  /** Section 8: what HTTPS and NATS TLS add per job, against the same fleet without them, in this run. */
  tls?: TlsCostResult;
  overhead?: OverheadResult;
  fanoutReal?: FanoutMeasurement;
  throughput?: ThroughputTarget[];
  profile?: ProfileResult;
  scale?: ScaleResult;
  /** A broker restart under 1,000 to 10,000 agents: how long until all are live again (README "Broker restarts"). */
  reconnect?: ReconnectResult;
  /** What one more wave of a rollout costs, on the scale harness. */
  rollout?: RolloutBenchResult;
  /** Heartbeats, heap per agent, GET /agent and a gateway start at 1,000 and 10,000 agents (issue 21). */
  fleetSize?: FleetSizeResult;
  /** A stack deploy over the scale harness, at once and in waves. */
  stacks?: StackBenchResult;
  micro?: { jwt: JwtMicro };
  /** Section 5's changes, each measured both ways in the same process during this run. */
  ab?: AbMeasurement[];
  /** bench/results/callpath.json, attached when rendering: the call-path changes, before and after. */
  callPath?: CallPathRecord;
  /** bench/results/dashboard.json, attached when rendering: the dashboard in chromium (`--only=dashboard` runs it alone). */
  dashboard?: DashboardResult;
  /** Phases that failed (the run records them and goes on). */
  errors?: string[];
}
