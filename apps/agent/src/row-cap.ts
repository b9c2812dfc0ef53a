import type { HostRow } from '@fleet/contracts/protocol';

/**
 * The largest row written to the results bucket: NATS refuses messages over its max_payload
 * (1 MB by default), and a row that cannot be written leaves its caller with a timeout.
 */
export const MAX_ROW_BYTES = 900 * 1024;

/** A final row and its JSON, encoded once for the size check, the announcement and the durable write. */
export interface EncodedRow {
  row: HostRow;
  json: Uint8Array;
}

/**
 * The row encoded so that it fits a NATS message: its output is cut further (JSON escaping can make
 * capped output grow up to six times, e.g. NUL bytes), and a row that still does not fit becomes a
 * failed row saying how large it was. Output is already capped by the executors; this catches the rest.
 */
export function encodeWithinRowCap(row: HostRow): EncodedRow {
  let current = encoded(row);
  for (let cuts = 0; cuts < 8 && current.json.length > MAX_ROW_BYTES; cuts++) {
    const shorter = withHalfTheOutput(current.row);
    if (!shorter) break;
    current = encoded(shorter);
  }
  if (current.json.length <= MAX_ROW_BYTES) return current;
  const tooLarge = `the result (${current.json.length} bytes) is larger than a row may be (${MAX_ROW_BYTES} bytes)`;
  return encoded({
    hostname: row.hostname,
    status: 'failed',
    changed: row.changed,
    error: `${tooLarge}; narrow the request (filters, tail, limit)`,
    error_code: 507,
    ...(row.duration_ms === undefined ? {} : { duration_ms: row.duration_ms }),
  });
}

function encoded(row: HostRow): EncodedRow {
  return { row, json: Buffer.from(JSON.stringify(row)) };
}

/** The row with its `stdout` and `stderr` cut to half their length, marked truncated; undefined when it has no output. */
function withHalfTheOutput(row: HostRow): HostRow | undefined {
  const output = (['stdout', 'stderr'] as const).filter((field) => typeof row[field] === 'string' && (row[field] as string).length > 0);
  if (output.length === 0) return undefined;
  const cut: HostRow = { ...row, truncated: true };
  for (const field of output) cut[field] = (row[field] as string).slice(0, Math.floor((row[field] as string).length / 2));
  return cut;
}
