import { type Command, Option } from 'commander';
import { JOB_TIMEOUT_SECONDS, type OperationSpec } from '@fleet/contracts/operations';
import { detailsOf } from '../contract';
import { REFUSED_DOCKER_FLAGS, refuseDockerOnlyFlags, type RunOptions, runRequest } from '../docker';
import { UsageError } from '../exit';
import { collect, parseJobTimeout } from '../flags';
import { jobControlOptions, jobControlsGiven } from '../job-control';

/** docker run's flags this command takes, each the create field it fills, and create's job controls (README "CLI"). */
export function runOptions(): Option[] {
  return [...dockerRunOptions(), ...jobControlOptions(detailsOf('docker.container.create')).options];
}

function dockerRunOptions(): Option[] {
  const deadline = JOB_TIMEOUT_SECONDS;
  const repeated = (flags: string, text: string) => new Option(flags, `${text} (repeat for more)`).argParser(collect);
  return [
    new Option(
      '--target <target>',
      'where it runs: a hostname, _any, _all, or key:value[,key:value...] label selectors',
    ).makeOptionMandatory(),
    new Option(
      '--timeout <seconds>',
      `the job's deadline (${deadline.minimum}-${deadline.maximum}, default ${deadline.default})`,
    ).argParser(parseJobTimeout),
    new Option('--async', 'answer at once with the job id; follow it with `fleet job get <id> --wait`'),
    new Option('-d, --detach', 'required: the container runs in the background on every host, as docker run -d'),
    new Option('--name <name>', "the container's name"),
    repeated('-e, --env <KEY=VALUE>', 'an environment variable (KEY alone: its value here)'),
    repeated('-p, --publish <port>', 'publish a port: [ip:][hostPort:]containerPort[/tcp|udp|sctp]'),
    repeated('-v, --volume <bind>', 'source:/path[:ro] (an absolute host path or a volume name), or /path alone for an anonymous volume'),
    repeated('-l, --label <key=value>', 'a label'),
    new Option('--restart <policy>', 'no, always, unless-stopped or on-failure[:max-retries]'),
    new Option('-w, --workdir <dir>', 'the working directory inside the container'),
    new Option('-u, --user <user>', 'the user to run as (name, uid or uid:gid)'),
    new Option('--hostname <name>', "the container's hostname"),
    new Option('--network <network>', 'the network to join (a name, none or host)'),
    new Option('--entrypoint <command>', "override the image's entrypoint"),
    new Option('-m, --memory <size>', 'memory limit (512m, 1g)'),
    new Option('--cpus <n>', 'CPU limit (0.5 = half a CPU)'),
    ...(REFUSED_DOCKER_FLAGS.run ?? []).map(([flags, why]) => new Option(flags, `not here: ${why}`).hideHelp()),
  ];
}

/** How a node command runs an operation and prints its answer (commands/node.ts). */
type InvokeOperation = (
  command: Command,
  spec: OperationSpec,
  target: string,
  input: Record<string, unknown>,
  headers: Record<string, string>,
) => Promise<void>;

interface RunCommandOptions extends RunOptions {
  target: string;
}

/**
 * `fleet container run -d [options] IMAGE [COMMAND] [ARG...] --target <t>`: docker's run as the contract's
 * docker.container.create with `auto_start`, so one job creates and starts the container on each host and
 * answers one row per host. Its body goes through the gateway's create rules (host paths need docker:host).
 */
export function defineRunCommand(container: Command, invoke: InvokeOperation): void {
  const create = detailsOf('docker.container.create');
  const { bindings } = jobControlOptions(create);
  const command = container
    .command('run')
    .description('Create and start a container on each targeted host, as docker run -d (one docker.container.create job, auto_start)')
    .argument('<image>', 'the image, as on the engines')
    .argument('[command...]', "the command and its arguments (the image's default when none)");
  for (const option of runOptions()) command.addOption(option);
  command.action(async (image: string, args: string[], opts: RunCommandOptions, invoked: Command) => {
    refuseDockerOnlyFlags(invoked);
    if (!opts.detach) {
      throw new UsageError(
        'add -d: fleet starts the container on every host and does not attach to it; read its output with fleet container logs',
      );
    }
    const controls = jobControlsGiven(invoked, bindings);
    await invoke(invoked, create.spec, opts.target, { ...controls.query, body: runRequest(opts, image, args) }, controls.headers);
  });
}
