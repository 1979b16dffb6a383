/**
 * A Svelte action that shows an Observable Plot (https://observablehq.com/plot/) figure: `make`
 * builds the SVG element, the action appends it and rebuilds it when its inputs change. Shared by
 * the results plots (Plots.svelte) and the live search plot (SearchPlot.svelte).
 */
import type { Action } from 'svelte/action';

export const plot: Action<HTMLElement, () => Element> = (node, make) => {
  let el = make();
  node.append(el);
  return {
    update(next) {
      el.remove();
      el = next();
      node.append(el);
    },
    destroy() {
      el.remove();
    },
  };
};
