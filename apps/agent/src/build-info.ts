/** Replaced by scripts/build.cjs (esbuild `define`) with the bundle's build id; absent when the agent runs from its sources. */
declare const FLEET_BUILD_ID: string | undefined;

/** The build this agent runs, reported in its record as `build` (README "Agents and heartbeats"). */
export const AGENT_BUILD = typeof FLEET_BUILD_ID === 'string' ? FLEET_BUILD_ID : 'source';
