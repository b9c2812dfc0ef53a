export {
  createFleetClient,
  FleetClient,
  type FleetClientOptions,
  type JsonCall,
  type RawRequest,
  type RawResponse,
  type WaitOptions,
  type FeedOptions,
} from './client';
export * from './errors';
export { httpFetch, httpTransport, nodeHttp, type HttpTls } from './node-http';
export { fetchTransport, type JsonAnswer, type JsonRequest, type JsonTransport } from './transport';
export { NodeClient } from './node';
export type * from './types';
export { listAgentBuilds, uploadAgentBuild, type AgentBuild } from './agent-builds';
