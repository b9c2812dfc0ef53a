import { isIP } from 'node:net';
import { type Command, InvalidArgumentError } from 'commander';
import type { PkiFiles, PkiOptions } from '@fleet/deploy';
import { commaList } from '../flags';

// Loaded when `pki` runs: @fleet/deploy brings the certificate library and the process tooling.
const deploy = () => require('@fleet/deploy') as typeof import('@fleet/deploy');

interface PkiCommandOptions {
  out: string;
  natsHost?: string[];
  routeHost?: string[];
  gatewayHost?: string[];
  client?: string[];
  validityDays?: number;
  caValidityDays?: number;
  force?: boolean;
}

/**
 * `fleet pki` and `fleet pki rotate`: the fleet's CA and the certificates of NATS (server, routes), the
 * gateway's HTTPS and optional clients (README "Security model" → "TLS").
 */
export function registerPkiCommands(program: Command): void {
  program
    .command('pki')
    .description(
      'make a CA (once) and issue TLS certificates for NATS, its cluster routes, the gateway and clients; `pki rotate` re-issues them',
    )
    .argument(
      '[rotate]',
      'rotate: re-issue the named certificates from the existing CA, then reload the servers (README "TLS")',
      parseRotate,
    )
    .requiredOption('--out <dir>', 'the PKI directory (ca.pem, ca-key.pem, <name>.pem, <name>-key.pem); created mode 700')
    .option(
      '--nats-host <hosts>',
      'NATS server certificate for these DNS names and IPs, comma-separated: nats-1.example,198.18.0.11',
      parseHosts,
    )
    .option('--route-host <hosts>', 'cluster route certificate (client and server auth) for these names and IPs', parseHosts)
    .option('--gateway-host <hosts>', 'gateway HTTPS certificate for these names and IPs', parseHosts)
    .option('--client <names>', 'a client certificate (client auth) per name, comma-separated', parseNames)
    .option('--validity-days <days>', 'lifetime of the certificates issued', parseDays)
    .option('--ca-validity-days <days>', 'lifetime of a new CA', parseDays)
    .option('--force', 'replace certificates that exist already (the CA is kept)')
    .action(async (rotate: boolean | undefined, opts: PkiCommandOptions, invoked: Command) => {
      const request: PkiOptions = {
        natsHosts: opts.natsHost,
        routeHosts: opts.routeHost,
        gatewayHosts: opts.gatewayHost,
        clients: opts.client,
        validityDays: opts.validityDays,
        caValidityDays: opts.caValidityDays,
        force: opts.force,
      };
      const files = rotate ? await deploy().rotatePki(opts.out, request) : await deploy().createPki(opts.out, request);
      print(files, invoked);
    });
}

function parseRotate(raw: string): boolean {
  if (raw !== 'rotate') throw new InvalidArgumentError("the only action is 'rotate'");
  return true;
}

function print(files: PkiFiles, invoked: Command): void {
  if (invoked.optsWithGlobals<{ json?: boolean }>().json === true) {
    process.stdout.write(`${JSON.stringify(files, null, 2)}\n`);
    return;
  }
  const lines = [`CA:        ${files.ca} (give it to every client; its key ${files.caKey} stays here)`];
  if (files.nats) lines.push(`NATS:      ${files.nats.cert} ${files.nats.key}`);
  if (files.route) lines.push(`routes:    ${files.route.cert} ${files.route.key}`);
  if (files.gateway) lines.push(`gateway:   FLEET_TLS_CERT_FILE=${files.gateway.cert} FLEET_TLS_KEY_FILE=${files.gateway.key}`);
  for (const [name, client] of Object.entries(files.clients)) lines.push(`client ${name}: ${client.cert} ${client.key}`);
  lines.push('running servers load new files on SIGHUP (nats-server) or by themselves (the gateway)');
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Labels of letters, digits and hyphens, dot-separated; a leading `*.` for a wildcard. */
const DNS_NAME = /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** A DNS name or an IP address, as a certificate's subject alternative name holds it. */
function parseHosts(raw: string): string[] {
  const hosts = commaList(raw);
  const bad = hosts.find((host) => isIP(host) === 0 && !DNS_NAME.test(host));
  if (bad !== undefined) throw new InvalidArgumentError(`'${bad}' is neither a DNS name nor an IP address`);
  if (hosts.length === 0) throw new InvalidArgumentError('name at least one host');
  return hosts;
}

function parseNames(raw: string): string[] {
  const names = commaList(raw);
  const bad = names.find((name) => !/^[A-Za-z0-9_-]{1,64}$/.test(name));
  if (bad !== undefined) throw new InvalidArgumentError(`'${bad}': 1 to 64 characters from [A-Za-z0-9_-]`);
  return names;
}

function parseDays(raw: string): number {
  const days = Number(raw);
  if (!Number.isInteger(days) || days < 1 || days > 36_500) throw new InvalidArgumentError('a whole number of days from 1 to 36500');
  return days;
}
