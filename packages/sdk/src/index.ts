export { createFleetClient, FleetClient, type FleetClientOptions, type RawRequest, type RawResponse, type WaitOptions, type FeedOptions } from './client';
export * from './errors';
export { httpFetch } from './http-fetch';
export { NodeClient } from './node';
export type * from './types';
