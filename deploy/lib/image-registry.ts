import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { findExecutable } from './paths';
import { abortIfDead, spawnService, stopByPid, waitForServiceOrStop } from './process';

export interface RegistryCredentials {
  user: string;
  password: string;
}

export interface RegistryOptions {
  /** Holds the generated config, the htpasswd file and the image storage. */
  dir: string;
  port: number;
  /** When set, every request needs these basic-auth credentials. */
  htpasswd?: RegistryCredentials;
  logFile?: string;
  detached?: boolean;
  readyTimeoutMs?: number;
  /** Run inside this network namespace, listening on `host` there; default 127.0.0.1 of the caller's own. */
  placement?: { netns: string; host: string };
  /** Serve HTTPS with this certificate, of this CA (what the readiness check verifies it against). */
  tls?: { certFile: string; keyFile: string; caFile: string };
}

export interface Registry {
  pid: number;
  port: number;
  /** Host part of image names pushed here, e.g. `127.0.0.1:5000`; engines trust loopback registries over plain HTTP. */
  address: string;
  url: string;
  configFile: string;
  logFile: string;
}

/** Starts Debian's docker-registry (distribution v2) on loopback with filesystem storage. */
export async function startRegistry(opts: RegistryOptions): Promise<Registry> {
  mkdirSync(opts.dir, { recursive: true });
  const configFile = join(opts.dir, 'config.yml');
  writeFileSync(configFile, registryConfig(opts));
  const logFile = opts.logFile ?? join(opts.dir, 'registry.log');
  const pid = spawnService({
    command: findExecutable('docker-registry'),
    args: ['serve', configFile],
    logFile,
    detached: opts.detached ?? false,
    netns: opts.placement?.netns,
  });
  const address = `${listenHostOf(opts)}:${opts.port}`;
  const registry = { pid, port: opts.port, address, url: `${opts.tls ? 'https' : 'http'}://${address}`, configFile, logFile };
  const ca = opts.tls ? readFileSync(opts.tls.caFile) : undefined;
  await waitForServiceOrStop(
    `docker-registry on ${address}`,
    () => answersV2(registry.url, ca),
    { timeoutMs: opts.readyTimeoutMs ?? 20_000, abortIf: abortIfDead('docker-registry', pid, logFile) },
    () => stopRegistry(registry),
  );
  return registry;
}

export function stopRegistry(registry: { pid: number; configFile: string }): Promise<void> {
  return stopByPid(registry.pid, { marker: registry.configFile });
}

function listenHostOf(opts: RegistryOptions): string {
  return opts.placement?.host ?? '127.0.0.1';
}

/** YAML is a superset of JSON, so the config is written as JSON: no YAML quoting rules to get wrong. */
function registryConfig(opts: RegistryOptions): string {
  const config: Record<string, unknown> = {
    version: '0.1',
    log: { level: 'info' },
    storage: { filesystem: { rootdirectory: join(opts.dir, 'data') }, delete: { enabled: true } },
    http: {
      addr: `${listenHostOf(opts)}:${opts.port}`,
      ...(opts.tls ? { tls: { certificate: opts.tls.certFile, key: opts.tls.keyFile } } : {}),
    },
  };
  if (opts.htpasswd) config.auth = { htpasswd: { realm: 'fleet-registry', path: writeHtpasswd(opts.dir, opts.htpasswd) } };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** docker-registry accepts only bcrypt entries, hence `htpasswd -B`. */
function writeHtpasswd(dir: string, credentials: RegistryCredentials): string {
  const file = join(dir, 'htpasswd');
  const entry = execFileSync(findExecutable('htpasswd'), ['-Bbn', credentials.user, credentials.password], { encoding: 'utf8' });
  writeFileSync(file, entry, { mode: 0o600 });
  return file;
}

/** Up means /v2/ answers: 200 when open, 401 when it wants credentials. */
async function answersV2(url: string, ca: Buffer | undefined): Promise<boolean> {
  const status = ca ? await httpsStatus(`${url}/v2/`, ca) : (await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(2_000) })).status;
  return status === 200 || status === 401;
}

/** The global fetch takes no CA of its own: an HTTPS registry of the fleet's CA is asked through node:https. */
function httpsStatus(url: string, ca: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsGet(url, { ca, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`${url} did not answer within 2 s`)));
    req.on('error', reject);
  });
}
