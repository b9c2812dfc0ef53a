/**
 * Walks the contract: every node-targeted operation must have a permission,
 * examples and an end-to-end test on real engines. With its two app halves —
 * a gateway route that starts a job of that very operation
 * (apps/api/src/contract-routes.test.ts) and an agent executor
 * (apps/agent/src/executors/index.test.ts) — adding an operation to
 * openapi.yaml without all of these fails the unit tests.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadContract, OPERATIONS, type NodeOperationName, type OperationSpec } from '@fleet/contracts/operations';

const contract = loadContract() as { paths: Record<string, Record<string, OperationObject>> };
const NODE_OPERATIONS = OPERATIONS.filter((op) => op.nodeTargeted);

interface OperationObject {
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

  it.each(NODE_OPERATIONS.map((op) => [op.name, op]))('%s has a docker or stack permission and examples', (_name, op) => {
    expect(op.permission).toMatch(/^(docker:(read|read-data|write|exec)|stack:(read|write))$/);
    const object = operationObject(op);
    const examples = Object.values(object.responses).flatMap((response) =>
      Object.values(response.content ?? {}).map((media) => media.example),
    );
    const sharedExample = Object.values(object.responses).some((response) => response.$ref);
    expect(examples.some((example) => example !== undefined) || sharedExample).toBe(true);
    if (object.requestBody) expect(object.requestBody.content[op.uploadMediaType ?? 'application/json']?.example).toBeDefined();
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
    .filter(
      ({ template }) => template.length === segments.length && template.every((part, i) => part.startsWith('{') || part === segments[i]),
    )
    .sort((a, b) => literalCount(b.template) - literalCount(a.template))[0]?.op;
}

function literalCount(template: string[]): number {
  return template.filter((part) => !part.startsWith('{')).length;
}
