/**
 * Sedna's pluggable network services (`plugins/registered.py`, spec §8.2): which server each
 * component hosts and which clients it uses, with Sedna's environment variables, default ports and
 * default service hosts (the edgemesh Services the controller creates for CRs named `reid`,
 * `feature-extraction` and `video-analytics`). Defaults are read when a component is created, not
 * frozen at import as in Sedna.
 */
import type { SednaConfig } from '../../common/config.js';
import { primaryHostIp } from '../../common/host-ip.js';
import { serviceTokenOption } from '../../common/shared-token.js';
import { MULTI_EDGE_SERVICES, type MultiEdgeServiceName } from '../../service/server/multi-edge-server.js';
import { MultiEdgeClient } from '../../service/client/multi-edge-client.js';

/** Sedna's `PLUGIN` names. */
export const PLUGIN = Object.freeze({
  REID_MANAGER: 'ReIDManager',
  REID_MANAGER_I: 'ReIDManager_I',
  REID: 'ReID_Server',
  REID_I: 'ReID_I',
  FEATURE_EXTRACTION: 'Feature_Extraction',
  FEATURE_EXTRACTION_I: 'Feature_Extraction_I',
  VIDEO_ANALYTICS: 'VideoAnalytics',
  VIDEO_ANALYTICS_I: 'VideoAnalytics_I',
} as const);
export type PluginName = (typeof PLUGIN)[keyof typeof PLUGIN];

export interface PluginSpec {
  readonly plugin: PluginName;
  readonly role: 'server' | 'client';
  readonly service: MultiEdgeServiceName;
  readonly hostVariable: string;
  readonly portVariable: string;
  readonly defaultPort: number;
  /** The client's default host: the edgemesh Service of a CR with Sedna's example name. */
  readonly defaultClientHost: string;
}

const spec = (
  server: PluginName,
  client: PluginName,
  service: MultiEdgeServiceName,
  prefix: string,
  defaultPort: number,
  defaultClientHost: string,
): [PluginSpec, PluginSpec] => {
  const common = {
    service,
    hostVariable: `${prefix}_MODEL_BIND_URL`,
    portVariable: `${prefix}_MODEL_BIND_PORT`,
    defaultPort,
    defaultClientHost,
  };
  return [
    { plugin: server, role: 'server', ...common },
    { plugin: client, role: 'client', ...common },
  ];
};

/** The six registered plugins. */
export const REGISTERED_PLUGINS: readonly PluginSpec[] = Object.freeze([
  ...spec(PLUGIN.REID, PLUGIN.REID_I, MULTI_EDGE_SERVICES.REID, 'REID', 5000, 'reid-reid'),
  ...spec(
    PLUGIN.FEATURE_EXTRACTION,
    PLUGIN.FEATURE_EXTRACTION_I,
    MULTI_EDGE_SERVICES.FEATURE_EXTRACTION,
    'FE',
    6000,
    'feature-extraction-fe',
  ),
  ...spec(
    PLUGIN.VIDEO_ANALYTICS,
    PLUGIN.VIDEO_ANALYTICS_I,
    MULTI_EDGE_SERVICES.DETECTION,
    'DET',
    4000,
    'video-analytics-videoanalytics',
  ),
]);

export interface PluginEndpoint {
  readonly host: string;
  readonly port: number;
}

/** The configuration fields the plugins read (a `SednaConfig` has them all). */
export type PluginEndpointConfig = Pick<
  SednaConfig,
  | 'reidModelBindUrl'
  | 'reidModelBindPort'
  | 'feModelBindUrl'
  | 'feModelBindPort'
  | 'detModelBindUrl'
  | 'detModelBindPort'
>;

function configured(
  config: PluginEndpointConfig,
  service: MultiEdgeServiceName,
): { host: string | undefined; port: number } {
  switch (service) {
    case MULTI_EDGE_SERVICES.REID:
      return { host: config.reidModelBindUrl, port: config.reidModelBindPort };
    case MULTI_EDGE_SERVICES.FEATURE_EXTRACTION:
      return { host: config.feModelBindUrl, port: config.feModelBindPort };
    case MULTI_EDGE_SERVICES.DETECTION:
      return { host: config.detModelBindUrl, port: config.detModelBindPort };
  }
}

/**
 * Where a plugin listens (server) or connects (client). A server binds `*_MODEL_BIND_URL` or, as
 * Sedna's `get_host_ip()`, the host's primary IPv4 (the pod IP: other pods reach it, the node's
 * other interfaces do not; docs/security.md); a client connects to it or to the default service host.
 */
export function pluginEndpoint(config: PluginEndpointConfig, plugin: PluginName): PluginEndpoint {
  const found = REGISTERED_PLUGINS.find((p) => p.plugin === plugin);
  if (found === undefined) throw new TypeError(`plugin ${plugin} has no network endpoint`);
  const { host, port } = configured(config, found.service);
  const fallback = found.role === 'server' ? primaryHostIp() : found.defaultClientHost;
  // Sedna's *_BIND_URL may hold a URL (http://host) rather than a host: keep the host part.
  return { host: host === undefined ? fallback : host.replace(/^https?:\/\//, '').replace(/[:/].*$/, ''), port };
}

/**
 * A client for a `*_I` plugin from the configuration (Sedna's `Detection`, `FE`, `ReID_Endpoint`),
 * with the shared token of SERVICE_TOKEN / SERVICE_TOKEN_FILE when set.
 */
export function pluginClient(
  config: PluginEndpointConfig & Partial<Pick<SednaConfig, 'serviceToken' | 'serviceTokenFile'>>,
  plugin: typeof PLUGIN.REID_I | typeof PLUGIN.FEATURE_EXTRACTION_I | typeof PLUGIN.VIDEO_ANALYTICS_I,
  options: { timeoutMs?: number; maxAttempts?: number } = {},
): MultiEdgeClient {
  const found = REGISTERED_PLUGINS.find((p) => p.plugin === plugin) as PluginSpec;
  const endpoint = pluginEndpoint(config, plugin);
  return new MultiEdgeClient({
    service: found.service,
    host: endpoint.host,
    port: endpoint.port,
    ...serviceTokenOption({ serviceToken: config.serviceToken, serviceTokenFile: config.serviceTokenFile }),
    ...options,
  });
}
