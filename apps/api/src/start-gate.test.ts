import type { IncomingMessage } from 'node:http';
import { StartGate } from './start-gate';

const request = (url: string) => ({ url }) as IncomingMessage;

/** The gate, and the URLs its held handler was called with, in order. */
function gateRecording() {
  const gate = new StartGate();
  const served: string[] = [];
  const handler = gate.hold((req: IncomingMessage) => void served.push(req.url ?? ''));
  return { gate, served, handler };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('StartGate', () => {
  it('answers the health probes while the gateway catches up, with or without a query', () => {
    const { served, handler } = gateRecording();
    handler(request('/health'));
    handler(request('/health/ready?verbose=1'));
    expect(served).toEqual(['/health', '/health/ready?verbose=1']);
  });

  it('holds every other request, and an Engine API path, until it opens, then serves them in their order', async () => {
    const { gate, served, handler } = gateRecording();
    handler(request('/agent?limit=1'));
    handler(request('/node/web-01/docker/v1.43/containers/json'));
    handler(request('/health/'));
    await settle();
    expect(served).toEqual([]);
    expect(gate.isOpen()).toBe(false);
    gate.open();
    await settle();
    expect(served).toEqual(['/agent?limit=1', '/node/web-01/docker/v1.43/containers/json', '/health/']);
  });

  it('passes requests at once after it opened', () => {
    const { gate, served, handler } = gateRecording();
    gate.open();
    handler(request('/agent'));
    expect(served).toEqual(['/agent']);
    expect(gate.isOpen()).toBe(true);
  });
});
