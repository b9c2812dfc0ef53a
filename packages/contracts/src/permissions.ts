/** Permissions carried by API keys (README, "API keys"; each operation's `x-permission` in the contract). */
export const PERMISSIONS = [
  'docker:read',
  /**
   * What a container or image holds, beyond what the engine says about it: files (archive, export),
   * whole images (save) and the values of a container's environment (inspect shows only the names
   * without it). Secrets live there, so reading them is not "read" (README "Roles, permissions and scope").
   */
  'docker:read-data',
  'docker:write',
  'docker:exec',
  /** Anything that reaches the host itself: host-path binds, host namespaces, bind-type volumes (see host-access.ts). */
  'docker:host',
  'job:read',
  'agent:read',
  /** Stacks (README "Stacks"): reading their revisions and per-host state; writing deploys, rolls back and removes them. */
  'stack:read',
  'stack:write',
  'agent:write',
  'audit:read',
  'token:admin',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const READS: Permission[] = ['docker:read', 'job:read', 'agent:read', 'stack:read'];

/** Roles are named bundles of permissions; a key carries its role, the gateway expands it. */
export const ROLES = {
  viewer: READS,
  operator: [...READS, 'docker:read-data', 'docker:write', 'docker:exec', 'stack:write'],
  admin: [...PERMISSIONS],
} as const satisfies Record<string, readonly Permission[]>;
export type Role = keyof typeof ROLES;

export function isRole(value: string): value is Role {
  return Object.hasOwn(ROLES, value);
}
