/**
 * The HTTP API, on every replica: usage reads (through the namespace read guard),
 * recommendations, the node agents' latest readings, the event stream, /metrics and the
 * health endpoints; HTTPS from the configured files (reloaded when they change) or a
 * self-signed certificate.
 */
import type { Recommender } from '../../operator/recommend/recommender.js';
import { createHttpServer } from '../../operator/http/server.js';
import { HttpServerRunnable } from '../../operator/http/server-runnable.js';
import { readTlsFiles, selfSignedCertificate, watchTlsFiles } from '../../operator/http/tls.js';
import { defaultUiDirectory } from '../../operator/http/ui-routes.js';
import type { UsageStore } from '../../operator/store/index.js';
import type { AgentParts } from './agents.js';
import type { OperatorBase } from './base.js';
import type { Caches } from './caches.js';

export interface HttpParts {
  server: HttpServerRunnable;
  /** The served certificate (PEM) when it serves HTTPS. */
  certificate: string | undefined;
  /** Stops watching the certificate files. */
  stopWatchingTls(): void;
}

export function buildHttp(
  { config, logger, timers, metrics, clients, events }: OperatorBase,
  parts: {
    caches: Caches;
    store: UsageStore;
    recommender: Recommender;
    agents: AgentParts | undefined;
    /** Whether the informer caches have synced (readiness). */
    cachesSynced: () => boolean;
  },
): HttpParts {
  const { caches, store } = parts;
  const { tls: tlsConfig } = config.http;
  const tls =
    tlsConfig.certFile && tlsConfig.keyFile
      ? readTlsFiles(tlsConfig.certFile, tlsConfig.keyFile)
      : tlsConfig.selfSigned
        ? selfSignedCertificate()
        : undefined;
  if (!tls)
    logger.warn('the HTTP API serves plain HTTP: callers send their tokens in clear (set --tls-cert-file)');
  const http = createHttpServer({
    ...(tls && { tls }),
    ...(parts.agents && { agents: parts.agents.readings }),
    queries: caches.queries,
    recommender: parts.recommender,
    tokenReviewer: clients.tokenReviewer(config.http.tokenAudience ? [config.http.tokenAudience] : undefined),
    accessReviewer: clients.accessReviewer(),
    metrics,
    events,
    cluster: {
      namespaces: () => caches.namespaces.list().map((n) => n.metadata?.name ?? ''),
      resourceAlerts: (ns) => caches.alerts.list(ns),
    },
    uiDirectory: config.uiDirectory ?? defaultUiDirectory(),
    logger: logger.child({ component: 'http' }),
    clock: timers,
    timers,
    health: {
      live: () => true,
      ready: async () => {
        const synced = parts.cachesSynced();
        const storeUp = await store.ping();
        return {
          ready: synced && storeUp === true,
          checks: { informers: synced || 'not synced yet', store: storeUp },
        };
      },
    },
  });
  const stopWatchingTls =
    tlsConfig.certFile && tlsConfig.keyFile
      ? watchTlsFiles(
          tlsConfig.certFile,
          tlsConfig.keyFile,
          (material) => {
            http.setCertificate?.(material);
            logger.info('serving the renewed TLS certificate', { certFile: tlsConfig.certFile });
          },
          (err) =>
            logger.warn('the TLS certificate files do not load; serving the previous ones', {
              error: String(err),
            }),
          { timers },
        )
      : () => undefined;
  return {
    server: new HttpServerRunnable(http, { host: config.http.address, port: config.http.port }),
    certificate: tls?.cert,
    stopWatchingTls,
  };
}
