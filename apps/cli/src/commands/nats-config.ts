import { existsSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import type { GeneratedNatsConfig, NatsConfigOptions } from '@fleet/deploy';
import { commaList } from '../flags';

// Loaded when `nats-config` runs, not at every start of the CLI: @fleet/deploy brings the process tooling and
// the API-key package, the settings ajv and yaml, and a pipeline pays every module loaded at start on each call.
const deploy = () => require('@fleet/deploy') as typeof import('@fleet/deploy');
const settings = () => require('@fleet/runtime/settings') as typeof import('@fleet/runtime/settings');

/**
 * `fleet nats-config`: a nats-server config for a fleet — JetStream with its
 * store, an optional cluster block, operator mode with a full account resolver —
 * plus the operator's keys and the gateway's logins (README "What an agent's
 * NATS login can and cannot do"). Agents make their own identity when they join.
 */
export function registerNatsConfigCommand(program: Command): void {
  const natsConfig = program
    .command('nats-config')
    .description(
      "write a nats-server config (JetStream, optional cluster, operator mode) and the operator's keys and the gateway's logins",
    );
  // Its options and action come from @fleet/deploy: defined when the command runs (or its help is asked for).
  program.hook('preSubcommand', (_program, dispatched) => {
    if (dispatched === natsConfig && natsConfig.options.length === 0) defineNatsConfig(natsConfig);
  });
}

function defineNatsConfig(command: Command): void {
  const { NATS_CONFIG_FILE, SERVER_NAME_VARIABLE, writeNatsConfig } = deploy();
  command
    .requiredOption('--out <dir>', `where to write ${NATS_CONFIG_FILE} and operator/ (keys and the gateway's creds)`)
    .option(
      '--server-name <name>',
      `this server's name (default: fleet-nats; with --cluster-routes: $${SERVER_NAME_VARIABLE} at start-up)`,
      parseName,
    )
    .option('--listen <host:port>', 'client address', parseHostPort, '0.0.0.0:4222')
    .option('--http <host:port>', 'monitoring address (/healthz, /varz)', parseHostPort, '127.0.0.1:8222')
    .option('--store-dir <dir>', 'JetStream file store (the account resolver keeps its JWTs in <dir>/resolver)', '/var/lib/nats')
    .option(
      '--cluster-routes <urls>',
      'every cluster node, comma-separated: nats://10.0.0.5:6222,nats://10.0.0.6:6222 (adds a cluster block)',
      parseRoutes,
    )
    .option('--cluster-name <name>', 'cluster name', parseName, 'fleet')
    .option('--cluster-listen <host:port>', 'route address of this node', parseHostPort, '0.0.0.0:6222')
    .option('--pki <dir>', 'TLS from `fleet pki --out <dir>`: nats-server.pem for clients, nats-route.pem (mutual TLS) for routes, ca.pem')
    .option('--force', `replace an existing ${NATS_CONFIG_FILE} (the operator is kept)`)
    .action((opts: NatsConfigOptions & { pki?: string }, invoked: Command) => {
      const generated = writeNatsConfig({ ...opts, ...(opts.pki ? tlsOf(opts.pki, (opts.clusterRoutes?.length ?? 0) > 0) : {}) });
      const json = invoked.optsWithGlobals<{ json?: boolean }>().json === true;
      process.stdout.write(json ? `${JSON.stringify(generated, null, 2)}\n` : summary(generated, opts, opts.pki !== undefined));
    });
}

/** The files `fleet pki` wrote, which must exist: a config naming missing files would only fail when nats-server starts. */
function tlsOf(dir: string, clustered: boolean): Pick<NatsConfigOptions, 'tls' | 'routeTls'> {
  const files = deploy().pkiFilesOf(dir);
  const server = files.leaf('nats-server');
  const route = files.leaf('nats-route');
  const needed = [files.ca, server.cert, server.key, ...(clustered ? [route.cert, route.key] : [])];
  const missing = needed.filter((file) => !existsSync(file));
  if (missing.length > 0) {
    throw new Error(
      `--pki ${dir} lacks ${missing.join(', ')}: make them with \`fleet pki --out ${dir} --nats-host ` +
        `<names>${clustered ? ' --route-host <names>' : ''}\``,
    );
  }
  return {
    tls: { certFile: server.cert, keyFile: server.key, caFile: files.ca },
    routeTls: clustered ? { certFile: route.cert, keyFile: route.key, caFile: files.ca } : undefined,
  };
}

function summary(generated: GeneratedNatsConfig, opts: NatsConfigOptions, tls: boolean): string {
  const env = Object.entries(deploy().gatewayIdentityEnv(generated.operator)).map(([name, value]) => `  ${name}=${value}`);
  const lines = [
    `wrote ${generated.configFile} (check it: nats-server -t -c ${generated.configFile})`,
    "the gateway's logins and enrolment keys (copy them to its host, readable by it only):",
    ...env,
    'each agent makes its own identity: fleet agent join-token <hostname>, then start it with FLEET_AGENT_JOIN_TOKEN',
  ];
  lines.push(
    tls
      ? 'TLS: clients must speak TLS and verify the server with ca.pem (FLEET_NATS_CA_FILE); routes authenticate each other with their ' +
          'certificates'
      : 'no --pki: clients and routes speak plain TCP, jobs and their output cross the network readable (README "TLS")',
  );
  if (opts.clusterRoutes?.length && !opts.serverName) {
    const variable = deploy().SERVER_NAME_VARIABLE;
    lines.push(`cluster: the same file on every node; start each with its own ${variable} (e.g. ${variable}=nats-1)`);
  }
  return `${lines.join('\n')}\n`;
}

function parseName(raw: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(raw)) throw new InvalidArgumentError('1 to 64 characters from [A-Za-z0-9_-]');
  return raw;
}

function parseHostPort(raw: string): string {
  if (!settings().parseListenAddress(raw)) throw new InvalidArgumentError('host:port, e.g. 0.0.0.0:4222');
  return raw;
}

function parseRoutes(raw: string): string[] {
  const routes = commaList(raw);
  for (const route of routes) {
    let url: URL | undefined;
    try {
      url = new URL(route);
    } catch {
      url = undefined;
    }
    if (!url || !['nats:', 'nats-route:', 'tls:'].includes(url.protocol) || !url.hostname || !url.port || url.username) {
      throw new InvalidArgumentError(
        `'${route}' is not a route URL like nats://10.0.0.5:6222 (host and port, no credentials: they are generated)`,
      );
    }
  }
  if (routes.length === 0) throw new InvalidArgumentError('name at least one route');
  return routes;
}
