/**
 * `@fleet/deploy`'s one public door: what starts NATS, dockerd engines, the gateway and
 * agents, used by the CLI (`fleet up`/`down`/`status`, `fleet nats-config`), the test harness and the bench.
 * Everything under lib/ that is not named here is deploy's own business.
 */
export {
  killAgent,
  killGateway,
  killNats,
  restartGateway,
  startAgent,
  startAgentEngine,
  startGatewayAgain,
  startGatewayReplica,
  startNatsAgain,
  stopAgent,
  stopAgentEngine,
  stopGatewayReplica,
  type GatewayReplica,
} from './lib/control';
export { bridgeInterfacesOf, dockerClient, startEngine, stopEngine, type Engine } from './lib/engine';
export { defaultAgents, startFleet, stopFleet } from './lib/fleet';
export { BUSYBOX_IMAGE, importBusyboxImage } from './lib/image';
export {
  ensureHostGrantKeys,
  ensureJwtSecret,
  ensureMetricsToken,
  hostGrantKeyFiles,
  metricsTokenFile,
  mintKey,
  type KeyOptions,
} from './lib/keys';
export { respawnNats, startNats, stopNats, type NatsServer } from './lib/nats';
export { createReleaseKeys, releaseKeyFiles } from './lib/release-keys';
export { createNatsOperator, gatewayIdentityEnv, operatorConfig, type NatsOperator } from './lib/nats-operator';
export {
  killNatsNode,
  restartNatsNode,
  startNatsCluster,
  stopNatsCluster,
  streamLeader,
  waitForClusterHealth,
  type NatsCluster,
  type NatsClusterNode,
} from './lib/nats-cluster';
export {
  NATS_CONFIG_FILE,
  natsServerConfig,
  routeAuthorization,
  routeTlsBlock,
  SERVER_NAME_VARIABLE,
  tlsBlock,
  writeNatsConfig,
  type GeneratedNatsConfig,
  type NatsConfigOptions,
  type NatsTlsFiles,
} from './lib/nats-config';
export { createPki, pkiFilesOf, rotatePki, type CertificateFiles, type PkiFiles, type PkiOptions } from './lib/pki';
export { AGENT_ENTRYPOINT, findExecutable, GATEWAY_ENTRYPOINT, LOCAL_FLEET_DIR, REPO_ROOT } from './lib/paths';
export { abortIfDead, freePort, isAlive, isOurProcess, sendSignal, spawnService, stopByPid, waitFor, waitForExit } from './lib/process';
export { startRegistry, stopRegistry, type Registry } from './lib/image-registry';
export {
  acceptAgents,
  agentCredsFile,
  agentIdentityDir,
  formatLabels,
  issueJoinToken,
  listAgents,
  spawnAgent,
  spawnGateway,
  waitForAgents,
  waitForGateway,
} from './lib/services';
export {
  agentOf,
  fleetProcesses,
  loadFleetState,
  logFileOf,
  removeFleetState,
  saveFleetState,
  stateFileOf,
  type AgentSpec,
  type AgentState,
  type FleetState,
  type FleetTls,
} from './lib/state';
