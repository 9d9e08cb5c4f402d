/** The store: MongoDB (or FerretDB) behind the SampleWriter, UsageQueries and RetentionRunner interfaces. */
export * from './types.js';
export {
  MongoUsageStore,
  DEFAULT_DATABASE,
  type MongoUsageStoreOptions,
  type MongoUsageStoreDeps,
} from './mongo-store.js';
export {
  OutageBuffer,
  DEFAULT_OUTAGE_BUFFER_CAPACITY,
  type OutageBufferOptions,
  type OutageBufferDeps,
  type OutageStatus,
} from './outage-buffer.js';
export type { ServerFeatures } from './connection.js';
export { StoredReportLedger, type ReportLedger } from './report-ledger.js';
export { openStore, type UsageStore, type StoreHealth, type OpenStoreOptions } from './open-store.js';
export {
  openNamespaceData,
  MongoNamespaceData,
  NAMESPACED_COLLECTIONS,
  TOMBSTONE_COLLECTION,
  type NamespaceDataStore,
  type NamespaceTombstone,
  type PurgeLimits,
  type PurgeResult,
} from './namespace-purge.js';
export { NodeStaleTermError } from './node-fence.js';
