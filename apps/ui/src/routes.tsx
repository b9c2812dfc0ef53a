import type { ComponentType } from 'preact';
import { mayCall } from './api';
import { AdminView } from './views/admin';
import { ContainersView } from './views/containers';
import { EventsView } from './views/events';
import { ExecView } from './views/exec';
import { FleetView } from './views/fleet';
import { JobView } from './views/job';
import { JobsView } from './views/jobs';
import { LogsView } from './views/logs';
import { StackView } from './views/stack';
import { StacksView } from './views/stacks';
import { StatsView } from './views/stats';

export interface Page {
  /** The hash path, `#/fleet`. */
  path: string;
  /** Its name in the navigation. */
  label: string;
  view: ComponentType;
  /**
   * Whether the signed-in key can do anything in it (the contract's `x-permission` of what it calls): a view
   * the gateway would refuse every call of is not offered. Offered to every key without this.
   */
  offered?: () => boolean;
}

/** The dashboard's pages, in the order the navigation lists them; the first is the home page. */
export const PAGES: readonly Page[] = [
  { path: '/fleet', label: 'Fleet', view: FleetView },
  { path: '/containers', label: 'Containers', view: ContainersView },
  { path: '/exec', label: 'Exec', view: ExecView, offered: () => mayCall('docker.container.exec') },
  { path: '/jobs', label: 'Jobs', view: JobsView },
  { path: '/stacks', label: 'Stacks', view: StacksView, offered: () => mayCall('stack.list') },
  { path: '/logs', label: 'Logs', view: LogsView },
  { path: '/stats', label: 'Stats', view: StatsView },
  { path: '/events', label: 'Events', view: EventsView },
  { path: '/admin', label: 'Admin', view: AdminView, offered: () => mayCall('audit.list') || mayCall('token.list') },
];

/** One job's page, `#/job/<id>`: reached from links, not from the navigation. */
const JOB_PAGE = '/job/';
/** One stack's page, `#/stacks/<name>`: under the Stacks entry of the navigation. */
const STACK_PAGE = '/stacks/';

export function isOffered(page: Page): boolean {
  return page.offered?.() ?? true;
}

/** The view of a hash path: a job's or a stack's page, a listed page, or the home page. */
export function PageOf({ path }: { path: string }) {
  if (path.startsWith(JOB_PAGE)) return <JobView key={path} jobId={path.slice(JOB_PAGE.length)} />;
  if (path.startsWith(STACK_PAGE)) return <StackView key={path} name={path.slice(STACK_PAGE.length)} />;
  const View = (PAGES.find((page) => page.path === path) ?? PAGES[0]).view;
  return <View />;
}
