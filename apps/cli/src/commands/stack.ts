import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import type { FleetClient, Job, Stack, StackDeploy, StackDeployed, StackList } from '@fleet/sdk';
import { clientFor, globalsOf } from '../context';
import { detailsOf } from '../contract';
import { exitCodeForJob, exitCodeForRows, UsageError } from '../exit';
import { renderRollout, renderRows, table, write, writeJson } from '../output';

/** The longest `fleet stack deploy|rollback` waits for the rollout before it says how to follow it. */
const WAIT_MS = 3_600_000;

interface DeployFlags {
  file: string;
  name: string;
  target: string;
  batch?: string;
  canary?: string;
  maxFailures?: string;
  pause?: number;
  health?: 'running' | 'healthy';
  healthDelay?: number;
  onDrift?: 'report' | 'repair';
  async?: boolean;
}

/** `fleet stack deploy|diff|ls|status|rollback|rm` (README "Stacks"). */
export function registerStackCommands(program: Command): void {
  const stack = program.command('stack').description('compose stacks kept true on the hosts of a target (README "Stacks")');
  deployFlags(stack.command('deploy').description(detailsOf('stack.put').summary))
    .option('--async', 'answer once the revision is stored, without waiting for its rollout')
    .action(async (flags: DeployFlags, command: Command) => {
      const client = clientFor(command);
      const deployed = await client.stacks.deploy(flags.name, deployBody(flags));
      await followRevision(client, deployed, flags.async === true, command);
    });
  deployFlags(stack.command('diff').description(detailsOf('stack.diff').summary)).action(async (flags: DeployFlags, command: Command) => {
    const answer = await clientFor(command).stacks.diff(flags.name, deployBody(flags));
    if (globalsOf(command).json) writeJson(answer);
    else write(renderRows(answer.results));
    process.exitCode = exitCodeForRows(answer.results);
  });
  stack
    .command('ls')
    .description(detailsOf('stack.list').summary)
    .action(async (_flags: unknown, command: Command) => {
      const list = await clientFor(command).stacks.list();
      if (globalsOf(command).json) writeJson(list);
      else write(renderStackList(list));
    });
  stack
    .command('status <name>')
    .description(detailsOf('stack.get').summary)
    .action(async (name: string, _flags: unknown, command: Command) => {
      const found = await clientFor(command).stacks.get(name);
      if (globalsOf(command).json) writeJson(found);
      else write(renderStack(found));
    });
  stack
    .command('rollback <name>')
    .description(detailsOf('stack.rollback').summary)
    .requiredOption('--to <revision>', 'the revision to roll out again', positiveInteger)
    .option('--async', 'answer once the revision is stored, without waiting for its rollout')
    .action(async (name: string, flags: { to: number; async?: boolean }, command: Command) => {
      const client = clientFor(command);
      await followRevision(client, await client.stacks.rollback(name, flags.to), flags.async === true, command);
    });
  stack
    .command('rm <name>')
    .description(detailsOf('stack.remove').summary)
    .action(async (name: string, _flags: unknown, command: Command) => {
      const removed = await clientFor(command).stacks.remove(name);
      if (globalsOf(command).json) writeJson(removed);
      else write(`stack ${removed.name} removed${removed.job_id ? `; its hosts are cleaned by job ${removed.job_id}` : ''}`);
    });
}

function deployFlags(command: Command): Command {
  return command
    .requiredOption('-f, --file <compose.yaml>', 'the compose file')
    .requiredOption('--name <name>', "the stack's name (its compose project name on each host)")
    .requiredOption('--target <target>', 'the hosts: a hostname, label selectors (role:web,zone:eu) or _all')
    .option('--batch <n|n%>', 'hosts per wave')
    .option('--canary <n|n%>', 'hosts of a first wave run alone')
    .option('--max-failures <n|n%>', 'failed hosts tolerated over the rollout')
    .option('--pause <seconds>', 'seconds between waves', positiveInteger)
    .addOption(new Option('--health <gate>', 'checked on each host after its apply').choices(['running', 'healthy']))
    .option('--health-delay <seconds>', 'for --health running: seconds after the apply', positiveInteger)
    .addOption(new Option('--on-drift <what>', 'what a host does when its containers drift').choices(['report', 'repair']));
}

/** The body of PUT and diff from the flags: the compose file as it is on disk, and only the policy fields given. */
export function deployBody(flags: DeployFlags): StackDeploy {
  let compose: string;
  try {
    compose = readFileSync(flags.file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the compose file '${flags.file}': ${(err as Error).message}`);
  }
  const rollout = Object.fromEntries(
    Object.entries({
      batch: flags.batch,
      canary: flags.canary,
      max_failures: flags.maxFailures,
      pause: flags.pause,
      health: flags.health,
      health_delay: flags.healthDelay,
    }).filter(([, value]) => value !== undefined),
  );
  return {
    compose,
    target: flags.target,
    ...(Object.keys(rollout).length > 0 ? { rollout } : {}),
    ...(flags.onDrift ? { on_drift: flags.onDrift } : {}),
  };
}

/** Prints the revision, then (unless `async`) waits for its rollout and prints its rows; the exit code says how it ended. */
async function followRevision(client: FleetClient, deployed: StackDeployed, async: boolean, command: Command): Promise<void> {
  const json = globalsOf(command).json;
  if (async) {
    if (json) writeJson(deployed);
    else
      write(
        `stack ${deployed.name} revision ${deployed.revision}: job ${deployed.job_id}; follow it: fleet job get ${deployed.job_id} --wait`,
      );
    return;
  }
  if (!json) write(`stack ${deployed.name} revision ${deployed.revision}: job ${deployed.job_id}`);
  const job: Job = await client.jobs.wait(deployed.job_id, { timeoutMs: WAIT_MS });
  if (json) writeJson({ ...deployed, job });
  else write(`${job.rollout ? `${renderRollout(job.rollout)}\n` : ''}${renderRows(job.results)}`);
  process.exitCode = exitCodeForJob(job);
}

export function renderStackList(list: StackList): string {
  return table(
    ['NAME', 'TARGET', 'REVISION', 'IN SYNC', 'DRIFTED', 'PENDING', 'FAILED', 'OFFLINE'],
    list.stacks.map(({ name, target, revision, hosts }) => [
      name,
      target,
      revision,
      hosts.in_sync,
      hosts.drifted,
      hosts.pending,
      hosts.failed,
      hosts.offline,
    ]),
  );
}

export function renderStack(stack: Stack): string {
  const head = `stack ${stack.name}  target ${stack.target}  revision ${stack.revision}  on_drift ${stack.on_drift}`;
  const hosts = table(
    ['HOST', 'STATE', 'REVISION', 'DETAIL'],
    stack.hosts.map((host) => [
      host.hostname,
      host.state,
      host.revision ?? '',
      host.error ?? (host.drift ?? []).map((entry) => `${entry.service}: ${entry.what}`).join('; '),
    ]),
  );
  const revisions = table(
    ['REVISION', 'CREATED', 'BY', 'IMAGES', 'NOTE'],
    stack.revisions.map((revision) => [
      revision.revision,
      revision.created_at,
      revision.created_by,
      revision.images.join(' '),
      revision.rolled_back_from ? `rollback to ${revision.rolled_back_from}` : '',
    ]),
  );
  return `${head}\n\n${hosts}\n\n${revisions}`;
}

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 0) throw new UsageError(`'${value}' is not a whole number`);
  return parsed;
}
