/**
 * The dashboard's only door to the fleet: the gateway's public REST API, same
 * origin, the key as a Bearer header (never in a URL). The key lives in
 * sessionStorage, so it is gone when the tab closes.
 */
import { signal } from '@preact/signals';

const KEY_SLOT = 'fleet.apiKey';

export interface Whoami {
  subject: string;
  role: string;
  permissions: string[];
  scope?: string;
  key_id: string;
  expires_at: string;
}

export interface HostResult {
  hostname: string;
  status: string;
  changed?: boolean;
  id?: string;
  message?: string;
  error?: string;
  error_code?: number;
  exit_code?: number;
  stdout?: string;
  stderr?: string;
  duration_ms?: number;
  containers?: ContainerSummary[];
}

export interface ContainerSummary {
  Id: string;
  Names?: string[];
  Image?: string;
  State?: string;
  Status?: string;
  Labels?: Record<string, string>;
}

export interface Job {
  job_id: string;
  operation: string;
  target: string;
  hosts: string[];
  caller: string;
  created_at: string;
  deadline: string;
  status: string;
  results: HostResult[];
}

export interface Agent {
  hostname: string;
  labels: Record<string, string>;
  requested_labels?: Record<string, string>;
  enrollment?: 'pending' | 'accepted';
  live: boolean;
  drained: boolean;
  agent_version?: string;
  engine_version?: string;
  engine?: { healthy: boolean; error?: string };
  last_seen_at: string;
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const me = signal<Whoami | null>(null);

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY_SLOT);
}

export function can(permission: string): boolean {
  return me.value?.permissions.includes(permission) ?? false;
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

/** One JSON call; a non-2xx answer becomes an ApiFailure carrying the gateway's `error — details`. */
export async function call<T>(method: string, path: string, body?: unknown, key = storedKey()): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const payload = (await res.json().catch(() => ({}))) as { error?: string; details?: string };
  if (!res.ok) {
    if (res.status === 401 && key === storedKey()) signOut();
    throw new ApiFailure(res.status, [payload.error ?? `HTTP ${res.status}`, payload.details].filter(Boolean).join(' — '));
  }
  return payload as T;
}

/** The path segment of a target: labels hold ':' and ',', which stay readable but '/' and '%' must be escaped. */
export function targetSegment(target: string): string {
  return encodeURIComponent(target).replace(/%3A/gi, ':').replace(/%2C/gi, ',');
}

/** A node operation the dashboard started, remembered so the job page can rerun it or show it as curl. */
export interface NodeCall {
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
  const { job_id } = await call<{ job_id: string }>(nodeCall.method, `${nodePath(target, nodeCall)}?async=true`, nodeCall.body);
  sessionStorage.setItem(CALLS_SLOT, JSON.stringify({ ...rememberedCalls(), [job_id]: nodeCall }));
  return job_id;
}
