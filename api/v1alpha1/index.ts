/** The usage.kubeusage.dev/v1alpha1 API: kinds, schemas, validation and normalized configs. */
export * from './schema-helpers.js';
export * from './conditions.js';
export * from './labels.js';
export * from './usagepolicy.js';
export * from './resourcealert.js';
export * from './validation.js';
export * from './normalize.js';
export * from './crd.js';
