import { type Command, InvalidArgumentError, Option } from 'commander';
import { JOB_WAIT_MAX_SECONDS, type OperationName } from '@fleet/contracts/operations';
import { type Enrollment, JobWaitTimeoutError } from '@fleet/sdk';
import { clientFor, globalsOf } from '../context';
import { detailsOf } from '../contract';
import { EXIT, exitCodeForJob, UsageError } from '../exit';
import { addParamOptions, type Binding, givenValues } from '../flags';
import { registerAgentBuildCommands } from './agent-build';
import { registerJobRerunCommand } from './job-rerun';
import { registerRolloutControlCommands } from './rollout';
import { agentCountsLine, renderAgents, renderAudit, renderJob, renderJobs, renderYaml, write, writeJson } from '../output';

/** `fleet agent|job|audit …`: the gateway's own resources, through the SDK's helpers. */

/** JSON with --json, the human rendering otherwise. */
function show<T>(command: Command, value: T, human: (value: T) => string): void {
  if (globalsOf(command).json) writeJson(value);
  else write(human(value));
}

/**
 * `--target` says where an operation runs, on every command. On listings the
 * contract's `target` filter (the target a job or request named, matched
 * exactly) is `--filter-target`; `--target` is still read there, with a
 * deprecation note.
 */
function addTargetFilter(command: Command): Binding {
  command.addOption(new Option('--filter-target <target>', 'only entries whose target was exactly this, as typed (e.g. role:web)'));
  command.addOption(new Option('--target <target>', 'deprecated: use --filter-target').hideHelp());
  return { field: 'target', attribute: 'filterTarget', kind: 'string' };
}

function targetFilterOf(command: Command): Record<string, unknown> {
  const { target, filterTarget } = command.opts<{ target?: string; filterTarget?: string }>();
  if (target === undefined) return {};
  if (filterTarget !== undefined) throw new UsageError('give --filter-target, not --target, on listings');
  process.stderr.write(
    `fleet: --target on ${command.parent?.name()} ${command.name()} is deprecated; it filters: use --filter-target ${target}\n`,
  );
  return { target };
}

/** A listing command whose filters are the operation's query parameters in the contract. */
function listCommand(
  parent: Command,
  name: OperationName,
  run: (command: Command, query: Record<string, unknown>) => Promise<void>,
): Command {
  const details = detailsOf(name);
  const command = parent.command('list').alias('ls').description(details.summary);
  const queryParams = details.params.filter((param) => param.in === 'query');
  const bindings = addParamOptions(command, queryParams, new Set(['target']));
  if (queryParams.some((param) => param.name === 'target')) bindings.push(addTargetFilter(command));
  return command.action((...args: unknown[]) => {
    const self = args.at(-1) as Command;
    return run(self, { ...targetFilterOf(self), ...givenValues(self, bindings) });
  });
}

function parseWait(raw: string): number {
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > JOB_WAIT_MAX_SECONDS)
    throw new InvalidArgumentError(`whole seconds from 0 to ${JOB_WAIT_MAX_SECONDS}`);
  return seconds;
}

function registerAgentCommands(program: Command): void {
  // The node operations' `agent` family (`fleet agent upgrade`) may have made it already.
  const agent = program.commands.find((command) => command.name() === 'agent') ?? program.command('agent');
  agent.description('the registered agents, their builds and upgrades');
  registerAgentBuildCommands(agent);
  listCommand(agent, 'agent.list', async (command, query) => {
    const page = await clientFor(command).agents.list(query);
    show(command, page, renderAgents);
    if (globalsOf(command).json) return;
    process.stderr.write(`${agentCountsLine(page)}
`);
    if (page.next_cursor)
      process.stderr.write(`more: --cursor ${page.next_cursor}
`);
  });
  agent
    .command('get <hostname>')
    .description(detailsOf('agent.get').summary)
    .action(async (hostname: string, _opts: unknown, command: Command) =>
      show(command, await clientFor(command).agents.get(hostname), renderYaml),
    );
  for (const verb of ['drain', 'undrain'] as const) {
    agent
      .command(`${verb} <hostname>`)
      .description(detailsOf(`agent.${verb}`).summary)
      .action(async (hostname: string, _opts: unknown, command: Command) => {
        const updated = await clientFor(command).agents[verb](hostname);
        show(command, updated, (a) => `${a.hostname}: ${a.drained ? 'drained' : 'not drained'}`);
      });
  }
  agent
    .command('accept <hostname> [labels...]')
    .description(`${detailsOf('agent.accept').summary}; labels as key=value (default: the ones it asked for)`)
    .action(async (hostname: string, labels: string[], _opts: unknown, command: Command) => {
      const enrollment = await clientFor(command).agents.accept(hostname, labels.length > 0 ? parseLabelArgs(labels) : undefined);
      show(command, enrollment, describeEnrollment);
    });
  agent
    .command('label <hostname> <labels...>')
    .description(`${detailsOf('agent.label').summary}; labels as key=value, replacing all`)
    .action(async (hostname: string, labels: string[], _opts: unknown, command: Command) => {
      show(command, await clientFor(command).agents.label(hostname, parseLabelArgs(labels)), describeEnrollment);
    });
  agent
    .command('join-token <hostname>')
    .description(detailsOf('agent.joinToken').summary)
    .option('--ttl <duration>', 'how long it stays usable: 90s, 15m, 2h (at most 24h)', parseTtl)
    .action(async (hostname: string, opts: { ttl?: number }, command: Command) => {
      const issued = await clientFor(command).agents.joinToken(hostname, opts.ttl);
      show(
        command,
        issued,
        (t) =>
          `${t.token}\n(for ${t.hostname}, once, until ${t.expires_at}: start its agent with FLEET_AGENT_JOIN_TOKEN=<this> ` +
          `FLEET_GATEWAY_URL=<gateway>)`,
      );
    });
  agent
    .command('rotate <hostname>')
    .description(detailsOf('agent.rotate').summary)
    .action(async (hostname: string, _opts: unknown, command: Command) => {
      const rotation = await clientFor(command).agents.rotate(hostname);
      show(command, rotation, (r) => `${r.hostname}: now on ${r.public_key}; revoked ${r.revoked.length} older key(s)`);
    });
  agent
    .command('remove <hostname>')
    .description(detailsOf('agent.remove').summary)
    .action(async (hostname: string, _opts: unknown, command: Command) => {
      show(
        command,
        await clientFor(command).agents.remove(hostname),
        (r) => `${r.hostname}: removed, its NATS identity revoked at ${r.revoked_at}`,
      );
    });
}

/** `90s`, `15m`, `2h` → seconds. */
function parseTtl(raw: string): number {
  const match = /^([0-9]+)([smh])$/.exec(raw);
  if (!match) throw new InvalidArgumentError('a duration like 90s, 15m or 2h');
  return Number(match[1]) * { s: 1, m: 60, h: 3600 }[match[2] as 's' | 'm' | 'h'];
}

/** `role=web zone=eu.west` → `{role:'web', zone:'eu.west'}`; the gateway validates keys and values. */
function parseLabelArgs(args: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const arg of args) {
    const [key, value, ...rest] = arg.split('=');
    if (!key || value === undefined || rest.length > 0) throw new InvalidArgumentError(`'${arg}' is not key=value`);
    labels[key] = value;
  }
  return labels;
}

function describeEnrollment(enrollment: Enrollment): string {
  const labels = Object.entries(enrollment.labels).map(([key, value]) => `${key}=${value}`);
  return `${enrollment.hostname}: accepted, labels ${labels.join(',') || '(none)'}`;
}

function registerJobCommands(program: Command): void {
  const job = program.command('job').description('jobs: one per node-targeted call, with a row per host');
  job
    .command('get <job_id>')
    .description(detailsOf('job.get').summary)
    .option('--wait [seconds]', `wait for the job to finish, up to this many seconds (default ${JOB_WAIT_MAX_SECONDS})`, parseWait)
    .action(async (jobId: string, opts: { wait?: number | true }, command: Command) => {
      const client = clientFor(command);
      const waitSeconds = opts.wait === true ? JOB_WAIT_MAX_SECONDS : opts.wait;
      const found =
        waitSeconds === undefined
          ? await client.jobs.get(jobId)
          : await client.jobs.wait(jobId, { timeoutMs: waitSeconds * 1000 }).catch((err: unknown) => {
              if (err instanceof JobWaitTimeoutError) return err.job;
              throw err;
            });
      show(command, found, renderJob);
      process.exitCode = found.status === 'pending' || found.status === 'running' ? EXIT.NOT_FINISHED : exitCodeForJob(found);
    });
  registerJobRerunCommand(job);
  registerRolloutControlCommands(job);
  listCommand(job, 'job.list', async (command, query) => {
    const page = await clientFor(command).jobs.list(query);
    show(command, page, renderJobs);
    if (!globalsOf(command).json && page.next_cursor) process.stderr.write(`more: --cursor ${page.next_cursor}\n`);
  });
}

function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the audit trail of authenticated and refused requests');
  listCommand(audit, 'audit.list', async (command, query) => {
    const page = await clientFor(command).audit.list(query);
    show(command, page, renderAudit);
    if (!globalsOf(command).json && page.next_cursor) process.stderr.write(`more: --cursor ${page.next_cursor}\n`);
  });
}

export function registerFleetApiCommands(program: Command): void {
  registerAgentCommands(program);
  registerJobCommands(program);
  registerAuditCommands(program);
}
