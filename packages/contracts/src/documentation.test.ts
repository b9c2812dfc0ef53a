/** The contract as operators read it (/docs): every operation summarised, with examples; public endpoints marked public. */
import { loadContract, OPERATIONS, type OperationSpec } from './operations';

const contract = loadContract() as {
  paths: Record<string, Record<string, OperationObject>>;
  components: { responses: Record<string, ResponseObject> };
};

interface ResponseObject {
  $ref?: string;
  content?: Record<string, { example?: unknown; examples?: unknown }>;
}
interface OperationObject {
  summary?: string;
  requestBody?: { content: Record<string, { example?: unknown }> };
  responses: Record<string, ResponseObject>;
}

function operationObject(op: OperationSpec): OperationObject {
  return contract.paths[op.path][op.method];
}

describe('the contract, as documentation', () => {
  it.each(OPERATIONS.map((op) => [op.name, op]))('%s has a summary and an example of its success answer (and of its body)', (_name, op) => {
    const object = operationObject(op);
    expect(object.summary).toBeTruthy();
    const examples = Object.entries(object.responses)
      .filter(([status]) => status.startsWith('2'))
      .map(([, response]) => (response.$ref ? contract.components.responses[response.$ref.split('/').pop() as string] : response))
      .flatMap((response) => Object.values(response.content ?? {}))
      .filter((media) => media.example !== undefined || media.examples !== undefined);
    expect({ operation: op.name, examples: examples.length > 0 }).toEqual({ operation: op.name, examples: true });
    // The body's one media type: JSON, a file the gateway relays, or a file it keeps (an agent build).
    if (object.requestBody) expect(Object.values(object.requestBody.content)[0]?.example).toBeDefined();
  });

  it('documents the public endpoints as public: no permission, not mutating, no security', () => {
    for (const name of ['health.live', 'health.ready', 'metrics.gateway', 'docs.openapi', 'docs.page']) {
      const op = OPERATIONS.find((candidate) => candidate.name === name) as OperationSpec;
      expect({
        name,
        permission: op.permission,
        mutating: op.mutating,
        security: (operationObject(op) as { security?: unknown }).security,
      }).toEqual({
        name,
        permission: 'none',
        mutating: false,
        security: [],
      });
    }
  });
});
