/**
 * The generalised task-arithmetic core (mergekit `generalized_task_arithmetic.py`). Task
 * arithmetic, TIES, DARE (linear and TIES), breadcrumbs and ExPO are configurations of this one
 * function, not copies:
 *
 *   δ_i = θ_i − θ_base                      (task vectors, arXiv 2212.04089)
 *   δ_i ← sparsify(δ_i, density_i)          (magnitude | random | magnitude_outliers | della_magprune)
 *   w_iδ_i                                  (per-model weight)
 *   m_i = [sign(w_iδ_i) = elected sign]     (TIES consensus: "sum" elects sign(Σ w_iδ_i),
 *                                            "count" elects the sign most entries have; ≥ 0 → +)
 *   Δ = Σ m_i w_iδ_i                        (m_i ≡ 1 without consensus)
 *   Δ ← Δ / Σ m_i w_i  when normalize       (a zero divisor counts as 1; without consensus,
 *                                            |Σ w_i| < 1e-8 counts as 1)
 *   θ = θ_base + λ·Δ
 */
import { getCodec } from '../codecs/index.ts';
import { GGMLType } from '../gguf/types.ts';
import { simdKernels, type TaskArithmetic2Options } from '../wasm/index.ts';
import { bernoulli, dellaMagprune, magnitude, magnitudeOutliers, tensorRng, type SparsifyMethod } from './sparsify.ts';
import {
  MergeMethodError, NORM_BLOCK, NormSum, bool, num,
  type KernelInput, type KernelInputF16, type KernelResult, type MethodDescriptor, type ParamValue, type ParameterDef, type TensorStats,
} from './types.ts';

export interface TaskArithmeticVariant {
  id: string;
  name: string;
  paper: string;
  summary: string;
  consensus: 'sum' | 'count' | null;
  sparsify: SparsifyMethod | null;
  defaultNormalize: boolean;
  defaultRescale: boolean;
}

const HELP = {
  weight: 'Scales this model\'s task vector (its difference from the base). 1 adds the whole fine-tune, 0 ignores it, negative values subtract it.',
  density: 'Share of the task vector\'s entries kept before merging. 1 keeps all; 0.2 keeps a fifth.',
  gamma: 'Share of the largest-magnitude entries removed as outliers before the smallest are dropped.',
  epsilon: 'Spread of the keep probability around density: the smallest entry of a row is kept with density − epsilon, the largest with density + epsilon.',
  normalize: 'Divide the summed task vectors by the sum of the weights (of the models that agree with the elected sign, under TIES).',
  rescale: 'Divide kept entries by the density, so the expected size of the task vector is unchanged after dropping.',
  lambda: 'Scales the merged task vector before it is added to the base.',
  int8_mask: 'mergekit memory option; accepted and ignored here (masks are never materialised).',
};

export function taskArithmeticMethod(v: TaskArithmeticVariant): MethodDescriptor {
  const perModel: ParameterDef[] = [{ name: 'weight', type: 'number', required: true, min: -1, max: 2, help: HELP.weight }];
  if (v.sparsify) {
    perModel.push({ name: 'density', type: 'number', default: 1, min: 0, max: 1, strict: true, help: HELP.density });
  }
  if (v.sparsify === 'magnitude_outliers') {
    perModel.push({ name: 'gamma', type: 'number', default: 0.01, min: 0, max: 1, strict: true, help: HELP.gamma });
  }
  if (v.sparsify === 'della_magprune') {
    // mergekit's default (generalized_task_arithmetic.py).
    perModel.push({ name: 'epsilon', type: 'number', default: 0.15, min: 0, max: 0.5, strict: true, help: HELP.epsilon });
  }
  const params: ParameterDef[] = [
    { name: 'normalize', type: 'boolean', default: v.defaultNormalize, help: HELP.normalize },
    { name: 'lambda', type: 'number', default: 1, min: 0, max: 2, help: HELP.lambda },
    { name: 'int8_mask', type: 'boolean', default: false, help: HELP.int8_mask },
  ];
  if (v.sparsify) params.push({ name: 'rescale', type: 'boolean', default: v.defaultRescale, help: HELP.rescale });

  return {
    id: v.id,
    name: v.name,
    paper: v.paper,
    summary: v.summary,
    seeded: v.sparsify === 'random' || v.sparsify === 'della_magprune',
    base: 'required',
    minInputs: 2,
    parameters: params,
    perModelParameters: perModel,
    baseTakesModelParameters: false,
    validate: (_p, modelParams, baseIndex, nElements) => validateDensity(v, modelParams, baseIndex, nElements),
    kernel: (input) => taskArithmeticKernel(v, input),
    // Random drops (DARE) and outlier removal (breadcrumbs) have no SIMD form here.
    ...(v.sparsify === null || v.sparsify === 'magnitude'
      ? {
        kernelF16: (input: KernelInputF16) => taskArithmeticF16(v, input),
        // Magnitude ranking's sample (see wasm/index.ts) taken ahead, while the previous tensor is computed.
        prepareF16: (input: Omit<KernelInputF16, 'out' | 'signal'>) => {
          const simd = input.halves.length === 3 && v.sparsify ? simdKernels() : null;
          if (!simd || input.baseIndex === null) return;
          const [x0, x1, base, o] = simdArguments(v, input, input.baseIndex);
          simd.prepareTaskArithmetic2(x0, x1, base, o);
        },
      }
      : {}),
  };
}

/** taskArithmetic2's inputs (two task vectors' models, then the base) and options for this tensor. */
function simdArguments(v: TaskArithmeticVariant, input: Omit<KernelInputF16, 'out' | 'signal'>, baseIndex: number): [Uint16Array, Uint16Array, Uint16Array, TaskArithmetic2Options] {
  const { halves, params, modelParams } = input;
  const others = [0, 1, 2].filter((m) => m !== baseIndex) as [number, number];
  const rescale = v.sparsify ? bool(params, 'rescale') : false;
  const setting = (m: number) => (v.sparsify ? { density: num(modelParams[m]!, 'density'), rescale } : null);
  return [halves[others[0]]!, halves[others[1]]!, halves[baseIndex]!, {
    sparsify: [setting(others[0]), setting(others[1])],
    weights: [num(modelParams[others[0]]!, 'weight'), num(modelParams[others[1]]!, 'weight')],
    mode: v.consensus === 'sum' ? SUM : v.consensus === 'count' ? COUNT : NONE,
    normalize: bool(params, 'normalize'),
    lambda: num(params, 'lambda'),
  }];
}

/**
 * The fused F16 path: base + two task vectors in WebAssembly SIMD (wasm/index.ts taskArithmetic2,
 * one pass over the fp16 inputs plus a sample, and no f32 copies of the tensor), bit for bit what
 * taskArithmeticKernel + the F16 codec give. Anything else — more or fewer task vectors, no SIMD,
 * an fp16 Inf or NaN in an input — decodes, runs taskArithmeticKernel and encodes.
 */
async function taskArithmeticF16(v: TaskArithmeticVariant, input: KernelInputF16): Promise<TensorStats> {
  const { halves, baseIndex, name, out } = input;
  if (baseIndex === null) throw new MergeMethodError(`${v.id} needs a base_model`);
  const simd = halves.length === 3 ? simdKernels() : null;
  if (simd) {
    const [x0, x1, base, o] = simdArguments(v, input, baseIndex);
    const r = await simd.withSignal(input.signal, () => simd.taskArithmetic2(x0, x1, base, out, o));
    if (r) {
      const n = out.length;
      return {
        name,
        taskVectorNorms: r.norms,
        kept: r.kept.map((k) => (n === 0 ? 1 : k / n)),
        signAgreement: r.nonzero === 0 ? 1 : r.agree / r.nonzero,
        extra: {},
      };
    }
  }
  const f16 = getCodec(GGMLType.F16);
  const n = out.length;
  const tensors = halves.map((h) => f16.decode(new Uint8Array(h.buffer, h.byteOffset, h.byteLength), n));
  const { data, stats } = taskArithmeticKernel(v, { ...input, tensors, out: undefined });
  const bytes = f16.encode!(data);
  out.set(new Uint16Array(bytes.buffer, bytes.byteOffset, n));
  return stats;
}

function validateDensity(
  v: TaskArithmeticVariant,
  modelParams: readonly Readonly<Record<string, ParamValue>>[],
  baseIndex: number | null,
  nElements: number,
): string | null {
  if (!v.sparsify) return null;
  for (let i = 0; i < modelParams.length; i++) {
    if (i === baseIndex) continue;
    const d = num(modelParams[i]!, 'density');
    if (d >= 1) continue;
    if (d <= 0) return `density must be greater than 0 (got ${d}); a density of 0 would drop the whole task vector — give the model weight 0 instead`;
    if (v.sparsify === 'della_magprune') {
      // mergekit: "Epsilon must be chosen such that density +/- epsilon is in (0, 1)".
      const e = num(modelParams[i]!, 'epsilon');
      if (d - e <= 0 || d + e >= 1) return `density ${d} ± epsilon ${e} must lie inside (0, 1) — the keep probabilities run from density − epsilon to density + epsilon; lower epsilon below ${Math.min(d, 1 - d)}`;
    }
    // mergekit asserts k > 0 for magnitude pruning ("not gonna zero out the whole tensor").
    if (v.sparsify === 'magnitude' && Math.floor(d * nElements) === 0) {
      return `density ${d} keeps ⌊${d}·${nElements}⌋ = 0 of the ${nElements} entries; raise density to at least ${(1 / nElements).toPrecision(3)}`;
    }
  }
  return null;
}

export function taskArithmeticKernel(v: TaskArithmeticVariant, input: KernelInput): KernelResult {
  const { tensors, baseIndex, params, modelParams, name, seed, out: scratch } = input;
  if (baseIndex === null) throw new MergeMethodError(`${v.id} needs a base_model`);
  const base = tensors[baseIndex]!;
  const n = base.length;
  const normalize = bool(params, 'normalize');
  const lambda = num(params, 'lambda');
  const rescale = v.sparsify ? bool(params, 'rescale') : false;

  const deltas: Float32Array[] = [];
  const weights: number[] = [];
  const norms: number[] = [];
  const kept: number[] = [];
  for (let m = 0; m < tensors.length; m++) {
    if (m === baseIndex) continue;
    const d = new Float32Array(n);
    norms.push(Math.sqrt(taskVector(tensors[m]!, base, d)));
    const mp = modelParams[m]!;
    let k = n;
    if (v.sparsify) {
      const density = num(mp, 'density');
      if (v.sparsify === 'magnitude') k = magnitude(d, density, rescale);
      else if (v.sparsify === 'magnitude_outliers') k = magnitudeOutliers(d, density, num(mp, 'gamma'), rescale);
      else if (v.sparsify === 'della_magprune') k = dellaMagprune(d, rowLength(input.shape, n), density, num(mp, 'epsilon'), rescale, tensorRng(seed, name, m));
      else k = bernoulli(d, density, rescale, tensorRng(seed, name, m));
    }
    kept.push(n === 0 ? 1 : k / n);
    const w = num(mp, 'weight');
    if (w !== 1) scaleBy(d, w);
    deltas.push(d);
    weights.push(w);
  }

  const out = scratch?.length === n ? scratch : new Float32Array(n);
  if (deltas.length === 0) {
    out.set(base);
    return { data: out, stats: { name, taskVectorNorms: [], kept: [], signAgreement: null, extra: {} } };
  }

  const T = deltas.length;
  let plainDivisor = 0;
  for (const w of weights) plainDivisor += w;
  if (Math.abs(plainDivisor) < 1e-8) plainDivisor = 1;
  const mode = v.consensus === 'sum' ? SUM : v.consensus === 'count' ? COUNT : NONE;
  // The common case (base + two fine-tunes) unrolled: same arithmetic as the general loop.
  const [agree, nonzero] = T !== 2
    ? combineN(deltas, weights, base, out, mode, normalize, lambda, plainDivisor)
    : mode === NONE
      ? combine2(deltas[0]!, deltas[1]!, base, out, normalize, lambda, plainDivisor)
      : combine2Consensus(deltas[0]!, deltas[1]!, weights[0]!, weights[1]!, base, out, mode, normalize, lambda);
  return {
    data: out,
    stats: {
      name,
      taskVectorNorms: norms,
      kept,
      signAgreement: T >= 2 ? (nonzero === 0 ? 1 : agree / nonzero) : null,
      extra: {},
    },
  };
}

/** Entries per row: a GGUF row (shape[0], torch's last dimension) for a matrix, the whole tensor for a vector. */
function rowLength(shape: readonly number[], n: number): number {
  return shape.length >= 2 ? Math.max(1, shape[0]!) : Math.max(1, n);
}

// Hot loops as small functions of typed arrays and numbers, which V8 optimises far better than
// the same loops inside the kernel (measured several times faster per element).

const NONE = 0 as const;
const SUM = 1 as const;
const COUNT = 2 as const;

/** d = x − base; returns Σ d² (NormSum order) of d as stored (rounded to f32). */
function taskVector(x: Float32Array, base: Float32Array, d: Float32Array): number {
  const s = new NormSum();
  const q = s.q;
  const n = d.length;
  for (let start = 0; start < n; start += NORM_BLOCK) {
    s.boundary(start);
    const end = Math.min(n, start + NORM_BLOCK);
    for (let i = start; i < end; i++) {
      d[i] = x[i]! - base[i]!;
      const di = d[i]!;
      q[i & 3]! += Math.fround(di * di);
    }
  }
  return s.total();
}

function scaleBy(d: Float32Array, w: number): void {
  const n = d.length;
  for (let i = 0; i < n; i++) d[i] = d[i]! * w;
}

/**
 * out = base + λ·(Σ δ_t, ÷ Σ w_t when normalizing) for two task vectors without consensus
 * (combine2Consensus does TIES); returns [entries agreeing with the sum-elected sign, non-zero entries].
 */
function combine2(
  d0: Float32Array, d1: Float32Array, base: Float32Array, out: Float32Array,
  normalize: boolean, lambda: number, plainDivisor: number,
): [number, number] {
  let agree = 0;
  let nonzero = 0;
  const n = out.length;
  for (let i = 0; i < n; i++) {
    const x0 = d0[i]!, x1 = d1[i]!;
    const sum = x0 + x1;
    const s0 = x0 > 0 ? 1 : x0 < 0 ? -1 : 0;
    const s1 = x1 > 0 ? 1 : x1 < 0 ? -1 : 0;
    const sumSign = sum >= 0 ? 1 : -1;
    if (s0 !== 0) {
      nonzero++;
      if (s0 === sumSign) agree++;
    }
    if (s1 !== 0) {
      nonzero++;
      if (s1 === sumSign) agree++;
    }
    let mixed = sum;
    if (normalize) mixed /= plainDivisor;
    if (lambda !== 1) mixed *= lambda;
    out[i] = base[i]! + mixed;
  }
  return [agree, nonzero];
}

/**
 * combine2 for TIES consensus ("sum" or "count"), with the data-dependent choices made without
 * branches (random signs and trimmed zeros defeat branch prediction; measured 25 → 15 ns per
 * element): signs and comparisons become 0/1 numbers, an entry outside the elected sign is
 * replaced by +0 by masking its bit pattern in place (exactly the `s === elected ? x : 0` of the
 * general loop, NaN and ±Inf included; the task vectors are the kernel's own scratch), and the
 * divisor Σ of the elected weights (0 counts as 1) comes from a four-entry table of the same sums.
 */
function combine2Consensus(
  d0: Float32Array, d1: Float32Array, w0: number, w1: number, base: Float32Array, out: Float32Array,
  mode: number, normalize: boolean, lambda: number,
): [number, number] {
  let agree = 0;
  let nonzero = 0;
  const n = out.length;
  const count = mode === COUNT;
  const b0 = new Uint32Array(d0.buffer, d0.byteOffset, n);
  const b1 = new Uint32Array(d1.buffer, d1.byteOffset, n);
  const divisors = new Float64Array(4);
  for (let c = 0; c < 4; c++) {
    const d = (c & 1 ? w0 : 0) + (c & 2 ? w1 : 0);
    divisors[c] = d === 0 ? 1 : d;
  }
  for (let i = 0; i < n; i++) {
    const x0 = d0[i]!, x1 = d1[i]!;
    const s0 = +(x0 > 0) - +(x0 < 0);
    const s1 = +(x1 > 0) - +(x1 < 0);
    const sumSign = 2 * +(x0 + x1 >= 0) - 1;
    nonzero += (s0 & 1) + (s1 & 1);
    let k0 = +(s0 === sumSign);
    let k1 = +(s1 === sumSign);
    agree += k0 + k1;
    if (count) {
      const elected = 2 * +(s0 + s1 >= 0) - 1;
      k0 = +(s0 === elected);
      k1 = +(s1 === elected);
    }
    b0[i] = b0[i]! & -k0;
    b1[i] = b1[i]! & -k1;
    let mixed = d0[i]! + d1[i]!;
    if (normalize) mixed /= divisors[k0 | (k1 << 1)]!;
    if (lambda !== 1) mixed *= lambda;
    out[i] = base[i]! + mixed;
  }
  return [agree, nonzero];
}

/** The same for any number of task vectors. */
function combineN(
  deltas: readonly Float32Array[], weights: readonly number[], base: Float32Array, out: Float32Array,
  mode: number, normalize: boolean, lambda: number, plainDivisor: number,
): [number, number] {
  let agree = 0;
  let nonzero = 0;
  const T = deltas.length;
  const n = out.length;
  for (let i = 0; i < n; i++) {
    let sum = 0;
    let signCount = 0;
    for (let t = 0; t < T; t++) {
      const x = deltas[t]![i]!;
      sum += x;
      signCount += x > 0 ? 1 : x < 0 ? -1 : 0;
    }
    // The sign elected by the "sum" rule is what the statistic reports, for every variant.
    const sumSign = sum >= 0 ? 1 : -1;
    const elected = mode === COUNT ? (signCount >= 0 ? 1 : -1) : sumSign;
    let mixed = 0;
    let divisor = 0;
    for (let t = 0; t < T; t++) {
      const x = deltas[t]![i]!;
      if (x === 0) continue;
      const s = x > 0 ? 1 : -1;
      nonzero++;
      if (s === sumSign) agree++;
      if (s === elected) {
        mixed += x;
        divisor += weights[t]!;
      }
    }
    if (mode !== NONE) {
      if (divisor === 0) divisor = 1;
    } else {
      mixed = sum;
      divisor = plainDivisor;
    }
    if (normalize) mixed /= divisor;
    if (lambda !== 1) mixed *= lambda;
    out[i] = base[i]! + mixed;
  }
  return [agree, nonzero];
}
