import { randomBytes } from 'node:crypto';
import { Agent, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import { CONTRACT_PATH } from '@fleet/contracts/operations';
import { KeyVerifier, mintToken, verificationKey, verifyToken } from '@fleet/api-keys';
// The A/B times the gateway's own request validation in this process, beside the library it replaced.
// eslint-disable-next-line fleet/import-boundaries -- see above
import { contractValidation } from '../../apps/api/src/http/validation';
import { round } from '../lib/stats';
import type { BenchResults } from '../results';
import type { AbMeasurement } from './micro';

function cpuUs(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * API-key verification per request as it was (jsonwebtoken's verify with the KeyObject, every
 * request) and as it is (KeyVerifier: verified once, then looked up until it expires), in
 * alternating blocks; the revocation check, an in-memory set lookup on both sides, is not part of it.
 */
export function measureKeyVerification(iterations: number): AbMeasurement {
  const secret = randomBytes(32).toString('hex');
  const token = mintToken({ secret, role: 'operator', ttlSeconds: 3600, subject: 'bench' });
  const key = verificationKey(secret);
  const verifier = new KeyVerifier(key);
  const sides = [() => verifyToken(token, key), () => verifier.verify(token)];
  const perOp: [number[], number[]] = [[], []];
  const blocks = 20;
  const perBlock = Math.max(10, Math.round(iterations / blocks));
  for (let block = 0; block < blocks; block++) {
    for (const which of block % 2 === 0 ? [0, 1] : [1, 0]) {
      const t0 = cpuUs();
      for (let i = 0; i < perBlock; i++) sides[which]();
      perOp[which].push((cpuUs() - t0) / perBlock);
    }
  }
  return { name: 'API key verification, per request', iterations: blocks * perBlock, beforeUs: round(median(perOp[0]), 2), afterUs: round(median(perOp[1]), 2) };
}

/** The gateway's calls the validator sees most, valid, as the bench and the load test send them. */
const CALLS: Array<{ method: string; path: string; body?: string }> = [
  { method: 'GET', path: '/node/web-01/container/docker?all=true' },
  { method: 'GET', path: '/node/web-01/container/docker/bench-exec' },
  { method: 'GET', path: '/node/_any/container/docker/system/ping' },
  { method: 'POST', path: '/node/web-01/container/docker/bench-exec/exec', body: '{"cmd":["true"]}' },
  { method: 'GET', path: '/job?limit=10' },
];

/**
 * Request validation per request, the same requests through two in-process express apps that
 * differ only in the validator: express-openapi-validator as the gateway used it (it looks the
 * route up by compiling every path pattern of the contract on each request) and the gateway's
 * contractValidation (ajv validators compiled per operation at start, on express' own routes).
 * Each answers 204 after validating; CPU per request includes the bench's own HTTP client and
 * express, the same on both sides, so the difference is the validator's.
 */
export async function measureRequestValidation(iterations: number): Promise<AbMeasurement> {
  const before = await serve(OpenApiValidator.middleware({
    apiSpec: CONTRACT_PATH,
    validateRequests: { allowUnknownQueryParameters: false, coerceTypes: false },
    validateResponses: false,
    validateSecurity: false,
  }));
  const after = await serve(contractValidation());
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const sides = [before, after];
    const callOnce = async (server: Server, index: number) => {
      const call = CALLS[index % CALLS.length];
      const status = await send(agent, server, call);
      if (status !== 204) throw new Error(`${call.method} ${call.path} answered ${status} in the validation A/B`);
    };
    for (let i = 0; i < 100; i++) for (const server of sides) await callOnce(server, i);
    const perOp: [number[], number[]] = [[], []];
    const blocks = 20;
    const perBlock = Math.max(CALLS.length, Math.round(iterations / blocks));
    for (let block = 0; block < blocks; block++) {
      for (const which of block % 2 === 0 ? [0, 1] : [1, 0]) {
        const t0 = cpuUs();
        for (let i = 0; i < perBlock; i++) await callOnce(sides[which], i);
        perOp[which].push((cpuUs() - t0) / perBlock);
      }
    }
    return { name: 'request validation + HTTP round trip, per request', iterations: blocks * perBlock, beforeUs: round(median(perOp[0]), 1), afterUs: round(median(perOp[1]), 1) };
  } finally {
    agent.destroy();
    before.close();
    after.close();
  }
}

function serve(validation: RequestHandler | RequestHandler[]): Promise<Server> {
  const app = express();
  app.use(express.json());
  app.use(validation);
  app.use((_req, res) => res.status(204).end());
  app.use(((err, _req, res, _next) => res.status(err.status ?? 500).json({ error: String(err.message) })) as express.ErrorRequestHandler);
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function send(agent: Agent, server: Server, call: { method: string; path: string; body?: string }): Promise<number> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, agent, method: call.method, path: call.path, headers: call.body ? { 'content-type': 'application/json' } : {} }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(call.body);
  });
}

/** The system-level numbers the call-path changes move, taken from one bench run's results. */
export interface CallPathSnapshot {
  command: string;
  startedAt: string;
  git: string;
  /** Load average (1 min) at the start and end of the run: the box is shared. */
  load: string;
  addedP50Ms: Record<string, number>;
  addedP99Ms: Record<string, number>;
  fanout3P50Ms?: number;
  gatewayCpuPerJobOpenUs?: number;
  openJobsPerSecond?: number;
  gatewayCpuPerJobProfiledUs?: number;
  validationSharePercent?: number;
  apiKeySharePercent?: number;
}

/** `bench/results/callpath.json`: the same quick bench on the code before the call-path changes and after. */
export interface CallPathRecord {
  before?: CallPathSnapshot;
  after?: CallPathSnapshot;
}

export function callPathSnapshot(r: BenchResults): CallPathSnapshot {
  const scenarios = r.overhead?.scenarios ?? [];
  const share = (category: string) => r.profile?.gateway?.categories.find((c) => c.category === category)?.percentOfBusy;
  return {
    command: r.meta.command,
    startedAt: r.meta.startedAt,
    git: `${r.meta.git.commit}${r.meta.git.dirtyFiles ? ` + ${r.meta.git.dirtyFiles} uncommitted files` : ''}`,
    load: `${r.meta.loads[0]?.loadavg1} → ${r.meta.loads.at(-1)?.loadavg1}`,
    addedP50Ms: Object.fromEntries(scenarios.map((s) => [s.name, s.addedP50])),
    addedP99Ms: Object.fromEntries(scenarios.map((s) => [s.name, s.addedP99])),
    fanout3P50Ms: r.fanoutReal?.full.p50,
    gatewayCpuPerJobOpenUs: r.throughput?.[0]?.open?.cpuUsPerJob.gateway ?? undefined,
    openJobsPerSecond: r.throughput?.[0]?.open?.achieved,
    gatewayCpuPerJobProfiledUs: r.profile?.load.cpuUsPerJob.gateway ?? undefined,
    validationSharePercent: share(VALIDATION_CATEGORY),
    apiKeySharePercent: share('API keys (jsonwebtoken)'),
  };
}

export const VALIDATION_CATEGORY = 'request validation (express-openapi-validator, ajv)';
