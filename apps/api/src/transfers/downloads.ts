import { headers, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { isOwnReplySubject } from '@fleet/contracts/nats-permissions';
import { downloadSubject, parseDownloadSubject, TRANSFER_HEADERS, type DownloadPart } from '@fleet/contracts/protocol';

/** Where a download's bytes go: `write` resolves false once the client is gone (the agent is told to stop). */
export type DownloadSink = (chunk: Uint8Array) => Promise<boolean>;

/** What the sending host announced before its first byte: its hostname and the file's headers. */
export interface DownloadStart {
  hostname: string;
  headers: Record<string, string>;
}

/**
 * One job's file, sent by its host chunk by chunk on `fleet.download.<job_id>.<hostname>` as NATS
 * requests (README "File transfers"). Each chunk is answered only once it is written to the client
 * (or the client is gone), so a slow client slows the agent and its engine read instead of filling
 * the gateway's memory. Only a host of the job is heard, and only one of them: the first to start.
 */
export class Download {
  private hosts?: ReadonlySet<string>;
  private sender?: string;
  private nextSeq = 0;
  private sink?: DownloadSink;
  private sinkAttached!: () => void;
  private readonly sinkReady = new Promise<void>((resolve) => (this.sinkAttached = resolve));
  private announce!: (start: DownloadStart) => void;
  private finish!: () => void;
  /** Resolves when the host announces the file, before its first byte. */
  readonly started = new Promise<DownloadStart>((resolve) => (this.announce = resolve));
  /** Resolves when the host has sent the file's last byte. */
  readonly finished = new Promise<void>((resolve) => (this.finish = resolve));

  constructor(private readonly sub: Subscription) {
    void this.consume();
  }

  /** The job's hosts: only they are heard (set before the job is sent to them). */
  expect(hosts: readonly string[]): void {
    this.hosts = new Set(hosts);
  }

  /** From now on the bytes go to `sink`. */
  pipeTo(sink: DownloadSink): void {
    this.sink = sink;
    this.sinkAttached();
  }

  close(): void {
    this.sub.unsubscribe();
  }

  /** One message at a time, in order: the reply to a chunk is the agent's leave to send the next. */
  private async consume(): Promise<void> {
    for await (const msg of this.sub) {
      const from = parseDownloadSubject(msg.subject);
      // Not a host of this job, or a reply it does not receive itself: it learns nothing, not even that the job exists.
      if (!from || !this.hosts?.has(from.hostname) || !isOwnReplySubject(msg.reply, from.hostname)) continue;
      if (this.sender !== undefined && this.sender !== from.hostname) {
        refuse(msg, "another host is already sending this job's file");
        continue;
      }
      // Parts come one at a time, each after the reply to the one before: any other number is not this file's.
      if (Number(msg.headers?.get(TRANSFER_HEADERS.seq)) !== this.nextSeq) {
        refuse(msg, `expected part ${this.nextSeq}, got ${msg.headers?.get(TRANSFER_HEADERS.seq) ?? 'none'}`);
        continue;
      }
      this.nextSeq++;
      if (await this.take(from.hostname, msg.headers?.get(TRANSFER_HEADERS.part) as DownloadPart, msg)) break;
    }
  }

  /** Handles one part; true when the file is complete. */
  private async take(hostname: string, part: DownloadPart, msg: Msg): Promise<boolean> {
    if (part === 'start') {
      this.sender = hostname;
      this.announce({ hostname, headers: parseHeaders(msg) });
      accept(msg);
      return false;
    }
    if (part === 'end') {
      accept(msg);
      this.finish();
      this.close();
      return true;
    }
    await this.sinkReady;
    const written = await (this.sink as DownloadSink)(msg.data);
    if (written) accept(msg);
    else refuse(msg, 'the client went away');
    return false;
  }
}

/** Listens for one job's file; call it before the job is sent, so no part can arrive unheard. */
export function openDownload(nc: Pick<NatsConnection, 'subscribe'>, jobId: string): Download {
  return new Download(nc.subscribe(downloadSubject(jobId, '*')));
}

function parseHeaders(msg: Msg): Record<string, string> {
  try {
    const parsed = msg.json<Record<string, unknown>>();
    return Object.fromEntries(Object.entries(parsed).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
  } catch {
    return {};
  }
}

function accept(msg: Msg): void {
  msg.respond(new Uint8Array(0));
}

function refuse(msg: Msg, reason: string): void {
  const reply = headers();
  reply.set(TRANSFER_HEADERS.error, reason);
  msg.respond(new Uint8Array(0), { headers: reply });
}
