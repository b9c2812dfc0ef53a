import type Docker from 'dockerode';
import { AGENT_REPORT_GRACE_MS, type HealthGate, type HostRow, type JobMessage } from '@fleet/contracts/protocol';
import type { HostObjects } from './host-objects';

/** What the gate needs of the agent: its engine, and the judge of host-level containers (for the exec gate). */
export interface HealthGateDeps {
  docker: Docker;
  hostObjects: HostObjects;
}

/** A gate's verdict: passed, or why not. */
type Verdict = { passed: true; found: string } | { passed: false; found: string };

/** How often `healthy` and the exec gate look again. */
const POLL_MS = 500;

/**
 * A rollout's health gate (README "Rollouts"), checked after the step succeeded, on the container it acted on:
 * a host whose container fails the gate reports `failed` (412) with what the gate found, so the rollout counts it.
 * The gate ends in time for the row to land by the job's deadline.
 */
export async function gatedRow(job: JobMessage & { health: HealthGate }, row: HostRow, deps: HealthGateDeps): Promise<HostRow> {
  const giveUpAt = job.deadline - AGENT_REPORT_GRACE_MS;
  // A stack apply names all its containers: each must pass (README "Stacks on the agents").
  const verdict = Array.isArray(row.containers)
    ? everyPasses(await Promise.all(row.containers.map((name) => checked(job, String(name), giveUpAt, deps, true))))
    : await checked(job, String(row.id ?? job.params.id ?? ''), giveUpAt, deps, false);
  if (verdict.passed) return { ...row, gate: verdict.found };
  return { ...row, status: 'failed', gate: verdict.found, error: `health gate failed: ${verdict.found}`, error_code: 412 };
}

async function checked(
  job: JobMessage & { health: HealthGate },
  container: string,
  giveUpAt: number,
  deps: HealthGateDeps,
  inStack: boolean,
): Promise<Verdict> {
  try {
    const verdict = await check(job, container, giveUpAt, deps, inStack);
    return inStack ? { ...verdict, found: `${container}: ${verdict.found}` } : verdict;
  } catch (err) {
    return { passed: false, found: `${inStack ? container : 'the container'} could not be checked: ${(err as Error).message}` };
  }
}

function everyPasses(verdicts: Verdict[]): Verdict {
  const failed = verdicts.filter((verdict) => !verdict.passed);
  return { passed: failed.length === 0, found: (failed.length > 0 ? failed : verdicts).map((verdict) => verdict.found).join('; ') };
}

/** In a stack, a service without a healthcheck passes `healthy` once running, as `docker compose up --wait` has it. */
function check(
  job: JobMessage & { health: HealthGate },
  container: string,
  giveUpAt: number,
  deps: HealthGateDeps,
  inStack: boolean,
): Promise<Verdict> {
  const gate = job.health;
  if (gate.check === 'running') return runningLater(deps.docker, container, gate.delay_seconds, giveUpAt);
  if (gate.check === 'healthy') return healthyBy(deps.docker, container, giveUpAt, inStack);
  return execPasses(job, container, gate.cmd, giveUpAt, deps);
}

async function runningLater(docker: Docker, container: string, delaySeconds: number, giveUpAt: number): Promise<Verdict> {
  const at = Date.now() + delaySeconds * 1000;
  if (at > giveUpAt) return { passed: false, found: `the gate's ${delaySeconds}s delay ends after the job's deadline` };
  await sleep(at - Date.now());
  const { State } = await docker.getContainer(container).inspect();
  if (State.Running && !State.Restarting) return { passed: true, found: `running ${delaySeconds}s after the step` };
  return { passed: false, found: `not running ${delaySeconds}s after the step (${State.Status}, exit code ${State.ExitCode})` };
}

async function healthyBy(docker: Docker, container: string, giveUpAt: number, runningWithoutCheck: boolean): Promise<Verdict> {
  for (;;) {
    const { State } = await docker.getContainer(container).inspect();
    const health = State.Health?.Status;
    if (!health && runningWithoutCheck && State.Running) return { passed: true, found: 'running (no healthcheck)' };
    if (!health) return { passed: false, found: 'the container has no healthcheck' };
    if (health === 'healthy') return { passed: true, found: 'healthy' };
    if (health === 'unhealthy') return { passed: false, found: `unhealthy${lastProbe(State.Health?.Log)}` };
    if (!State.Running) return { passed: false, found: `not running (${State.Status}) before its healthcheck passed` };
    if (Date.now() + POLL_MS > giveUpAt) return { passed: false, found: `still ${health} at the deadline` };
    await sleep(POLL_MS);
  }
}

function lastProbe(log: Array<{ ExitCode?: number; Output?: string }> | undefined): string {
  const last = log?.at(-1);
  return last
    ? ` (last probe exit code ${last.ExitCode}: ${String(last.Output ?? '')
        .trim()
        .slice(0, 200)})`
    : '';
}

/**
 * The exec gate runs a command in the container, as an exec would: a container that reaches the host (an admin's
 * privileged one, say) is refused unless the gateway sealed the job as coming from a caller holding docker:host.
 */
async function execPasses(job: JobMessage, container: string, cmd: string[], giveUpAt: number, deps: HealthGateDeps): Promise<Verdict> {
  if (job.caller_host !== true) {
    const verdict = await deps.hostObjects.verdict({ container, volumes: [], networks: [] });
    if ('refusal' in verdict) return { passed: false, found: `the exec gate was refused: ${verdict.refusal.details}` };
  }
  const exec = await deps.docker.getContainer(container).exec({ Cmd: cmd, AttachStdout: false, AttachStderr: false });
  await exec.start({ Detach: true });
  for (;;) {
    const state = await exec.inspect();
    if (!state.Running) {
      const words = cmd.join(' ');
      return state.ExitCode === 0
        ? { passed: true, found: `'${words}' exited 0` }
        : { passed: false, found: `'${words}' exited ${state.ExitCode}` };
    }
    if (Date.now() + POLL_MS > giveUpAt) return { passed: false, found: `'${cmd.join(' ')}' still running at the deadline` };
    await sleep(POLL_MS);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
