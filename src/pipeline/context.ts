// Building the UNet context (docs/CONTRACTS.md §4 "Face0 conditioning"): pure array code.

/**
 * Face0 splice: a copy of one text encoding [L, D] whose last K positions are replaced by the
 * face tokens [K, D]. Without face tokens the text encoding is used unchanged.
 */
export function spliceFaceTokens(textHidden: Float32Array, faceTokens: Float32Array, L: number, K: number, D: number): Float32Array {
  if (textHidden.length !== L * D) throw new Error(`splice: text encoding has ${textHidden.length} values, expected ${L}×${D}`);
  if (faceTokens.length !== K * D) throw new Error(`splice: face tokens have ${faceTokens.length} values, expected ${K}×${D}`);
  const out = new Float32Array(textHidden);
  out.set(faceTokens, (L - K) * D);
  return out;
}

/** Batch laid out branch-major: each branch's context repeated `count` times. */
export function batchContexts(contexts: readonly Float32Array[], count: number): Float32Array {
  const n = contexts[0].length;
  const out = new Float32Array(contexts.length * count * n);
  contexts.forEach((c, b) => {
    for (let j = 0; j < count; j++) out.set(c, (b * count + j) * n);
  });
  return out;
}
