import type { Command } from 'commander';
import type { OperationName } from '@fleet/contracts/operations';
import type {
  CallOptions,
  FleetClient,
  HostResult,
  Job,
  JobAccepted,
  NodeClient,
  NodeOperationName,
  NodeResponse,
  Rollout,
  RolloutControlled,
} from '@fleet/sdk';
import { clientFor, globalsOf } from '../context';
import { detailsOf } from '../contract';
import { exitCodeForJob } from '../exit';
import { renderRollout, renderRows, write, writeJson } from '../output';
import type { RolloutEvent } from '@fleet/contracts/rollout-events';
import { WaveLines } from '../rollout-lines';

/** The longest a job's feed stays open (its `timeout` maximum); a rollout that outlasts it is followed on a new feed. */
const FEED_SECONDS = 3600;

/**
 * A call with wave flags, in table mode: started as an async job, then its feed is followed and each `rollout` event
 * printed as a line, then the final rows (README "CLI"). The exit code says whether the rollout completed, stopped
 * or was aborted.
 */
export async function runWithWaves(
  client: FleetClient,
  node: NodeClient,
  name: NodeOperationName,
  input: Record<string, unknown>,
  options: CallOptions,
): Promise<void> {
  const answer = (await node.invoke(name, input, { ...options, async: true })) as NodeResponse | JobAccepted;
  const job = 'results' in answer ? answer : await followJob(client, answer.job_id).catch((err: unknown) => startedAnyway(answer, err));
  write(renderRows(job.rollout ? withWaves(job.results, job.rollout) : job.results));
  process.exitCode = exitCodeForJob(job);
}

/** The job runs on whatever happened to its follower: say which one, so it can be steered, and fail as the error says. */
function startedAnyway({ job_id: jobId }: JobAccepted, err: unknown): never {
  process.stderr.write(`fleet: job ${jobId} was started and goes on: fleet job get ${jobId} --wait, fleet job abort ${jobId}\n`);
  throw err;
}

/** The job once its feed has ended: its waves printed as they went. */
async function followJob(client: FleetClient, jobId: string): Promise<Pick<Job, 'results' | 'rollout'>> {
  let lines: WaveLines | undefined;
  for (;;) {
    let reopen = false;
    for await (const event of client.feeds.job(jobId, { timeout: FEED_SECONDS })) {
      if (event.event === 'job' && !lines) lines = startLines(jobId, event.data as Job);
      else if (event.event === 'rollout' && lines) write(lines.line(event.data as RolloutEvent));
      else if (event.event === 'end') {
        const { job, reason } = event.data as { job?: Job; reason: string };
        if (job) return job;
        reopen = reason === 'timeout';
      }
    }
    // A feed that ended without the job (its key revoked, the connection cut): the stored job says how it stands.
    if (!reopen) return client.jobs.get(jobId);
  }
}

/** Each row with its wave from the plan: the feed's rows of the hosts a wave reached come as their agents wrote them. */
function withWaves(results: readonly HostResult[], rollout: Rollout): HostResult[] {
  const waveOf = new Map(rollout.waves.flatMap((wave) => wave.hosts.map((host) => [host, wave.wave] as const)));
  return results.map((row) => ({ ...row, wave: row.wave ?? waveOf.get(row.hostname) }));
}

/** The header and the waves so far, from the feed's first event. */
function startLines(jobId: string, job: Job): WaveLines | undefined {
  if (!job.rollout) return undefined;
  write(WaveLines.header(jobId, job.rollout));
  const lines = new WaveLines(job.rollout);
  for (const event of WaveLines.sofar(job.rollout)) write(lines.line(event));
  return lines;
}

const STEERING = ['pause', 'resume', 'abort'] as const;

/** `fleet job pause|resume|abort <job_id>`: steers a running rollout and prints its state (README "Rollouts"). */
export function registerRolloutControlCommands(job: Command): void {
  for (const verb of STEERING) {
    job
      .command(`${verb} <job_id>`)
      .description(detailsOf(`job.${verb}` as OperationName).summary)
      .action(async (jobId: string, _opts: unknown, command: Command) => {
        const answer = await clientFor(command).jobs[verb](jobId);
        if (globalsOf(command).json) writeJson(answer);
        else write(renderRolloutState(answer));
      });
  }
}

function renderRolloutState({ job_id: jobId, rollout }: RolloutControlled): string {
  return `job ${jobId}: ${renderRollout(rollout)}`;
}
