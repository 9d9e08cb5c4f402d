import type { View } from './types.js';

/**
 * The right-sizing view is not implemented, so it is not offered: the navigation lists only views
 * in VIEWS (main.ts) and this one is left out. The API serves the recommendations
 * (GET /api/v1/namespaces/{ns}/recommendations, docs/rightsizing.md, authorized like the other
 * namespace reads): implement render() against it, set RECOMMENDATIONS_AVAILABLE to true, and
 * the shell adds the tab.
 */
export const RECOMMENDATIONS_AVAILABLE = false;

export const recommendationsView: View = {
  title: 'Recommendations',
  render(root) {
    root.textContent = 'Recommendations are not served by this operator yet.';
  },
};
