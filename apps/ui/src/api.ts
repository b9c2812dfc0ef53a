/**
 * The dashboard's only door to the fleet: the gateway's public REST API, same origin, the key as a Bearer
 * header (never in a URL). The key lives in sessionStorage, so it is gone when the tab closes.
 */
import { signal } from '@preact/signals';
import type { NodeOperationName, OperationName, Permission } from '@fleet/contracts';
import type { ErrorBody, JobAccepted, Whoami } from '@fleet/sdk';
import { knownPermissionOf, permissionOf } from './contract';

const KEY_SLOT = 'fleet.apiKey';

export const me = signal<Whoami | null>(null);

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY_SLOT);
}

export function can(permission: Permission): boolean {
  return me.value?.permissions.includes(permission) ?? false;
}

/** Whether the signed-in key holds the permission the contract declares for `operation`. */
export function mayCall(operation: OperationName): boolean {
  const permission = permissionOf(operation);
  return permission === 'none' || can(permission);
}

/**
 * Whether the signed-in key holds the permission of a job's operation (`Job.operation`, a plain string): what the
 * gateway asks of a rerun or of steering a rollout besides the control's own permission. An unknown name: no.
 */
export function mayRun(operation: string): boolean {
  const permission = knownPermissionOf(operation);
  return permission !== undefined && (permission === 'none' || can(permission));
}

/** The widest target this key may name: its scope, or the whole fleet. */
export function homeTarget(): string {
  return me.value?.scope ?? '_all';
}

export async function signIn(key: string): Promise<void> {
  const who = await call<Whoami>('GET', '/whoami', undefined, key);
  sessionStorage.setItem(KEY_SLOT, key);
  me.value = who;
}

export function signOut(): void {
  sessionStorage.removeItem(KEY_SLOT);
  me.value = null;
}

/** A refused call: the gateway's `error — details` as its message, its `reason` (README "Error reasons") kept apart. */
export class CallFailure extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly reason?: string,
  ) {
    super(message);
  }
}

/** The gateway's error body (`error — details`) as one line, or the HTTP status when it has none. */
export async function failureOf(res: Response): Promise<CallFailure> {
  const body = (await res.json().catch(() => ({}))) as Partial<ErrorBody>;
  const message = [body.error ?? `HTTP ${res.status}`, body.details].filter(Boolean).join(' — ');
  return new CallFailure(message, res.status, body.reason);
}

/** One JSON call; a non-2xx answer becomes an Error carrying the gateway's `error — details`. */
export async function call<T>(method: string, path: string, body?: unknown, key = storedKey()): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) {
    if (res.status === 401 && key === storedKey()) signOut();
    throw await failureOf(res);
  }
  return (await res.json().catch(() => ({}))) as T;
}

/** The path segment of a target: labels hold ':' and ',', which stay readable but '/' and '%' must be escaped. */
export function targetSegment(target: string): string {
  return encodeURIComponent(target).replace(/%3A/gi, ':').replace(/%2C/gi, ',');
}

/** A node operation the dashboard started, remembered so the job page can rerun it or show it as curl. */
export interface NodeCall {
  operation: NodeOperationName;
  method: string;
  /** The path after `/node/{target}`, e.g. `/container/docker/app/exec`. */
  rest: string;
  body?: unknown;
}

const CALLS_SLOT = 'fleet.calls';

function rememberedCalls(): Record<string, NodeCall> {
  return JSON.parse(sessionStorage.getItem(CALLS_SLOT) ?? '{}') as Record<string, NodeCall>;
}

export function callOfJob(jobId: string): NodeCall | undefined {
  return rememberedCalls()[jobId];
}

export function nodePath(target: string, nodeCall: NodeCall): string {
  return `/node/${targetSegment(target)}${nodeCall.rest}`;
}

/** Starts a node operation without waiting for it (`async=true`) and returns its job id. */
export async function startNodeCall(target: string, nodeCall: NodeCall): Promise<string> {
  const { job_id } = await call<JobAccepted>(nodeCall.method, `${nodePath(target, nodeCall)}?async=true`, nodeCall.body);
  sessionStorage.setItem(CALLS_SLOT, JSON.stringify({ ...rememberedCalls(), [job_id]: nodeCall }));
  return job_id;
}

/** A refusal as an operator reads it on a control: the gateway's `reason` first (what to look up), then its words. */
export async function reasoned<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof CallFailure && err.reason) throw new Error(`${err.reason}: ${err.message}`);
    throw err;
  }
}
