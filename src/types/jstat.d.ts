// The part of jstat (no published types) that src/eval/pool.ts uses.
declare module 'jstat' {
  interface JStat {
    beta: { inv(p: number, alpha: number, beta: number): number };
    binomial: { cdf(k: number, n: number, p: number): number };
  }
  const jstat: { jStat: JStat };
  export default jstat;
}
