// Progress for long jobs: a cli-progress bar with rate and ETA on a TTY, a log line every
// `everyMs` otherwise (CI logs, files).
import cliProgress from 'cli-progress';

export interface Progress { update(done: number, total: number | null, extra?: string): void; stop(): void }

export function createProgress(label: string, everyMs = 10_000): Progress {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar({
      format: `${label} [{bar}] {percentage}% {value}/{total} | {rate}/s | ETA {eta_formatted} | {extra}`,
      stream: process.stderr,
      etaBuffer: 200,
    }, cliProgress.Presets.shades_classic);
    let started = false;
    const t0 = Date.now();
    return {
      update(done, total, extra = '') {
        if (!started) { bar.start(total ?? 0, done, { rate: '0', extra }); started = true; }
        if (total !== null) bar.setTotal(total);
        bar.update(done, { rate: (done / Math.max(1e-3, (Date.now() - t0) / 1000)).toFixed(1), extra });
      },
      stop() { if (started) bar.stop(); },
    };
  }
  let last = 0, first = -1;
  const t0 = Date.now();
  return {
    update(done, total, extra = '') {
      if (first < 0) first = done;
      const now = Date.now();
      if (now - last < everyMs && done !== total) return;
      last = now;
      const rate = (done - first) / Math.max(1e-3, (now - t0) / 1000);
      const eta = total !== null && rate > 0 ? ` ETA ${Math.round((total - done) / rate)}s` : '';
      console.error(`${label}: ${done}${total !== null ? `/${total}` : ''} ${rate.toFixed(1)}/s${eta} ${extra}`.trimEnd());
    },
    stop() {},
  };
}
