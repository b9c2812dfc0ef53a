/**
 * The Engine API request bodies the gateway judges, field by field, as the engine's Go types
 * declare them (their JSON names). A field missing here is refused, so a body reaches the engine
 * only with fields host-access.ts has a rule for. The docker CLI's bodies (it sends most fields,
 * zero-valued) decode with these models; the unit tests hold captures of them.
 */
import { boolean, integer, listOf, mapOf, string, strslice, struct, type JsonModel } from './engine-json';

const nothing = struct({});

const throttleDevice = struct({ Path: string, Rate: integer });

/** Resources: what `docker update` changes, part of every HostConfig. */
const RESOURCES = {
  CpuShares: integer,
  Memory: integer,
  NanoCpus: integer,
  CgroupParent: string,
  BlkioWeight: integer,
  BlkioWeightDevice: listOf(struct({ Path: string, Weight: integer })),
  BlkioDeviceReadBps: listOf(throttleDevice),
  BlkioDeviceWriteBps: listOf(throttleDevice),
  BlkioDeviceReadIOps: listOf(throttleDevice),
  BlkioDeviceWriteIOps: listOf(throttleDevice),
  CpuPeriod: integer,
  CpuQuota: integer,
  CpuRealtimePeriod: integer,
  CpuRealtimeRuntime: integer,
  CpusetCpus: string,
  CpusetMems: string,
  Devices: listOf(struct({ PathOnHost: string, PathInContainer: string, CgroupPermissions: string })),
  DeviceCgroupRules: listOf(string),
  DeviceRequests: listOf(
    struct({ Driver: string, Count: integer, DeviceIDs: listOf(string), Capabilities: listOf(listOf(string)), Options: mapOf(string) }),
  ),
  KernelMemory: integer,
  KernelMemoryTCP: integer,
  MemoryReservation: integer,
  MemorySwap: integer,
  MemorySwappiness: integer,
  OomKillDisable: boolean,
  PidsLimit: integer,
  Ulimits: listOf(struct({ Name: string, Hard: integer, Soft: integer })),
  CpuCount: integer,
  CpuPercent: integer,
  IOMaximumIOps: integer,
  IOMaximumBandwidth: integer,
};

const restartPolicy = struct({ Name: string, MaximumRetryCount: integer });

export const MOUNT = struct({
  Type: string,
  Source: string,
  Target: string,
  ReadOnly: boolean,
  Consistency: string,
  BindOptions: struct({
    Propagation: string,
    NonRecursive: boolean,
    CreateMountpoint: boolean,
    ReadOnlyNonRecursive: boolean,
    ReadOnlyForceRecursive: boolean,
  }),
  VolumeOptions: struct({ NoCopy: boolean, Labels: mapOf(string), DriverConfig: struct({ Name: string, Options: mapOf(string) }) }),
  TmpfsOptions: struct({ SizeBytes: integer, Mode: integer, Options: listOf(listOf(string)) }),
});

export const HOST_CONFIG = struct({
  ...RESOURCES,
  Binds: listOf(string),
  ContainerIDFile: string,
  LogConfig: struct({ Type: string, Config: mapOf(string) }),
  NetworkMode: string,
  PortBindings: mapOf(listOf(struct({ HostIp: string, HostPort: string }))),
  RestartPolicy: restartPolicy,
  AutoRemove: boolean,
  VolumeDriver: string,
  VolumesFrom: listOf(string),
  ConsoleSize: listOf(integer),
  Annotations: mapOf(string),
  CapAdd: strslice,
  CapDrop: strslice,
  CgroupnsMode: string,
  Dns: listOf(string),
  DnsOptions: listOf(string),
  DnsSearch: listOf(string),
  ExtraHosts: listOf(string),
  GroupAdd: listOf(string),
  IpcMode: string,
  Cgroup: string,
  Links: listOf(string),
  OomScoreAdj: integer,
  PidMode: string,
  Privileged: boolean,
  PublishAllPorts: boolean,
  ReadonlyRootfs: boolean,
  SecurityOpt: listOf(string),
  StorageOpt: mapOf(string),
  Tmpfs: mapOf(string),
  UTSMode: string,
  UsernsMode: string,
  ShmSize: integer,
  Sysctls: mapOf(string),
  Runtime: string,
  Isolation: string,
  Mounts: listOf(MOUNT),
  MaskedPaths: listOf(string),
  ReadonlyPaths: listOf(string),
  Init: boolean,
});

export const ENDPOINT_SETTINGS = struct({
  IPAMConfig: struct({ IPv4Address: string, IPv6Address: string, LinkLocalIPs: listOf(string) }),
  Links: listOf(string),
  Aliases: listOf(string),
  DriverOpts: mapOf(string),
  GwPriority: integer,
  NetworkID: string,
  EndpointID: string,
  Gateway: string,
  IPAddress: string,
  IPPrefixLen: integer,
  IPv6Gateway: string,
  GlobalIPv6Address: string,
  GlobalIPv6PrefixLen: integer,
  MacAddress: string,
  DNSNames: listOf(string),
});

/** A container's own configuration (the engine's container.Config): nothing in it reaches the host. */
const CONTAINER_CONFIG = {
  Hostname: string,
  Domainname: string,
  User: string,
  AttachStdin: boolean,
  AttachStdout: boolean,
  AttachStderr: boolean,
  ExposedPorts: mapOf(nothing),
  Tty: boolean,
  OpenStdin: boolean,
  StdinOnce: boolean,
  Env: listOf(string),
  Cmd: strslice,
  Healthcheck: struct({
    Test: listOf(string),
    Interval: integer,
    Timeout: integer,
    StartPeriod: integer,
    StartInterval: integer,
    Retries: integer,
  }),
  ArgsEscaped: boolean,
  Image: string,
  Volumes: mapOf(nothing),
  WorkingDir: string,
  Entrypoint: strslice,
  NetworkDisabled: boolean,
  MacAddress: string,
  OnBuild: listOf(string),
  Labels: mapOf(string),
  StopSignal: string,
  StopTimeout: integer,
  Shell: strslice,
};

/**
 * Every Engine body the proxy forwards, by the name `x-engine-proxy` gives it (`body:`). `/commit`
 * is read by the engine with the same decoder as a create, so it shares the create's model.
 */
export const ENGINE_MODELS = {
  ContainerCreate: struct({
    ...CONTAINER_CONFIG,
    HostConfig: HOST_CONFIG,
    NetworkingConfig: struct({ EndpointsConfig: mapOf(ENDPOINT_SETTINGS) }),
  }),
  ContainerUpdate: struct({ ...RESOURCES, RestartPolicy: restartPolicy }),
  ExecCreate: struct({
    User: string,
    Privileged: boolean,
    Tty: boolean,
    ConsoleSize: listOf(integer),
    AttachStdin: boolean,
    AttachStderr: boolean,
    AttachStdout: boolean,
    Detach: boolean,
    DetachKeys: string,
    Env: listOf(string),
    WorkingDir: string,
    Cmd: strslice,
  }),
  ExecStart: struct({ Detach: boolean, Tty: boolean, ConsoleSize: listOf(integer) }),
  VolumeCreate: struct({ Name: string, Driver: string, DriverOpts: mapOf(string), Labels: mapOf(string) }),
  NetworkCreate: struct({
    Name: string,
    CheckDuplicate: boolean,
    Driver: string,
    Scope: string,
    EnableIPv4: boolean,
    EnableIPv6: boolean,
    IPAM: struct({
      Driver: string,
      Config: listOf(struct({ Subnet: string, IPRange: string, Gateway: string, AuxiliaryAddresses: mapOf(string) })),
      Options: mapOf(string),
    }),
    Internal: boolean,
    Attachable: boolean,
    Ingress: boolean,
    ConfigOnly: boolean,
    ConfigFrom: struct({ Network: string }),
    Options: mapOf(string),
    Labels: mapOf(string),
  }),
  NetworkConnect: struct({ Container: string, EndpointConfig: ENDPOINT_SETTINGS }),
  NetworkDisconnect: struct({ Container: string, Force: boolean }),
  Auth: struct({
    username: string,
    password: string,
    auth: string,
    email: string,
    serveraddress: string,
    identitytoken: string,
    registrytoken: string,
  }),
} satisfies Record<string, JsonModel>;

export type EngineModelName = keyof typeof ENGINE_MODELS;

export function isEngineModelName(name: unknown): name is EngineModelName {
  return typeof name === 'string' && Object.hasOwn(ENGINE_MODELS, name);
}
