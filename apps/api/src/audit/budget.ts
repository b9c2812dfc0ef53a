import type { AuditEntry } from './log';

/** Entries of calls made without a valid key share one budget (their flood is bounded per address before this, README "Limits"). */
const NO_KEY = '(no key)';

interface Folded {
  caller: string | null;
  role: string | null;
  key_id: string | null;
  count: number;
  firstTime: string;
  lastTime: string;
  durationMs: number;
  /** The target every folded call had, null once two differed. */
  target: string | null;
  methods: Map<string, number>;
  operations: Map<string, number>;
  statuses: Map<number, number>;
}

/**
 * How much of the trail one key may take (README "Security model", the audit): per window, a key's
 * first `fullPerKey` calls that changed nothing are written in full; the rest of its calls that changed
 * nothing are counted into one summary entry per key, written when the window closes. A call that changed
 * something is never counted here: it is always written in full. So a flood of reads costs the trail one
 * entry per key per window past its budget, and cannot push out what came before it.
 */
export class AuditBudget {
  private written = new Map<string, number>();
  private folded = new Map<string, Folded>();

  /** `fullPerKey` 0: every call is written in full. */
  constructor(private readonly fullPerKey: number) {}

  /** Whether this call (one that changed nothing) is written in full; if not, it is counted into its key's summary. */
  admit(entry: AuditEntry): boolean {
    if (this.fullPerKey === 0) return true;
    const key = entry.key_id ?? NO_KEY;
    const written = this.written.get(key) ?? 0;
    if (written < this.fullPerKey) {
      this.written.set(key, written + 1);
      return true;
    }
    this.fold(key, entry);
    return false;
  }

  /** Ends the window: one summary entry per key that went past its budget, and every key's budget afresh. */
  closeWindow(now = new Date()): AuditEntry[] {
    const summaries = [...this.folded.values()].map((folded) => summaryEntry(folded, now));
    this.written = new Map();
    this.folded = new Map();
    return summaries;
  }

  private fold(key: string, entry: AuditEntry): void {
    let folded = this.folded.get(key);
    if (!folded) {
      folded = {
        caller: entry.caller,
        role: entry.role,
        key_id: entry.key_id,
        count: 0,
        firstTime: entry.time,
        lastTime: entry.time,
        durationMs: 0,
        target: entry.target,
        methods: new Map(),
        operations: new Map(),
        statuses: new Map(),
      };
      this.folded.set(key, folded);
    }
    folded.count++;
    folded.lastTime = entry.time;
    folded.durationMs += entry.duration_ms;
    if (folded.target !== entry.target) folded.target = null;
    // Every label counted comes from a fixed set (methods the router took, the contract's operations, statuses): no request string grows a
    // summary.
    increment(folded.methods, entry.method);
    increment(folded.operations, entry.operation ?? 'unmatched');
    increment(folded.statuses, entry.status);
  }
}

function increment<K>(counts: Map<K, number>, key: K): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

function summaryEntry(folded: Folded, now: Date): AuditEntry {
  const mostFrequentStatus = [...folded.statuses].reduce((best, next) => (next[1] > best[1] ? next : best))[0];
  return {
    kind: 'summary',
    time: now.toISOString(),
    caller: folded.caller,
    role: folded.role,
    key_id: folded.key_id,
    method: [...folded.methods.keys()].sort().join(','),
    path: `(summary of ${folded.count} calls)`,
    target: folded.target,
    job_id: null,
    status: mostFrequentStatus,
    duration_ms: Math.round(folded.durationMs * 100) / 100,
    summary: {
      count: folded.count,
      first_time: folded.firstTime,
      last_time: folded.lastTime,
      methods: Object.fromEntries(folded.methods),
      operations: Object.fromEntries(folded.operations),
      statuses: Object.fromEntries([...folded.statuses].map(([status, count]) => [String(status), count])),
    },
  };
}
