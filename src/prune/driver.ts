/**
 * The sequential pruning driver (SparseGPT/Wanda reference loop): calibration sequences are
 * embedded; then, block by block, the statistics of every linear's inputs are collected from the
 * block as it stands (earlier blocks already pruned), the block's linears are pruned, and the
 * calibration sequences are run through the pruned block to make the next block's inputs.
 * Embeddings, norms and `lm_head` stay dense.
 *
 * @module
 */

import type { CausalLM } from "../model/causal_lm.ts";
import { LINEAR_NAMES, type LinearName, linearWeightName } from "../model/weights.ts";
import { ColumnNormAccumulator, HessianAccumulator } from "./stats.ts";
import type { CalibrationStats, PruneInfo } from "./types.ts";
import { reconstructionErrorFromHessian } from "./reconstruction.ts";

/** Which block input feeds each linear layer. */
export const LINEAR_INPUT: Readonly<Record<LinearName, BlockInput>> = {
  "self_attn.q_proj": "attnIn",
  "self_attn.k_proj": "attnIn",
  "self_attn.v_proj": "attnIn",
  "self_attn.o_proj": "oIn",
  "mlp.gate_proj": "mlpIn",
  "mlp.up_proj": "mlpIn",
  "mlp.down_proj": "downIn",
};

/** The four distinct linear inputs of a LLaMA block. */
export type BlockInput = "attnIn" | "oIn" | "mlpIn" | "downIn";

/** Statistics of one block's four linear inputs. */
export type BlockStats = Record<
  BlockInput,
  Required<Pick<CalibrationStats, "hessian" | "colSqNorms" | "nsamples">>
>;

/** Collects H and column norms of every linear input of block `layer` over the sequences `xs`. */
export async function collectBlockStats(
  model: CausalLM,
  layer: number,
  xs: readonly Float32Array[],
): Promise<{ stats: BlockStats; outs: Float32Array[] }> {
  const d = model.config.hidden_size, f = model.config.intermediate_size;
  const dims: Record<BlockInput, number> = { attnIn: d, oIn: d, mlpIn: d, downIn: f };
  const acc = {} as Record<BlockInput, { h: HessianAccumulator; c: ColumnNormAccumulator }>;
  for (const k of Object.keys(dims) as BlockInput[]) {
    acc[k] = { h: new HessianAccumulator(dims[k]), c: new ColumnNormAccumulator(dims[k]) };
  }
  const outs: Float32Array[] = [];
  for (const x of xs) {
    const r = await model.runBlock(layer, x);
    for (const k of Object.keys(dims) as BlockInput[]) {
      acc[k].h.addBatch(r[k]);
      acc[k].c.addBatch(r[k]);
    }
    outs.push(r.out);
  }
  const stats = {} as BlockStats;
  for (const k of Object.keys(dims) as BlockInput[]) {
    const h = acc[k].h.stats(), c = acc[k].c.stats();
    stats[k] = { hessian: h.hessian!, colSqNorms: c.colSqNorms!, nsamples: h.nsamples! };
  }
  return { stats, outs };
}

/** What the driver asks the caller to do with one linear layer. */
export interface LinearToPrune {
  layer: number;
  linear: LinearName;
  /** Hugging Face tensor name. */
  name: string;
  W: Float32Array;
  rows: number;
  cols: number;
  stats: CalibrationStats;
}

/** What the driver records per pruned linear. */
export interface LinearReport {
  name: string;
  rows: number;
  cols: number;
  /** Fraction of zero weights after pruning. */
  sparsity: number;
  /** ‖WX − ŴX‖² / ‖WX‖² on the calibration inputs of this layer. */
  relativeReconstructionError: number;
  info: PruneInfo;
}

/** Options for {@linkcode sequentialPrune}. */
export interface SequentialPruneOptions {
  /** Prunes one linear (pure: returns new weights). */
  pruneLinear: (layer: LinearToPrune) => { W: Float32Array; info: PruneInfo };
  /** Called after each block. */
  onBlock?: (done: number, total: number) => void;
}

/** Zero fraction of an array. */
export function zeroFraction(w: Float32Array): number {
  let z = 0;
  for (let i = 0; i < w.length; i++) if (w[i] === 0) z++;
  return z / w.length;
}

/** Token embeddings of each calibration sequence (block 0's inputs). */
export function embedSequences(model: CausalLM, sequences: readonly number[][]): Float32Array[] {
  return sequences.map((ids) => model.blockInputs(ids));
}

/**
 * Prunes every block of `model` in order and returns the pruned model (a new one; `model` is
 * left as it was and stays open) with a report per linear.
 */
export async function sequentialPrune(
  model: CausalLM,
  sequences: readonly number[][],
  opts: SequentialPruneOptions,
): Promise<{ model: CausalLM; reports: LinearReport[] }> {
  const L = model.config.num_hidden_layers;
  let xs = embedSequences(model, sequences);
  let cur = model;
  const reports: LinearReport[] = [];
  for (let layer = 0; layer < L; layer++) {
    const { stats } = await collectBlockStats(cur, layer, xs);
    const patch = new Map<string, Float32Array>();
    for (const linear of LINEAR_NAMES) {
      const name = linearWeightName(layer, linear);
      const W = cur.weights.get(name)!;
      const s = stats[LINEAR_INPUT[linear]];
      const cols = s.colSqNorms.length, rows = W.length / cols;
      const { W: pruned, info } = opts.pruneLinear({
        layer,
        linear,
        name,
        W,
        rows,
        cols,
        stats: s,
      });
      const denom = reconstructionErrorFromHessian(
        { W, What: new Float32Array(W.length), rows, cols },
        s.hessian,
      );
      const err = reconstructionErrorFromHessian({ W, What: pruned, rows, cols }, s.hessian);
      reports.push({
        name,
        rows,
        cols,
        sparsity: zeroFraction(pruned),
        relativeReconstructionError: denom > 0 ? err / denom : 0,
        info,
      });
      patch.set(name, pruned);
    }
    const next = await cur.withWeights(patch);
    if (cur !== model) await cur.close();
    cur = next;
    const out: Float32Array[] = [];
    for (const x of xs) out.push((await cur.runBlock(layer, x)).out);
    xs = out;
    opts.onBlock?.(layer + 1, L);
  }
  return { model: cur, reports };
}

/**
 * Runs the calibration sequences through a model without changing it and returns every block's
 * input statistics (e.g. SDS's "SD-data": the step-1 sparse model's activations).
 */
export async function collectModelStats(
  model: CausalLM,
  sequences: readonly number[][],
): Promise<BlockStats[]> {
  let xs = embedSequences(model, sequences);
  const all: BlockStats[] = [];
  for (let layer = 0; layer < model.config.num_hidden_layers; layer++) {
    const { stats, outs } = await collectBlockStats(model, layer, xs);
    all.push(stats);
    xs = outs;
  }
  return all;
}
