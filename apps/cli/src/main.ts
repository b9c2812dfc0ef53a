import { Command, CommanderError, Option } from 'commander';
import { FleetApiError } from '@fleet/sdk';
import { registerFleetApiCommands } from './commands/fleet-api';
import { registerLocalFleetCommands } from './commands/local-fleet';
import { registerNatsConfigCommand } from './commands/nats-config';
import { registerNodeCommands } from './commands/node';
import { registerPkiCommands } from './commands/pki';
import { runOptions } from './commands/run';
import { registerStackCommands } from './commands/stack';
import { registerTokenCommands } from './commands/token';
import { dockerArgv } from './docker';
import { EXIT, exitCodeForError, UsageError } from './exit';
import { version } from '../package.json';

const EXIT_CODES_HELP = `
Targets: a hostname (web-01), _any, _all, or label selectors key:value[,key:value...] (comma = AND).
Connection: --url/--api-key/--ca-file, else FLEET_URL/FLEET_API_KEY/FLEET_CA_FILE, else the config file
(--config, FLEET_CONFIG or ~/.config/fleet/config.json: {"url": "...", "apiKey": "...", "caFile": "..."}),
else the local fleet started by \`fleet up\`.

docker's names: fleet ps | run | exec | logs | start | stop | restart | rm = fleet container ls | run | …;
fleet images | rmi | pull = fleet image ls | rm | pull. fleet run -d [flags] IMAGE [COMMAND...] --target <t>.

Exit codes:
  ${EXIT.OK}  every host row is ok
  ${EXIT.HOST_FAILED}  some host rows are not ok (failed, timed out, skipped), or a single-host target failed
  ${EXIT.USAGE}  usage error or invalid input (400)
  ${EXIT.AUTH}  authentication or permission refused (401, 403)
  ${EXIT.NOT_FOUND}  no agent matches the target, or no such job or agent (404)
  ${EXIT.ERROR}  anything else: gateway unreachable, 5xx, rate limited
  ${EXIT.NOT_FINISHED}  the job is still pending or running (job get)
  ${EXIT.ROLLOUT_STOPPED}  a rollout stopped (failures over --max-failures); the hosts not reached are skipped
  ${EXIT.ROLLOUT_ABORTED}  a rollout was aborted (fleet job abort); the hosts not reached are skipped
`;

/** Settings given here before the commands are added are inherited by every subcommand. */
export function buildProgram(): Command {
  const program = new Command('fleet')
    .description('Fleet orchestrator for Docker hosts: every operation runs on the hosts a --target names, one row per host')
    .option('--url <url>', 'gateway URL (env FLEET_URL)')
    .option('--api-key <key>', 'API key (env FLEET_API_KEY)')
    .option(
      '--ca-file <file>',
      "CA certificate (PEM) the gateway's HTTPS certificate must chain to (env FLEET_CA_FILE; `fleet up`: its own)",
    )
    .option('--config <file>', 'config file with {"url", "apiKey"} (env FLEET_CONFIG; default ~/.config/fleet/config.json)')
    .version(version, '-V, --version', "print the CLI's version")
    .option('--json', 'print the API responses as JSON instead of tables')
    .addOption(new Option('--format <format>', 'json (as --json: responses unchanged) or table (the default)').choices(['json', 'table']))
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: true })
    .exitOverride()
    .addHelpText('after', EXIT_CODES_HELP)
    .hook('preAction', outputFormat);
  registerLocalFleetCommands(program);
  registerNatsConfigCommand(program);
  registerPkiCommands(program);
  registerTokenCommands(program);
  registerNodeCommands(program);
  registerFleetApiCommands(program);
  registerStackCommands(program);
  return program;
}

/** `--format json` is `--json`; naming both ways differently is a usage error. */
function outputFormat(program: Command): void {
  const { json, format } = program.opts<{ json?: boolean; format?: string }>();
  if (json && format === 'table') throw new UsageError('--json and --format table ask for different outputs');
  if (format === 'json') program.setOptionValue('json', true);
}

function report(err: unknown, json: boolean): void {
  // commander has printed its own message (or the help) already.
  if (err instanceof CommanderError) return;
  if (err instanceof FleetApiError) {
    if (json) process.stdout.write(`${JSON.stringify(err.body, null, 2)}\n`);
    process.stderr.write(`fleet: ${err.reason ? `error (${err.reason}): ` : ''}${err.status} ${err.message}\n`);
    return;
  }
  process.stderr.write(`fleet: ${err instanceof Error ? err.message : String(err)}\n`);
}

async function main(): Promise<void> {
  // `fleet … | head`: a closed pipe ends the command quietly.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });
  const program = buildProgram();
  try {
    await program.parseAsync(dockerArgv(process.argv.slice(2), program.options, runOptions()), { from: 'user' });
  } catch (err) {
    report(err, program.opts().json === true);
    process.exitCode = exitCodeForError(err);
  }
  // Exit as soon as the command is done: fetch's idle keep-alive connection holds the event loop
  // open for another ~200 ms after the last answer, which a pipeline would pay on every call.
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(process.exitCode ?? 0);
}

/** Resolves once everything written to the stream so far has been handed to the OS. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
}

void main();
