import { containerChanges } from './container/changes';
import { createContainer } from './container/create';
import { execContainer } from './container/exec';
import { inspectContainer } from './container/inspect';
import { killContainer } from './container/kill';
import { listContainers } from './container/list';
import { containerLogs } from './container/logs';
import { pauseContainer } from './container/pause';
import { pruneContainers } from './container/prune';
import { removeContainer } from './container/remove';
import { renameContainer } from './container/rename';
import { restartContainer } from './container/restart';
import { startContainer } from './container/start';
import { containerStats } from './container/stats';
import { stopContainer } from './container/stop';
import { containerTop } from './container/top';
import { unpauseContainer } from './container/unpause';
import { updateContainer } from './container/update';
import { waitContainer } from './container/wait';
import { batchDeleteImages } from './image/batch-delete';
import { imageHistory } from './image/history';
import { inspectImage } from './image/inspect';
import { listImages } from './image/list';
import { pruneImages } from './image/prune';
import { pullImage } from './image/pull';
import { pushImage } from './image/push';
import { removeImage } from './image/remove';
import { tagImage } from './image/tag';
import { connectNetwork } from './network/connect';
import { createNetwork } from './network/create';
import { disconnectNetwork } from './network/disconnect';
import { inspectNetwork } from './network/inspect';
import { listNetworks } from './network/list';
import { pruneNetworks } from './network/prune';
import { removeNetwork } from './network/remove';
import { systemDf } from './system/df';
import { streamEvents } from './system/events';
import { systemInfo } from './system/info';
import { systemPing } from './system/ping';
import { systemVersion } from './system/version';
import { createVolume } from './volume/create';
import { inspectVolume } from './volume/inspect';
import { listVolumes } from './volume/list';
import { pruneVolumes } from './volume/prune';
import { removeVolume } from './volume/remove';
import type { ExecutorTable } from './types';

export const EXECUTORS: ExecutorTable = {
  'docker.container.list': listContainers,
  'docker.container.create': createContainer,
  'docker.container.inspect': inspectContainer,
  'docker.container.start': startContainer,
  'docker.container.stop': stopContainer,
  'docker.container.remove': removeContainer,
  'docker.container.restart': restartContainer,
  'docker.container.kill': killContainer,
  'docker.container.pause': pauseContainer,
  'docker.container.unpause': unpauseContainer,
  'docker.container.rename': renameContainer,
  'docker.container.update': updateContainer,
  'docker.container.logs': containerLogs,
  'docker.container.top': containerTop,
  'docker.container.stats': containerStats,
  'docker.container.changes': containerChanges,
  'docker.container.wait': waitContainer,
  'docker.container.exec': execContainer,
  'docker.container.prune': pruneContainers,
  'docker.volume.list': listVolumes,
  'docker.volume.create': createVolume,
  'docker.volume.inspect': inspectVolume,
  'docker.volume.remove': removeVolume,
  'docker.volume.prune': pruneVolumes,
  'docker.network.list': listNetworks,
  'docker.network.create': createNetwork,
  'docker.network.inspect': inspectNetwork,
  'docker.network.remove': removeNetwork,
  'docker.network.connect': connectNetwork,
  'docker.network.disconnect': disconnectNetwork,
  'docker.network.prune': pruneNetworks,
  'docker.system.info': systemInfo,
  'docker.system.version': systemVersion,
  'docker.system.ping': systemPing,
  'docker.system.df': systemDf,
  'docker.image.list': listImages,
  'docker.image.pull': pullImage,
  'docker.image.inspect': inspectImage,
  'docker.image.history': imageHistory,
  'docker.image.tag': tagImage,
  'docker.image.push': pushImage,
  'docker.image.remove': removeImage,
  'docker.image.prune': pruneImages,
  'docker.image.batch_delete': batchDeleteImages,
  'docker.system.events': streamEvents,
};
