import { containerArchiveGet } from './container/archive-get';
import { containerArchivePut } from './container/archive-put';
import { containerChanges } from './container/changes';
import { containerCommit } from './container/commit';
import { containerCreate } from './container/create';
import { containerExec } from './container/exec';
import { containerExport } from './container/export';
import { containerInspect } from './container/inspect';
import { containerKill } from './container/kill';
import { containerList } from './container/list';
import { containerLogs } from './container/logs';
import { containerPause } from './container/pause';
import { containerPrune } from './container/prune';
import { containerRemove } from './container/remove';
import { containerRename } from './container/rename';
import { containerRestart } from './container/restart';
import { containerStart } from './container/start';
import { containerStats } from './container/stats';
import { containerStop } from './container/stop';
import { containerTop } from './container/top';
import { containerUnpause } from './container/unpause';
import { containerUpdate } from './container/update';
import { containerWait } from './container/wait';
import { imageBatchDelete } from './image/batch-delete';
import { imageDistribution } from './image/distribution';
import { imageHistory } from './image/history';
import { imageInspect } from './image/inspect';
import { imageList } from './image/list';
import { imageLoad } from './image/load';
import { imagePrune } from './image/prune';
import { imagePull } from './image/pull';
import { imagePush } from './image/push';
import { imageRemove } from './image/remove';
import { imageSave } from './image/save';
import { imageTag } from './image/tag';
import { networkConnect } from './network/connect';
import { networkCreate } from './network/create';
import { networkDisconnect } from './network/disconnect';
import { networkInspect } from './network/inspect';
import { networkList } from './network/list';
import { networkPrune } from './network/prune';
import { networkRemove } from './network/remove';
import { stackApply } from './stack/apply';
import { stackDiff } from './stack/diff';
import { stackList } from './stack/list';
import { stackRemove } from './stack/remove';
import { systemDf } from './system/df';
import { systemEvents } from './system/events';
import { systemInfo } from './system/info';
import { systemPing } from './system/ping';
import { systemVersion } from './system/version';
import { volumeCreate } from './volume/create';
import { volumeInspect } from './volume/inspect';
import { volumeList } from './volume/list';
import { volumePrune } from './volume/prune';
import { volumeRemove } from './volume/remove';
import type { ExecutorTable } from './types';

export const EXECUTORS: ExecutorTable = {
  'docker.container.list': containerList,
  'docker.container.create': containerCreate,
  'docker.container.inspect': containerInspect,
  'docker.container.start': containerStart,
  'docker.container.stop': containerStop,
  'docker.container.remove': containerRemove,
  'docker.container.restart': containerRestart,
  'docker.container.kill': containerKill,
  'docker.container.pause': containerPause,
  'docker.container.unpause': containerUnpause,
  'docker.container.rename': containerRename,
  'docker.container.update': containerUpdate,
  'docker.container.logs': containerLogs,
  'docker.container.top': containerTop,
  'docker.container.stats': containerStats,
  'docker.container.changes': containerChanges,
  'docker.container.wait': containerWait,
  'docker.container.exec': containerExec,
  'docker.container.prune': containerPrune,
  'docker.container.archive-get': containerArchiveGet,
  'docker.container.archive-put': containerArchivePut,
  'docker.container.export': containerExport,
  'docker.container.commit': containerCommit,
  'docker.volume.list': volumeList,
  'docker.volume.create': volumeCreate,
  'docker.volume.inspect': volumeInspect,
  'docker.volume.remove': volumeRemove,
  'docker.volume.prune': volumePrune,
  'docker.network.list': networkList,
  'docker.network.create': networkCreate,
  'docker.network.inspect': networkInspect,
  'docker.network.remove': networkRemove,
  'docker.network.connect': networkConnect,
  'docker.network.disconnect': networkDisconnect,
  'docker.network.prune': networkPrune,
  'docker.system.info': systemInfo,
  'docker.system.version': systemVersion,
  'docker.system.ping': systemPing,
  'docker.system.df': systemDf,
  'docker.image.list': imageList,
  'docker.image.pull': imagePull,
  'docker.image.inspect': imageInspect,
  'docker.image.history': imageHistory,
  'docker.image.distribution': imageDistribution,
  'docker.image.tag': imageTag,
  'docker.image.push': imagePush,
  'docker.image.remove': imageRemove,
  'docker.image.prune': imagePrune,
  'docker.image.batch-delete': imageBatchDelete,
  'docker.image.save': imageSave,
  'docker.image.load': imageLoad,
  'docker.system.events': systemEvents,
  'stack.host.apply': stackApply,
  'stack.host.diff': stackDiff,
  'stack.host.remove': stackRemove,
  'stack.host.list': stackList,
};
