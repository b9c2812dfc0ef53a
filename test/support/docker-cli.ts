import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

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
    return new Promise((resolve, reject) => {
      const child = spawn('docker', args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`docker ${args.join(' ')} did not end within ${timeoutMs} ms; stdout ${stdout}; stderr ${stderr}`));
      }, timeoutMs);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      child.stdin.end();
    });
  }

  private config(key: string): string {
    const dir = join(this.scratch, `config-${++this.configs}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ HttpHeaders: { Authorization: `Bearer ${key}` } }));
    return dir;
  }
}
