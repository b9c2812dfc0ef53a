import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ProcessResult, runProcess } from './proc';

export type CliResult = ProcessResult;

/**
 * The real `docker` binary aimed at one host through the gateway's Engine API proxy
 * (`DOCKER_HOST=tcp://<gateway>/node/<host>/docker`, the API key in a DOCKER_CONFIG's HttpHeaders:
 * README "The docker CLI through the gateway"), bounded by a timeout.
 */
export class DockerCli {
  private configs = 0;

  constructor(
    private readonly gatewayUrl: string,
    /** A scratch directory for the CLI's configs and HOME. */
    private readonly scratch: string,
  ) {}

  run(host: string, key: string, args: string[], timeoutMs = 60_000): Promise<CliResult> {
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: this.scratch,
      DOCKER_HOST: `tcp://${new URL(this.gatewayUrl).host}/node/${host}/docker`,
      DOCKER_CONFIG: this.config(key),
    };
    return runProcess('docker', args, { env, stdin: '', timeoutMs, onTimeout: 'reject' });
  }

  private config(key: string): string {
    const dir = join(this.scratch, `config-${++this.configs}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ HttpHeaders: { Authorization: `Bearer ${key}` } }));
    return dir;
  }
}
