import { delimiter } from 'node:path';
import {
  AppsV1Api,
  BatchV1Api,
  AuthenticationV1Api,
  AuthorizationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  Observable,
  PatchStrategy,
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

/** Objects per list page. */
const LIST_PAGE_SIZE = 500;
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

  /** Lists in pages and watches with bookmarks; objects are plain JSON as the server sends them. */
  listWatcher<T extends KubeObject>(resource: ResourceType, scope: ListWatchScope = {}): ListWatcher<T> {
    const objects = KubernetesObjectApi.makeApiClient(this.config);
    const watcher = new Watch(this.config);
    const { apiVersion, kind, plural } = resource;
    const { namespace, labelSelector, fieldSelector } = scope;
    const path = [
      apiVersion.includes('/') ? '/apis' : '/api',
      apiVersion,
      ...(namespace ? ['namespaces', namespace] : []),
      plural,
    ].join('/');
    return {
      async list(signal) {
        const items: T[] = [];
        let resourceVersion = '';
        let continueToken: string | undefined;
        do {
          const page = await objects.list<T>(
            apiVersion,
            kind,
            namespace,
            undefined,
            undefined,
            undefined,
            fieldSelector,
            labelSelector,
            LIST_PAGE_SIZE,
            continueToken,
          );
          signal.throwIfAborted();
          // Typed models turn timestamps into Dates; watch events carry strings. Serve JSON alike.
          items.push(...(JSON.parse(JSON.stringify(page.items)) as T[]));
          resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
          continueToken = page.metadata?._continue || undefined;
        } while (continueToken);
        return { items, resourceVersion };
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
