/**
 * The CustomResourceDefinitions (apiextensions.k8s.io/v1) of both kinds, built from the schema
 * constants. scripts/generate-crds.ts prints them into crds/.
 */
import { resourceAlertKind } from './resourcealert.js';
import {
  API_GROUP,
  API_VERSION_NAME,
  CATEGORY,
  objectSchema,
  type KindDefinition,
} from './schema-helpers.js';
import { usagePolicyKind } from './usagepolicy.js';

export const KINDS: readonly KindDefinition[] = [usagePolicyKind, resourceAlertKind];

export function customResourceDefinition(definition: KindDefinition) {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${definition.plural}.${API_GROUP}`,
      labels: { 'app.kubernetes.io/name': 'kube-usage-operator' },
    },
    spec: {
      group: API_GROUP,
      names: {
        kind: definition.kind,
        listKind: `${definition.kind}List`,
        plural: definition.plural,
        singular: definition.singular,
        shortNames: definition.shortNames,
        categories: [CATEGORY],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: API_VERSION_NAME,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: definition.printerColumns,
          schema: { openAPIV3Schema: objectSchema(definition) },
        },
      ],
    },
  };
}
