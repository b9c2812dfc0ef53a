import { version as packageVersion } from '../package.json';

/** Set by `scripts/build.cjs` when a build is made under another version than the package's (README "Upgrading agents"). */
declare const FLEET_AGENT_BUILD_VERSION: string | undefined;

/** The version this agent reports in its heartbeat and checks an upgrade against. */
export const AGENT_VERSION: string = typeof FLEET_AGENT_BUILD_VERSION === 'string' ? FLEET_AGENT_BUILD_VERSION : packageVersion;
