/**
 * Shape checks shared by the drafter weight validators (Medusa, Amphista).
 *
 * @module
 */

/**
 * Checks that `weights` has exactly the tensors of `shapes` with the right sizes.
 *
 * @param shapes expected `[name, shape]` pairs.
 * @param weights the tensors.
 * @param where file or function name for the message.
 * @param mismatch what to blame for an unexpected tensor (e.g. the config fields that disagree).
 * @throws Error naming the tensor
 */
export function checkTensorShapes(
  shapes: ReadonlyArray<readonly [string, readonly number[]]>,
  weights: Map<string, Float32Array>,
  where: string,
  mismatch: string,
): void {
  for (const [name, shape] of shapes) {
    const w = weights.get(name);
    const n = shape.reduce((a, b) => a * b, 1);
    if (!w) throw new Error(`${where}: tensor "${name}" is missing`);
    if (w.length !== n) {
      throw new Error(`${where}: tensor "${name}" has ${w.length} values, expected [${shape}]`);
    }
  }
  const known = new Set(shapes.map(([n]) => n));
  for (const name of weights.keys()) {
    if (!known.has(name)) {
      throw new Error(`${where}: unexpected tensor "${name}" (${mismatch})`);
    }
  }
}
