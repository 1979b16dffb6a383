/**
 * Every merge method against an independent, straightforward computation on small tensors
 * (plain arrays, sorted index lists, no shared helpers), plus the edge cases the issue names:
 * zero task vectors, density 1 and near 0, colinear SLERP inputs.
 */
import { describe, expect, it } from 'vitest';
import { METHODS, MergeMethodError, NORM_BLOCK, NormSum, bool, getMethod, l2, num, type ParamValue } from '../../src/lib/merge/methods/index.ts';
import { histogramHigh, keepRankRange, keepRankRangeWithNaN, magnitudeOutliers, tensorRng } from '../../src/lib/merge/methods/sparsify.ts';
import { taskArithmeticKernel } from '../../src/lib/merge/methods/task-arithmetic-core.ts';
import { setSimdEnabled } from '../../src/lib/merge/wasm/index.ts';
import { getCodec } from '../../src/lib/merge/codecs/index.ts';
import { GGMLType } from '../../src/lib/merge/gguf/index.ts';

type P = Record<string, ParamValue>;
const NO: P = {};

function rand(seed: number, n: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}
function run(id: string, tensors: Float32Array[], baseIndex: number | null, params: P, modelParams: P[], name = 'blk.0.attn_q.weight', seed = 0) {
  return getMethod(id).kernel({ name, shape: [tensors[0]!.length], tensors, baseIndex, params, modelParams, seed });
}
function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5) {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!), `index ${i}: ${a[i]} vs ${b[i]}`).toBeLessThanOrEqual(tol * (1 + Math.abs(b[i]!)));
}
/** Indices sorted by |x| descending, ties by index: the documented total order. */
function descOrder(x: ArrayLike<number>): number[] {
  return Array.from({ length: x.length }, (_, i) => i).sort((a, b) => Math.abs(x[b]!) - Math.abs(x[a]!) || a - b);
}
function refMagnitude(x: number[], density: number): number[] {
  if (density >= 1) return x.slice();
  const k = Math.floor(density * x.length);
  const keep = new Set(descOrder(x).slice(0, k));
  return x.map((v, i) => (keep.has(i) ? v : 0));
}
function refOutliers(x: number[], density: number, gamma: number): number[] {
  if (density >= 1) return x.slice();
  const n = x.length;
  const target = Math.floor(density * n);
  let nTop = Math.floor(gamma * n);
  let nBot = n - target - nTop;
  if (nBot < 0) { nTop += nBot; nBot = 0; }
  const keep = new Set(descOrder(x).slice(nTop, n - nBot));
  return x.map((v, i) => (keep.has(i) ? v : 0));
}
/** Straightforward TIES / task arithmetic after the paper's three steps. */
function refGta(base: Float32Array, models: Float32Array[], w: number[], o: { density?: number[]; sparsify?: 'magnitude' | 'outliers'; gamma?: number[]; consensus?: 'sum' | 'count'; normalize: boolean; lambda?: number }) {
  const deltas = models.map((m, i) => {
    let d = Array.from(m, (v, j) => v - base[j]!);
    const dens = o.density?.[i] ?? 1;
    if (o.sparsify === 'magnitude') d = refMagnitude(d, dens);
    if (o.sparsify === 'outliers') d = refOutliers(d, dens, o.gamma?.[i] ?? 0.01);
    return d.map((v) => v * w[i]!);
  });
  return Array.from(base, (b, j) => {
    const col = deltas.map((d) => d[j]!);
    let mask = col.map(() => true);
    if (o.consensus) {
      const elected = o.consensus === 'sum' ? (col.reduce((a, c) => a + c, 0) >= 0 ? 1 : -1) : (col.reduce((a, c) => a + Math.sign(c), 0) >= 0 ? 1 : -1);
      mask = col.map((c) => Math.sign(c) === elected);
    }
    let mixed = col.reduce((a, c, i) => a + (mask[i] ? c : 0), 0);
    let div = w.reduce((a, c, i) => a + (mask[i] ? c : 0), 0);
    if (o.consensus ? div === 0 : Math.abs(div) < 1e-8) div = 1;
    if (o.normalize) mixed /= div;
    return b + mixed * (o.lambda ?? 1);
  });
}

describe('registry', () => {
  it('has every method of the issue, each with a paper and explained parameters', () => {
    for (const id of ['linear', 'slerp', 'task_arithmetic', 'ties', 'dare_linear', 'dare_ties', 'breadcrumbs', 'model_stock', 'expo', 'della', 'della_linear', 'sce', 'nuslerp', 'multislerp', 'karcher', 'nearswap', 'arcee_fusion', 'passthrough', 'ram', 'ramplus_tl']) {
      const m = METHODS.get(id)!;
      expect(m, id).toBeDefined();
      expect(m.paper.length).toBeGreaterThan(5);
      for (const p of [...m.parameters, ...m.perModelParameters]) expect(p.help.length, `${id}.${p.name}`).toBeGreaterThan(10);
    }
    expect(() => getMethod('nope')).toThrow(/^unknown merge_method "nope"; use one of: linear, slerp, task_arithmetic, /);
  });
});

describe('linear', () => {
  const a = rand(1, 50), b = rand(2, 50), c = rand(3, 50);
  it('normalised weighted average equals Σwθ/Σw', () => {
    const r = run('linear', [a, b, c], null, { normalize: true }, [{ weight: 1 }, { weight: 2 }, { weight: 0.5 }]);
    close(r.data, Array.from(a, (_, i) => (a[i]! + 2 * b[i]! + 0.5 * c[i]!) / 3.5));
  });
  it('without normalize is the plain weighted sum', () => {
    const r = run('linear', [a, b], null, { normalize: false }, [{ weight: 0.3 }, { weight: 0.3 }]);
    close(r.data, Array.from(a, (_, i) => 0.3 * a[i]! + 0.3 * b[i]!));
  });
  it('a model merged with itself at equal weights is itself, bit for bit', () => {
    const r = run('linear', [a, a], null, { normalize: true }, [{ weight: 1 }, { weight: 1 }]);
    expect(Array.from(r.data)).toEqual(Array.from(a));
  });
  it('refuses weights that sum to zero with normalize', () => {
    expect(getMethod('linear').validate!({ normalize: true }, [{ weight: 1 }, { weight: -1 }], null, 4)).toMatch(/sum to 0/);
  });
});

describe('slerp', () => {
  const v0 = rand(4, 64), v1 = rand(5, 64);
  it('matches the closed form on the arc for t = 0.3', () => {
    const t = 0.3;
    const n0 = Math.hypot(...v0), n1 = Math.hypot(...v1);
    const dot = v0.reduce((s, x, i) => s + (x / n0) * (v1[i]! / n1), 0);
    const th = Math.acos(dot);
    const want = Array.from(v0, (x, i) => (Math.sin((1 - t) * th) / Math.sin(th)) * x + (Math.sin(t * th) / Math.sin(th)) * v1[i]!);
    const r = run('slerp', [v0, v1], 0, { t }, [{}, {}]);
    close(r.data, want);
    expect(r.stats.extra.lerpFallback).toBe(0);
  });
  it('t = 0 is the base and t = 1 the other model, whichever input the base is', () => {
    close(run('slerp', [v0, v1], 0, { t: 0 }, [{}, {}]).data, v0);
    close(run('slerp', [v0, v1], 0, { t: 1 }, [{}, {}]).data, v1);
    close(run('slerp', [v1, v0], 1, { t: 0 }, [{}, {}]).data, v0);
  });
  it('falls back to lerp for colinear inputs (v1 = 2·v0) and for anti-parallel ones', () => {
    const v2 = v0.map((x) => 2 * x);
    const r = run('slerp', [v0, v2], 0, { t: 0.25 }, [{}, {}]);
    expect(r.stats.extra.lerpFallback).toBe(1);
    close(r.data, Array.from(v0, (x) => 0.75 * x + 0.25 * 2 * x));
    // Anti-parallel at t = 0.25: lerp gives 0.75·v0 − 0.25·v0 = 0.5·v0. (At t = 0.5 both formulas
    // give 0 — slerp's two huge coefficients sin(θ/2)/sin θ cancel — so t = 0.5 cannot tell them apart.)
    const neg = v0.map((x) => -x);
    const anti = run('slerp', [v0, neg], 0, { t: 0.25 }, [{}, {}]);
    expect(anti.stats.extra.lerpFallback).toBe(1);
    close(anti.data, Array.from(v0, (x) => 0.5 * x));
  });
  it('a zero tensor is not normalised (mergekit): dot 0, cos/sin weights', () => {
    const z = new Float32Array(64);
    const r = run('slerp', [z, v1], 0, { t: 0.5 }, [{}, {}]);
    close(r.data, Array.from(v1, (x) => Math.sin(Math.PI / 4) * x));
  });
});

describe('task arithmetic family', () => {
  const base = rand(10, 200), m1 = rand(11, 200), m2 = rand(12, 200), m3 = rand(13, 200);
  it('task_arithmetic = base + Σ w_i(θ_i − base), with lambda', () => {
    const r = run('task_arithmetic', [base, m1, m2], 0, { normalize: false, lambda: 0.5, int8_mask: false }, [{}, { weight: 0.7 }, { weight: -0.2 }]);
    close(r.data, refGta(base, [m1, m2], [0.7, -0.2], { normalize: false, lambda: 0.5 }));
    expect(r.stats.taskVectorNorms[0]).toBeCloseTo(Math.hypot(...Array.from(m1, (x, i) => x - base[i]!)), 4);
  });
  it('weight 0 gives the base exactly', () => {
    const r = run('task_arithmetic', [base, m1], 0, { normalize: false, lambda: 1, int8_mask: false }, [{}, { weight: 0 }]);
    expect(Array.from(r.data)).toEqual(Array.from(base));
  });
  it('zero task vectors (models equal to the base) give the base, with sign agreement defined', () => {
    for (const id of ['task_arithmetic', 'ties', 'dare_ties', 'breadcrumbs']) {
      const r = run(id, [base, base, base], 0, { normalize: true, lambda: 1, rescale: true, int8_mask: false }, [{}, { weight: 1, density: 0.5, gamma: 0.01 }, { weight: 1, density: 0.5, gamma: 0.01 }]);
      expect(Array.from(r.data), id).toEqual(Array.from(base));
      expect(r.stats.taskVectorNorms).toEqual([0, 0]);
      expect(r.stats.signAgreement, id).toBe(1);
    }
  });
  it('ties (sum consensus, magnitude trim, normalize) matches the straightforward computation', () => {
    const r = run('ties', [base, m1, m2, m3], 0, { normalize: true, lambda: 1, rescale: false, int8_mask: false }, [{}, { weight: 1, density: 0.5 }, { weight: 0.6, density: 0.3 }, { weight: 0.9, density: 0.8 }]);
    close(r.data, refGta(base, [m1, m2, m3], [1, 0.6, 0.9], { density: [0.5, 0.3, 0.8], sparsify: 'magnitude', consensus: 'sum', normalize: true }));
    expect(r.stats.kept).toEqual([100 / 200, 60 / 200, 160 / 200]);
    expect(r.stats.signAgreement).toBeGreaterThan(0.5);
    expect(r.stats.signAgreement).toBeLessThan(1);
  });
  it('ties with density 1 keeps everything; density 0.5 keeps exactly half', () => {
    const r1 = run('ties', [base, m1, m2], 0, { normalize: true, lambda: 1, rescale: false, int8_mask: false }, [{}, { weight: 1, density: 1 }, { weight: 1, density: 1 }]);
    close(r1.data, refGta(base, [m1, m2], [1, 1], { consensus: 'sum', normalize: true }));
    expect(r1.stats.kept).toEqual([1, 1]);
    const d = Float32Array.from(m1, (x, i) => x - base[i]!);
    expect(keepRankRange(d, 0, 100)).toBe(100);
    expect(d.filter((x) => x !== 0).length).toBe(100);
  });
  it('ties with density near 0 keeps the single largest entry, and a density that keeps nothing is refused', () => {
    const r = run('ties', [base, m1], 0, { normalize: true, lambda: 1, rescale: false, int8_mask: false }, [{}, { weight: 1, density: 0.005 }]);
    const d = Array.from(m1, (x, i) => x - base[i]!);
    const top = descOrder(d)[0]!;
    close(r.data, Array.from(base, (b, i) => (i === top ? b + d[i]! : b)));
    expect(getMethod('ties').validate!({}, [{}, { weight: 1, density: 0.001 }], 0, 200)).toMatch(/keeps .* = 0 of the 200 entries/);
    expect(getMethod('ties').validate!({}, [{}, { weight: 1, density: 0 }], 0, 200)).toMatch(/greater than 0/);
  });
  it('ties ties-break at equal magnitudes toward the lower index', () => {
    const x = Float32Array.from([1, -2, 2, 0.5, -2, 1]);
    keepRankRange(x, 0, 2);
    expect(Array.from(x)).toEqual([0, -2, 2, 0, 0, 0]);
  });
  it('count consensus (mergekit ConsensusMethod.count) elects the sign most entries have', () => {
    const variant = { id: 'ties_count', name: 'x', paper: 'x', summary: 'x', consensus: 'count' as const, sparsify: 'magnitude' as const, defaultNormalize: true, defaultRescale: false };
    const r = taskArithmeticKernel(variant, { name: 'x', shape: [200], tensors: [base, m1, m2, m3], baseIndex: 0, params: { normalize: true, lambda: 1, rescale: false }, modelParams: [{}, { weight: 1, density: 0.7 }, { weight: 2, density: 0.7 }, { weight: 1, density: 0.7 }], seed: 0 });
    close(r.data, refGta(base, [m1, m2, m3], [1, 2, 1], { density: [0.7, 0.7, 0.7], sparsify: 'magnitude', consensus: 'count', normalize: true }));
    // One element where count and sum disagree: deltas +1, +1, −5 → count elects +, sum elects −.
    const b1 = new Float32Array([0]);
    const one = (id: 'count' | 'sum') => taskArithmeticKernel({ ...variant, consensus: id, sparsify: null }, { name: 'y', shape: [1], tensors: [b1, new Float32Array([1]), new Float32Array([1]), new Float32Array([-5])], baseIndex: 0, params: { normalize: true, lambda: 1 }, modelParams: [{}, { weight: 1 }, { weight: 1 }, { weight: 1 }], seed: 0 }).data[0];
    expect(one('count')).toBe(1);
    expect(one('sum')).toBe(-5);
    // Two task vectors (the unrolled loop): a tie in the count (+1 against −2) elects + (≥ 0 → +), the sum −.
    const two = (id: 'count' | 'sum') => taskArithmeticKernel({ ...variant, consensus: id, sparsify: null }, { name: 'z', shape: [1], tensors: [b1, new Float32Array([1]), new Float32Array([-2])], baseIndex: 0, params: { normalize: true, lambda: 1 }, modelParams: [{}, { weight: 1 }, { weight: 1 }], seed: 0 }).data[0];
    expect(two('count')).toBe(1);
    expect(two('sum')).toBe(-2);
  });
  it('breadcrumbs drops the outliers and the smallest entries', () => {
    const r = run('breadcrumbs', [base, m1, m2], 0, { normalize: false, lambda: 1, rescale: false, int8_mask: false }, [{}, { weight: 1, density: 0.6, gamma: 0.05 }, { weight: 0.5, density: 0.3, gamma: 0.1 }]);
    close(r.data, refGta(base, [m1, m2], [1, 0.5], { density: [0.6, 0.3], sparsify: 'outliers', gamma: [0.05, 0.1], normalize: false }));
  });
  it('dare_linear: same seed same tensor, different seed or name different drop; kept share ≈ density; survivors ×1/density', () => {
    const mp: P[] = [NO, { weight: 1, density: 0.3 }];
    const p = { normalize: false, lambda: 1, rescale: true, int8_mask: false };
    const big = rand(20, 20000), bigM = rand(21, 20000);
    const a = run('dare_linear', [big, bigM], 0, p, mp, 'blk.1.ffn_up.weight', 7);
    const b = run('dare_linear', [big, bigM], 0, p, mp, 'blk.1.ffn_up.weight', 7);
    const c = run('dare_linear', [big, bigM], 0, p, mp, 'blk.1.ffn_up.weight', 8);
    const d = run('dare_linear', [big, bigM], 0, p, mp, 'blk.2.ffn_up.weight', 7);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(Array.from(a.data)).not.toEqual(Array.from(c.data));
    expect(Array.from(a.data)).not.toEqual(Array.from(d.data));
    expect(Math.abs(a.stats.kept[0]! - 0.3)).toBeLessThan(0.02);
    // Independent check: replay the documented PRNG stream.
    const rng = tensorRng(7, 'blk.1.ffn_up.weight', 1);
    const want = Array.from(big, (bv, i) => (rng() < 0.3 ? bv + (bigM[i]! - bv) / 0.3 : bv));
    close(a.data, want, 1e-4);
  });
  it('dare_ties applies the random drop, then sign election', () => {
    const p = { normalize: false, lambda: 1, rescale: true, int8_mask: false };
    const r = run('dare_ties', [base, m1, m2], 0, p, [{}, { weight: 1, density: 0.5 }, { weight: 1, density: 0.5 }], 'x', 3);
    const masks = [1, 2].map((m) => { const g = tensorRng(3, 'x', m); return Array.from(base, () => g() < 0.5); });
    const d = [m1, m2].map((m, k) => Array.from(m, (v, i) => (masks[k]![i] ? (v - base[i]!) / 0.5 : 0)));
    const want = Array.from(base, (b, i) => {
      const col = [d[0]![i]!, d[1]![i]!];
      const el = col[0]! + col[1]! >= 0 ? 1 : -1;
      return b + col.filter((c) => Math.sign(c) === el).reduce((s, c) => s + c, 0);
    });
    close(r.data, want, 1e-4);
  });
});

describe('model_stock', () => {
  const w0 = rand(30, 96), w1 = rand(31, 96), w2 = rand(32, 96), w3 = rand(33, 96);
  const ref = (rows: number) => {
    const out: number[] = [];
    const len = 96 / rows;
    for (let r = 0; r < rows; r++) {
      const sl = (x: Float32Array) => Array.from(x.slice(r * len, (r + 1) * len));
      const b = sl(w0), ws = [sl(w1), sl(w2), sl(w3)];
      const off = ws.map((w) => w.map((v, i) => v - b[i]!));
      const cos: number[] = [];
      for (let i = 0; i < 3; i++) for (let j = i + 1; j < 3; j++) {
        const dot = off[i]!.reduce((s, v, k) => s + v * off[j]![k]!, 0);
        cos.push(Math.min(1, Math.max(-1, dot / Math.max(Math.hypot(...off[i]!) * Math.hypot(...off[j]!), 1e-6))));
      }
      const c = cos.reduce((a, x) => a + x, 0) / cos.length;
      const t = (3 * c) / (1 + 2 * c);
      for (let k = 0; k < len; k++) out.push(t * (ws[0]![k]! + ws[1]![k]! + ws[2]![k]!) / 3 + (1 - t) * b[k]!);
    }
    return out;
  };
  it('whole-tensor t from the mean pairwise cosine', () => {
    close(run('model_stock', [w0, w1, w2, w3], 0, { filter_wise: false }, [{}, {}, {}, {}]).data, ref(1), 1e-4);
  });
  it('filter_wise computes t per row', () => {
    const r = getMethod('model_stock').kernel({ name: 'w', shape: [24, 4], tensors: [w0, w1, w2, w3], baseIndex: 0, params: { filter_wise: true }, modelParams: [{}, {}, {}, {}], seed: 0 });
    close(r.data, ref(4), 1e-4);
  });
  it('models equal to the base give the base (zero task vectors → t = 0)', () => {
    const r = run('model_stock', [w0, w0, w0], 0, { filter_wise: false }, [{}, {}, {}]);
    expect(Array.from(r.data)).toEqual(Array.from(w0));
    expect(r.stats.extra.t).toBe(0);
  });
});

describe('expo', () => {
  it('θ = θ_target + α(θ_target − θ_source); α = 0 is the target', () => {
    const s = rand(40, 30), t = rand(41, 30);
    close(run('expo', [t, s], 1, { alpha: 0.5 }, [{}, {}]).data, Array.from(t, (x, i) => x + 0.5 * (x - s[i]!)));
    expect(Array.from(run('expo', [s, t], 0, { alpha: 0 }, [{}, {}]).data)).toEqual(Array.from(t));
  });
  it('reports ‖target − source‖ and α, and refuses to run without a base (the source)', () => {
    const s = rand(42, 30), t = rand(43, 30);
    const r = run('expo', [s, t], 0, { alpha: 0.25 }, [{}, {}]);
    expect(r.stats.taskVectorNorms[0]).toBeCloseTo(Math.hypot(...Array.from(t, (x, i) => x - s[i]!)), 4);
    expect(r.stats).toMatchObject({ name: 'blk.0.attn_q.weight', kept: [1], signAgreement: null, extra: { alpha: 0.25 } });
    expect(() => run('expo', [s, t], null, { alpha: 0.25 }, [{}, {}])).toThrow(/expo needs a base_model \(the source\)/);
  });
});

// The edges below were found by mutation testing (npm run mutate -- merge): each pins a behaviour
// that a planted single-line bug changed without any test above failing.

/** The message of what `f` throws, and that it is a MergeMethodError that prints as one. */
function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(MergeMethodError);
    expect(String(e)).toBe(`MergeMethodError: ${(e as Error).message}`);
    return (e as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('parameter readers', () => {
  it('num takes numbers as they are and booleans as 1 and 0, and names the parameter and the value it refuses', () => {
    expect(num({ w: -0.25 }, 'w')).toBe(-0.25);
    expect(num({ w: true }, 'w')).toBe(1);
    expect(num({ w: false }, 'w')).toBe(0);
    expect(refusal(() => num({ w: 'heavy' }, 'w'))).toBe('parameter "w" must be a number, got "heavy"');
    expect(refusal(() => num({}, 'weight'))).toBe('parameter "weight" must be a number, got nothing');
  });
  it('bool takes booleans as they are and numbers as "not 0", and names the parameter and the value it refuses', () => {
    expect(bool({ b: true }, 'b')).toBe(true);
    expect(bool({ b: false }, 'b')).toBe(false);
    expect(bool({ b: 0 }, 'b')).toBe(false);
    expect(bool({ b: 2 }, 'b')).toBe(true);
    expect(bool({ b: -0.5 }, 'b')).toBe(true);
    expect(refusal(() => bool({ b: 'yes' }, 'b'))).toBe('parameter "b" must be true or false, got "yes"');
    expect(refusal(() => bool({}, 'normalize'))).toBe('parameter "normalize" must be true or false, got nothing');
  });
});

describe('norm sums', () => {
  it('NormSum keeps f32 lanes within a block, closes a block only at a multiple of NORM_BLOCK and adds lanes and blocks in double', () => {
    // 2^24 + 1 is not an f32: in one lane it rounds back to 2^24; across lanes, blocks or both it stays.
    const inOneLane = new NormSum();
    inOneLane.q[0] = 2 ** 24;
    inOneLane.boundary(4);
    inOneLane.boundary(NORM_BLOCK + 4);
    inOneLane.q[0]! += 1;
    expect(inOneLane.total()).toBe(2 ** 24);
    const acrossLanes = new NormSum();
    acrossLanes.q[0] = 2 ** 24;
    acrossLanes.q[3] = 1;
    expect(acrossLanes.total()).toBe(2 ** 24 + 1);
    const acrossBlocks = new NormSum();
    acrossBlocks.boundary(0);
    acrossBlocks.q[0] = 2 ** 24;
    acrossBlocks.boundary(NORM_BLOCK);
    acrossBlocks.q[0]! += 1;
    expect(acrossBlocks.total()).toBe(2 ** 24 + 1);
  });
  it('l2 is the Euclidean norm, 0 for an empty tensor', () => {
    expect(l2(Float32Array.from([3, -4]))).toBe(5);
    expect(l2(new Float32Array(0))).toBe(0);
  });
});

/** Decode F16 bits, run the method's f32 kernel, encode: what a fused F16 path must equal bit for bit. */
function viaF32(id: string, halves: Uint16Array[], common: { name: string; shape: number[]; baseIndex: number | null; params: P; modelParams: P[]; seed: number }) {
  const f16 = getCodec(GGMLType.F16);
  const n = halves[0]!.length;
  const tensors = halves.map((h) => f16.decode(new Uint8Array(h.buffer, h.byteOffset, h.byteLength), n));
  const r = getMethod(id).kernel({ ...common, tensors });
  const b = f16.encode!(r.data);
  return { bits: Array.from(new Uint16Array(b.buffer, b.byteOffset, n)), stats: r.stats };
}
function halvesOf(x: Float32Array): Uint16Array {
  const b = getCodec(GGMLType.F16).encode!(x);
  return new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

describe('linear: edges', () => {
  const a = rand(50, 300), b = rand(51, 300), c = rand(52, 300);
  it('two inputs: (w_a·a + w_b·b) / Σw computed in double and rounded once, into the given scratch; stats are the task-vector norm', () => {
    const scratch = new Float32Array(300).fill(7);
    const r = getMethod('linear').kernel({ name: 'w', shape: [300], tensors: [a, b], baseIndex: null, params: { normalize: true }, modelParams: [{ weight: 0.7 }, { weight: 0.6 }], seed: 0, out: scratch });
    expect(r.data).toBe(scratch);
    expect(Array.from(r.data)).toEqual(Array.from(a, (x, i) => Math.fround((0.7 * x + 0.6 * b[i]!) / (0.7 + 0.6))));
    expect(r.stats).toEqual({ name: 'w', taskVectorNorms: [expect.closeTo(Math.hypot(...Array.from(a, (x, i) => b[i]! - x)), 5)], kept: [1], signAgreement: null, extra: {} });
  });
  it('three inputs: Σ w_m θ_m accumulated in f32 model by model into a dirty scratch, then ÷ Σw; norms against the base', () => {
    const scratch = new Float32Array(300).fill(7);
    const r = getMethod('linear').kernel({ name: 'w', shape: [300], tensors: [a, b, c], baseIndex: 1, params: { normalize: true }, modelParams: [{ weight: 0.5 }, { weight: 1 }, { weight: 2 }], seed: 0, out: scratch });
    expect(r.data).toBe(scratch);
    expect(Array.from(r.data)).toEqual(Array.from(a, (x, i) => Math.fround(Math.fround(Math.fround(Math.fround(0.5 * x) + 1 * b[i]!) + 2 * c[i]!) / 3.5)));
    const dist = (x: Float32Array) => Math.hypot(...Array.from(x, (v, i) => v - b[i]!));
    expect(r.stats.taskVectorNorms).toEqual([expect.closeTo(dist(a), 5), expect.closeTo(dist(c), 5)]);
    expect(r.stats.kept).toEqual([1, 1]);
  });
  it('refuses weights that sum to 0 under normalize in the kernel too, naming the tensor; without normalize they are fine', () => {
    expect(refusal(() => run('linear', [a, b], null, { normalize: true }, [{ weight: 1 }, { weight: -1 }], 'blk.2.ffn_up.weight'))).toBe('linear: weights sum to 0 for blk.2.ffn_up.weight');
    expect(getMethod('linear').validate!({ normalize: false }, [{ weight: 1 }, { weight: -1 }], null, 4)).toBeNull();
    expect(getMethod('linear').validate!({ normalize: true }, [{ weight: 1 }, { weight: 1 }], null, 4)).toBeNull();
    close(run('linear', [a, b], null, { normalize: false }, [{ weight: 1 }, { weight: -1 }]).data, Array.from(a, (x, i) => x - b[i]!));
  });
  it('the JavaScript fused F16 path (SIMD off) gives decode → kernel → encode bit for bit, with weights that do not sum to 1', async () => {
    const n = 5003; // more than one 4096-value piece, with a tail
    const hs = [rand(53, n), rand(54, n), rand(55, n)].map(halvesOf);
    setSimdEnabled(false);
    try {
      for (const [inputs, baseIndex, normalize, weights] of [[2, null, true, [0.7, 0.6]], [3, 2, true, [0.5, 1, 2]], [3, null, false, [0.3, 0.3, 0.3]]] as const) {
        const common = { name: 'w', shape: [n], baseIndex, params: { normalize }, modelParams: weights.map((weight) => ({ weight })), seed: 0 };
        const halves = hs.slice(0, inputs);
        const want = viaF32('linear', halves, common);
        const out = new Uint16Array(n);
        const stats = await getMethod('linear').kernelF16!({ ...common, halves, out });
        expect(Array.from(out), `${inputs} inputs`).toEqual(want.bits);
        expect(stats).toEqual(want.stats);
      }
    } finally {
      setSimdEnabled(true);
    }
  });
});

describe('slerp: edges', () => {
  const v0 = rand(60, 64), v1 = rand(61, 64);
  it('reports ‖v1 − v0‖, the angle in degrees, no fallback and t', () => {
    const r = run('slerp', [v0, v1], 0, { t: 0.4 }, [{}, {}]);
    const n0 = Math.hypot(...v0), n1 = Math.hypot(...v1);
    const deg = (Math.acos(v0.reduce((s, x, i) => s + (x / n0) * (v1[i]! / n1), 0)) * 180) / Math.PI;
    expect(r.stats).toEqual({
      name: 'blk.0.attn_q.weight',
      taskVectorNorms: [expect.closeTo(Math.hypot(...Array.from(v0, (x, i) => v1[i]! - x)), 5)],
      kept: [1],
      signAgreement: null,
      extra: { angleDeg: expect.closeTo(deg, 4), lerpFallback: 0, t: 0.4 },
    });
  });
  it('a zero other model is not normalised either: 90°, cos/sin weights on the base', () => {
    const r = run('slerp', [v0, new Float32Array(64)], 0, { t: 0.5 }, [{}, {}]);
    close(r.data, Array.from(v0, (x) => Math.cos(Math.PI / 4) * x));
    expect(r.stats.extra.angleDeg).toBeCloseTo(90, 6);
  });
  it('the lerp fallback reports the clamped angle: about 0° for colinear inputs, about 180° for anti-parallel ones', () => {
    const colinear = run('slerp', [v0, v0.map((x) => 3 * x)], 0, { t: 0.5 }, [{}, {}]);
    expect(colinear.stats.extra.lerpFallback).toBe(1);
    expect(colinear.stats.extra.angleDeg).toBeLessThan(1);
    const anti = run('slerp', [v0, v0.map((x) => -x)], 0, { t: 0.5 }, [{}, {}]);
    expect(anti.stats.extra.lerpFallback).toBe(1);
    expect(anti.stats.extra.angleDeg).toBeGreaterThan(179);
  });
});

describe('model_stock: edges', () => {
  const w0 = rand(70, 48), w1 = rand(71, 48), w2 = rand(72, 48), w3 = rand(73, 48);
  /** t = N·cos/(1 + (N−1)·cos) for entries [from, to), cos the mean pairwise cosine of the offsets. */
  const tOf = (from: number, to: number) => {
    const off = [w1, w2, w3].map((w) => Array.from(w.slice(from, to), (v, i) => v - w0[from + i]!));
    const cos: number[] = [];
    for (let i = 0; i < 3; i++) for (let j = i + 1; j < 3; j++) cos.push(off[i]!.reduce((s, v, k) => s + v * off[j]![k]!, 0) / (Math.hypot(...off[i]!) * Math.hypot(...off[j]!)));
    const c = (cos[0]! + cos[1]! + cos[2]!) / 3;
    return (3 * c) / (1 + 2 * c);
  };
  it('reports t (whole tensor, or the mean of the rows\' t with filter_wise), the offsets\' norms and kept 1 each', () => {
    const whole = run('model_stock', [w0, w1, w2, w3], 0, { filter_wise: false }, [{}, {}, {}, {}]);
    expect(whole.stats.extra.t).toBeCloseTo(tOf(0, 48), 6);
    expect(whole.stats.taskVectorNorms).toEqual([w1, w2, w3].map((w) => expect.closeTo(Math.hypot(...Array.from(w, (v, i) => v - w0[i]!)), 5)));
    expect(whole.stats.kept).toEqual([1, 1, 1]);
    expect(whole.stats.signAgreement).toBeNull();
    const rows = getMethod('model_stock').kernel({ name: 'w', shape: [16, 3], tensors: [w0, w1, w2, w3], baseIndex: 0, params: { filter_wise: true }, modelParams: [{}, {}, {}, {}], seed: 0 });
    expect(rows.stats.extra.t).toBeCloseTo((tOf(0, 16) + tOf(16, 32) + tOf(32, 48)) / 3, 6);
  });
  it('refuses to run without a base or with fewer than two models besides it', () => {
    expect(refusal(() => run('model_stock', [w0, w1, w2], null, { filter_wise: false }, [{}, {}, {}]))).toBe('model_stock needs a base_model');
    expect(refusal(() => run('model_stock', [w0, w1], 0, { filter_wise: false }, [{}, {}]))).toBe('model_stock needs at least two models besides the base');
  });
});

describe('task arithmetic family: edges', () => {
  const base = rand(80, 120), m1 = rand(81, 120), m2 = rand(82, 120), m3 = rand(83, 120);
  it('refuses to run without a base, in the f32 kernel and in the fused F16 path', async () => {
    expect(refusal(() => run('ties', [m1, m2], null, { normalize: true, lambda: 1, rescale: false }, [{ weight: 1, density: 0.5 }, { weight: 1, density: 0.5 }]))).toBe('ties needs a base_model');
    const halves = [halvesOf(m1), halvesOf(m2)];
    await expect(getMethod('task_arithmetic').kernelF16!({ name: 'x', shape: [120], halves, out: new Uint16Array(120), baseIndex: null, params: { normalize: false, lambda: 1 }, modelParams: [{ weight: 1 }, { weight: 1 }], seed: 0 })).rejects.toThrow(new MergeMethodError('task_arithmetic needs a base_model'));
  });
  it('a base alone is copied bit for bit (−0 stays −0; into the scratch when given) with empty statistics', () => {
    const scratch = new Float32Array(120).fill(3);
    const withNegativeZero = Float32Array.from(base, (x, i) => (i === 5 ? -0 : x));
    const r = getMethod('ties').kernel({ name: 'only', shape: [120], tensors: [withNegativeZero], baseIndex: 0, params: { normalize: true, lambda: 1, rescale: false }, modelParams: [{}], seed: 0, out: scratch });
    expect(r.data).toBe(scratch);
    expect(Array.from(r.data)).toEqual(Array.from(withNegativeZero));
    expect(Object.is(r.data[5], -0)).toBe(true);
    expect(r.stats).toEqual({ name: 'only', taskVectorNorms: [], kept: [], signAgreement: null, extra: {} });
  });
  it('three task vectors with lambda ≠ 1 (the general loop), with and without consensus', () => {
    const p = { normalize: true, lambda: 0.5, rescale: false, int8_mask: false };
    const mp: P[] = [{}, { weight: 0.7, density: 1 }, { weight: 0.4, density: 1 }, { weight: 0.9, density: 1 }];
    close(run('task_arithmetic', [base, m1, m2, m3], 0, p, mp).data, refGta(base, [m1, m2, m3], [0.7, 0.4, 0.9], { normalize: true, lambda: 0.5 }));
    close(run('ties', [base, m1, m2, m3], 0, p, mp).data, refGta(base, [m1, m2, m3], [0.7, 0.4, 0.9], { consensus: 'sum', normalize: true, lambda: 0.5 }));
  });
  it('one task vector: no sign agreement to report; two: the result lands in the scratch', () => {
    const one = run('ties', [base, m1], 0, { normalize: true, lambda: 1, rescale: false }, [{}, { weight: 1, density: 0.5 }]);
    expect(one.stats.signAgreement).toBeNull();
    expect(one.stats.kept).toEqual([0.5]);
    const scratch = new Float32Array(120);
    const two = getMethod('ties').kernel({ name: 'x', shape: [120], tensors: [base, m1, m2], baseIndex: 0, params: { normalize: true, lambda: 1, rescale: false }, modelParams: [{}, { weight: 1, density: 1 }, { weight: 1, density: 1 }], seed: 0, out: scratch });
    expect(two.data).toBe(scratch);
  });
  it('weights that sum to (nearly) 0 under normalize divide by 1, as mergekit does', () => {
    const p = { normalize: true, lambda: 1, int8_mask: false };
    const r = run('task_arithmetic', [base, m1, m2], 0, p, [{}, { weight: 0.5 }, { weight: -0.5 }]);
    close(r.data, Array.from(base, (b, i) => b + 0.5 * (m1[i]! - b) - 0.5 * (m2[i]! - b)));
    const r3 = run('task_arithmetic', [base, m1, m2, m3], 0, p, [{}, { weight: 0.5 }, { weight: -0.25 }, { weight: -0.25 }]);
    close(r3.data, refGta(base, [m1, m2, m3], [0.5, -0.25, -0.25], { normalize: true }));
  });
  it('validate: no density to check without sparsification; a random drop may keep nothing of a small tensor, magnitude may not', () => {
    expect(getMethod('task_arithmetic').validate!({}, [{}, { weight: 1 }], 0, 200)).toBeNull();
    expect(getMethod('dare_ties').validate!({}, [{}, { weight: 1, density: 0.001 }], 0, 200)).toBeNull();
    expect(getMethod('ties').validate!({}, [{ weight: 1, density: 0.001 }, {}], 1, 200)).toBe('density 0.001 keeps ⌊0.001·200⌋ = 0 of the 200 entries; raise density to at least 0.00500');
    expect(getMethod('ties').validate!({}, [{}, { weight: 1, density: 1 }], 0, 200)).toBeNull();
    // Density 1 keeps everything, so there is nothing to refuse even in an empty tensor.
    expect(getMethod('ties').validate!({}, [{}, { weight: 1, density: 1 }], 0, 0)).toBeNull();
  });
  it('the fused F16 path (SIMD) on models equal to the base: the base, with sign agreement 1 (no non-zero entry)', async () => {
    const h = halvesOf(base);
    const out = new Uint16Array(120);
    const stats = await getMethod('ties').kernelF16!({ name: 'x', shape: [120], halves: [h, h, h], out, baseIndex: 0, params: { normalize: true, lambda: 1, rescale: false }, modelParams: [{}, { weight: 1, density: 0.5 }, { weight: 1, density: 0.5 }], seed: 0 });
    expect(Array.from(out)).toEqual(Array.from(h));
    expect(stats).toEqual({ name: 'x', taskVectorNorms: [0, 0], kept: [0.5, 0.5], signAgreement: 1, extra: {} });
  });
  it('two task vectors without consensus: Σ w δ ÷ Σ w and λ, and the share of entries agreeing with the sign of the sum', () => {
    const r = run('task_arithmetic', [base, m1, m2], 0, { normalize: true, lambda: 1.5, int8_mask: false }, [{}, { weight: 0.7 }, { weight: 0.4 }]);
    close(r.data, refGta(base, [m1, m2], [0.7, 0.4], { normalize: true, lambda: 1.5 }));
    const d = [m1, m2].map((m, k) => Array.from(m, (v, i) => (v - base[i]!) * [0.7, 0.4][k]!));
    let agree = 0, nonzero = 0;
    for (let i = 0; i < 120; i++) {
      const el = d[0]![i]! + d[1]![i]! >= 0 ? 1 : -1;
      for (const x of [d[0]![i]!, d[1]![i]!]) if (x !== 0) { nonzero++; if (Math.sign(x) === el) agree++; }
    }
    expect(r.stats.signAgreement).toBeCloseTo(agree / nonzero, 12);
  });
});

describe('rank ranges (keepRankRange): edges', () => {
  /** Keep the entries of ranks [from, to) in the documented total order (larger |x| first, ties → lower index). */
  const refRange = (x: ArrayLike<number>, from: number, to: number) => {
    const keep = new Set(descOrder(x).slice(Math.max(0, from), to));
    return Array.from(x, (v, i) => (keep.has(i) ? v : 0));
  };
  const check = (x: Float32Array, from: number, to: number) => {
    const want = refRange(x, from, to);
    const got = Float32Array.from(x);
    const kept = keepRankRange(got, from, to);
    expect(Array.from(got), `[${from}, ${to}) of ${x.length}`).toEqual(want);
    expect(kept).toBe(to - from);
  };
  it('ranges that start past rank 0: both thresholds in one 16-bit bucket, in two, ties at a threshold, a range to the last rank', () => {
    // Magnitudes 1 + k·2^-20 share their top 16 bits; 1 and 2 do not; f16-like values tie often.
    const close1 = Float32Array.from({ length: 40 }, (_, i) => (i % 2 ? -1 : 1) * (1 + ((i * 7) % 13) * 2 ** -20));
    const spread = rand(90, 200, 4);
    const ties = Float32Array.from(rand(91, 200), (v) => Math.round(v * 8) / 8);
    for (const x of [close1, spread, ties]) {
      const n = x.length;
      for (const [from, to] of [[1, 5], [3, Math.floor(n / 2)], [n - 6, n - 1], [2, n], [n - 1, n], [0, n - 1]] as const) check(x, from, to);
    }
  });
  it('an empty range zeroes everything; the full range keeps everything', () => {
    const x = rand(92, 30);
    for (const [from, to] of [[0, 0], [4, 4], [6, 2]] as const) {
      const y = Float32Array.from(x);
      expect(keepRankRange(y, from, to)).toBe(0);
      expect(Array.from(y)).toEqual(new Array(30).fill(0));
    }
    const all = Float32Array.from(x);
    expect(keepRankRange(all, 0, 30)).toBe(30);
    expect(Array.from(all)).toEqual(Array.from(x));
  });
  it('the two-selection path (the one NaN tensors take) gives the documented ranks on NaN-free tensors too', () => {
    const close1 = Float32Array.from({ length: 40 }, (_, i) => (i % 2 ? -1 : 1) * (1 + ((i * 7) % 13) * 2 ** -20));
    const ties = Float32Array.from(rand(93, 120), (v) => Math.round(v * 8) / 8);
    for (const x of [close1, rand(94, 77, 3), ties]) {
      const n = x.length;
      for (const [from, to] of [[0, 5], [1, 5], [3, Math.floor(n / 2)], [n - 6, n - 1], [2, n], [n - 1, n], [0, n - 1]] as const) {
        const got = Float32Array.from(x);
        expect(keepRankRangeWithNaN(got, from, to), `[${from}, ${to}) of ${n}`).toBe(to - from);
        expect(Array.from(got), `[${from}, ${to}) of ${n}`).toEqual(refRange(x, from, to));
      }
    }
  });
  it('a range reaching past the last rank keeps everything and says how many; a negative start counts from rank 0', () => {
    const x = rand(95, 25);
    const y = Float32Array.from(x);
    expect(keepRankRange(y, 0, 40)).toBe(25);
    expect(Array.from(y)).toEqual(Array.from(x));
    const z = Float32Array.from(x);
    expect(keepRankRange(z, -3, 4)).toBe(4);
    expect(Array.from(z)).toEqual(refRange(x, 0, 4));
  });
  it('the high-bits histogram counts |bits| >>> 16 and flags NaN wherever it sits (even, odd or last index), not ±Infinity', () => {
    const ref = (x: Float32Array) => {
      const h = new Uint32Array(65536);
      for (const b of new Uint32Array(x.buffer)) h[(b & 0x7fffffff) >>> 16]!++;
      return h;
    };
    for (const x of [rand(96, 31, 1e3), Float32Array.from([Infinity, -Infinity, 3.4e38, -0, 0, 1e-45, 2])]) {
      const h = new Uint32Array(65536);
      expect(histogramHigh(new Uint32Array(x.buffer), h)).toBe(true);
      expect(h).toEqual(ref(x));
    }
    for (const at of [0, 1, 6]) {
      const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7]);
      x[at] = at === 1 ? -NaN : NaN;
      expect(histogramHigh(new Uint32Array(x.buffer), new Uint32Array(65536)), `NaN at ${at}`).toBe(false);
    }
  });
  it('a tensor holding NaN: float comparisons rank it (a NaN is never above, below or equal to a threshold, so it counts as inside)', () => {
    // |x| = NaN, 3, 1, 2, 0.5. Ranks [1, 3): thresholds 3 (rank 1) and 2 (rank 2) among the numbers; 3 is the
    // largest number, so rank 0 → dropped; 2 is kept; the NaN is kept as "strictly inside".
    const x = Float32Array.from([NaN, 3, -1, 2, 0.5]);
    expect(keepRankRange(x, 1, 3)).toBe(2);
    expect(Array.from(x)).toEqual([NaN, 0, 0, 2, 0]);
    // Ties at both thresholds: the 5 is rank 0 and the three 2s ranks 1–3 in index order, so ranks [2, 4)
    // keep the second and third 2 (and the NaN).
    const y = Float32Array.from([NaN, 2, -2, 5, 2, 1]);
    expect(keepRankRange(y, 2, 4)).toBe(3);
    expect(Array.from(y)).toEqual([NaN, 0, -2, 0, 2, 0]);
    // Ties at the lower threshold only (4 is rank 0, the 2s ranks 1–3): ranks [1, 3) keep the first two 2s.
    const z = Float32Array.from([NaN, 4, 2, -2, 2, 1]);
    expect(keepRankRange(z, 1, 3)).toBe(3);
    expect(Array.from(z)).toEqual([NaN, 0, 2, -2, 0, 0]);
  });
  it('magnitude_outliers removes fewer outliers when density + gamma leave no small entries to drop (mergekit)', () => {
    // n = 10, density 0.9 → 9 kept; gamma 0.2 → 2 outliers, but then only 8 would remain: drop 1.
    const x = Float32Array.from([1, -10, 2, 9, -3, 4, 5, -6, 7, 8]);
    expect(magnitudeOutliers(x, 0.9, 0.2, false)).toBe(9);
    expect(Array.from(x)).toEqual([1, 0, 2, 9, -3, 4, 5, -6, 7, 8]);
  });
});
