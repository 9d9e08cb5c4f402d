import { CONDITIONS } from '../../../api/v1alpha1/conditions.js';

/** The condition types each kind's writer owns, as the operator wires them. */
export const CONDITION_OWNED_TYPES = {
  UsagePolicy: Object.keys(CONDITIONS.UsagePolicy),
  ResourceAlert: Object.keys(CONDITIONS.ResourceAlert),
};
