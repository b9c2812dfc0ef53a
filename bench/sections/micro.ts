import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import jwt from 'jsonwebtoken';
import { mintToken, TOKEN_ALGORITHM, TOKEN_ISSUER, verificationKey, verifyToken } from '@fleet/api-keys';
import { natsLogin } from '@fleet/runtime/nats';
import { alternateCpu, cpuUs } from '../lib/ab';
import { round } from '../lib/stats';

export interface JwtMicro {
  iterations: number;
  /** jwt.verify as the gateway first called it: the secret passed as a string. */
  stringSecretUs: number;
  /** The gateway's verifyToken now: the secret as a KeyObject made once. */
  keyObjectUs: number;
}

/**
 * The gateway profile's top frame used to be jsonwebtoken's verify trying
 * crypto.createPublicKey() on the HS256 secret string (it throws, then
 * createSecretKey is used) on every request. This measures that cost in
 * isolation against the gateway's verifyToken with a KeyObject made once.
 */
export function measureJwtVerify(iterations: number): JwtMicro {
  const secret = randomBytes(32).toString('hex');
  const token = mintToken({ secret, role: 'admin', ttlSeconds: 3600, subject: 'bench' });
  const key = verificationKey(secret);
  const time = (fn: () => unknown) => {
    for (let i = 0; i < Math.min(200, iterations); i++) fn();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    return round(Number(process.hrtime.bigint() - t0) / 1000 / iterations, 1);
  };
  const stringSecretUs = time(() => jwt.verify(token, secret, { algorithms: [TOKEN_ALGORITHM], issuer: TOKEN_ISSUER }));
  const keyObjectUs = time(() => verifyToken(token, key));
  return { iterations, stringSecretUs, keyObjectUs };
}

/** One optimisation measured both ways in the same process, interleaved: CPU per operation (and heap kept, where it matters). */
export interface AbMeasurement {
  name: string;
  iterations: number;
  beforeUs: number;
  afterUs: number;
  /** Heap still held per operation after a full GC (bytes), when measured. */
  beforeRetainedBytes?: number;
  afterRetainedBytes?: number;
}

let gcFn: (() => void) | undefined;
/** A full GC in the bench process (bench only: exposes V8's gc() at run time). */
function fullGc(): void {
  if (!gcFn) {
    v8.setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
}

/**
 * Client CPU per JetStream publish (what every job record, dispatch, audit
 * entry, claim and result costs the gateway or agent), with and without
 * `noAsyncTraces`, against the fleet's real NATS, in alternating blocks.
 */
export async function measureNatsPublish(
  natsUrl: string,
  gatewayCredsFile: string | undefined,
  iterations: number,
): Promise<AbMeasurement> {
  const login = natsLogin(gatewayCredsFile ? readFileSync(gatewayCredsFile, 'utf8') : undefined);
  const before = await connect({ servers: natsUrl, name: 'bench-micro-before', ...login });
  const after = await connect({ servers: natsUrl, name: 'bench-micro-after', noAsyncTraces: true, ...login });
  const jsm = await jetstreamManager(before);
  const stream = 'BENCH_MICRO';
  try {
    await jsm.streams.add({ name: stream, subjects: ['bench.micro.>'], storage: StorageType.Memory, max_msgs: 10_000 });
    const payload = JSON.stringify({ hostname: 'web-01', status: 'ok', changed: false, message: 'OK', duration_ms: 1 });
    const clients = [jetstream(before), jetstream(after)];
    for (let i = 0; i < 200; i++) for (const js of clients) await js.publish('bench.micro.warm', payload);
    let sent = 0;
    const publish = (which: 0 | 1) => () => clients[which].publish(`bench.micro.${which}`, payload, { msgID: `${sent++}` });
    const ran = await alternateCpu(iterations, [publish(0), publish(1)], 40);
    return {
      name: 'JetStream publish (client side)',
      iterations: ran.iterations,
      beforeUs: round(ran.beforeUs, 1),
      afterUs: round(ran.afterUs, 1),
    };
  } finally {
    await jsm.streams.delete(stream).catch(() => undefined);
    await before.close();
    await after.close();
  }
}

function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('deadline')), { once: true }));
}

/**
 * The agent's per-job deadline as it was (AbortSignal.timeout + AbortSignal.any,
 * alive until the deadline) and as it is (a timer cleared when the job ends),
 * around an executor that finishes at once: CPU per job and heap still held
 * per job after a full GC.
 */
export async function measureDeadline(iterations: number): Promise<AbMeasurement> {
  const executor = async (signal: AbortSignal) => signal.aborted;
  const old = async () => {
    const deadline = AbortSignal.timeout(30_000);
    const stop = new AbortController();
    await Promise.race([executor(AbortSignal.any([deadline, stop.signal])), rejectOnAbort(deadline)]);
  };
  const now = async () => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), 30_000);
    timer.unref();
    try {
      await Promise.race([executor(controller.signal), rejectOnAbort(controller.signal)]);
    } finally {
      clearTimeout(timer);
    }
  };
  const run = async (job: () => Promise<void>) => {
    fullGc();
    const heap0 = process.memoryUsage().heapUsed;
    const t0 = cpuUs();
    for (let i = 0; i < iterations; i++) await job();
    const spent = cpuUs() - t0;
    fullGc();
    return { us: spent / iterations, retained: (process.memoryUsage().heapUsed - heap0) / iterations };
  };
  await run(now);
  const a = await run(old);
  const b = await run(now);
  return {
    name: 'agent job deadline signal',
    iterations,
    beforeUs: round(a.us, 2),
    afterUs: round(b.us, 2),
    beforeRetainedBytes: Math.max(0, Math.round(a.retained)),
    afterRetainedBytes: Math.max(0, Math.round(b.retained)),
  };
}

/** The gateway feed's per-row decoding: a new TextDecoder and a copy per row, against one decoder and no copy. */
export function measureFeedDecode(iterations: number): AbMeasurement {
  const row = new TextEncoder().encode(JSON.stringify({ hostname: 'web-01', status: 'ok', changed: false, message: 'OK', duration_ms: 1 }));
  const shared = new TextDecoder();
  let sink = 0;
  const old = () => {
    const parsed = JSON.parse(new TextDecoder().decode(row)) as Record<string, unknown>;
    sink += Object.keys({ ...parsed, hostname: 'web-01' }).length;
  };
  const now = () => {
    const parsed = JSON.parse(shared.decode(row)) as Record<string, unknown>;
    parsed.hostname = 'web-01';
    sink += 1;
  };
  const time = (fn: () => void) => {
    for (let i = 0; i < 1000; i++) fn();
    const t0 = cpuUs();
    for (let i = 0; i < iterations; i++) fn();
    return (cpuUs() - t0) / iterations;
  };
  const before = (time(old) + time(old)) / 2;
  const after = (time(now) + time(now)) / 2;
  if (sink < 0) throw new Error('unreachable');
  return { name: 'gateway feed, per row', iterations, beforeUs: round(before, 2), afterUs: round(after, 2) };
}
