/** What tests replace when they start the operator in their own process (startOperator, start.ts). */
import type { ResourceAlertReconcilerDeps } from '../../controllers/resourcealert/reconcile.js';
import type { NodeUsageSource } from '../../operator/collector/collector.js';
import type { MetricsSource } from '../../operator/sources/metrics-api/metrics-source.js';

export interface OperatorOverrides {
  /** Replace the metrics API (tests). */
  metricsSource?: MetricsSource;
  /** Replace the kubelet source (tests); null: metrics.k8s.io only. */
  kubeletSource?: NodeUsageSource | null;
  /** Called after each ResourceAlert status write, before its transitions are announced (a test hook). */
  afterAlertStatusWrite?: ResourceAlertReconcilerDeps['afterStatusWrite'];
  /** While it returns true, the data of deleted namespaces is not purged (tests read before the purge). */
  holdNamespacePurge?: () => boolean;
}
