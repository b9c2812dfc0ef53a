import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { answersWithStream, JOB_TIMEOUT_SECONDS, type NodeOperationName, OPERATIONS } from '@fleet/contracts/operations';
import type { CallOptions, DryRunPlan, HostResult, JobAccepted, NodeClient, NodeResponse, StreamEvent } from '@fleet/sdk';
import { clientFor, globalsOf } from '../context';
import { operationDetails, type OperationDetails, type ParamSpec, resolveSchema, type Schema } from '../contract';
import { filtersFrom, REFUSED_DOCKER_FLAGS, refuseDockerOnlyFlags } from '../docker';
import { EXIT, exitCodeForJob, exitCodeForRows, UsageError } from '../exit';
import {
  addFieldOption,
  addParamOptions,
  type Binding,
  collect,
  givenValues,
  type Kind,
  kindOf,
  parseAs,
  parseJobTimeout,
  parseJsonArgument,
} from '../flags';
import { renderIds, renderRows, write, writeJson } from '../output';
import { OWN_JOB_FLAGS, steersWaves } from '../job-control';
import { HostProgress } from '../progress';
import { renderPlan } from '../rollout-lines';
import { defineCopyCommand, saveFileAnswer } from './copy';
import { runWithWaves } from './rollout';
import { defineRunCommand } from './run';

/**
 * `fleet <resource> <verb> --target <t>` for every node-targeted operation of
 * the contract, built from the operation registry: resource = the family
 * (`docker.image.remove` → `image`), verb = the operationId's last segment
 * (with `ls`/`rm` aliases), path parameters and required query parameters as
 * arguments, other query parameters as flags typed from their schema, the
 * JSON body from `--body`/`--body-file` plus a flag per simple top-level
 * field. An operation added to `openapi.yaml` gets its command with no code here.
 */

const VERB_ALIASES: Record<string, string[]> = { list: ['ls'], remove: ['rm'] };
const FAMILY_DESCRIPTIONS: Record<string, string> = {
  container: 'containers on the targeted hosts',
  image: 'images on the targeted hosts',
  volume: 'volumes on the targeted hosts',
  network: 'networks on the targeted hosts',
  system: "the targeted hosts' engines",
};
/**
 * Operations that took the target as their first argument before `--target`
 * meant the same everywhere: `fleet container exec web-01 app -- ls /` still
 * works, with a deprecation note.
 */
const DEPRECATED_TARGET_ARGUMENT = new Set<string>(['docker.container.exec']);
/** The HTTP request outlives the job's deadline by this much (the gateway always answers by the deadline). */
const REQUEST_MARGIN_SECONDS = 30;

interface Positional {
  field: string;
  /** A path or query parameter, or a field of the JSON body. */
  inBody: boolean;
  kind: Kind;
  schema: Schema;
  variadic: boolean;
}

interface Plan {
  details: OperationDetails;
  /** The target may still come as the first argument when --target is missing (deprecated). */
  targetArgument: boolean;
  positionals: Positional[];
  params: Binding[];
  headers: Binding[];
  bodyFields: Binding[];
}

interface NodeCommandOptions {
  target?: string;
  /** docker's `-f key=value` filters, merged into the Engine's `filters` map. */
  filter?: string[];
  /** Ids only, one per line (README "CLI"). */
  quiet?: boolean;
  timeout?: number;
  async?: boolean;
  body?: unknown;
  bodyFile?: string;
  /** The file an upload operation sends (default: standard input). */
  input?: string;
  /** Where a file answer goes (default: standard output). */
  output?: string;
}

function pathOrder(details: OperationDetails): string[] {
  return [...details.spec.path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]).filter((name) => name !== 'target');
}

/** A required list in the query (image save's `names`) takes every remaining argument: `fleet image save a b`. */
function positionalFromParam(param: ParamSpec): Positional {
  const items = param.schema.items && resolveSchema(param.schema.items);
  const kind = kindOf({ ...param.schema, ...(items ? { items } : {}) }, param.json);
  return { field: param.name, inBody: false, kind, schema: param.schema, variadic: param.in === 'query' && kind === 'strings' };
}

/** Required body fields a user can type as arguments: scalars, and (last) one list of strings such as exec's `cmd`. */
function bodyPositionals(body: Schema | undefined): Positional[] {
  const required = body?.required ?? [];
  const fields = required.map((field) => {
    const schema = resolveSchema(body?.properties?.[field] ?? {});
    return { field, schema, kind: kindOf(schema) };
  });
  const scalars = fields.filter(({ kind }) => kind === 'string' || kind === 'integer' || kind === 'number');
  const list = fields.find(({ kind }) => kind === 'strings');
  return [
    ...scalars.map((field) => ({ ...field, inBody: true, variadic: false })),
    ...(list ? [{ ...list, inBody: true, variadic: true }] : []),
  ];
}

function describeParam(param: ParamSpec | undefined): string {
  return (param?.description ?? param?.schema.description ?? '').replace(/\s+/g, ' ').trim();
}

function defineCommand(resource: Command, details: OperationDetails): void {
  const verb = commandPath(details.spec.name).verb;
  const command = resource.command(verb).description(details.summary);
  command.aliases(VERB_ALIASES[verb] ?? []);
  const targetArgument = DEPRECATED_TARGET_ARGUMENT.has(details.spec.name);
  const byName = new Map(details.params.map((param) => [`${param.in}:${param.name}`, param]));
  const positionals: Positional[] = [
    ...pathOrder(details).map((name) =>
      positionalFromParam(byName.get(`path:${name}`) ?? { name, in: 'path', required: true, schema: {}, json: false }),
    ),
    ...details.params.filter((param) => param.in === 'query' && param.required).map(positionalFromParam),
    ...bodyPositionals(details.body),
  ];

  const targetHelp = 'where it runs: a hostname, _any, _all, or key:value[,key:value...] label selectors';
  for (const positional of positionals) {
    const name = positional.variadic ? `${positional.field}...` : positional.field;
    // Body fields may come from --body instead, so they are checked after merging.
    command.argument(
      positional.inBody ? `[${name}]` : `<${name}>`,
      describeParam(byName.get(`query:${positional.field}`) ?? byName.get(`path:${positional.field}`)) ||
        positional.schema.description ||
        '',
    );
  }
  // Checked in inputOf when the deprecated target argument may stand in for it.
  if (targetArgument) command.option('--target <target>', `${targetHelp} (required)`);
  else command.requiredOption('--target <target>', targetHelp);
  command.option(
    '--timeout <seconds>',
    `the job's deadline: hosts that have not answered by then get a timeout row ` +
      `(${JOB_TIMEOUT_SECONDS.minimum}-${JOB_TIMEOUT_SECONDS.maximum}, default ${JOB_TIMEOUT_SECONDS.default})`,
    parseJobTimeout,
  );
  if (details.params.some((param) => param.name === 'async'))
    command.option('--async', 'answer at once with the job id; follow it with `fleet job get <id> --wait`');

  // The job controls without a flag of their own become flags here, as the operation's other parameters do.
  const taken = new Set([...OWN_JOB_FLAGS, ...positionals.filter((p) => !p.inBody).map((p) => p.field)]);
  const params = addParamOptions(
    command,
    details.params.filter((param) => param.in === 'query'),
    taken,
  );
  const headers = addParamOptions(
    command,
    details.params.filter((param) => param.in === 'header'),
    taken,
  );
  const bodyFields: Binding[] = [];
  if (details.body) {
    command.option('--body <json>', 'the JSON request body (flags and arguments override its fields)', parseJsonArgument);
    command.option('--body-file <path>', "read the JSON request body from a file ('-' for stdin)");
    const inArguments = new Set(positionals.filter((p) => p.inBody).map((p) => p.field));
    for (const [field, schema] of Object.entries(details.body.properties ?? {})) {
      if (inArguments.has(field)) continue;
      const resolved = resolveSchema(schema);
      bodyFields.push(...addFieldOption(command, field, kindOf(resolved), resolved));
    }
  }
  addDockerOptions(command, verb, details);
  if (details.spec.uploadMediaType)
    command.option('--input <file>', `the ${details.spec.uploadMediaType} to send ('-' or none: standard input)`);
  if (details.spec.downloadMediaType)
    command.option('--output <file>', `where the ${details.spec.downloadMediaType} goes ('-' or none: standard output)`);
  const plan: Plan = { details, targetArgument, positionals, params, headers, bodyFields };
  command.action((...args: unknown[]) => runNodeCommand(plan, args.at(-1) as Command));
}

function readBodyOption(opts: NodeCommandOptions): Record<string, unknown> {
  let body = opts.body;
  if (opts.bodyFile !== undefined) {
    if (body !== undefined) throw new UsageError('give --body or --body-file, not both');
    const text = readFileSync(opts.bodyFile === '-' ? 0 : opts.bodyFile, 'utf8');
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new UsageError(`--body-file ${opts.bodyFile}: not valid JSON (${(err as Error).message})`);
    }
  }
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new UsageError('the request body must be a JSON object');
  return body as Record<string, unknown>;
}

/**
 * The operands with the first one taken as the target: `exec web-01 app -- ls /`
 * from before `--target` was the only way to name it. The rest are dealt out
 * to the arguments again (a variadic last argument takes what is left).
 */
function targetFromArguments(plan: Plan, command: Command): { target: string; operands: Array<string | string[] | undefined> } {
  const [target, ...rest] = command.args;
  const operands = plan.positionals.map((positional, index) => (positional.variadic ? rest.slice(index) : rest[index]));
  if (target === undefined || plan.positionals.some((positional, index) => !positional.inBody && operands[index] === undefined)) {
    throw new UsageError("required option '--target <target>' not specified");
  }
  process.stderr.write(
    `fleet: the target as first argument is deprecated; use: fleet ${command.parent?.name()} ${command.name()} --target ${target} …\n`,
  );
  return { target, operands };
}

/** Path/query parameters and body, from arguments, flags and --body, checked for the body's required fields. */
function inputOf(plan: Plan, command: Command): { target: string; input: Record<string, unknown>; headers: Record<string, string> } {
  const opts = command.opts<NodeCommandOptions>();
  const { target, operands } =
    opts.target === undefined && plan.targetArgument
      ? targetFromArguments(plan, command)
      : { target: opts.target as string, operands: [...command.processedArgs] as Array<string | string[] | undefined> };
  const params: Record<string, unknown> = {};
  const fromArguments: Record<string, unknown> = {};
  plan.positionals.forEach((positional, index) => {
    const raw = operands[index];
    if (raw === undefined || (Array.isArray(raw) && raw.length === 0)) return;
    const value = Array.isArray(raw) ? raw : parseAs(positional.kind, positional.schema, raw);
    (positional.inBody ? fromArguments : params)[positional.field] = value;
  });
  Object.assign(params, givenValues(command, plan.params));
  if (opts.filter) params.filters = filtersFrom(opts.filter, params.filters as Record<string, string[]> | undefined);
  const input: Record<string, unknown> = { ...params };
  if (plan.details.body) {
    const body = { ...readBodyOption(opts), ...givenValues(command, plan.bodyFields), ...fromArguments };
    const missing = (plan.details.body.required ?? []).filter((field) => body[field] === undefined);
    if (missing.length > 0)
      throw new UsageError(`missing ${missing.join(', ')}: give ${missing.length > 1 ? 'them' : 'it'} as an argument, a flag or in --body`);
    input.body = body;
  }
  return { target, input, headers: givenValues(command, plan.headers) as Record<string, string> };
}

async function runNodeCommand(plan: Plan, command: Command): Promise<void> {
  refuseDockerOnlyFlags(command);
  const { target, input, headers } = inputOf(plan, command);
  await invokeOperation(command, plan.details.spec, target, input, headers);
}

/** Runs operation `spec` on `target` and prints its answer: rows, a stream, a file, or with `-q` the ids of a list. */
export async function invokeOperation(
  command: Command,
  spec: OperationDetails['spec'],
  target: string,
  input: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<void> {
  const opts = command.opts<NodeCommandOptions>();
  const json = globalsOf(command).json === true;
  const name = spec.name as NodeOperationName;
  const client = clientFor(command);
  const node = client.node(target);
  const timeout = opts.timeout;
  const waves = steersWaves(input) && input.dry_run !== true;
  const options: CallOptions = {
    timeout,
    headers,
    // An upload's job (and its deadline) starts once the file is stored, however long sending it takes;
    // a rollout's deadline is per wave, and the gateway answers once its last wave has ended.
    signal:
      spec.uploadMediaType || waves
        ? undefined
        : AbortSignal.timeout(((timeout ?? JOB_TIMEOUT_SECONDS.default) + REQUEST_MARGIN_SECONDS) * 1000),
  };
  // On a terminal, long transfers show their progress unless the caller wants JSON or no wait.
  if (spec.streamSwitch === 'progress' && input.progress === undefined && process.stdout.isTTY && !json && !opts.async)
    input.progress = true;
  if (answersWithStream(spec, input)) {
    await streamNodeCommand(node, name, input, options, json);
    return;
  }
  if (spec.downloadMediaType) {
    const file = await node.download(name, input, options);
    await saveFileAnswer(file.body, opts.output);
    return;
  }
  if (waves && !json && !opts.async && !spec.uploadMediaType) {
    await runWithWaves(client, node, name, input, options);
    return;
  }
  // `dry_run=true` answers with the plan instead of rows: a shape the SDK's node calls do not declare.
  const answer = (
    spec.uploadMediaType
      ? await node.upload(name, readInput(opts.input), input, { ...options, async: opts.async })
      : await node.invoke(name, input, { ...options, async: opts.async })
  ) as NodeResponse | JobAccepted | DryRunPlan;
  if (json) writeJson(answer);
  if ('dry_run' in answer) {
    if (!json) write(renderPlan(answer));
    return;
  }
  if (!('results' in answer)) {
    if (!json) write(`job ${answer.job_id} accepted (${answer.status}); follow it with: fleet job get ${answer.job_id} --wait`);
    return;
  }
  if (!json && opts.quiet) writeIds(answer.results, target);
  else if (!json) write(renderRows(answer.results));
  process.exitCode = exitCodeForJob(answer);
}

/** `-q`: the ids alone, prefixed by their host unless the target named one host (README "CLI"); failed hosts on stderr. */
function writeIds(results: readonly HostResult[], target: string): void {
  process.stdout.write(renderIds(results, !namesOneHost(target)));
  for (const row of results.filter((result) => result.status !== 'ok')) {
    process.stderr.write(`fleet: ${row.hostname}: ${row.status}: ${row.error ?? ''}\n`);
  }
}

/** A hostname, not `_any`, `_all` or a label selector. */
function namesOneHost(target: string): boolean {
  return !target.startsWith('_') && !target.includes(':');
}

/**
 * docker's flags for what the contract's own do not cover: `-f key=value` filters and `-q` on lists,
 * and a clear refusal for docker flags that mean nothing here (a terminal to attach).
 */
function addDockerOptions(command: Command, verb: string, details: OperationDetails): void {
  const isList = verb === 'list';
  if (details.params.some((param) => param.in === 'query' && param.name === 'filters')) {
    const flags = isList && !command.options.some((option) => option.short === '-f') ? '-f, --filter <key=value>' : '--filter <key=value>';
    const text = 'a filter as docker writes it (status=running, label=team=core), merged into --filters (repeat for more)';
    command.addOption(new Option(flags, text).argParser(collect));
  }
  if (isList) command.option('-q, --quiet', 'only the ids, one per line (with their host first unless --target names one host)');
  for (const [flags, why] of REFUSED_DOCKER_FLAGS[verb] ?? []) command.addOption(new Option(flags, `not here: ${why}`).hideHelp());
}

/** The file an upload sends, streamed as it is read: `--input`, else standard input (never a terminal). */
function readInput(input: string | undefined): AsyncIterable<Buffer> {
  if (input !== undefined && input !== '-') {
    if (!existsSync(input)) throw new UsageError(`--input ${input}: no such file`);
    return createReadStream(input);
  }
  if (process.stdin.isTTY)
    throw new UsageError('the file to send comes from --input <file> or standard input (e.g. < image.tar), not a terminal');
  return process.stdin;
}

/** An event of a stream other than progress: engine events, log lines (`web-01 | …`), samples. */
function printEvent(event: StreamEvent): void {
  const { hostname, ...data } = (event.data ?? {}) as Record<string, unknown>;
  if (event.event === 'docker') {
    const actor = (data.Actor ?? {}) as { ID?: string; Attributes?: Record<string, string> };
    const time = typeof data.time === 'number' ? new Date(data.time * 1000).toISOString() : '';
    write([hostname, time, data.Type, data.Action, actor.Attributes?.name ?? actor.ID?.slice(0, 12)].filter(Boolean).join('  '));
  } else if ((event.event === 'stdout' || event.event === 'stderr') && typeof data.text === 'string') {
    const lines = data.text
      .replace(/\n$/, '')
      .split('\n')
      .map((line) => `${hostname} | ${line}\n`);
    (event.event === 'stderr' ? process.stderr : process.stdout).write(lines.join(''));
  } else {
    write(`${hostname ?? ''}  ${event.event}  ${JSON.stringify(data)}`.trim());
  }
}

/** Server-sent events: progress per host (one line each on a TTY), other events as lines, then the rows. */
async function streamNodeCommand(
  node: NodeClient,
  name: NodeOperationName,
  input: Record<string, unknown>,
  options: CallOptions,
  json: boolean,
): Promise<void> {
  const progress = new HostProgress(process.stdout);
  for await (const event of node.invokeStream(name, input, options)) {
    if (json) write(JSON.stringify(event));
    if (event.event === 'end') {
      const results = (event.data?.results ?? []) as HostResult[];
      if (!json) {
        progress.finish(results);
        write(renderRows(results));
      }
      process.exitCode = exitCodeForRows(results);
      return;
    }
    if (!json && !progress.handle(event)) printEvent(event);
  }
  process.stderr.write('fleet: the stream ended before the job did\n');
  process.exitCode = EXIT.ERROR;
}

/**
 * Where an operation sits in the CLI: `docker.container.list` is `fleet container list`; an operation of
 * another namespace sits under it, `stack.host.apply` as `fleet stack host-apply`, beside `fleet stack deploy`.
 */
export function commandPath(name: string): { family: string; verb: string } {
  const [namespace, ...rest] = name.split('.');
  if (namespace === 'docker') return { family: rest[0], verb: rest.slice(1).join('-').replace(/_/g, '-') };
  return { family: namespace, verb: rest.join('-').replace(/_/g, '-') };
}

/**
 * A command per family at once (what `fleet --help` lists), the family's own commands when commander
 * dispatches to it: building every operation's arguments and flags from the contract is most of the CLI's
 * start-up, and one call runs one family.
 */
export function registerNodeCommands(program: Command): void {
  const families = new Map<Command, Array<(typeof OPERATIONS)[number]>>();
  const byName = new Map<string, Command>();
  for (const spec of OPERATIONS.filter((op) => op.nodeTargeted)) {
    const { family } = commandPath(spec.name);
    let resource = byName.get(family);
    if (!resource) {
      resource = program.command(family).description(FAMILY_DESCRIPTIONS[family] ?? `${family} operations on the targeted hosts`);
      byName.set(family, resource);
      families.set(resource, []);
    }
    families.get(resource)?.push(spec);
  }
  program.hook('preSubcommand', (_program, resource) => {
    const specs = families.get(resource);
    families.delete(resource);
    for (const spec of specs ?? []) defineCommand(resource, operationDetails(spec));
    if (specs && resource.name() === 'container') {
      defineCopyCommand(resource, parseJobTimeout);
      defineRunCommand(resource, invokeOperation);
    }
  });
}
