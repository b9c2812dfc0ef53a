import { ifPresent } from '../common';
import type { Executor } from '../types';

/** The engine answers a create of an existing name with that volume; the row says nothing changed. */
export const volumeCreate: Executor<'docker.volume.create'> = async ({ body = {} }, { docker }) => {
  const existing = body.name ? await ifPresent(docker.getVolume(body.name).inspect()) : undefined;
  if (existing) return { changed: false, id: existing.Name, message: 'volume already exists', volume: existing };
  const created = await docker.createVolume({ Name: body.name, Driver: body.driver, DriverOpts: body.driver_opts, Labels: body.labels });
  const volume = await created.inspect();
  return { changed: true, id: volume.Name, message: 'volume created', volume };
};
