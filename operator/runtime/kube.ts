import { delimiter } from 'node:path';
import {
  AppsV1Api,
  BatchV1Api,
  AuthenticationV1Api,
  AuthorizationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  HttpMethod,
  IsomorphicFetchHttpLibrary,
  KubeConfig,
  Observable,
  PatchStrategy,
  RequestContext,
  V1MicroTime,
  Watch,
  setHeaderOptions,
  type ConfigurationOptions,
  type V1Lease,
  type V1LeaseSpec,
} from '@kubernetes/client-node';
import type { SecretReader } from '../alerting/notifiers/webhook.js';
import type { AccessReviewer, TokenReviewer } from '../http/auth-types.js';
import { formatInstant } from '../../api/timestamp.js';
import { systemClock, type Clock } from '../model.js';
import { jittered } from './clock.js';
import { isNotFound } from './errors.js';
import type { EventRecord, EventSink } from './event-recorder.js';
import type { KubeObject, ListWatcher, WatchEvent } from './informer.js';
import type { LeaseClient, LeaseRecord, ObservedLease } from './leader-election.js';
import type { StatusPatcher } from './status-writer.js';

/** The field manager recorded on everything the operator writes. */
export const FIELD_MANAGER = 'kube-usage-operator';

/** A kind of object to list and watch: `apiVersion` `v1` or `group/version`, its kind and plural resource. */
/** ReplicaSets and Jobs of a namespace with their controllers. */
export interface ControllerLister {
  list(
    namespace: string,
  ): Promise<{ kind: string; name: string; owner: { kind: string; name: string } | undefined }[]>;
}

export interface ResourceType {
  apiVersion: string;
  kind: string;
  plural: string;
}

export interface ListWatchScope {
  /** Only this namespace; all namespaces when absent. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface ListWatchOptions {
  /**
   * Serve metadata only (`PartialObjectMetadata`: name, namespace, uid, labels, annotations,
   * timestamps, owners, managedFields; no spec or status), for kinds of which labels suffice.
   */
  metadataOnly?: boolean;
  /** Objects per list page; default 500. */
  pageSize?: number;
}

/** Objects per list page. */
const LIST_PAGE_SIZE = 500;
/** What lists and watches accept: plain JSON, or metadata only (with plain JSON as the fallback). */
const ACCEPT_JSON = 'application/json';
const ACCEPT_METADATA_LIST =
  'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
const ACCEPT_METADATA = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';

/** What one list page request returns, as served. */
interface ListPage<T> {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: T[];
}

/**
 * A KubeConfig that authenticates requests as `config` does and sets their Accept header: what
 * client-node's Watch reads of its configuration (the cluster, and the request's authentication),
 * since it offers no other way to choose the media type of a watch.
 */
function acceptingConfig(config: KubeConfig, accept: string): KubeConfig {
  const shim: Pick<KubeConfig, 'getCurrentCluster' | 'applySecurityAuthentication'> = {
    getCurrentCluster: () => config.getCurrentCluster(),
    applySecurityAuthentication: async (context) => {
      await config.applySecurityAuthentication(context);
      context.setHeaderParam('Accept', accept);
    },
  };
  return shim as KubeConfig;
}

/** The error of a refused request, with its HTTP status as `code` (as client-node's ApiException). */
function requestFailed(status: number, body: string): Error {
  let message = `HTTP ${status}`;
  try {
    message = (JSON.parse(body) as { message?: string }).message ?? message;
  } catch {
    // not a Status object
  }
  return Object.assign(new Error(message), { code: status });
}
/** Server-side watch timeout, spread over [5, 10) min like client-go, so watches are renewed. */
const WATCH_TIMEOUT_SECONDS = 300;

/** Per-call options that make a generated API call give up when `signal` aborts. */
export function abortable(signal: AbortSignal | undefined): ConfigurationOptions | undefined {
  if (!signal) return undefined;
  return {
    middleware: [
      {
        pre: (request) => {
          request.setSignal(signal);
          return new Observable(Promise.resolve(request));
        },
        post: (response) => new Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

/**
 * Loads the client configuration: the given kubeconfig path(s) (a path list like KUBECONFIG),
 * else the in-cluster service account. Fails with a clear message when there is neither.
 */
export function loadKubeConfig(
  kubeconfig: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): KubeConfig {
  const kc = new KubeConfig();
  const files = (kubeconfig ?? '').split(delimiter).filter(Boolean);
  if (files.length > 0) {
    kc.loadFromFile(files[0]!);
    for (const file of files.slice(1)) {
      const more = new KubeConfig();
      more.loadFromFile(file);
      kc.mergeConfig(more, Boolean(kc.getCurrentContext())); // as kubectl: the first context set wins
    }
  } else if (env.KUBERNETES_SERVICE_HOST) {
    kc.loadFromCluster();
  } else {
    throw new Error(
      'no Kubernetes configuration: pass --kubeconfig, set KUBECONFIG, or run inside a cluster',
    );
  }
  if (!kc.getCurrentCluster()) throw new Error(`kubeconfig ${files.join(delimiter)} has no current cluster`);
  return kc;
}

/**
 * The runtime's interfaces implemented with @kubernetes/client-node. This is the only module
 * of the runtime that talks to the client library; everything else is tested with fakes.
 */
export class KubeClients {
  constructor(readonly config: KubeConfig) {}

  /**
   * Lists in pages and watches with bookmarks; objects are plain JSON as the server sends them
   * (timestamps stay strings). Each list page is parsed and handed on by itself, never
   * deserialized into client-node's typed models nor gathered with the other pages.
   */
  listWatcher<T extends KubeObject>(
    resource: ResourceType,
    scope: ListWatchScope = {},
    options: ListWatchOptions = {},
  ): ListWatcher<T> {
    const config = this.config;
    const watcher = new Watch(options.metadataOnly ? acceptingConfig(config, ACCEPT_METADATA) : config);
    const http = new IsomorphicFetchHttpLibrary();
    const { apiVersion, plural } = resource;
    const { namespace, labelSelector, fieldSelector } = scope;
    const path = [
      apiVersion.includes('/') ? '/apis' : '/api',
      apiVersion,
      ...(namespace ? ['namespaces', namespace] : []),
      plural,
    ].join('/');
    /** Fetches, parses and hands on one page; nothing of it outlives this call but `onPage`'s result. */
    const listPage = async (
      authenticated: RequestContext,
      continueToken: string | undefined,
      signal: AbortSignal,
      onPage: (items: T[]) => void,
    ): Promise<{ resourceVersion: string; continueToken: string | undefined }> => {
      const url = new URL(authenticated.getUrl());
      url.searchParams.set('limit', String(options.pageSize ?? LIST_PAGE_SIZE));
      if (labelSelector !== undefined) url.searchParams.set('labelSelector', labelSelector);
      if (fieldSelector !== undefined) url.searchParams.set('fieldSelector', fieldSelector);
      if (continueToken !== undefined) url.searchParams.set('continue', continueToken);
      const request = new RequestContext(url.toString(), HttpMethod.GET);
      for (const [name, value] of Object.entries(authenticated.getHeaders()))
        request.setHeaderParam(name, value);
      const dispatcher = authenticated.getDispatcher();
      if (dispatcher) request.setDispatcher(dispatcher);
      request.setSignal(signal);
      const response = await http.send(request).toPromise();
      const body = await response.body.text();
      signal.throwIfAborted();
      if (response.httpStatusCode !== 200) throw requestFailed(response.httpStatusCode, body);
      const page = JSON.parse(body) as ListPage<T>;
      onPage(page.items ?? []);
      return {
        resourceVersion: page.metadata?.resourceVersion ?? '',
        continueToken: page.metadata?.continue || undefined,
      };
    };
    return {
      async list(signal, onPage) {
        const server = config.getCurrentCluster()?.server;
        if (!server) throw new Error('the kubeconfig has no current cluster');
        // Authenticated once per list (its token, client certificate and connection pool), for every page.
        const authenticated = new RequestContext(server + path, HttpMethod.GET);
        await config.applySecurityAuthentication(authenticated);
        authenticated.setHeaderParam('Accept', options.metadataOnly ? ACCEPT_METADATA_LIST : ACCEPT_JSON);
        let page: { resourceVersion: string; continueToken: string | undefined } | undefined;
        do {
          page = await listPage(authenticated, page?.continueToken, signal, onPage);
        } while (page.continueToken);
        return page.resourceVersion;
      },
      watch(resourceVersion, onEvent, signal) {
        return new Promise<void>((resolve, reject) => {
          let request: AbortController | undefined;
          let settled = false;
          const finish = (err?: unknown): void => {
            if (settled) return;
            settled = true;
            signal.removeEventListener('abort', onAbort);
            request?.abort();
            if (err) reject(err instanceof Error ? err : new Error(String(err)));
            else resolve();
          };
          const onAbort = (): void => finish(new Error('watch aborted'));
          signal.addEventListener('abort', onAbort, { once: true });
          const params = {
            resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: Math.floor(jittered(WATCH_TIMEOUT_SECONDS, 1)),
            labelSelector,
            fieldSelector,
          };
          const onLine = (type: string, object: unknown): void => {
            if (type === 'ERROR') {
              const status = object as { code?: number; message?: string } | undefined;
              return finish(
                Object.assign(new Error(status?.message ?? 'watch error'), { code: status?.code }),
              );
            }
            if (type === 'BOOKMARK') {
              const rv = (object as KubeObject | undefined)?.metadata?.resourceVersion ?? resourceVersion;
              return onEvent({ type, resourceVersion: rv });
            }
            if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED')
              onEvent({ type, object } as WatchEvent<T>);
          };
          // client-node ends an idle watch after 30 s with a TimeoutError: a normal end, resume.
          const onDone = (err: unknown): void =>
            finish((err as { name?: string } | null)?.name === 'TimeoutError' ? undefined : err);
          watcher.watch(path, params, onLine, onDone).then((controller) => {
            request = controller;
            if (settled) controller.abort();
          }, finish);
        });
      },
    };
  }

  leaseClient(namespace: string, name: string): LeaseClient {
    const api = this.config.makeApiClient(CoordinationV1Api);
    const observed = (lease: V1Lease): ObservedLease => ({
      record: {
        holderIdentity: lease.spec?.holderIdentity ?? '',
        leaseDurationMs: (lease.spec?.leaseDurationSeconds ?? 0) * 1000,
        acquireTimeMs: lease.spec?.acquireTime ? new Date(lease.spec.acquireTime).getTime() : 0,
        renewTimeMs: lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0,
        leaseTransitions: lease.spec?.leaseTransitions ?? 0,
      },
      resourceVersion: lease.metadata?.resourceVersion ?? '',
    });
    const spec = (record: LeaseRecord): V1LeaseSpec => ({
      holderIdentity: record.holderIdentity,
      leaseDurationSeconds: Math.ceil(record.leaseDurationMs / 1000),
      acquireTime: new V1MicroTime(record.acquireTimeMs),
      renewTime: new V1MicroTime(record.renewTimeMs),
      leaseTransitions: record.leaseTransitions,
    });
    return {
      async get(signal) {
        try {
          return observed(await api.readNamespacedLease({ name, namespace }, abortable(signal)));
        } catch (err) {
          if (isNotFound(err)) return undefined;
          throw err;
        }
      },
      async create(record, signal) {
        return observed(
          await api.createNamespacedLease(
            { namespace, body: { metadata: { name, namespace }, spec: spec(record) } },
            abortable(signal),
          ),
        );
      },
      async update(record, resourceVersion, signal) {
        const body = { metadata: { name, namespace, resourceVersion }, spec: spec(record) };
        return observed(await api.replaceNamespacedLease({ name, namespace, body }, abortable(signal)));
      },
    };
  }

  /** Merge patches on the `/status` subresource of a custom resource. */
  statusPatcher(resource: { group: string; version: string; plural: string }): StatusPatcher {
    const api = this.config.makeApiClient(CustomObjectsApi);
    const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    return {
      async patchStatus(namespace, name, patch) {
        await api.patchNamespacedCustomObjectStatus(
          { ...resource, namespace, name, body: patch, fieldManager: FIELD_MANAGER },
          mergePatch,
        );
      },
    };
  }

  /**
   * The namespace's ReplicaSets and Jobs with their controllers (a Deployment, a CronJob), read
   * when asked: what groups pods into workloads (needs `list` on replicasets and jobs).
   */
  controllerLister(): ControllerLister {
    const apps = this.config.makeApiClient(AppsV1Api);
    const batch = this.config.makeApiClient(BatchV1Api);
    const controllerOf = (refs: { kind: string; name: string; controller?: boolean }[] | undefined) => {
      const ref = refs?.find((r) => r.controller === true);
      return ref ? { kind: ref.kind, name: ref.name } : undefined;
    };
    return {
      async list(namespace: string) {
        const [replicaSets, jobs] = await Promise.all([
          apps.listNamespacedReplicaSet({ namespace }),
          batch.listNamespacedJob({ namespace }),
        ]);
        return [
          ...replicaSets.items.map((rs) => ({
            kind: 'ReplicaSet',
            name: rs.metadata?.name ?? '',
            owner: controllerOf(rs.metadata?.ownerReferences),
          })),
          ...jobs.items.map((job) => ({
            kind: 'Job',
            name: job.metadata?.name ?? '',
            owner: controllerOf(job.metadata?.ownerReferences),
          })),
        ];
      },
    };
  }

  /** core/v1 Events (shown by `kubectl describe` and `kubectl events`). */
  eventSink(): EventSink {
    const api = this.config.makeApiClient(CoreV1Api);
    const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    return {
      async create(event: EventRecord) {
        const { involvedObject, component, instance } = event;
        await api.createNamespacedEvent({
          namespace: involvedObject.namespace,
          body: {
            metadata: { name: event.name, namespace: involvedObject.namespace },
            involvedObject,
            type: event.type,
            reason: event.reason,
            message: event.message,
            count: event.count,
            firstTimestamp: new Date(event.firstTimestampMs),
            lastTimestamp: new Date(event.lastTimestampMs),
            source: { component },
            reportingComponent: component,
            reportingInstance: instance,
          },
        });
      },
      async updateSeries(event: EventRecord) {
        const body = { count: event.count, lastTimestamp: formatInstant(event.lastTimestampMs) };
        await api.patchNamespacedEvent(
          { name: event.name, namespace: event.involvedObject.namespace, body },
          mergePatch,
        );
      },
    };
  }

  /**
   * TokenReview of callers' tokens. With `audiences`, only tokens issued for one of them are
   * accepted (`kubectl create token --audience ...`): a token meant for the apiserver or
   * another service is refused.
   */
  tokenReviewer(audiences?: string[]): TokenReviewer {
    const api = this.config.makeApiClient(AuthenticationV1Api);
    const wanted = audiences && audiences.length > 0 ? audiences : undefined;
    return {
      async review(token) {
        const review = await api.createTokenReview({ body: { spec: { token, audiences: wanted } } });
        const user = review.status?.user;
        if (!review.status?.authenticated || !user?.username) return { authenticated: false };
        // An authenticator that ignores audiences answers without them: refuse rather than trust it.
        if (wanted && !(review.status.audiences ?? []).some((a) => wanted.includes(a)))
          return { authenticated: false };
        return {
          authenticated: true,
          user: { username: user.username, groups: user.groups ?? [], uid: user.uid, extra: user.extra },
        };
      },
    };
  }

  accessReviewer(): AccessReviewer {
    const api = this.config.makeApiClient(AuthorizationV1Api);
    return {
      async canI(user, attrs) {
        const subject = { user: user.username, groups: user.groups, uid: user.uid, extra: user.extra };
        const spec =
          'path' in attrs
            ? { ...subject, nonResourceAttributes: { verb: attrs.verb, path: attrs.path } }
            : {
                ...subject,
                resourceAttributes: {
                  verb: attrs.verb,
                  resource: attrs.resource,
                  group: attrs.group ?? '',
                  namespace: attrs.namespace,
                  subresource: attrs.subresource,
                  name: attrs.name,
                },
              };
        const review = await api.createSubjectAccessReview({ body: { spec } });
        return review.status?.allowed === true;
      },
    };
  }
  /**
   * Reads one key of a Secret (webhook tokens), keeping answers for `ttlMs` so that a
   * notification burst does not read the same Secret many times.
   */
  secretReader({
    ttlMs = 30_000,
    requiredLabel,
    clock = systemClock,
  }: { ttlMs?: number; requiredLabel?: string; clock?: Clock } = {}): SecretReader {
    const api = this.config.makeApiClient(CoreV1Api);
    const cache = new Map<string, { value: string; until: number }>();
    return {
      async read(namespace, name, key) {
        const id = `${namespace}/${name}/${key}`;
        const hit = cache.get(id);
        if (hit && hit.until > clock.now()) return hit.value;
        const secret = await api.readNamespacedSecret({ namespace, name });
        // Only Secrets their owner opted in: a label, so that an alert cannot read any Secret.
        if (requiredLabel !== undefined && secret.metadata?.labels?.[requiredLabel] !== 'true')
          throw new Error(`Secret ${namespace}/${name} lacks the label ${requiredLabel}=true`);
        const encoded = secret.data?.[key];
        if (encoded === undefined) throw new Error(`Secret ${namespace}/${name} has no key "${key}"`);
        const value = Buffer.from(encoded, 'base64').toString('utf8').trim();
        cache.set(id, { value, until: clock.now() + ttlMs });
        return value;
      },
    };
  }
}
