/**
 * Walks the contract: every node-targeted operation must have a permission,
 * examples, a gateway route that starts a job of that very operation (called
 * here with the operation's own request example), an agent executor, and an
 * end-to-end test on real engines. Adding an operation to openapi.yaml
 * without all of these fails this test.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { loadContract, OPERATIONS, type NodeOperationName, type OperationSpec } from '@fleet/contracts/operations';
import { createApp } from '@fleet/api/app';
import { mintToken } from '@fleet/api-keys';
import type { JobClient, JobRequest } from '@fleet/api/jobs/client';
import { EXECUTORS } from '@fleet/agent/executors/index';

const contract = loadContract() as { paths: Record<string, Record<string, OperationObject>> };
const NODE_OPERATIONS = OPERATIONS.filter((op) => op.nodeTargeted);
const SECRET = 'contract-walk-secret-0123456789abcdef';
const SAMPLE_PATH_VALUES: Record<string, string> = { target: '_all', id: 'app', image: 'busybox', name: 'data', network: 'backend' };

interface OperationObject {
  parameters?: Array<{ name: string; in: string; required?: boolean; example?: unknown }>;
  requestBody?: { content: Record<string, { example?: unknown; schema?: unknown }> };
  responses: Record<string, { $ref?: string; content?: Record<string, { example?: unknown }> }>;
}

function operationObject(op: OperationSpec): OperationObject {
  return contract.paths[op.path][op.method];
}

describe('every node operation in the contract', () => {
  it('is not the empty set', () => {
    expect(NODE_OPERATIONS.length).toBeGreaterThan(40);
  });

  it.each(NODE_OPERATIONS.map((op) => [op.name, op]))('%s has a docker permission and examples', (_name, op) => {
    expect(op.permission).toMatch(/^docker:(read|write|exec)$/);
    const object = operationObject(op);
    const examples = Object.values(object.responses).flatMap((response) => Object.values(response.content ?? {}).map((media) => media.example));
    const sharedExample = Object.values(object.responses).some((response) => response.$ref);
    expect(examples.some((example) => example !== undefined) || sharedExample).toBe(true);
    if (object.requestBody) expect(object.requestBody.content['application/json']?.example).toBeDefined();
  });

  it.each(NODE_OPERATIONS.map((op) => [op.name, op]))('%s has an agent executor', (name) => {
    expect(typeof EXECUTORS[name as NodeOperationName]).toBe('function');
  });

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
        registry: {} as never,
        audit: { record: () => undefined } as never,
        revocations: { isRevoked: () => false } as never,
        log: pino({ level: 'silent' }),
      });
      const server = app.listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      close = () => server.close();
    });

    afterAll(() => close());

    it.each(NODE_OPERATIONS.map((op) => [op.name, op]))('%s starts a job of that operation from its request example', async (_name, op) => {
      const body = operationObject(op).requestBody?.content['application/json']?.example;
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

  describe('end-to-end coverage', () => {
    const e2eDir = path.join(__dirname, '..', 'e2e');
    const sources = readdirSync(e2eDir)
      .filter((file) => file.endsWith('.test.ts'))
      .map((file) => readFileSync(path.join(e2eDir, file), 'utf8'));
    const text = sources.join('\n');
    const requested = requestedOperations(text);

    it.each(NODE_OPERATIONS.map((op) => [op.name, op]))('%s is exercised by an e2e suite on real engines', (name) => {
      const checkedByName = new RegExp(`\\(\\s*(?:\\w+,\\s*)?'${name.replace(/\./g, '\\.')}'`).test(text);
      expect({ name, covered: checkedByName || requested.has(name as NodeOperationName) }).toEqual({ name, covered: true });
    });
  });
});

/** Required query parameters, from their own examples in the contract. */
function requiredQuery(op: OperationSpec): string {
  const required = (operationObject(op).parameters ?? []).filter((param) => param.in === 'query' && param.required);
  const query = new URLSearchParams(required.map((param) => [param.name, String(param.example ?? '')]));
  return required.length ? `?${query}` : '';
}

/**
 * The operations the e2e sources request: every `/node/...` string or
 * template literal, resolved to the most specific contract path it matches
 * (`.../image` is the image list, not a container called "image"). SSE
 * clients only GET, so a URL without a method is taken as a GET.
 */
function requestedOperations(text: string): Set<NodeOperationName> {
  const found = new Set<NodeOperationName>();
  const calls = /(?:'(GET|POST|PUT|PATCH|DELETE)',\s*)?[`'](?:\$\{[^}]*\})?(\/node\/[^`'?\s]*)/g;
  for (const [, method, rawPath] of text.matchAll(calls)) {
    // `/${id}/` stands for a path segment; a trailing `${query}` is not part of the path.
    const concrete = rawPath.replace(/\/\$\{[^}]*\}/g, '/X').replace(/\$\{[^}]*\}/g, '');
    const op = mostSpecific(concrete, (method ?? 'GET').toLowerCase());
    if (op) found.add(op.name as NodeOperationName);
  }
  return found;
}

function mostSpecific(concrete: string, method: string): OperationSpec | undefined {
  const segments = concrete.split('/');
  return NODE_OPERATIONS.filter((op) => op.method === method)
    .map((op) => ({ op, template: op.path.split('/') }))
    .filter(({ template }) => template.length === segments.length && template.every((part, i) => part.startsWith('{') || part === segments[i]))
    .sort((a, b) => literalCount(b.template) - literalCount(a.template))[0]?.op;
}

function literalCount(template: string[]): number {
  return template.filter((part) => !part.startsWith('{')).length;
}
