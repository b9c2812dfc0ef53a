/**
 * Every node operation in the contract has a gateway route that starts a job of that very operation, called here
 * with the operation's own request example; the routing is the real one, the job client records what it is asked.
 */
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { mintToken } from '@fleet/api-keys';
import { loadContract, OPERATIONS, type OperationSpec } from '@fleet/contracts/operations';
import { createApp } from './app';
import type { JobClient, JobRequest } from './jobs/client';

const SECRET = 'contract-walk-secret-0123456789abcdef';
const SAMPLE_PATH_VALUES: Record<string, string> = { target: '_all', id: 'app', image: 'busybox', name: 'data', network: 'backend' };

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  example?: unknown;
}
const paths = (loadContract() as { paths: Record<string, Record<string, { parameters?: Parameter[]; requestBody?: { content: Record<string, { example?: unknown }> } }>> }).paths;

describe('every node operation in the contract', () => {
  describe('gateway routes', () => {
    const started: JobRequest[] = [];
    let url: string;
    let close: () => void;

    beforeAll(async () => {
      // A job client that records what it is asked to start; the routing under test is the real one.
      const jobs = {
        start: async (request: JobRequest) => {
          started.push(request);
          return { record: { job_id: '550e8400-e29b-41d4-a716-446655440000', hosts: ['web-01'] }, rows: Promise.resolve([]), cancel: () => undefined };
        },
      } as unknown as JobClient;
      const app = createApp({
        jwtSecret: SECRET,
        bodyLimit: '256kb',
        rateLimitPerMinute: 0,
        jobs,
        store: {} as never,
        feed: {} as never,
        roster: {} as never,
        audit: { record: () => undefined } as never,
        revocations: { isRevoked: () => false } as never,
        mintedKeys: {} as never,
        log: pino({ level: 'silent' }),
      });
      const server = app.listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      close = () => server.close();
    });

    afterAll(() => close());

    it.each(OPERATIONS.filter((op) => op.nodeTargeted).map((op) => [op.name, op]))('%s starts a job of that operation from its request example', async (_name, op) => {
      const body = paths[op.path][op.method].requestBody?.content['application/json']?.example;
      const concretePath = op.path.replace(/\{(\w+)\}/g, (_m, param: string) => SAMPLE_PATH_VALUES[param] ?? 'x');
      const res = await fetch(`${url}${concretePath}${requiredQuery(op)}`, {
        method: op.method.toUpperCase(),
        headers: { authorization: `Bearer ${mintToken({ secret: SECRET, role: 'admin', ttlSeconds: 60 })}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      expect({ status: res.status < 400 ? 'answered' : text }).toEqual({ status: 'answered' });
      expect(started.at(-1)?.operation).toBe(op.name);
    });
  });

});

/** Required query parameters, from their own examples in the contract. */
function requiredQuery(op: OperationSpec): string {
  const required = (paths[op.path][op.method].parameters ?? []).filter((param) => param.in === 'query' && param.required);
  const query = new URLSearchParams(required.map((param) => [param.name, String(param.example ?? '')]));
  return required.length ? `?${query}` : '';
}
