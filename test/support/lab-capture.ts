import { readFileSync } from 'node:fs';
import { findExecutable, spawnService, stopByPid, waitFor } from '@fleet/deploy';

/** A secret the lab's traffic carried, by what it is (printed) and its bytes (never printed). */
export interface LabSecret {
  what: string;
  value: string;
}

/** tcpdump on the lab's bridge: every frame between the lab's hosts, and between them and the operator. */
export class BridgeCapture {
  private pid = 0;

  constructor(
    private readonly bridge: string,
    readonly file: string,
    private readonly logFile: string,
  ) {}

  /** Resolves once tcpdump listens, so nothing sent after this is missed. */
  async start(): Promise<void> {
    // -U writes each packet as it comes, -s 0 keeps whole frames, -n never resolves names (no traffic of its own).
    this.pid = spawnService({
      command: findExecutable('tcpdump'),
      args: ['-i', this.bridge, '-w', this.file, '-U', '-s', '0', '-n'],
      logFile: this.logFile,
      detached: false,
    });
    await waitFor('tcpdump to listen on the lab bridge', () => readFileSync(this.logFile, 'utf8').includes('listening on'), {
      timeoutMs: 15_000,
    });
  }

  /** Stops tcpdump (which flushes the file on SIGTERM). */
  async stop(): Promise<void> {
    if (this.pid > 0) await stopByPid(this.pid, { marker: this.file });
    this.pid = 0;
  }

  bytes(): Buffer {
    return readFileSync(this.file);
  }

  /** What of `secrets` appears anywhere in the capture's bytes: only their names, so a failure never prints one. */
  found(secrets: LabSecret[]): string[] {
    const capture = this.bytes();
    return secrets.filter((secret) => capture.includes(Buffer.from(secret.value))).map((secret) => secret.what);
  }
}
