import { createContainer } from './container/create';
import { inspectContainer } from './container/inspect';
import { listContainers } from './container/list';
import { removeContainer } from './container/remove';
import { startContainer } from './container/start';
import { stopContainer } from './container/stop';
import { removeImage } from './image/remove';
import { streamEvents } from './system/events';
import type { ExecutorTable } from './types';

export const EXECUTORS: ExecutorTable = {
  'docker.container.list': listContainers,
  'docker.container.create': createContainer,
  'docker.container.inspect': inspectContainer,
  'docker.container.start': startContainer,
  'docker.container.stop': stopContainer,
  'docker.container.remove': removeContainer,
  'docker.image.remove': removeImage,
  'docker.system.events': streamEvents,
};
