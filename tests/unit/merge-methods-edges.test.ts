/**
 * Edges of mergekit's newer merge methods (nuslerp, multislerp, karcher, sce, arcee_fusion, ram,
 * nearswap, passthrough) on small hand-made tensors: the refusals (error class and message), the
 * parameters' edge values (t = 0/1, epsilon, zero norms, select_topk limits, a single input, no
 * base), the fallbacks (SLERP → LERP when parallel, antipodal Multi-SLERP) and the statistics each
 * kernel reports. Expected values are worked out by hand or with plain arithmetic here, never with
 * the kernels' own helpers; merge-methods-mergekit checks the whole merges on real tensors.
 */
import { describe, expect, it } from 'vitest';
import { MergeMethodError, getMethod, type KernelResult, type ParamValue } from '../../src/lib/merge/methods/index.ts';
import { tensorRng } from '../../src/lib/merge/methods/sparsify.ts';

type P = Record<string, ParamValue>;
const f32 = (x: readonly number[]) => Float32Array.from(x);
const fr = Math.fround;

/** One kernel call on small tensors (shape defaults to a vector). */
function k(id: string, tensors: readonly number[][], baseIndex: number | null, params: P, modelParams?: P[], shape?: number[], seed = 0, name = 'blk.0.attn_q.weight'): KernelResult {
  return getMethod(id).kernel({
    name, shape: shape ?? [tensors[0]!.length], tensors: tensors.map(f32), baseIndex, params,
    modelParams: modelParams ?? tensors.map(() => ({})), seed,
  });
}
/** Element-wise closeness with a relative tolerance (plus a small absolute one). */
function close(a: ArrayLike<number>, b: readonly number[], tol = 1e-6) {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < b.length; i++) expect(Math.abs(a[i]! - b[i]!), `index ${i}: ${a[i]} vs ${b[i]}`).toBeLessThanOrEqual(tol * (1 + Math.abs(b[i]!)));
}
/** What `f` throws: a MergeMethodError with exactly this message. */
function refuses(f: () => unknown, message: string) {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(MergeMethodError);
  expect((err as Error).message).toBe(message);
}
const arr = (x: Float32Array) => Array.from(x);
const S = Math.SQRT1_2;

describe('passthrough', () => {
  it('scale 1 returns a copy of the one input, with the statistics {scale: 1}', () => {
    const x = f32([1.5, -2, 0, 3.25]);
    const r = getMethod('passthrough').kernel({ name: 'w', shape: [4], tensors: [x], baseIndex: null, params: {}, modelParams: [{ scale: 1 }], seed: 0 });
    expect(arr(r.data)).toEqual([1.5, -2, 0, 3.25]);
    expect(r.data).not.toBe(x);
    expect(r.stats).toEqual({ name: 'w', taskVectorNorms: [], kept: [], signAgreement: null, extra: { scale: 1 } });
  });
  it('another scale multiplies every value; scale 0 zeroes the tensor', () => {
    const r = k('passthrough', [[1.5, -2, 0, 3.25]], null, {}, [{ scale: 0.5 }]);
    expect(arr(r.data)).toEqual([0.75, -1, 0, 1.625]);
    expect(r.stats.extra).toEqual({ scale: 0.5 });
    expect(arr(k('passthrough', [[1.5, -2, 4]], null, {}, [{ scale: 2 }]).data)).toEqual([3, -4, 8]);
    expect(arr(k('passthrough', [[1.5, -2, 4]], null, {}, [{ scale: 0 }]).data).map(Math.abs)).toEqual([0, 0, 0]);
  });
  it('refuses a missing scale by name', () => {
    refuses(() => k('passthrough', [[1, 2]], null, {}, [{}]), 'parameter "scale" must be a number, got nothing');
  });
});

describe('nearswap', () => {
  it('validate refuses a negative t by name and accepts 0', () => {
    const v = getMethod('nearswap').validate!;
    expect(v({ t: -0.25 }, [{}, {}], 0, 4)).toBe('t must be 0 or more (got -0.25); it is a distance between weights');
    expect(v({ t: 0 }, [{}, {}], 0, 4)).toBeNull();
    expect(v({ t: 0.5 }, [{}, {}], 0, 4)).toBeNull();
  });
  it('refuses to run without a base', () => {
    refuses(() => k('nearswap', [[1], [2]], null, { t: 0.1 }), 'nearswap needs a base_model');
  });
  it('swaps entries within t, keeps a share t/|d| of farther ones; reports the swapped share, ‖b − a‖ and t', () => {
    // d = b − a = 0.25, 0.5, 1, −2, 0 with t = 0.5: w = 1, 1, 0.5, 0.25, 1.
    const a = [1, 1, 1, 1, 3], b = [1.25, 1.5, 2, -1, 3];
    const r = k('nearswap', [a, b], 0, { t: 0.5 });
    expect(arr(r.data)).toEqual([1.25, 1.5, 1.5, 0.5, 3]);
    expect(r.stats.name).toBe('blk.0.attn_q.weight');
    expect(r.stats.taskVectorNorms).toHaveLength(1);
    expect(r.stats.taskVectorNorms[0]).toBeCloseTo(Math.sqrt(0.0625 + 0.25 + 1 + 4), 12);
    expect(r.stats.kept).toEqual([1]);
    expect(r.stats.signAgreement).toBeNull();
    expect(r.stats.extra).toEqual({ t: 0.5, swapped: 3 / 5 });
  });
  it('the base may be the second input: the first is then the other model', () => {
    const r = k('nearswap', [[1.25, 2, 9], [1, 1, 1]], 1, { t: 0.5 });
    // a = base = [1, 1, 1], b = [1.25, 2, 9]: w = 1, 0.5, 1/16.
    expect(arr(r.data)).toEqual([1.25, 1.5, 1.5]);
    expect(r.stats.extra.swapped).toBeCloseTo(1 / 3, 12);
  });
  it('t = 0 keeps the base everywhere, even where the models agree (w = 0/1e-6 = 0)', () => {
    const r = k('nearswap', [[1, 2, 3], [1, 5, -3]], 0, { t: 0 });
    expect(arr(r.data)).toEqual([1, 2, 3]);
    expect(r.stats.extra.swapped).toBe(0);
  });
  it('differences below 1e-6 are divided by 1e-6, not by themselves', () => {
    // |d| = 2e-7 < 1e-6 and t = 5e-7: w = 5e-7 / 1e-6 = 0.5, so half of the other model's change.
    const d = fr(2e-7);
    const r = k('nearswap', [[0, 0], [d, 0]], 0, { t: 5e-7 });
    expect(r.data[0]).toBe(fr(0.5 * d));
    // Entry 1 (no difference) also gets w = 5e-7/1e-6 = ½: nothing is swapped whole.
    expect(r.data[1]).toBe(0);
    expect(r.stats.extra.swapped).toBe(0);
  });
  it('an empty tensor gives an empty result and a swapped share of 0', () => {
    const r = k('nearswap', [[], []], 0, { t: 0.1 });
    expect(r.data.length).toBe(0);
    expect(r.stats.extra.swapped).toBe(0);
    expect(r.stats.taskVectorNorms).toEqual([0]);
  });
});

describe('karcher', () => {
  const P10 = { max_iter: 10, tol: 1e-5 };
  it('validate and kernel refuse a fractional max_iter by name', () => {
    const v = getMethod('karcher').validate!;
    expect(v({ max_iter: 2.5, tol: 1e-5 }, [{}, {}], null, 4)).toBe('max_iter must be a whole number of iterations (got 2.5)');
    expect(v({ max_iter: 3, tol: 1e-5 }, [{}, {}], null, 4)).toBeNull();
    refuses(() => k('karcher', [[1, 0], [0, 1]], null, { max_iter: 2.5, tol: 1e-5 }), 'karcher: max_iter must be a whole number (got 2.5)');
  });
  it('three directions on a circle converge to their mean angle in one step', () => {
    // Angles 0°, 0° and 90°: the Karcher mean is 30° (on a circle the tangent step is exact), while
    // the normalised average of the unit vectors points at atan(1/2) ≈ 26.57°. Mean norm 1.
    const r = k('karcher', [[1, 0], [1, 0], [0, 1]], null, P10);
    close(r.data, [Math.cos(Math.PI / 6), Math.sin(Math.PI / 6)], 1e-6);
    expect(r.stats).toEqual({ name: 'blk.0.attn_q.weight', taskVectorNorms: [], kept: [], signAgreement: null, extra: { iterations: 1 } });
  });
  it('max_iter 0 stops at the normalised average of the directions', () => {
    const r = k('karcher', [[1, 0], [1, 0], [0, 1]], null, { max_iter: 0, tol: 1e-5 });
    close(r.data, [2 / Math.sqrt(5), 1 / Math.sqrt(5)], 1e-6);
    expect(r.stats.extra.iterations).toBe(0);
  });
  it('scales by the mean of all the norms (×1/N), a zero input included, and directions are unit vectors', () => {
    // Directions 0° and 90° (norms 2 and 4): midpoint 45°, size (2 + 4)/2 = 3.
    const r = k('karcher', [[2, 0], [0, 4]], null, P10);
    close(r.data, [3 * S, 3 * S], 1e-6);
    expect(r.stats.extra.iterations).toBe(0);
    // A zero input takes no part in the direction but counts in the mean norm: (3 + 0)/2 = 1.5.
    const z = k('karcher', [[3, 0], [0, 0]], null, P10);
    expect(arr(z.data)).toEqual([1.5, 0]);
    expect(z.stats.extra.iterations).toBe(0);
  });
  it('an average direction of norm exactly tol is normalised, not replaced by the first direction', () => {
    // û = [1, 0], [0, 1]: their average has norm √½ = tol, so the start is [√½, √½], already the mean
    // (0 iterations); starting from [1, 0] would take one step to get there.
    const r = k('karcher', [[1, 0], [0, 1]], null, { max_iter: 10, tol: Math.SQRT1_2 });
    close(r.data, [S, S], 1e-6);
    expect(r.stats.extra.iterations).toBe(0);
  });
  it('an input whose norm is exactly tol counts as zero', () => {
    // tol 0.5: [0.5, 0] is left out, so the direction is [0, 1] alone; size (0.5 + 2)/2 = 1.25.
    const r = k('karcher', [[0.5, 0], [0, 2]], null, { max_iter: 10, tol: 0.5 });
    expect(arr(r.data)).toEqual([0, 1.25]);
  });
  it('all inputs zero (or below tol) give zeros and 0 iterations', () => {
    const r = k('karcher', [[0, 0, 0], [0, 0, 0]], null, P10);
    expect(arr(r.data)).toEqual([0, 0, 0]);
    expect(r.stats.extra).toEqual({ iterations: 0 });
    const small = k('karcher', [[1e-6, 0], [0, -1e-6]], null, P10);
    expect(arr(small.data)).toEqual([0, 0]);
  });
  it('antipodal inputs (directions summing to zero) start from the first direction', () => {
    const r = k('karcher', [[2, 0], [-4, 0]], null, P10);
    expect(arr(r.data)).toEqual([3, 0]);
    expect(r.stats.extra.iterations).toBe(0);
    const r2 = k('karcher', [[-4, 0], [2, 0]], null, { max_iter: 0, tol: 1e-5 });
    expect(arr(r2.data)).toEqual([-3, 0]);
  });
  it('identical inputs come back as they are, without iterating', () => {
    const r = k('karcher', [[1, 1, 1], [1, 1, 1]], null, P10);
    close(r.data, [1, 1, 1], 1e-6);
    expect(r.stats.extra.iterations).toBe(0);
    const r2 = k('karcher', [[3, 4], [3, 4], [6, 8]], null, P10);
    close(r2.data, [4, 16 / 3], 1e-6);
    expect(r2.stats.extra.iterations).toBe(0);
  });
  it('iterates towards the mean: after one step from the average the error shrinks, with the iteration count reported', () => {
    // Three directions at 0°, 10°, 100° of norm 1: the Karcher mean is at their mean angle, 110°/3.
    const ang = [0, 10, 100].map((d) => (d * Math.PI) / 180);
    const xs = ang.map((t) => [Math.cos(t), Math.sin(t)]);
    const r = k('karcher', xs, null, { max_iter: 20, tol: 1e-9 });
    const m = (110 / 3) * (Math.PI / 180);
    close(r.data, [Math.cos(m), Math.sin(m)], 1e-6);
    expect(r.stats.extra.iterations).toBeGreaterThanOrEqual(1);
    expect(r.stats.extra.iterations).toBeLessThanOrEqual(3);
  });
  it('off a great circle one step is not enough: max_iter bounds the steps taken', () => {
    const xs = [[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]];
    const one = k('karcher', xs, null, { max_iter: 1, tol: 1e-12 });
    const many = k('karcher', xs, null, { max_iter: 100, tol: 1e-12 });
    expect(one.stats.extra.iterations).toBe(1);
    expect(many.stats.extra.iterations).toBeGreaterThan(2);
    expect(many.stats.extra.iterations).toBeLessThan(100);
    // The converged mean: unit length, and the Riemannian gradient Σ θ_i/sin θ_i · (û_i − cos θ_i u) vanishes.
    const u = arr(many.data);
    expect(Math.hypot(...u)).toBeCloseTo(1, 6);
    const g = [0, 0, 0];
    for (const x of xs) {
      const c = x.reduce((s, v, j) => s + v * u[j]!, 0) / Math.hypot(...u);
      const th = Math.acos(c);
      x.forEach((v, j) => (g[j] = g[j]! + (th / Math.sin(th)) * (v - (c * u[j]!) / Math.hypot(...u))));
    }
    expect(Math.hypot(...g)).toBeLessThan(1e-5);
    // One step from the average has not got there yet.
    expect(Math.hypot(...arr(one.data).map((x, j) => x - u[j]!))).toBeGreaterThan(1e-4);
  });
});

describe('nuslerp', () => {
  const v = () => getMethod('nuslerp').validate!;
  it('validate asks for exactly two models besides the optional base, naming the count', () => {
    expect(v()({}, [{ weight: 1 }, { weight: 1 }], null, 4)).toBeNull();
    expect(v()({}, [{ weight: 1 }, { weight: 1 }, {}], 2, 4)).toBeNull();
    expect(v()({}, [{ weight: 1 }, { weight: 1 }, { weight: 1 }], null, 4)).toBe('nuslerp interpolates exactly two models (got 3); list two');
    expect(v()({}, [{ weight: 1 }, {}], 1, 4)).toBe('nuslerp interpolates exactly two models besides the base (got 1); list two');
  });
  it('the kernel refuses three models without a base', () => {
    refuses(() => k('nuslerp', [[1], [2], [3]], null, { nuslerp_flatten: true, nuslerp_row_wise: false }, [{ weight: 1 }, { weight: 1 }, { weight: 1 }]), 'nuslerp merges exactly two models (plus an optional base)');
  });
  const FLAT = { nuslerp_flatten: true, nuslerp_row_wise: false };
  it('orthogonal vectors: sin((1−t)θ)/sin θ and sin(tθ)/sin θ with t = w₂/(w₁+w₂), angle 90°', () => {
    // θ = 90°, t = 3/4: coefficients sin(22.5°) and sin(67.5°).
    const r = k('nuslerp', [[2, 0], [0, 4]], null, FLAT, [{ weight: 1 }, { weight: 3 }]);
    close(r.data, [2 * Math.sin(Math.PI / 8), 4 * Math.sin((3 * Math.PI) / 8)], 1e-6);
    expect(r.stats.name).toBe('blk.0.attn_q.weight');
    expect(r.stats.taskVectorNorms).toEqual([]);
    expect(r.stats.kept).toEqual([]);
    expect(r.stats.signAgreement).toBeNull();
    expect(r.stats.extra.t).toBe(0.75);
    expect(r.stats.extra.angleDeg).toBeCloseTo(90, 9);
    expect(r.stats.extra.lerpFallback).toBe(0);
  });
  it('t = 0 returns the first model, t = 1 the second', () => {
    close(k('nuslerp', [[2, 1], [-1, 3]], null, FLAT, [{ weight: 1 }, { weight: 0 }]).data, [2, 1], 1e-6);
    close(k('nuslerp', [[2, 1], [-1, 3]], null, FLAT, [{ weight: 0 }, { weight: 2 }]).data, [-1, 3], 1e-6);
  });
  it('weights summing to (nearly) zero give t = ½; a sum of exactly 1e-6 does not', () => {
    const r = k('nuslerp', [[1, 0], [0, 1]], null, FLAT, [{ weight: 1 }, { weight: -1 }]);
    expect(r.stats.extra.t).toBe(0.5);
    close(r.data, [S, S], 1e-6);
    expect(k('nuslerp', [[1, 0], [0, 1]], null, FLAT, [{ weight: 5e-7 }, { weight: 4e-7 }]).stats.extra.t).toBe(0.5);
    const edge = k('nuslerp', [[1, 0], [0, 1]], null, FLAT, [{ weight: 1e-6 }, { weight: 0 }]);
    expect(edge.stats.extra.t).toBe(0);
    close(edge.data, [1, 0], 1e-6);
  });
  it('parallel vectors fall back to the linear blend (1 − t)·u + t·v and report it', () => {
    const r = k('nuslerp', [[1, 0], [3, 0]], null, FLAT, [{ weight: 1 }, { weight: 1 }]);
    expect(arr(r.data)).toEqual([2, 0]);
    expect(r.stats.extra.lerpFallback).toBe(1);
    expect(r.stats.extra.angleDeg).toBe(0);
    // Antiparallel (θ = 180°, sin θ ≈ 1e-16): also the linear blend.
    const anti = k('nuslerp', [[1, 0], [-3, 0]], null, FLAT, [{ weight: 3 }, { weight: 1 }]);
    expect(arr(anti.data)).toEqual([0, 0]);
    expect(anti.stats.extra.lerpFallback).toBe(1);
    expect(anti.stats.extra.angleDeg).toBeCloseTo(180, 9);
  });
  it('identical vectors (cos θ rounding above 1) come back unchanged', () => {
    const r = k('nuslerp', [[3, 4], [3, 4]], null, FLAT, [{ weight: 1 }, { weight: 2 }]);
    close(r.data, [3, 4], 1e-7);
    expect(r.stats.extra.lerpFallback).toBe(1);
    const anti = k('nuslerp', [[3, 4], [-3, -4]], null, FLAT, [{ weight: 1 }, { weight: 1 }]);
    close(anti.data, [0, 0], 1e-7);
  });
  it('a zero vector has norm floored at 1e-7: θ = 90° and the other vector is scaled by sin(tθ)', () => {
    const r = k('nuslerp', [[0, 0], [2, 0]], null, FLAT, [{ weight: 1 }, { weight: 1 }]);
    close(r.data, [2 * S, 0], 1e-6);
    expect(r.stats.extra.angleDeg).toBeCloseTo(90, 9);
    expect(r.stats.extra.lerpFallback).toBe(0);
  });
  it('with a base (any position): base + SLERP of the two task vectors', () => {
    // Task vectors [1, 0] and [0, 1] from base [1, 2]; t = ½ → base + [√½, √½].
    const r = k('nuslerp', [[2, 2], [1, 2], [1, 3]], 1, FLAT, [{ weight: 1 }, {}, { weight: 1 }]);
    close(r.data, [1 + S, 2 + S], 1e-6);
    // Parallel task vectors with a base: base + the linear blend.
    const p = k('nuslerp', [[1, 1], [2, 1], [4, 1]], 0, FLAT, [{}, { weight: 1 }, { weight: 1 }]);
    close(p.data, [3, 1], 1e-7);
    expect(p.stats.extra.lerpFallback).toBe(1);
  });
  it('flatten off on a vector: still one arc, whatever row_wise says', () => {
    // u = [1, 2, 0], v = [2, 1, 0]: cos θ = 4/5; at t = ½ both coefficients are sin(θ/2)/sin θ =
    // 1/(2 cos(θ/2)), cos(θ/2) = √0.9. Entry by entry, entries 0 and 1 would be parallel scalars.
    const c = 1 / (2 * Math.sqrt(0.9));
    for (const rowWise of [false, true]) {
      const r = k('nuslerp', [[1, 2, 0], [2, 1, 0]], null, { nuslerp_flatten: false, nuslerp_row_wise: rowWise }, [{ weight: 1 }, { weight: 1 }], [3]);
      close(r.data, [3 * c, 3 * c, 0], 1e-6);
      expect(r.stats.extra.angleDeg).toBeCloseTo((Math.acos(0.8) * 180) / Math.PI, 6);
      expect(r.stats.extra.lerpFallback).toBe(0);
    }
  });
  it('per row: each row its own arc; the statistics average the angles and count the fallbacks', () => {
    // Shape [2, 2]: rows [1, 0] / [0, 1] (orthogonal) and [1, 0] / [3, 0] (parallel).
    const r = k('nuslerp', [[1, 0, 1, 0], [0, 1, 3, 0]], null, { nuslerp_flatten: false, nuslerp_row_wise: false }, [{ weight: 1 }, { weight: 1 }], [2, 2]);
    close(r.data, [S, S, 2, 0], 1e-6);
    expect(r.stats.extra.angleDeg).toBeCloseTo(45, 6);
    expect(r.stats.extra.lerpFallback).toBe(0.5);
  });
  it('per column (row_wise): entries k·cols + c form column c', () => {
    // Shape [2, 3]: rows [a0, a1], [a2, a3], [a4, a5]; columns (a0, a2, a4) and (a1, a3, a5).
    // Column 0: [1, 0, 0] / [0, 0, 1] (orthogonal); column 1: [0, 2, 0] / [0, 4, 0] (parallel).
    const u = [1, 0, 0, 2, 0, 0], w = [0, 0, 0, 4, 1, 0];
    const r = k('nuslerp', [u, w], null, { nuslerp_flatten: false, nuslerp_row_wise: true }, [{ weight: 1 }, { weight: 1 }], [2, 3]);
    close(r.data, [S, 0, 0, 3, S, 0], 1e-6);
    expect(r.stats.extra.lerpFallback).toBe(0.5);
    expect(r.stats.extra.angleDeg).toBeCloseTo(45, 6);
  });
});

describe('multislerp', () => {
  const v = () => getMethod('multislerp').validate!;
  it('validate refuses weights summing to zero only when normalising, and ignores the base\'s entry', () => {
    const msg = 'the weights sum to 0 and normalize_weights is true, so they cannot be normalised; change a weight or set normalize_weights: false';
    expect(v()({ normalize_weights: true }, [{ weight: 1 }, { weight: -1 }], null, 4)).toBe(msg);
    expect(v()({ normalize_weights: false }, [{ weight: 1 }, { weight: -1 }], null, 4)).toBeNull();
    expect(v()({ normalize_weights: true }, [{ weight: 1 }, { weight: 1 }], null, 4)).toBeNull();
    expect(v()({ normalize_weights: true }, [{ weight: 1 }, { weight: -1 }, { weight: 5 }], 2, 4)).toBe(msg);
    expect(v()({ normalize_weights: true }, [{ weight: 1 }, {}, { weight: 1 }], 1, 4)).toBeNull();
  });
  it('one model besides the base is returned as it is (no weight read), with no statistics', () => {
    const r = k('multislerp', [[1, 2], [5, 5]], 1, { normalize_weights: true, eps: 1e-8 }, [{}, {}]);
    expect(arr(r.data)).toEqual([1, 2]);
    expect(r.stats).toEqual({ name: 'blk.0.attn_q.weight', taskVectorNorms: [], kept: [], signAgreement: null, extra: {} });
  });
  /** The documented formula for two inputs, written out (weights already as used). */
  function ref(x1: number[], x2: number[], w1: number, w2: number, eps: number) {
    const r1 = Math.hypot(...x1), r2 = Math.hypot(...x2);
    const u1 = x1.map((x) => x / (r1 + eps)), u2 = x2.map((x) => x / (r2 + eps));
    const m = u1.map((x, j) => w1 * x + w2 * u2[j]!);
    const mn = Math.hypot(...m);
    const mh = m.map((x) => x / mn);
    const d1 = u1.reduce((s, x, j) => s + x * mh[j]!, 0), d2 = u2.reduce((s, x, j) => s + x * mh[j]!, 0);
    const tau = mh.map((x, j) => w1 * (u1[j]! - d1 * x) + w2 * (u2[j]! - d2 * x));
    const a = Math.hypot(...tau) + eps;
    const scale = w1 * r1 + w2 * r2;
    return { out: mh.map((x, j) => (x * Math.cos(a) + tau[j]! * (Math.sin(a) / a)) * scale), tangentNorm: a - eps };
  }
  it('normalize_weights divides the weights by their sum; off, they are used as given', () => {
    const x1 = [3, 0, 1], x2 = [0, 2, -1];
    const on = k('multislerp', [x1, x2], null, { normalize_weights: true, eps: 1e-8 }, [{ weight: 3 }, { weight: 1 }]);
    const want = ref(x1, x2, 0.75, 0.25, 1e-8);
    close(on.data, want.out, 1e-6);
    expect(on.stats.extra.tangentNorm).toBeCloseTo(want.tangentNorm, 9);
    expect(on.stats.extra.lerpFallback).toBe(0);
    expect(on.stats.taskVectorNorms).toEqual([]);
    const off = k('multislerp', [x1, x2], null, { normalize_weights: false, eps: 1e-8 }, [{ weight: 3 }, { weight: 1 }]);
    close(off.data, ref(x1, x2, 3, 1, 1e-8).out, 1e-6);
  });
  it('eps enters the unit vectors and the tangent angle (large eps, small vectors)', () => {
    const x1 = [0.01, 0.002], x2 = [-0.001, 0.02];
    const r = k('multislerp', [x1, x2], null, { normalize_weights: true, eps: 1e-3 }, [{ weight: 1 }, { weight: 2 }]);
    const want = ref(x1.map(fr), x2.map(fr), 1 / 3, 2 / 3, 1e-3);
    close(r.data, want.out, 1e-6);
    expect(r.stats.extra.tangentNorm).toBeCloseTo(want.tangentNorm, 9);
  });
  it('the tangent sum is zero, so the angle is eps: the result is m̂ · cos(eps) · Σ w r', () => {
    // Σ w_i (û_i − (û_i·m̂) m̂) = m − ‖m‖ m̂ = 0, so a = eps; with eps = 1e-3, cos(eps) = 1 − 5e-7 is
    // visible on vectors of norm 1000.
    const r = k('multislerp', [[1000, 0], [0, 1000]], null, { normalize_weights: true, eps: 1e-3 }, [{ weight: 1 }, { weight: 1 }]);
    const want = 1000 * S * Math.cos(1e-3);
    for (const x of arr(r.data)) expect(Math.abs(x - want) / want).toBeLessThan(1.5e-7);
    expect(r.stats.extra.tangentNorm).toBeLessThan(1e-12);
  });
  it('orthogonal unit inputs with equal weights: the normalised midpoint (tangent sum zero)', () => {
    const r = k('multislerp', [[1, 0], [0, 1]], null, { normalize_weights: true, eps: 1e-8 }, [{ weight: 1 }, { weight: 1 }]);
    close(r.data, [S, S], 1e-6);
    expect(r.stats.extra.tangentNorm).toBeLessThan(1e-12);
  });
  it('two inputs whose weighted directions cancel fall back to the weighted sum (plus the base)', () => {
    // Task vectors [1, 0] and [−2, 0] from base [1, 1], weights ½ and ½: ½·1 − ½·2 = −½.
    const r = k('multislerp', [[2, 1], [1, 1], [-1, 1]], 1, { normalize_weights: true, eps: 1e-8 }, [{ weight: 1 }, {}, { weight: 1 }]);
    close(r.data, [0.5, 1], 1e-7);
    expect(r.stats.extra).toEqual({ lerpFallback: 1 });
    const nb = k('multislerp', [[1, 0], [-2, 0]], null, { normalize_weights: false, eps: 1e-8 }, [{ weight: 1 }, { weight: 1 }]);
    close(nb.data, [-1, 0], 1e-7);
  });
  it('three inputs whose directions cancel are refused, naming the tensor', () => {
    refuses(
      () => k('multislerp', [[1, 0], [-1, 0], [0, 0]], null, { normalize_weights: true, eps: 1e-8 }, [{ weight: 1 }, { weight: 1 }, { weight: 1 }], [2], 0, 'blk.1.ffn_up.weight'),
      'multislerp, tensor blk.1.ffn_up.weight: the weighted directions of the inputs cancel out (antipodal tensors with balancing weights); change a weight',
    );
  });
  it('with a base: base + Multi-SLERP of the task vectors', () => {
    const base = [1, -1, 0.5];
    const x1 = [3, 0, 1], x2 = [0, 2, -1];
    const r = k('multislerp', [base, x1.map((x, j) => x + base[j]!), x2.map((x, j) => x + base[j]!)], 0, { normalize_weights: true, eps: 1e-8 }, [{}, { weight: 1 }, { weight: 2 }]);
    const want = ref(x1, x2, 1 / 3, 2 / 3, 1e-8);
    close(r.data, want.out.map((x, j) => x + base[j]!), 1e-6);
  });
});

describe('sce', () => {
  const run = (tensors: number[][], topk: number, baseIndex: number | null = 0) => k('sce', tensors, baseIndex, { select_topk: topk, int8_mask: false });
  it('refuses to run without a base', () => {
    refuses(() => run([[1], [2]], 1, null), 'sce needs a base_model');
  });
  it('Calculate: weights are the mean squares over their sum, reported as w1, w2', () => {
    // δ1 = [2, 1], δ2 = [1, 3]: mean squares 2.5 and 5 → w = 1/3, 2/3; every sign agrees.
    const r = run([[0, 0], [2, 1], [1, 3]], 1);
    close(r.data, [(2 / 3 + 2 / 3) / 1, (1 / 3 + 2) / 1], 1e-6);
    expect(r.stats.extra.w1).toBeCloseTo(1 / 3, 9);
    expect(r.stats.extra.w2).toBeCloseTo(2 / 3, 9);
    expect(r.stats.taskVectorNorms[0]).toBeCloseTo(Math.sqrt(5), 6);
    expect(r.stats.taskVectorNorms[1]).toBeCloseTo(Math.sqrt(10), 6);
    expect(r.stats.kept).toEqual([1, 1]);
    expect(r.stats.signAgreement).toBe(1);
  });
  it('mean squares summing below 1e-6 give equal weights', () => {
    // δ1 = [1e-4, 1e-4], δ2 = [3e-4, 1e-4]: mean squares 1e-8 and 5e-8 → weights ½, ½.
    const r = run([[0, 0], [1e-4, 1e-4], [3e-4, 1e-4]], 1);
    expect(r.stats.extra).toEqual({ w1: 0.5, w2: 0.5 });
    close(r.data, [(fr(1e-4) + fr(3e-4)) / 2, fr(1e-4)], 1e-6);
  });
  it('the 1e-6 floor is on the mean squares (÷ the entry count), not on the sums of squares', () => {
    // δ1 = [5e-4, 5e-4, 5e-4, 5e-4] (sum of squares 1e-6, mean 2.5e-7), δ2 = [1e-4, 0, 0, 0]: the
    // means sum to about 2.5e-7 < 1e-6 → equal weights; entry 0 is (5e-4 + 1e-4)/2.
    const r = run([[0, 0, 0, 0], [5e-4, 5e-4, 5e-4, 5e-4], [1e-4, 0, 0, 0]], 1);
    expect(r.stats.extra).toEqual({ w1: 0.5, w2: 0.5 });
    close(r.data, [(fr(5e-4) + fr(1e-4)) / 2, fr(5e-4), fr(5e-4), fr(5e-4)], 1e-6);
  });
  it('Erase: only entries with the elected sign are averaged; a zero sum elects +; zeros never agree', () => {
    // δ1 = [2, −1, 1, 0], δ2 = [−1, 3, −1, 0] (their weights do not matter where one entry survives): column sums 1, 2, 0 (+ elected), 0 → 2, 3, 1, 0.
    const r = run([[0, 0, 0, 0], [2, -1, 1, 0], [-1, 3, -1, 0]], 1);
    expect(arr(r.data)).toEqual([2, 3, 1, 0]);
    // Six non-zero entries, three of which agree.
    expect(r.stats.signAgreement).toBe(0.5);
  });
  it('a single task vector has no sign agreement (null)', () => {
    const r = run([[1, 1], [2, 0]], 1);
    expect(arr(r.data)).toEqual([2, 0]);
    expect(r.stats.signAgreement).toBeNull();
    expect(r.stats.extra).toEqual({ w1: 1 });
  });
  it('all task vectors zero: the base, agreement 1', () => {
    const r = run([[1, 2], [1, 2], [1, 2]], 1);
    expect(arr(r.data)).toEqual([1, 2]);
    expect(r.stats.signAgreement).toBe(1);
    expect(r.stats.extra).toEqual({ w1: 0.5, w2: 0.5 });
  });
  it('select_topk 0 erases every task vector: the base, kept 0', () => {
    const r = run([[1, 2, 3], [2, 0, 3], [0, 5, 1]], 0);
    expect(arr(r.data)).toEqual([1, 2, 3]);
    expect(r.stats.kept).toEqual([0, 0]);
    expect(r.stats.extra).toEqual({ w1: 0.5, w2: 0.5 });
  });
  it('Select keeps ⌊topk · #non-zero-variance⌋ entries of largest (centred) variance', () => {
    // δ1 = [5, 0, 2, 1], δ2 = [5, 1, −2, 1]: variances 0, ¼, 4, 0 → two non-zero, k = ⌊0.5·2⌋ = 1:
    // only entry 2 survives (column sum 0 → + elected → 2). Uncentred, entry 0 would win.
    const r = run([[0, 0, 0, 0], [5, 0, 2, 1], [5, 1, -2, 1]], 0.5);
    expect(arr(r.data)).toEqual([0, 0, 2, 0]);
    expect(r.stats.kept).toEqual([0.25, 0.25]);
    // The norms are those before selection.
    expect(r.stats.taskVectorNorms[0]).toBeCloseTo(Math.sqrt(30), 6);
  });
  it('Select with distinct variances keeps the k largest; fewer than one entry keeps none', () => {
    // δ1 = [1, 2, 3, 4], δ2 = 0: variances 0.25, 1, 2.25, 4 → topk 0.5 keeps entries 2 and 3.
    const r = run([[0, 0, 0, 0], [1, 2, 3, 4], [0, 0, 0, 0]], 0.5);
    expect(arr(r.data)).toEqual([0, 0, 3, 4]);
    expect(r.stats.kept).toEqual([0.5, 0.5]);
    expect(r.stats.extra.w2).toBe(0);
    // topk 0.2: ⌊0.8⌋ = 0 entries.
    const none = run([[0, 0, 0, 0], [1, 2, 3, 4], [0, 0, 0, 0]], 0.2);
    expect(arr(none.data)).toEqual([0, 0, 0, 0]);
    expect(none.stats.kept).toEqual([0, 0]);
    // topk 0.99: ⌊3.96⌋ = 3 entries, the smallest variance (entry 0) dropped.
    const three = run([[0, 0, 0, 0], [1, 2, 3, 4], [0, 0, 0, 0]], 0.99);
    expect(arr(three.data)).toEqual([0, 2, 3, 4]);
    expect(three.stats.kept).toEqual([0.75, 0.75]);
  });
  it('an empty tensor: empty result, kept 1, equal weights', () => {
    for (const topk of [1, 0.5]) {
      const r = run([[], [], []], topk);
      expect(r.data.length).toBe(0);
      expect(r.stats.kept).toEqual([1, 1]);
      expect(r.stats.extra).toEqual({ w1: 0.5, w2: 0.5 });
      expect(r.stats.signAgreement).toBe(1);
    }
  });
});

describe('arcee_fusion', () => {
  /** softmax(x) + 1e-8, written out. */
  const soft = (x: number[]) => { const m = x.reduce((p, q) => Math.max(p, q), -Infinity); const e = x.map((v) => Math.exp(v - m)); const s = e.reduce((p, q) => p + q, 0); return e.map((v) => v / s + 1e-8); };
  const kl = (b: number[], a: number[]) => { const p = soft(b), q = soft(a); return p.reduce((s, x, i) => s + x * Math.log(x / q[i]!), 0); };
  it('refuses to run without a base', () => {
    refuses(() => k('arcee_fusion', [[1], [2]], null, {}), 'arcee_fusion needs a base_model');
  });
  it('one row: takes the changes at or above median + 1.5·IQR of the importances; reports threshold, kept and ‖b − a‖', () => {
    // Changes 1, 2, 3, 4, 10 in one row: importances c·change (c the row's KL); sorted quantile
    // indices ⌊q·4⌋: median 3c, IQR 4c − 2c → threshold 6c: only the last entry is taken.
    const a = [0, 0, 0, 0, 0], b = [1, 2, 3, 4, 10];
    const c = kl(b, a);
    const r = k('arcee_fusion', [a, b], 0, {});
    expect(arr(r.data)).toEqual([0, 0, 0, 0, 10]);
    expect(r.stats.extra.threshold).toBeCloseTo(6 * c, 10);
    expect(Math.abs(r.stats.extra.threshold! - 6 * c)).toBeLessThan(1e-12 * c);
    expect(r.stats.kept).toEqual([0.2]);
    expect(r.stats.taskVectorNorms[0]).toBeCloseTo(Math.sqrt(1 + 4 + 9 + 16 + 100), 9);
    expect(r.stats.signAgreement).toBeNull();
  });
  it('with a non-zero base the statistics are of the change b − a', () => {
    // The same changes 1, 2, 3, 4, 10 on a base of ones (softmax is shift-invariant: the same KL).
    const r = k('arcee_fusion', [[1, 1, 1, 1, 1], [2, 3, 4, 5, 11]], 0, {});
    expect(arr(r.data)).toEqual([1, 1, 1, 1, 11]);
    expect(r.stats.taskVectorNorms[0]).toBeCloseTo(Math.sqrt(130), 9);
    expect(r.stats.kept).toEqual([0.2]);
  });
  it('the base may be the second input; an importance equal to the threshold is taken', () => {
    // Changes 1, 1, 1, 1, 1, 5 (a = base second): quantiles all c → threshold c: every entry taken.
    const a = [0, 0, 0, 0, 0, 0], b = [1, 1, 1, 1, 1, 5];
    const r = k('arcee_fusion', [b, a], 1, {});
    expect(arr(r.data)).toEqual(b);
    expect(r.stats.kept).toEqual([1]);
    expect(r.stats.extra.threshold).toBeCloseTo(kl(b, a), 12);
  });
  it('KL per GGUF row: a row whose softmax does not change has importance 0', () => {
    // Shape [3, 2]: row 0 shifts every value by 1 (same softmax, KL 0), row 1 changes one value.
    const a = [0, 0, 0, 0, 0, 0], b = [1, 1, 1, 3, 0, 0];
    const r = k('arcee_fusion', [a, b], 0, {}, undefined, [3, 2]);
    // Importances 0, 0, 0, 3c, 0, 0: sorted indices ⌊q·5⌋ = 2, 3, 1 → all 0 → threshold 0, all taken.
    expect(r.stats.extra.threshold).toBe(0);
    expect(arr(r.data)).toEqual(b);
    // As one row (a vector) the KL is not zero and the uniform shift matters.
    const one = k('arcee_fusion', [a, b], 0, {});
    const c = kl(b, a);
    // Importances c, c, c, 3c, 0, 0 → sorted 0, 0, c, c, c, 3c: indices 2, 3, 1 → c, c, 0 → threshold c + 1.5c.
    expect(Math.abs(one.stats.extra.threshold! - 2.5 * c)).toBeLessThan(1e-12 * c);
    expect(arr(one.data)).toEqual([0, 0, 0, 3, 0, 0]);
  });
  it('softmax is taken after subtracting the row maximum, and 1e-8 keeps the KL finite', () => {
    // exp(1000) overflows without the shift; the softmaxes are one-hot, and without + 1e-8 the KL
    // would be infinite (log(1/0)).
    const a = [0, 1000, 0, 0], b = [1000, 0, 0, 1];
    const r = k('arcee_fusion', [a, b], 0, {});
    const c = kl(b, a);
    expect(Number.isFinite(c)).toBe(true);
    // Changes 1000, 1000, 0, 1 → sorted 0, 1, 1000, 1000 · c: indices ⌊q·3⌋ = 1, 2, 0 → c + 1.5·(1000c − 0).
    expect(Math.abs(r.stats.extra.threshold! - 1501 * c)).toBeLessThan(1e-9 * c);
    expect(arr(r.data)).toEqual(a);
  });
  it('an empty tensor: empty result, kept 1', () => {
    const r = k('arcee_fusion', [[], []], 0, {});
    expect(r.data.length).toBe(0);
    expect(r.stats.kept).toEqual([1]);
  });
  it('a tensor over 10^6 entries: the quantiles come from a seeded sample of 10^6 distinct entries', () => {
    const SAMPLE = 1_000_000;
    const n = SAMPLE + 1;
    const name = 'blk.9.ffn_gate.weight';
    const a = new Float32Array(n), b = new Float32Array(n);
    // Distinct changes j/n in a single row (one KL c): the importances are c·change, increasing in j.
    for (let j = 0; j < n; j++) b[j] = fr(j / n);
    const c = kl(Array.from(b), Array.from(a));
    /** median + 1.5·IQR with the quantile indices ⌊q·(len − 1)⌋ of the ascending values. */
    const rule = (pool: Float64Array) => {
      const s = pool.sort();
      const at = (q: number) => s[Math.floor(q * (s.length - 1))]!;
      return at(0.5) + 1.5 * (at(0.75) - at(0.25));
    };
    /** Partial Fisher–Yates over the indices with the tensor's seeded stream: pick q from [q, n). */
    const sampleOf = (seed: number) => {
      const rng = tensorRng(seed, name, 0);
      const idx = new Uint32Array(n);
      for (let j = 0; j < n; j++) idx[j] = j;
      const pool = new Float64Array(SAMPLE);
      for (let q = 0; q < SAMPLE; q++) {
        const r = q + Math.floor(rng() * (n - q));
        const t = idx[r]!;
        idx[r] = idx[q]!;
        idx[q] = t;
        pool[q] = b[t]!;
      }
      return pool;
    };
    const full = rule(Float64Array.from(b));
    // Seed 2 leaves out entry 327474 (between the first quartile and the median): the first quartile
    // moves down one place, the median and third quartile do not; leaving out the last entry (no
    // shuffle) would move all three.
    const r = getMethod('arcee_fusion').kernel({ name, shape: [n], tensors: [a, b], baseIndex: 0, params: {}, modelParams: [{}, {}], seed: 2 });
    const want = rule(sampleOf(2)) * c;
    expect(Math.abs(r.stats.extra.threshold! - want)).toBeLessThan(1e-9 * want);
    // The entries at or above the threshold are taken, the others keep the base (0).
    const cut = want / c;
    let taken = 0;
    for (let j = 0; j < n; j += 997) {
      if (Math.abs(b[j]! - cut) < 1e-6) continue;
      expect(r.data[j]).toBe(b[j]! >= cut ? b[j] : 0);
    }
    for (let j = 0; j < n; j++) if (r.data[j] !== 0) taken++;
    expect(r.stats.kept[0]).toBe(taken / n);
    // The sample's quantiles differ from the whole tensor's, and from those of the first 10^6 entries.
    expect(Math.abs(want - full * c)).toBeGreaterThan(1e-12);
    expect(Math.abs(want - rule(Float64Array.from(b.subarray(0, SAMPLE))) * c)).toBeGreaterThan(1e-12);
  });
});

describe('ram / ramplus_tl', () => {
  it('refuse to run without a base, by name', () => {
    refuses(() => k('ram', [[1], [2]], null, { epsilon: 1e-5 }), 'ram needs a base_model');
    refuses(() => k('ramplus_tl', [[1], [2]], null, { epsilon: 1e-5, r: 0.1, alpha: 0.2 }), 'ramplus_tl needs a base_model');
  });
  it('ram: unique changes whole, shared ones averaged over the models that made them; |δ| = epsilon is unchanged', () => {
    // Base [1, 1, 1, 1, 1]; δ1 = [2, 1, 0.5, 3, 0], δ2 = [0, 3, −0.5, 1, 0], δ3 = [0, 0, 0, 2, 0]; epsilon 0.5.
    // Changed counts 1, 2, 0, 3, 0.
    const base = [1, 1, 1, 1, 1];
    const add = (d: number[]) => d.map((x, j) => x + base[j]!);
    const r = k('ram', [base, add([2, 1, 0.5, 3, 0]), add([0, 3, -0.5, 1, 0]), add([0, 0, 0, 2, 0])], 0, { epsilon: 0.5 });
    expect(arr(r.data)).toEqual([3, 3, 1, 3, 1]);
    expect(r.stats.extra).toEqual({ unique: 0.2, shared: 0.4, lambda1: 1, lambda2: 1, lambda3: 1 });
    expect(r.stats.kept).toEqual([1, 1, 1]);
    expect(r.stats.signAgreement).toBeNull();
    expect(r.stats.taskVectorNorms[0]).toBeCloseTo(Math.sqrt(4 + 1 + 0.25 + 9), 6);
    expect(r.stats.taskVectorNorms[2]).toBeCloseTo(2, 6);
  });
  it('ram: the base may be any input; negative changes count by magnitude', () => {
    const r = k('ram', [[-1, 0, 0], [0, 0, 0], [-2, 0, 4]], 1, { epsilon: 1e-5 });
    expect(arr(r.data)).toEqual([-1.5, 0, 4]);
    expect(r.stats.extra.unique).toBeCloseTo(1 / 3, 12);
    expect(r.stats.extra.shared).toBeCloseTo(1 / 3, 12);
  });
  it('ramplus_tl: λ_i = 1 + r·clamp(shared_i/unique_i, 0, alpha) scales only unique changes', () => {
    // δ1 = [1, 1, 1, 0, 0]: shared 1 (entry 0), unique 2 → ρ = ½ < alpha 0.8 → λ1 = 1 + 0.5·0.5 = 1.25.
    // δ2 = [1, 0, 0, 2, 0]: shared 1, unique 1 → ρ = 1 → clamped to 0.8 → λ2 = 1.4.
    // δ3 = 0: no changes → ρ = 0 → λ3 = 1.
    const r = k('ramplus_tl', [[0, 0, 0, 0, 0], [1, 1, 1, 0, 0], [1, 0, 0, 2, 0], [0, 0, 0, 0, 0]], 0, { epsilon: 1e-5, r: 0.5, alpha: 0.8 });
    close(r.data, [1, 1.25, 1.25, 2.8, 0], 1e-7);
    expect(r.stats.extra.lambda1).toBe(1.25);
    expect(r.stats.extra.lambda2).toBeCloseTo(1.4, 12);
    expect(r.stats.extra.lambda3).toBe(1);
    expect(r.stats.extra.unique).toBe(0.6);
    expect(r.stats.extra.shared).toBe(0.2);
  });
  it('ramplus_tl: an entry of |δ| = epsilon counts neither as unique nor as shared in ρ', () => {
    // epsilon 0.5, r 1, alpha 5: δ1 = [1, 0.5, 2], δ2 = [1, 0, 0]. Model 1: shared 1, unique 1 (entry 1 is
    // unchanged) → ρ = 1 → λ1 = 2; model 2: shared 1, unique 0 → ρ = 1/0.5 = 2 → λ2 = 3.
    const r = k('ramplus_tl', [[0, 0, 0], [1, 0.5, 2], [1, 0, 0]], 0, { epsilon: 0.5, r: 1, alpha: 5 });
    expect(arr(r.data)).toEqual([1, 0, 4]);
    expect(r.stats.extra).toEqual({ unique: 1 / 3, shared: 1 / 3, lambda1: 2, lambda2: 3 });
  });
  it('ramplus_tl: a model that only shares (no unique entry) gets ρ = shared/epsilon, clamped to alpha', () => {
    // δ1 = [1, 1], δ2 = [1, 1]: shared 2, unique 0 → ρ = 2/1e-5 → alpha 0.2 → λ = 1.02 (unused: no unique entries).
    const r = k('ramplus_tl', [[0, 0], [1, 1], [1, 1]], 0, { epsilon: 1e-5, r: 0.1, alpha: 0.2 });
    expect(arr(r.data)).toEqual([1, 1]);
    expect(r.stats.extra.lambda1).toBeCloseTo(1.02, 12);
    expect(r.stats.extra.shared).toBe(1);
    expect(r.stats.extra.unique).toBe(0);
  });
  it('an empty tensor: empty result, unique and shared 0', () => {
    const r = k('ram', [[], [], []], 0, { epsilon: 1e-5 });
    expect(r.data.length).toBe(0);
    expect(r.stats.extra).toEqual({ unique: 0, shared: 0, lambda1: 1, lambda2: 1 });
  });
});
