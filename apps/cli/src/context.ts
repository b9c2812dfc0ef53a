import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { createFleetClient, type FleetClient, httpFetch, httpTransport, nodeHttp } from '@fleet/sdk';
import type { FleetState } from '@fleet/deploy';
import { UsageError } from './exit';

/** The options every command accepts (defined once, on the program). */
export interface GlobalOptions {
  url?: string;
  apiKey?: string;
  config?: string;
  caFile?: string;
  json?: boolean;
}

export interface Connection {
  url: string;
  apiKey?: string;
  /** The CA an https gateway's certificate must chain to (`fleet pki`'s ca.pem); else the system's CAs. */
  caFile?: string;
}

const DEFAULT_URL = 'http://127.0.0.1:8080';

export function defaultConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.XDG_CONFIG_HOME || path.join(homedir(), '.config'), 'fleet', 'config.json');
}

function readConfigFile(file: string, explicit: boolean): Partial<Connection> {
  if (!existsSync(file)) {
    if (explicit) throw new UsageError(`config file ${file} does not exist`);
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  const { url, apiKey, caFile } = (parsed ?? {}) as Record<string, unknown>;
  if ([url, apiKey, caFile].some((value) => value !== undefined && typeof value !== 'string')) {
    throw new UsageError(`config file ${file}: "url", "apiKey" and "caFile" must be strings`);
  }
  return { url: url as string | undefined, apiKey: apiKey as string | undefined, caFile: caFile as string | undefined };
}

/**
 * Where to connect and with which key (and CA): flags, then FLEET_URL / FLEET_API_KEY / FLEET_CA_FILE,
 * then the config file (`--config`, FLEET_CONFIG or ~/.config/fleet/config.json).
 * When none of them names a URL or a key, the local fleet of `fleet up` (if any).
 */
export function resolveConnection(globals: GlobalOptions, env: NodeJS.ProcessEnv = process.env): Connection {
  const explicitFile = globals.config ?? env.FLEET_CONFIG;
  const file = readConfigFile(explicitFile ?? defaultConfigFile(env), explicitFile !== undefined);
  const url = globals.url ?? (env.FLEET_URL || undefined) ?? file.url;
  const apiKey = globals.apiKey ?? (env.FLEET_API_KEY || undefined) ?? file.apiKey;
  const caFile = globals.caFile ?? (env.FLEET_CA_FILE || undefined) ?? file.caFile;
  if (url === undefined && apiKey === undefined) {
    const local = localFleet();
    if (local) return { url: local.url, apiKey: local.adminKey, caFile: caFile ?? local.tls?.caFile };
  }
  return { url: url ?? DEFAULT_URL, apiKey, caFile };
}

/**
 * The local fleet of `fleet up`, if any. @fleet/deploy is loaded only here, when no URL or key was given:
 * it brings the process tooling and the API-key package, which a call with a URL and a key does not need.
 */
function localFleet(): FleetState | undefined {
  const { loadFleetState, LOCAL_FLEET_DIR } = require('@fleet/deploy') as typeof import('@fleet/deploy');
  return loadFleetState(LOCAL_FLEET_DIR);
}

export function globalsOf(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

export function clientFor(command: Command): FleetClient {
  const connection = resolveConnection(globalsOf(command));
  try {
    new URL(connection.url);
  } catch {
    throw new UsageError(`not a URL: '${connection.url}'`);
  }
  // Node's own http, not the global fetch: a command starts 25–50 ms and exits ~250 ms sooner (node-http.ts in the SDK says why).
  const http = connection.caFile ? nodeHttp({ ca: readCaFile(connection.caFile) }) : { fetch: httpFetch, transport: httpTransport };
  return createFleetClient({ url: connection.url, apiKey: connection.apiKey, ...http });
}

function readCaFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`CA file ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
