/**
 * What every drafter implementation (Medusa, Amphista) offers the decoding loop. The shapes match
 * `Drafter` / `DraftInput` of `src/decode/speculative_loop.ts` structurally (that module sits in a
 * higher layer, so it is not imported here): an object of type {@linkcode DraftHeads} can be passed
 * wherever the loop wants a `Drafter`.
 *
 * Offset convention (research/decoding.md §2.1): with `h_t` the target's last-layer state after
 * reading token `x_t`, the target's own head predicts `x_{t+1}` (the root of the next tree) and
 * drafting head `j` (0-based) predicts `x_{t+2+j}`.
 *
 * @module
 */

/** What a drafter reads at the start of a decoding step. */
export interface HeadsInput {
  /**
   * Target hidden states `[m, hiddenSize]` (final-normed, the LM head's input) of the positions
   * committed since the previous call; the last row is the state the heads extrapolate from.
   */
  hidden: Float32Array;
  /** Tokens at those positions (the token whose reading produced each hidden row), length m. */
  tokens: Int32Array;
  /** Absolute positions of those rows, length m. */
  positions: Int32Array;
  /** The root of the coming tree: the target's next token (at position `positions[m−1] + 1`). */
  nextToken: number;
}

/** A loaded drafter, ready to propose. */
export interface DraftHeads {
  /** Number of heads K. */
  readonly numHeads: number;
  /** Vocabulary size (columns of each head's logits). */
  readonly vocabSize: number;
  /** Trainable parameters (a frozen shared LM head is not counted). */
  readonly parameterCount: number;
  /** Forget per-prompt state (called before each prompt). */
  reset?(): void | Promise<void>;
  /**
   * Per-head logits, row-major `[numHeads, vocabSize]`; head j proposes position
   * `positions[m−1] + 2 + j`.
   */
  propose(input: HeadsInput): Promise<Float32Array>;
  /** Releases sessions. */
  close(): Promise<void>;
}
