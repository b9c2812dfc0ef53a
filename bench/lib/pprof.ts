import { gunzipSync } from 'node:zlib';

/**
 * Reads a Go pprof CPU profile (gzipped profile.proto, as nats-server's
 * `prof_port` serves it) and sums CPU time per function: `self` where the
 * function is the innermost frame, `total` where it is anywhere on the stack.
 * Go profiles carry their own symbols, so a stripped nats-server binary is fine.
 */
export interface FunctionTime {
  name: string;
  selfMs: number;
  totalMs: number;
}

export interface GoProfile {
  totalMs: number;
  functions: FunctionTime[];
}

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = this.buf[this.pos++];
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
    }
  }
  bytes(): Buffer {
    const len = this.varint();
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`pprof: unsupported wire type ${wire}`);
  }
  /** Yields [field, wireType] and leaves the reader at the value. */
  *fields(): Generator<[number, number]> {
    while (!this.done) {
      const key = this.varint();
      yield [Math.floor(key / 8), key & 7];
    }
  }
}

function packedOrSingle(r: Reader, wire: number, into: number[]): void {
  if (wire === 2) {
    const inner = new Reader(r.bytes());
    while (!inner.done) into.push(inner.varint());
  } else into.push(r.varint());
}

export function parseGoProfile(gzipped: Buffer): GoProfile {
  const r = new Reader(gunzipSync(gzipped));
  const strings: string[] = [];
  const samples: Array<{ locations: number[]; values: number[] }> = [];
  const locations = new Map<number, number[]>(); // id -> function ids, innermost first
  const functions = new Map<number, number>(); // id -> name string index
  const sampleTypes: number[] = [];
  for (const [field, wire] of r.fields()) {
    if (field === 1 && wire === 2) {
      const vt = new Reader(r.bytes());
      for (const [f, w] of vt.fields()) {
        if (f === 1) sampleTypes.push(vt.varint());
        else vt.skip(w);
      }
    } else if (field === 2 && wire === 2) {
      const s = new Reader(r.bytes());
      const sample = { locations: [] as number[], values: [] as number[] };
      for (const [f, w] of s.fields()) {
        if (f === 1) packedOrSingle(s, w, sample.locations);
        else if (f === 2) packedOrSingle(s, w, sample.values);
        else s.skip(w);
      }
      samples.push(sample);
    } else if (field === 4 && wire === 2) {
      const l = new Reader(r.bytes());
      let id = 0;
      const fns: number[] = [];
      for (const [f, w] of l.fields()) {
        if (f === 1) id = l.varint();
        else if (f === 4) {
          const line = new Reader(l.bytes());
          for (const [lf, lw] of line.fields()) {
            if (lf === 1) fns.push(line.varint());
            else line.skip(lw);
          }
        } else l.skip(w);
      }
      locations.set(id, fns);
    } else if (field === 5 && wire === 2) {
      const fn = new Reader(r.bytes());
      let id = 0;
      let name = 0;
      for (const [f, w] of fn.fields()) {
        if (f === 1) id = fn.varint();
        else if (f === 2) name = fn.varint();
        else fn.skip(w);
      }
      functions.set(id, name);
    } else if (field === 6 && wire === 2) {
      strings.push(r.bytes().toString('utf8'));
    } else r.skip(wire);
  }
  // Value index of CPU nanoseconds ("cpu"/"nanoseconds"); Go puts it second, after samples/count.
  const cpuIndex = Math.max(
    0,
    sampleTypes.findIndex((type) => strings[type] === 'cpu'),
  );
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let totalNs = 0;
  for (const sample of samples) {
    const ns = sample.values[cpuIndex] ?? 0;
    totalNs += ns;
    const stack = sample.locations.flatMap((loc) => locations.get(loc) ?? []).map((fn) => strings[functions.get(fn) ?? 0] ?? '?');
    if (stack.length === 0) continue;
    self.set(stack[0], (self.get(stack[0]) ?? 0) + ns);
    for (const name of new Set(stack)) total.set(name, (total.get(name) ?? 0) + ns);
  }
  const fns = [...total.entries()].map(([name, ns]) => ({
    name,
    selfMs: Math.round((self.get(name) ?? 0) / 1e5) / 10,
    totalMs: Math.round(ns / 1e5) / 10,
  }));
  return { totalMs: Math.round(totalNs / 1e5) / 10, functions: fns };
}

/** Fetches a CPU profile of `seconds` from a Go server's pprof port. */
export async function fetchGoProfile(profPort: number, seconds: number): Promise<GoProfile> {
  const res = await fetch(`http://127.0.0.1:${profPort}/debug/pprof/profile?seconds=${seconds}`, {
    signal: AbortSignal.timeout((seconds + 30) * 1000),
  });
  if (!res.ok) throw new Error(`pprof answered ${res.status}`);
  return parseGoProfile(Buffer.from(await res.arrayBuffer()));
}
