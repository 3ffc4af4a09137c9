// Fetching the site's files with a byte count for the loading bar. Each file is fetched once and
// kept: the bundle loader hashes a model's bytes, then the ONNX session opens the same bytes.

export interface LoadProgress {
  /** Bytes received so far, over all files. */
  loaded: number;
  /** Bytes expected (from Content-Length; grows as files start). */
  total: number;
  /** The file being received. */
  file: string;
}

export class FileFetcher {
  private readonly cache = new Map<string, Promise<Uint8Array | undefined>>();
  private readonly sizes = new Map<string, { loaded: number; total: number }>();

  constructor(private readonly onProgress: (p: LoadProgress) => void = () => {}) {}

  /** The file's bytes, or undefined on 404. */
  bytes(url: string): Promise<Uint8Array | undefined> {
    let p = this.cache.get(url);
    if (!p) {
      p = this.fetchCounting(url);
      this.cache.set(url, p);
    }
    return p;
  }

  async text(url: string): Promise<string | undefined> {
    const b = await this.bytes(url);
    return b === undefined ? undefined : new TextDecoder().decode(b);
  }

  /** Drop a file's bytes once a session holds them. */
  forget(url: string): void {
    this.cache.delete(url);
  }

  private report(file: string): void {
    let loaded = 0, total = 0;
    for (const s of this.sizes.values()) {
      loaded += s.loaded;
      total += Math.max(s.total, s.loaded);
    }
    this.onProgress({ loaded, total, file });
  }

  private async fetchCounting(url: string): Promise<Uint8Array | undefined> {
    const res = await fetch(url);
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`cannot load ${url}: HTTP ${res.status}`);
    const total = Number(res.headers.get('content-length') ?? 0);
    const size = { loaded: 0, total };
    this.sizes.set(url, size);
    if (!res.body) {
      const b = new Uint8Array(await res.arrayBuffer());
      size.loaded = b.length;
      this.report(url);
      return b;
    }
    const chunks: Uint8Array[] = [];
    const reader = res.body.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(value);
      size.loaded += value.length;
      this.report(url);
    }
    const out = new Uint8Array(size.loaded);
    let off = 0;
    for (const c of chunks) {
      out.set(c, off);
      off += c.length;
    }
    size.total = size.loaded;
    this.report(url);
    return out;
  }
}
