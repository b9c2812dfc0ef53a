export * from './credentials';
export * from './operations';
export * from './permissions';
export * from './protocol';
export type { components, operations, paths } from './generated';
export * from './results';
