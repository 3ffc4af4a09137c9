// face0 web page: plain ES module. It generates either on this device (window.face0, from the
// browser bundle face0.js that `face0 build-web` and `face0 serve` ship) or on the server (the
// API on the same origin, when there is one: a static site has none).
const $ = (id) => document.getElementById(id);
const state = {
  device: null, // window.face0 once face0.js has loaded
  server: false, // whether this origin has the face0 API
  bundle: null,
  photo: null, // { file, analysis }
  blendA: null,
  blendB: null,
  controller: null,
  blobUrls: [],
};

function setStatus(text, cls = '') {
  const el = $('status');
  el.textContent = text;
  el.className = cls;
}

function mode() {
  return document.querySelector('input[name=mode]:checked').value;
}

function showMode() {
  const m = mode();
  for (const p of document.querySelectorAll('.mode-panel')) p.hidden = p.dataset.mode !== m;
  $('attributes-box').hidden = m === 'none';
}

async function apiError(res) {
  try {
    const body = await res.json();
    if (body && body.error) return `${body.error.message} (${res.status} ${body.error.code})`;
  } catch { /* not JSON */ }
  return `HTTP ${res.status}`;
}

function bindOutput(inputId) {
  const input = $(inputId), out = $(`${inputId}-out`);
  const update = () => { out.textContent = Number(input.value).toFixed(input.id === 'blend-t' ? 2 : 1).replace(/\.0$/, ''); };
  input.addEventListener('input', update);
  update();
}

function where() {
  return document.querySelector('input[name=where]:checked').value;
}

function showWhere() {
  $('privacy').textContent = where() === 'device'
    ? 'On this device: your photo stays on this device; nothing is uploaded.'
    : 'On the server: photos are sent to this server only, kept in memory for the request, and never stored.';
  state.photo = state.blendA = state.blendB = null;
  for (const id of ['photo-preview', 'preview-a', 'preview-b']) $(id).innerHTML = '';
  for (const id of ['photo', 'photo-a', 'photo-b']) $(id).value = '';
  state.bundle = null;
  $('generate').disabled = true;
  const load = where() === 'device' ? loadDevice() : loadServerBundle();
  load.catch((err) => setStatus(err.message, 'error'));
}

const MB = (n) => (n / 1e6).toFixed(1);

async function loadDevice() {
  if (!state.device) throw new Error('this page could not load its browser bundle (face0.js); choose "on the server"');
  $('load-box').hidden = false;
  $('bundle-info').textContent = 'loading the models into this browser…';
  const onProgress = (ev) => {
    const { loaded, total } = ev.detail;
    $('load-progress').max = Math.max(total, 1);
    $('load-progress').value = loaded;
    $('load-status').textContent = `models and runtime: ${MB(loaded)} / ${MB(total)} MB`;
  };
  addEventListener('face0-progress', onProgress);
  try {
    const info = await state.device.ready;
    $('load-status').textContent = `models loaded (${MB(state.device.loadProgress.loaded)} MB) in ${(info.load_ms / 1000).toFixed(1)} s · ${info.execution_provider}, ${info.threads} thread${info.threads === 1 ? '' : 's'}`;
    if (where() === 'device') applyBundle(info);
  } catch (err) {
    $('bundle-info').textContent = `models not loaded: ${err.message}`;
    throw err;
  } finally {
    removeEventListener('face0-progress', onProgress);
  }
}

async function loadServerBundle() {
  $('load-box').hidden = true;
  const res = await fetch('v1/bundle');
  if (!res.ok) {
    $('bundle-info').textContent = `bundle not loaded: ${await apiError(res)}`;
    if (res.status === 503) setTimeout(() => where() === 'server' && loadServerBundle(), 2000);
    return;
  }
  if (where() === 'server') applyBundle(await res.json());
}

function applyBundle(b) {
  state.bundle = b;
  $('generate').disabled = false;
  $('bundle-info').textContent = `Model: ${b.name} (${b.resolution}×${b.resolution}).`;
  const d = b.defaults || {};
  if (d.steps) $('steps').value = d.steps;
  if (d.text_scale !== undefined) $('text-scale').value = d.text_scale;
  if (d.face_scale !== undefined) $('face-scale').value = d.face_scale;
  $('text-scale').dispatchEvent(new Event('input'));
  $('face-scale').dispatchEvent(new Event('input'));
  const sel = $('sampler');
  sel.innerHTML = '';
  for (const s of b.samplers) {
    const o = document.createElement('option');
    o.value = o.textContent = s;
    if (s === d.sampler) o.selected = true;
    sel.append(o);
  }
  const box = $('attributes');
  box.innerHTML = '';
  if (!b.attributes.length) box.innerHTML = '<p class="muted">none in this bundle</p>';
  for (const name of b.attributes) {
    const row = document.createElement('div');
    row.className = 'attr';
    row.innerHTML = `<span></span><input type="range" min="-3" max="3" step="0.1" value="0"><output>0</output>`;
    row.querySelector('span').textContent = name.replace(/_/g, ' ');
    const input = row.querySelector('input'), out = row.querySelector('output');
    input.dataset.attribute = name;
    input.addEventListener('input', () => { out.textContent = Number(input.value).toFixed(1); });
    box.append(row);
  }
  if (b.analyzer_embedder !== b.embedder) {
    setStatus('Note: this bundle was trained with another face embedder than this page\'s analyzer, so face photos cannot condition it. Use a consistent character (random identity).', 'warn');
  } else setStatus('');
}

function attributes() {
  const out = {};
  for (const input of document.querySelectorAll('#attributes input[data-attribute]')) {
    const v = Number(input.value);
    if (v !== 0) out[input.dataset.attribute] = v;
  }
  return out;
}

/** Faces in a photo: { faces, face_index, crop (an image URL), embedding, embedder, bundle_compatible, warnings }. */
async function findFaces(file) {
  if (where() === 'device') {
    const a = await state.device.faces(file);
    return { ...a, crop: a.crop_data_url };
  }
  const fd = new FormData();
  fd.append('image', file, 'photo');
  const res = await fetch('v1/faces', { method: 'POST', body: fd });
  if (!res.ok) throw new Error(await apiError(res));
  const a = await res.json();
  return { ...a, crop: `data:image/png;base64,${a.crop_png_base64}` };
}

async function analyze(file, previewEl) {
  previewEl.innerHTML = '<span class="muted">finding the face…</span>';
  let a;
  try {
    a = await findFaces(file);
  } catch (err) {
    previewEl.innerHTML = '';
    const p = document.createElement('span');
    p.className = 'error';
    p.textContent = err.message;
    previewEl.append(p);
    return null;
  }
  previewEl.innerHTML = '';
  const img = document.createElement('img');
  img.src = a.crop;
  img.alt = 'detected face';
  img.className = 'face-crop';
  const info = document.createElement('div');
  info.className = 'info';
  const lines = [`${a.faces.length} face${a.faces.length === 1 ? '' : 's'} found (score ${a.faces[a.face_index].score.toFixed(2)})`];
  info.textContent = lines.join('\n');
  for (const w of a.warnings) {
    const p = document.createElement('p');
    p.className = 'warn face-warning';
    p.textContent = `⚠ ${w}`;
    info.append(p);
  }
  if (!a.bundle_compatible) {
    const p = document.createElement('p');
    p.className = 'warn';
    p.textContent = '⚠ this model was trained with another face embedder: photos cannot condition it here.';
    info.append(p);
  }
  previewEl.append(img, info);
  return a;
}

function commonParams() {
  const p = {
    prompt: $('prompt').value,
    steps: Number($('steps').value),
    count: Number($('count').value),
    text_scale: Number($('text-scale').value),
    face_scale: Number($('face-scale').value),
    sampler: $('sampler').value || undefined,
  };
  if ($('seed').value !== '') p.seed = Number($('seed').value);
  return p;
}

function buildRequest() {
  const m = mode();
  const p = commonParams();
  const attrs = attributes();
  if (m === 'photo') {
    if (!state.photo) throw new Error('choose a face photo first (or switch to a consistent character)');
    const fd = new FormData();
    fd.append('face', state.photo.file, 'face');
    for (const [k, v] of Object.entries(p)) if (v !== undefined) fd.append(k, String(v));
    if (Object.keys(attrs).length) fd.append('attributes', JSON.stringify(attrs));
    return { body: fd, headers: {} };
  }
  const json = { ...p };
  if (m === 'random') json.random_identity = Number($('identity-seed').value);
  if (m === 'blend') {
    if (!state.blendA || !state.blendB) throw new Error('choose both faces to blend');
    const t = Number($('blend-t').value);
    json.mix = [{ embedding: state.blendA.embedding, weight: 1 - t }, { embedding: state.blendB.embedding, weight: t }];
    json.mix_method = 'slerp';
    json.embedder = state.blendA.embedder;
  }
  if (m !== 'none' && Object.keys(attrs).length) json.attributes = attrs;
  return { body: JSON.stringify(json), headers: { 'content-type': 'application/json' } };
}

/** The same choices as buildRequest(), for window.face0.generateDetailed(). */
function buildDeviceOptions() {
  const m = mode();
  const p = commonParams();
  const o = { prompt: p.prompt, steps: p.steps, count: p.count, textScale: p.text_scale, faceScale: p.face_scale, sampler: p.sampler, seed: p.seed };
  if (m === 'photo') {
    if (!state.photo) throw new Error('choose a face photo first (or switch to a consistent character)');
    o.photo = state.photo.file;
  } else if (m === 'random') o.randomIdentity = Number($('identity-seed').value);
  else if (m === 'blend') {
    if (!state.blendA || !state.blendB) throw new Error('choose both faces to blend');
    o.embedding = state.device.blend(state.blendA.embedding, state.blendB.embedding, Number($('blend-t').value));
  }
  const attrs = attributes();
  if (m !== 'none' && Object.keys(attrs).length) o.attributes = attrs;
  return o;
}

/** Generate on this device with per-step progress; resolves like the server's result event. */
async function generateOnDevice(o, signal) {
  setStatus('generating on this device…');
  const r = await state.device.generateDetailed({
    ...o,
    signal,
    onStep: (step, total) => {
      $('progress').max = total;
      $('progress').value = step;
      setStatus(`step ${step} / ${total}`);
    },
  });
  return { images: r.images.map((im) => ({ url: im.dataUrl, seed: im.seed })), metadata: r.metadata };
}

/** Read server-sent events from a fetch response body. */
async function* events(res) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const chunk = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let event = 'message', data = '';
      for (const line of chunk.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data += line.slice(5).trim();
      }
      yield { event, data: data ? JSON.parse(data) : null };
    }
  }
}

function showResults(result) {
  for (const u of state.blobUrls) URL.revokeObjectURL(u);
  state.blobUrls = [];
  const box = $('results');
  box.innerHTML = '';
  for (const im of result.images) {
    let url = im.url;
    if (!url) {
      const bytes = Uint8Array.from(atob(im.png_base64), (c) => c.charCodeAt(0));
      url = URL.createObjectURL(new Blob([bytes], { type: 'image/png' }));
      state.blobUrls.push(url);
    }
    const fig = document.createElement('figure');
    fig.className = 'result';
    fig.innerHTML = `<img alt="generated image"><figcaption></figcaption>`;
    fig.querySelector('img').src = url;
    const a = document.createElement('a');
    a.href = url;
    a.download = `face0-${im.seed}.png`;
    a.textContent = `seed ${im.seed} · download`;
    fig.querySelector('figcaption').append(a);
    box.append(fig);
  }
}

async function generate() {
  const onDevice = where() === 'device';
  let req;
  try {
    req = onDevice ? buildDeviceOptions() : buildRequest();
  } catch (err) {
    setStatus(err.message, 'error');
    return;
  }
  const controller = new AbortController();
  state.controller = controller;
  $('generate').disabled = true;
  $('cancel').disabled = false;
  $('progress').value = 0;
  setStatus('sending…');
  const t0 = performance.now();
  const done = (result) => {
    showResults(result);
    const w = result.metadata.warnings || [];
    setStatus(`${result.images.length} image(s) in ${((performance.now() - t0) / 1000).toFixed(1)} s${w.length ? `\n⚠ ${w.join('\n⚠ ')}` : ''}`, w.length ? 'warn' : '');
  };
  try {
    if (onDevice) {
      done(await generateOnDevice(req, controller.signal));
      return;
    }
    const res = await fetch('v1/generate', {
      method: 'POST',
      body: req.body,
      headers: { ...req.headers, accept: 'text/event-stream' },
      signal: controller.signal,
    });
    if (!res.ok) throw new Error(await apiError(res));
    let finished = false;
    for await (const ev of events(res)) {
      if (ev.event === 'queued') setStatus(ev.data.waiting + ev.data.running > 0 ? `queued (${ev.data.waiting + ev.data.running} ahead)…` : 'starting…');
      else if (ev.event === 'started') setStatus('generating…');
      else if (ev.event === 'progress') {
        $('progress').max = ev.data.total;
        $('progress').value = ev.data.step;
        setStatus(`step ${ev.data.step} / ${ev.data.total}`);
      } else if (ev.event === 'result') {
        finished = true;
        done(ev.data);
      } else if (ev.event === 'error') {
        finished = true;
        throw new Error(`${ev.data.error.message} (${ev.data.status} ${ev.data.error.code})`);
      }
    }
    if (!finished) throw new Error('the connection closed before the result');
  } catch (err) {
    if (err.name === 'AbortError') setStatus('cancelled');
    else setStatus(err.message, 'error');
  } finally {
    state.controller = null;
    $('generate').disabled = false;
    $('cancel').disabled = true;
  }
}

/** Which runtimes this page has: face0.js (on this device) and the API (a static site has none). */
async function probe() {
  const site = await fetch('face0-site.json').then((r) => (r.ok ? r.json() : null), () => null);
  state.server = !(site && site.static);
  try {
    await import('./face0.js');
    state.device = window.face0;
  } catch {
    state.device = null;
  }
  const radio = (v) => document.querySelector(`input[name=where][value=${v}]`);
  radio('server').disabled = !state.server;
  radio('server').parentElement.hidden = !state.server;
  radio('device').disabled = !state.device;
  if (!state.device) radio('server').checked = true;
}

async function init() {
  for (const r of document.querySelectorAll('input[name=mode]')) r.addEventListener('change', showMode);
  showMode();
  for (const id of ['text-scale', 'face-scale', 'blend-t']) bindOutput(id);
  $('photo').addEventListener('change', async () => {
    const file = $('photo').files[0];
    state.photo = null;
    if (!file) return;
    const a = await analyze(file, $('photo-preview'));
    if (a) state.photo = { file, analysis: a };
  });
  $('photo-a').addEventListener('change', async () => {
    const f = $('photo-a').files[0];
    state.blendA = f ? await analyze(f, $('preview-a')) : null;
  });
  $('photo-b').addEventListener('change', async () => {
    const f = $('photo-b').files[0];
    state.blendB = f ? await analyze(f, $('preview-b')) : null;
  });
  $('new-character').addEventListener('click', () => {
    $('identity-seed').value = String(Math.floor(Math.random() * 2 ** 31));
  });
  $('generate').addEventListener('click', generate);
  $('cancel').addEventListener('click', () => state.controller?.abort());
  for (const r of document.querySelectorAll('input[name=where]')) r.addEventListener('change', showWhere);
  await probe();
  showWhere();
}

init();
