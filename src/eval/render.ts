// Images for the eval report, drawn with sharp only: an image grid (reference photo | generations
// per prompt with the face on | the same prompts with the base model) and the trade-off plot
// (an SVG string rasterised by sharp).
import sharp from 'sharp';

const CELL = 96;

export interface GridRow { refPath: string; cells: { prompt: string; face: Buffer; base: Buffer }[] }

async function tile(input: string | Buffer): Promise<Buffer> {
  return sharp(input).resize(CELL, CELL, { fit: 'cover', kernel: 'lanczos3' }).removeAlpha().png().toBuffer();
}

export async function renderGrid(rows: GridRow[]): Promise<Buffer> {
  const nCells = Math.max(1, ...rows.map((r) => r.cells.length));
  const cols = 1 + 2 * nCells;
  const width = cols * CELL, height = Math.max(1, rows.length) * CELL;
  const layers: { input: Buffer; left: number; top: number }[] = [];
  for (const [i, r] of rows.entries()) {
    layers.push({ input: await tile(r.refPath), left: 0, top: i * CELL });
    for (const [j, c] of r.cells.entries()) {
      layers.push({ input: await tile(c.face), left: (1 + j) * CELL, top: i * CELL });
      layers.push({ input: await tile(c.base), left: (1 + nCells + j) * CELL, top: i * CELL });
    }
  }
  return sharp({ create: { width, height, channels: 3, background: { r: 255, g: 255, b: 255 } } }).composite(layers).png().toBuffer();
}

const esc = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);

/** Scatter of G (x) against prompt fidelity (y), one point per (face scale, text scale). */
export function tradeoffSvg(points: { face_scale: number; text_scale: number; G: number | null; fidelity: number | null }[], xLabel: string): string {
  const W = 560, H = 400, L = 60, R = 20, T = 30, Bm = 50;
  const xs = points.map((p) => p.G).filter((v): v is number => v !== null);
  const xMin = Math.min(0, ...xs), xMax = Math.max(1, ...xs);
  const X = (v: number) => L + ((v - xMin) / (xMax - xMin || 1)) * (W - L - R);
  const Y = (v: number) => T + (1 - v) * (H - T - Bm);
  const texts = scalesColors(points.map((p) => p.text_scale));
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><rect width="100%" height="100%" fill="white"/>`;
  svg += `<line x1="${L}" y1="${H - Bm}" x2="${W - R}" y2="${H - Bm}" stroke="black"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - Bm}" stroke="black"/>`;
  for (const v of [0, 0.25, 0.5, 0.75, 1]) svg += `<text x="${L - 8}" y="${Y(v) + 4}" font-size="11" text-anchor="end" font-family="sans-serif">${v}</text>`;
  for (const v of [xMin, (xMin + xMax) / 2, xMax]) svg += `<text x="${X(v)}" y="${H - Bm + 16}" font-size="11" text-anchor="middle" font-family="sans-serif">${v.toFixed(2)}</text>`;
  svg += `<text x="${(L + W - R) / 2}" y="${H - 12}" font-size="13" text-anchor="middle" font-family="sans-serif">${esc(xLabel)}</text>`;
  svg += `<text x="16" y="${(T + H - Bm) / 2}" font-size="13" text-anchor="middle" font-family="sans-serif" transform="rotate(-90 16 ${(T + H - Bm) / 2})">prompt fidelity</text>`;
  svg += `<text x="${L}" y="18" font-size="13" font-family="sans-serif">identity vs prompt fidelity (label: face scale; colour: text scale)</text>`;
  for (const p of points) {
    if (p.G === null || p.fidelity === null) continue;
    const c = texts.get(p.text_scale)!;
    svg += `<circle cx="${X(p.G)}" cy="${Y(p.fidelity)}" r="5" fill="${c}"/><text x="${X(p.G) + 7}" y="${Y(p.fidelity) - 5}" font-size="10" font-family="sans-serif">f${p.face_scale}</text>`;
  }
  let ly = T + 10;
  for (const [t, c] of texts) { svg += `<circle cx="${W - R - 70}" cy="${ly}" r="5" fill="${c}"/><text x="${W - R - 60}" y="${ly + 4}" font-size="11" font-family="sans-serif">text ${t}</text>`; ly += 16; }
  return svg + '</svg>';
}

function scalesColors(vals: number[]): Map<number, string> {
  const palette = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];
  const u = [...new Set(vals)].sort((a, b) => a - b);
  return new Map(u.map((v, i) => [v, palette[i % palette.length]]));
}

export async function renderTradeoffPlot(points: Parameters<typeof tradeoffSvg>[0], xLabel: string): Promise<Buffer> {
  return sharp(Buffer.from(tradeoffSvg(points, xLabel))).png().toBuffer();
}
