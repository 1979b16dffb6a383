/**
 * The methods added from mergekit's current list (della, della_linear, sce, nuslerp, multislerp,
 * karcher, nearswap, arcee_fusion, passthrough, ram, ramplus_tl), each against an independent,
 * straightforward computation written from mergekit's definition (plain number arrays, index lists
 * sorted with a comparator, no helper shared with the kernels) on real tensors: stories260K and
 * the pool's specialists fine-tuned from it (public/models), read through the project's reader.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { getMethod, type ParamValue } from '../../src/lib/merge/methods/index.ts';
import { tensorRng } from '../../src/lib/merge/methods/sparsify.ts';
import { getCodec } from '../../src/lib/merge/codecs/index.ts';
import { bytesSource, readGGUF, readTensorData } from '../../src/lib/merge/gguf/index.ts';
import { REPO_ROOT, storiesModel } from '../support/paths.ts';

type P = Record<string, ParamValue>;
interface T { shape: number[]; data: Float32Array }

const MODELS = { base: storiesModel(), arith: join(REPO_ROOT, 'public/models/arithmetic-specialist.gguf'), world: join(REPO_ROOT, 'public/models/world-specialist.gguf'), reverse: join(REPO_ROOT, 'public/models/reverse-specialist.gguf') };
const NAMES = ['blk.2.attn_q.weight', 'blk.0.ffn_down.weight', 'output_norm.weight'] as const;
const real: Record<string, Record<string, T>> = {};

beforeAll(async () => {
  for (const [k, path] of Object.entries(MODELS)) {
    const src = bytesSource(new Uint8Array(readFileSync(path)), path);
    const f = await readGGUF(src);
    real[k] = {};
    for (const name of NAMES) {
      const info = f.tensors.find((t) => t.name === name)!;
      real[k]![name] = { shape: [...info.shape], data: getCodec(info.type).decode(await readTensorData(src, f, info), info.nElements) };
    }
  }
});

const get = (model: keyof typeof MODELS, name: string) => real[model]![name]!;
function run(id: string, name: string, models: (keyof typeof MODELS)[], baseIndex: number | null, params: P, modelParams: P[], seed = 0) {
  const ts = models.map((m) => get(m, name));
  return getMethod(id).kernel({ name, shape: ts[0]!.shape, tensors: ts.map((t) => t.data), baseIndex, params, modelParams, seed });
}
function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5) {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (1e-3 + Math.abs(b[i]!)));
  expect(worst).toBeLessThanOrEqual(tol);
}
const arr = (x: Float32Array) => Array.from(x);
const sub = (a: number[], b: number[]) => a.map((x, i) => x - b[i]!);
const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const nrm = (a: number[]) => Math.sqrt(dot(a, a));
/** Rows of a GGUF tensor: slices of shape[0] values (a vector is one row). */
const rows = (x: number[], shape: number[]) => { const L = shape.length >= 2 ? shape[0]! : x.length; const r: number[][] = []; for (let i = 0; i < x.length; i += L) r.push(x.slice(i, i + L)); return r; };

describe('della / della_linear', () => {
  /** MAGPRUNE written out: ascending ranks per row from a sorted index list, p from the rank, one draw per entry. */
  function refMagprune(d: number[], shape: number[], density: number, eps: number, rng: () => number): number[] {
    const out: number[] = [];
    for (const row of rows(d, shape)) {
      const order = row.map((_, j) => j).sort((a, b) => Math.abs(row[a]!) - Math.abs(row[b]!) || a - b);
      const rank: number[] = [];
      order.forEach((j, r) => (rank[j] = r));
      row.forEach((x, j) => {
        const p = row.length > 1 ? density - eps + (2 * eps * rank[j]!) / (row.length - 1) : density;
        out.push(rng() < p ? x / p : 0);
      });
    }
    return out;
  }
  const name = 'blk.0.ffn_down.weight';
  const mp: P[] = [{ weight: 1, density: 0.4, epsilon: 0.1 }, { weight: 0.7, density: 0.6, epsilon: 0.2 }, {}];
  it('della = MAGPRUNE (seeded, rescaled by 1/p), then TIES sign election and normalisation, on real task vectors', () => {
    const r = run('della', name, ['arith', 'world', 'base'], 2, { normalize: true, lambda: 1, rescale: true, int8_mask: false }, mp, 11);
    const base = arr(get('base', name).data);
    const shape = get('base', name).shape;
    const ds = (['arith', 'world'] as const).map((m, i) => refMagprune(sub(arr(get(m, name).data), base), shape, mp[i]!.density as number, mp[i]!.epsilon as number, tensorRng(11, name, i)).map((x) => x * (mp[i]!.weight as number)));
    const want = base.map((b, j) => {
      const col = ds.map((d) => d[j]!);
      const el = col.reduce((a, c) => a + c, 0) >= 0 ? 1 : -1;
      let mixed = 0, div = 0;
      col.forEach((c, i) => { if (Math.sign(c) === el) { mixed += c; div += mp[i]!.weight as number; } });
      return b + mixed / (div === 0 ? 1 : div);
    });
    close(r.data, want, 1e-4);
    expect(r.stats.kept[0]).toBeGreaterThan(0.35);
    expect(r.stats.kept[0]).toBeLessThan(0.45);
  });
  it('della_linear: plain weighted sum of the pruned task vectors; the same seed gives the same bytes, another seed others', () => {
    const p = { normalize: false, lambda: 1, rescale: true, int8_mask: false };
    const a = run('della_linear', name, ['arith', 'world', 'base'], 2, p, mp, 5);
    const b = run('della_linear', name, ['arith', 'world', 'base'], 2, p, mp, 5);
    const c = run('della_linear', name, ['arith', 'world', 'base'], 2, p, mp, 6);
    expect(arr(a.data)).toEqual(arr(b.data));
    expect(arr(a.data)).not.toEqual(arr(c.data));
    const base = arr(get('base', name).data);
    const shape = get('base', name).shape;
    const ds = (['arith', 'world'] as const).map((m, i) => refMagprune(sub(arr(get(m, name).data), base), shape, mp[i]!.density as number, mp[i]!.epsilon as number, tensorRng(5, name, i)));
    close(a.data, base.map((x, j) => x + ds[0]![j]! * 1 + ds[1]![j]! * 0.7), 1e-4);
  });
  it('keeps large entries more often than small ones (the rank gradient), with ε = 0 it keeps uniformly', () => {
    const d = sub(arr(get('arith', name).data), arr(get('base', name).data));
    const shape = get('base', name).shape;
    const big = (eps: number) => {
      const r = run('della_linear', name, ['arith', 'base'], 1, { normalize: false, lambda: 1, rescale: false }, [{ weight: 1, density: 0.5, epsilon: eps }, {}], 3);
      const kept = arr(r.data).map((x, j) => x !== get('base', name).data[j]);
      let hi = 0, hiN = 0, lo = 0, loN = 0;
      rows(d, shape).forEach((row, ri) => {
        const sorted = row.map(Math.abs).sort((a, b) => a - b);
        const med = sorted[Math.floor(row.length / 2)]!;
        row.forEach((x, j) => { const k = kept[ri * row.length + j]!; if (Math.abs(x) > med) { hi += +k; hiN++; } else { lo += +k; loN++; } });
      });
      return [hi / hiN, lo / loN] as const;
    };
    const [hi, lo] = big(0.4);
    expect(hi - lo).toBeGreaterThan(0.3);
    const [hu, lu] = big(0);
    expect(Math.abs(hu - lu)).toBeLessThan(0.08);
  });
  it('refuses density ± epsilon outside (0, 1), naming both', () => {
    expect(getMethod('della').validate!({}, [{ weight: 1, density: 0.1, epsilon: 0.15 }, {}], 1, 100)).toMatch(/density 0\.1 ± epsilon 0\.15 must lie inside \(0, 1\)/);
    expect(getMethod('della_linear').validate!({}, [{ weight: 1, density: 0.9, epsilon: 0.15 }, {}], 1, 100)).toMatch(/density 0\.9 ± epsilon 0\.15/);
    expect(getMethod('della').validate!({}, [{ weight: 1, density: 0.5, epsilon: 0.15 }, {}], 1, 100)).toBeNull();
  });
});

describe('sce', () => {
  function refSce(base: number[], models: number[][], topk: number): number[] {
    let tvs = models.map((m) => sub(m, base));
    const N = tvs.length;
    if (topk < 1) {
      const v = base.map((_, j) => { const col = tvs.map((t) => t[j]!); const mean = col.reduce((a, b) => a + b, 0) / N; return col.reduce((a, b) => a + (b - mean) ** 2, 0) / N; });
      const k = Math.floor(v.filter((x) => x !== 0).length * topk);
      const keep = new Set(v.map((_, j) => j).sort((a, b) => v[b]! - v[a]! || a - b).slice(0, k));
      tvs = tvs.map((t) => t.map((x, j) => (keep.has(j) ? x : 0)));
    }
    const ms = tvs.map((t) => dot(t, t) / t.length);
    const tot = ms.reduce((a, b) => a + b, 0);
    const w = Math.abs(tot) < 1e-6 ? ms.map(() => 1 / N) : ms.map((m) => m / tot);
    return base.map((b, j) => {
      const col = tvs.map((t) => t[j]!);
      const el = col.reduce((a, c) => a + c, 0) >= 0 ? 1 : -1;
      let num = 0, den = 0;
      col.forEach((c, i) => { if (Math.sign(c) === el) { num += w[i]! * c; den += w[i]!; } });
      return b + num / Math.max(den, 1e-6);
    });
  }
  for (const topk of [1, 0.3]) {
    it(`select_topk ${topk}: variance selection, mean-square weights, sign erase, on three real task vectors`, () => {
      const name = 'blk.2.attn_q.weight';
      const r = run('sce', name, ['base', 'arith', 'world', 'reverse'], 0, { select_topk: topk, int8_mask: false }, [{}, {}, {}, {}]);
      close(r.data, refSce(arr(get('base', name).data), (['arith', 'world', 'reverse'] as const).map((m) => arr(get(m, name).data)), topk), 1e-4);
    });
  }
});

describe('sce top-k ties', () => {
  it('among equal variances the lower indices are kept, exactly k of them', () => {
    const base = new Float32Array(6);
    const m1 = Float32Array.from([1, 2, 1, 2, 1, 0]), m2 = Float32Array.from([-1, -2, -1, -2, -1, 0]);
    // Variances 1, 4, 1, 4, 1, 0: five non-zero, k = ⌊0.6·5⌋ = 3 → both 4s and the first 1. The sum
    // of each column is 0, so + is elected and only m1's entries remain.
    const r = getMethod('sce').kernel({ name: 'x', shape: [6], tensors: [base, m1, m2], baseIndex: 0, params: { select_topk: 0.6 }, modelParams: [{}, {}, {}], seed: 0 });
    expect(arr(r.data)).toEqual([1, 2, 0, 2, 0, 0]);
  });
});

describe('nuslerp', () => {
  function slerpPiece(t: number, u: number[], v: number[]): number[] {
    const cu = Math.max(nrm(u), 1e-7), cv = Math.max(nrm(v), 1e-7);
    const th = Math.acos(Math.min(1, Math.max(-1, dot(u.map((x) => x / cu), v.map((x) => x / cv)))));
    if (Math.abs(Math.sin(th)) < 1e-8) return u.map((x, i) => (1 - t) * x + t * v[i]!);
    return u.map((x, i) => (Math.sin((1 - t) * th) * x + Math.sin(t * th) * v[i]!) / Math.sin(th));
  }
  /** Columns of a [cols, rowsCount] GGUF matrix by explicit transposition. */
  const transpose = (m: number[][]) => m[0]!.map((_, c) => m.map((r) => r[c]!));
  const name = 'blk.0.ffn_down.weight';
  const w = [{ weight: 1 }, { weight: 3 }];
  it('flatten (default): one arc over the whole tensor, t = w₂/(w₁+w₂)', () => {
    const r = run('nuslerp', name, ['arith', 'world'], null, { nuslerp_flatten: true, nuslerp_row_wise: false }, w);
    close(r.data, slerpPiece(0.75, arr(get('arith', name).data), arr(get('world', name).data)), 1e-4);
  });
  it('flatten off: one arc per row (torch\'s last dimension); row_wise: one per column', () => {
    const shape = get('base', name).shape;
    const a = rows(arr(get('arith', name).data), shape), b = rows(arr(get('world', name).data), shape);
    const perRow = run('nuslerp', name, ['arith', 'world'], null, { nuslerp_flatten: false, nuslerp_row_wise: false }, w);
    close(perRow.data, a.flatMap((row, i) => slerpPiece(0.75, row, b[i]!)), 1e-4);
    const perCol = run('nuslerp', name, ['arith', 'world'], null, { nuslerp_flatten: false, nuslerp_row_wise: true }, w);
    const cols = transpose(a).map((c, i) => slerpPiece(0.75, c, transpose(b)[i]!));
    close(perCol.data, transpose(cols).flat(), 1e-4);
  });
  it('with a base: base + nuslerp of the two task vectors', () => {
    const base = arr(get('base', name).data);
    const r = run('nuslerp', name, ['arith', 'world', 'base'], 2, { nuslerp_flatten: true, nuslerp_row_wise: false }, [...w, {}]);
    const s = slerpPiece(0.75, sub(arr(get('arith', name).data), base), sub(arr(get('world', name).data), base));
    close(r.data, base.map((x, i) => x + s[i]!), 1e-4);
    expect(getMethod('nuslerp').validate!({}, [{ weight: 1 }, {}], 1, 10)).toMatch(/exactly two models besides the base \(got 1\)/);
  });
});

describe('multislerp', () => {
  function refMulti(xs: number[][], w: number[], base: number[] | null, normalize = true, eps = 1e-8): number[] {
    const ws = normalize ? w.map((x) => x / w.reduce((a, b) => a + b, 0)) : w;
    const v = base ? xs.map((x) => sub(x, base)) : xs;
    const r = v.map(nrm);
    const u = v.map((x, k) => x.map((y) => y / (r[k]! + eps)));
    let m = u[0]!.map((_, j) => u.reduce((s, uk, k) => s + ws[k]! * uk[j]!, 0));
    const mn = nrm(m);
    m = m.map((x) => x / mn);
    const tau = m.map((_, j) => u.reduce((s, uk, k) => s + ws[k]! * (uk[j]! - dot(uk, m) * m[j]!), 0));
    const a = nrm(tau) + eps;
    const scale = r.reduce((s, x, k) => s + x * ws[k]!, 0);
    return m.map((x, j) => (x * Math.cos(a) + tau[j]! * (Math.sin(a) / a)) * scale + (base ? base[j]! : 0));
  }
  const name = 'blk.2.attn_q.weight';
  it('three models, no base', () => {
    const r = run('multislerp', name, ['arith', 'world', 'reverse'], null, { normalize_weights: true, eps: 1e-8 }, [{ weight: 1 }, { weight: 2 }, { weight: 0.5 }]);
    close(r.data, refMulti((['arith', 'world', 'reverse'] as const).map((m) => arr(get(m, name).data)), [1, 2, 0.5], null), 1e-4);
  });
  it('three task vectors from a base', () => {
    const r = run('multislerp', name, ['arith', 'world', 'reverse', 'base'], 3, { normalize_weights: true, eps: 1e-8 }, [{ weight: 1 }, { weight: 1 }, { weight: 1 }, {}]);
    close(r.data, refMulti((['arith', 'world', 'reverse'] as const).map((m) => arr(get(m, name).data)), [1, 1, 1], arr(get('base', name).data)), 1e-4);
  });
  it('two antipodal inputs fall back to the weighted sum; three that cancel are refused by name', () => {
    const x = get('arith', name).data;
    const neg = Float32Array.from(x, (v) => -v);
    const k = getMethod('multislerp');
    const two = k.kernel({ name, shape: [64, 64], tensors: [x, neg], baseIndex: null, params: { normalize_weights: true, eps: 1e-8 }, modelParams: [{ weight: 1 }, { weight: 1 }], seed: 0 });
    expect(two.stats.extra.lerpFallback).toBe(1);
    expect(arr(two.data).every((v) => Math.abs(v) < 1e-6)).toBe(true);
    expect(() => k.kernel({ name, shape: [64, 64], tensors: [x, neg, x, neg], baseIndex: null, params: { normalize_weights: true, eps: 1e-8 }, modelParams: [{ weight: 1 }, { weight: 1 }, { weight: 1 }, { weight: 1 }], seed: 0 })).toThrow(/multislerp, tensor blk\.2\.attn_q\.weight: the weighted directions of the inputs cancel out/);
  });
});

describe('karcher', () => {
  it('of two real tensors is the midpoint of their arc (closed-form SLERP at ½) times their mean norm', () => {
    const name = 'blk.2.attn_q.weight';
    const a = arr(get('arith', name).data), b = arr(get('world', name).data);
    const ua = a.map((x) => x / nrm(a)), ub = b.map((x) => x / nrm(b));
    const mid = ua.map((x, i) => x + ub[i]!);
    const want = mid.map((x) => (x / nrm(mid)) * (nrm(a) + nrm(b)) / 2);
    close(run('karcher', name, ['arith', 'world'], null, { max_iter: 10, tol: 1e-5 }, [{}, {}]).data, want, 1e-4);
  });
  it('of three: the fixed point where the weighted log-maps sum to zero (checked on the result), scaled by the mean norm', () => {
    const name = 'blk.0.ffn_down.weight';
    const xs = (['arith', 'world', 'reverse'] as const).map((m) => arr(get(m, name).data));
    const r = run('karcher', name, ['arith', 'world', 'reverse'], null, { max_iter: 50, tol: 1e-9 }, [{}, {}, {}]);
    const scale = xs.reduce((s, x) => s + nrm(x), 0) / 3;
    const u = arr(r.data).map((x) => x / scale);
    expect(nrm(u)).toBeCloseTo(1, 5);
    // Riemannian gradient: Σ θ_i/sin θ_i · (û_i − cos θ_i u) must vanish at the Karcher mean.
    const g = u.map(() => 0);
    for (const x of xs) {
      const ux = x.map((v) => v / nrm(x));
      const c = dot(u, ux), th = Math.acos(Math.min(1, c));
      ux.forEach((v, j) => (g[j] = g[j]! + (th / Math.sin(th)) * (v - c * u[j]!)));
    }
    expect(nrm(g)).toBeLessThan(1e-5);
  });
});

describe('nearswap, arcee_fusion, passthrough', () => {
  it('nearswap: w = clamp(t/|a−b|, 0, 1) per entry', () => {
    const name = 'blk.2.attn_q.weight';
    const a = arr(get('base', name).data), b = arr(get('world', name).data);
    const r = run('nearswap', name, ['base', 'world'], 0, { t: 0.001 }, [{}, {}]);
    close(r.data, a.map((x, i) => { const w = Math.min(1, Math.max(0, 0.001 / Math.max(Math.abs(x - b[i]!), 1e-6))); return w * b[i]! + (1 - w) * x; }), 1e-6);
    expect(r.stats.extra.swapped).toBeGreaterThan(0);
    expect(r.stats.extra.swapped).toBeLessThan(1);
  });
  it('arcee_fusion: row KL × |change|, threshold median + 1.5·IQR of the sorted importances', () => {
    for (const name of ['blk.0.ffn_down.weight', 'output_norm.weight']) {
      const a = arr(get('base', name).data), b = arr(get('arith', name).data);
      const shape = get('base', name).shape;
      const soft = (x: number[]) => { const m = Math.max(...x); const e = x.map((v) => Math.exp(v - m)); const s = e.reduce((p, q) => p + q, 0); return e.map((v) => v / s + 1e-8); };
      const imp = rows(b, shape).flatMap((rb, ri) => {
        const ra = rows(a, shape)[ri]!;
        const p = soft(rb), q = soft(ra);
        const kl = p.reduce((s, x, k) => s + x * Math.log(x / q[k]!), 0);
        return rb.map((x, k) => Math.abs(x - ra[k]!) * kl);
      });
      const s = [...imp].sort((x, y) => x - y);
      const at = (q: number) => s[Math.floor(q * (s.length - 1))]!;
      const th = at(0.5) + 1.5 * (at(0.75) - at(0.25));
      const r = run('arcee_fusion', name, ['base', 'arith'], 0, {}, [{}, {}]);
      close(r.data, a.map((x, i) => (imp[i]! >= th ? b[i]! : x)), 1e-6);
      expect(r.stats.kept[0]).toBeGreaterThan(0);
      expect(r.stats.kept[0]).toBeLessThan(0.5);
    }
  });
  it('passthrough copies (scale 1, bit for bit) or scales', () => {
    const name = 'blk.2.attn_q.weight';
    expect(arr(run('passthrough', name, ['world'], null, {}, [{ scale: 1 }]).data)).toEqual(arr(get('world', name).data));
    close(run('passthrough', name, ['world'], null, {}, [{ scale: 0.5 }]).data, arr(get('world', name).data).map((x) => x * 0.5), 1e-7);
  });
});

describe('ram / ramplus_tl', () => {
  function refRam(base: number[], models: number[][], eps: number, plus?: { r: number; alpha: number }): number[] {
    const tvs = models.map((m) => sub(m, base));
    const changed = tvs.map((t) => t.map((x) => Math.abs(x) > eps));
    const count = base.map((_, j) => changed.filter((c) => c[j]).length);
    const lambda = tvs.map((_, i) => {
      if (!plus) return 1;
      const shared = count.filter((c, j) => changed[i]![j] && c > 1).length;
      const unique = count.filter((c, j) => changed[i]![j] && c === 1).length;
      return 1 + plus.r * Math.min(plus.alpha, Math.max(0, shared / Math.max(unique, eps)));
    });
    return base.map((b, j) => b + tvs.reduce((s, t, i) => s + (!changed[i]![j] ? 0 : count[j] === 1 ? t[j]! * lambda[i]! : t[j]! / count[j]!), 0));
  }
  const name = 'blk.2.attn_q.weight';
  // A threshold near the task vectors' typical size, so that real entries fall in every class.
  const eps = 0.02;
  it('ram: unique updates whole, shared ones averaged', () => {
    const r = run('ram', name, ['base', 'arith', 'world', 'reverse'], 0, { epsilon: eps }, [{}, {}, {}, {}]);
    close(r.data, refRam(arr(get('base', name).data), (['arith', 'world', 'reverse'] as const).map((m) => arr(get(m, name).data)), eps), 1e-5);
    expect(r.stats.extra.unique).toBeGreaterThan(0);
    expect(r.stats.extra.shared).toBeGreaterThan(0);
  });
  it('ramplus_tl: unique updates scaled by 1 + r·clamp(shared/unique, 0, alpha)', () => {
    const r = run('ramplus_tl', name, ['base', 'arith', 'world', 'reverse'], 0, { epsilon: eps, r: 0.5, alpha: 0.8 }, [{}, {}, {}, {}]);
    close(r.data, refRam(arr(get('base', name).data), (['arith', 'world', 'reverse'] as const).map((m) => arr(get(m, name).data)), eps, { r: 0.5, alpha: 0.8 }), 1e-5);
    expect(r.stats.extra.lambda1).toBeGreaterThan(1);
  });
});
