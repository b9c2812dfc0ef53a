import { JetStreamApiError, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { AUDIT_STREAM } from '@fleet/contracts/protocol';

/** How often the stream's fill is read (one STREAM.INFO per replica). */
const CHECK_INTERVAL_MS = 5_000;
/**
 * Room for one more entry: an entry's strings are capped (http/request-log.ts), so one entry stays well
 * under this. With less room left, the trail counts as full: changes are refused before the broker
 * would refuse their entry.
 */
const ENTRY_ROOM_BYTES = 8 * 1024;

export const AUDIT_FULL_MESSAGE =
  'audit full: the stream FLEET_AUDIT refused an entry (it keeps its old entries and takes no new ones); ' +
  'raise FLEET_AUDIT_MAX_BYTES / FLEET_AUDIT_MAX_MESSAGES, or archive the stream and purge it; ' +
  'until then calls that change something are refused with 503 and reads are answered without an entry';

/** Whether the broker refused a publish because the stream is at its limits (discard new). */
export function isStreamFull(err: unknown): boolean {
  return err instanceof JetStreamApiError && /maximum (messages|bytes) exceeded/i.test(err.message);
}

/**
 * Whether the audit stream has room, as the broker last said: full from the first entry it refused for
 * lack of room, or when its fill leaves no room for one; room again once its info shows some (entries
 * aged out, limits raised, the stream purged). Metrics: `fleet_audit_refused_total{reason}`,
 * `fleet_audit_fill_ratio`.
 */
export class AuditCapacity {
  private isFull = false;
  private timer?: NodeJS.Timeout;
  /** One read of the stream at a time: while the broker is away, reads would pile up behind their timeouts. */
  private checking?: Promise<void>;
  private readonly refusedTotal: Counter<'reason'>;
  private readonly fillRatio: Gauge;

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly log: Logger,
    collectors: Registry,
  ) {
    const registers = [collectors];
    this.refusedTotal = new Counter({
      name: 'fleet_audit_refused_total',
      help: 'Audit entries the broker did not take: full (the stream is at FLEET_AUDIT_MAX_BYTES / _MESSAGES) or error',
      labelNames: ['reason'],
      registers,
    });
    this.fillRatio = new Gauge({
      name: 'fleet_audit_fill_ratio',
      help: "The audit stream's fill: the larger of bytes / FLEET_AUDIT_MAX_BYTES and entries / FLEET_AUDIT_MAX_MESSAGES",
      registers,
    });
  }

  get full(): boolean {
    return this.isFull;
  }

  start(): void {
    const checkOnce = () => {
      this.checking ??= this.check().finally(() => (this.checking = undefined));
    };
    checkOnce();
    this.timer = setInterval(checkOnce, CHECK_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** An entry the broker did not take; `full` when for lack of room. */
  refused(full: boolean): void {
    this.refusedTotal.inc({ reason: full ? 'full' : 'error' });
    if (full) this.isFull = true;
  }

  async check(): Promise<void> {
    let info: StreamInfo;
    try {
      info = await this.jsm.streams.info(AUDIT_STREAM);
    } catch (err) {
      this.log.warn({ err }, 'audit stream info unavailable');
      return;
    }
    const { config, state } = info;
    this.fillRatio.set(Math.max(ratio(state.bytes, config.max_bytes), ratio(state.messages, config.max_msgs)));
    const hasRoom =
      (config.max_msgs <= 0 || state.messages < config.max_msgs) &&
      (config.max_bytes <= 0 || state.bytes + ENTRY_ROOM_BYTES <= config.max_bytes);
    if (hasRoom && this.isFull)
      this.log.info({ messages: state.messages, bytes: state.bytes }, 'audit has room again: calls that change something are taken again');
    if (!hasRoom && !this.isFull)
      this.log.error(
        { messages: state.messages, bytes: state.bytes, max_msgs: config.max_msgs, max_bytes: config.max_bytes },
        AUDIT_FULL_MESSAGE,
      );
    this.isFull = !hasRoom;
  }
}

function ratio(used: number, limit: number): number {
  return limit > 0 ? used / limit : 0;
}
