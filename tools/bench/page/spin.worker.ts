/**
 * Plain compute for the bench's host check (tools/bench/engine.mjs, "3 agents × 1 model"): eight
 * independent floating-point chains in registers, no memory traffic. Three of these one after
 * another vs all at once show what the host's two cores give plain arithmetic in the same rounds
 * as the agents' rows — the ceiling the agents' speed-up is read against.
 */
self.onmessage = (e: MessageEvent<number>) => {
  const n = e.data;
  const t0 = performance.now();
  let a = 1, b = 1.1, c = 1.2, d = 1.3, f = 1.4, g = 1.5, h = 1.6, k = 1.7;
  const m = 0.9999999;
  const q = 1e-7;
  for (let i = 0; i < n; i++) {
    a = a * m + q; b = b * m + q; c = c * m + q; d = d * m + q;
    f = f * m + q; g = g * m + q; h = h * m + q; k = k * m + q;
  }
  self.postMessage({ ms: performance.now() - t0, sum: a + b + c + d + f + g + h + k });
};
