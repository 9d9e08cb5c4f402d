import type { View } from './types.js';

/**
 * Right-sizing recommendations (issue 17) have no API yet, so this view is not offered: the
 * navigation lists only views in VIEWS (main.ts) and this one is left out. When the operator
 * serves recommendations, implement render() against that endpoint (per namespace, authorized
 * like the others), set `available` to true, and the shell adds the tab.
 */
export const RECOMMENDATIONS_AVAILABLE = false;

export const recommendationsView: View = {
  title: 'Recommendations',
  render(root) {
    root.textContent = 'Recommendations are not served by this operator yet.';
  },
};
