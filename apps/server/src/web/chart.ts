/** The per-frame score chart of the web page: an inline SVG, plus the values as a table for screen readers. */

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 480;
const HEIGHT = 180;
const PAD = { left: 34, right: 12, top: 10, bottom: 26 };

function svg<K extends keyof SVGElementTagNameMap>(name: K, attributes: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/**
 * A line chart of the key frames' scores on the 1–5 scale, x = the frame's time (s). `label`
 * names the chart for assistive technology.
 */
export function frameChart(perFrame: readonly number[], frames: readonly { readonly time: number; readonly index: number }[], label: string): HTMLElement {
  const figure = document.createElement('figure');
  figure.className = 'frames';
  const chart = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', class: 'chart', 'aria-label': label });
  chart.append(svg('title', {}, label));
  const innerW = WIDTH - PAD.left - PAD.right;
  const innerH = HEIGHT - PAD.top - PAD.bottom;
  const times = frames.map((frame, i) => (Number.isFinite(frame.time) ? frame.time : i));
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const x = (i: number): number => PAD.left + (perFrame.length === 1 || t1 === t0 ? innerW / 2 : ((times[i] - t0) / (t1 - t0)) * innerW);
  const y = (score: number): number => PAD.top + ((5 - Math.min(5, Math.max(1, score))) / 4) * innerH;
  for (const level of [1, 2, 3, 4, 5]) {
    chart.append(svg('line', { class: 'axis', x1: PAD.left, x2: WIDTH - PAD.right, y1: y(level), y2: y(level) }));
    chart.append(svg('text', { x: PAD.left - 6, y: y(level) + 3, 'text-anchor': 'end' }, String(level)));
  }
  chart.append(svg('text', { x: PAD.left + innerW / 2, y: HEIGHT - 6, 'text-anchor': 'middle' }, 'time (s)'));
  if (perFrame.length > 0) {
    const points = perFrame.map((score, i) => `${x(i).toFixed(1)},${y(score).toFixed(1)}`).join(' ');
    chart.append(svg('polyline', { class: 'line', points }));
    perFrame.forEach((score, i) => {
      const dot = svg('circle', { cx: x(i).toFixed(1), cy: y(score).toFixed(1), r: 3.5, 'data-score': score.toFixed(3) });
      dot.append(svg('title', {}, `frame ${frames[i]?.index ?? i} at ${times[i].toFixed(2)} s: ${score.toFixed(2)}`));
      chart.append(dot);
    });
    chart.append(svg('text', { x: PAD.left, y: HEIGHT - 6, 'text-anchor': 'start' }, t0.toFixed(1)));
    chart.append(svg('text', { x: WIDTH - PAD.right, y: HEIGHT - 6, 'text-anchor': 'end' }, t1.toFixed(1)));
  }
  figure.append(chart);

  const table = document.createElement('table');
  table.className = 'visually-hidden';
  const caption = document.createElement('caption');
  caption.textContent = label;
  table.append(caption);
  const head = table.insertRow();
  for (const name of ['frame', 'time (s)', 'score']) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = name;
    head.append(th);
  }
  perFrame.forEach((score, i) => {
    const row = table.insertRow();
    row.insertCell().textContent = String(frames[i]?.index ?? i);
    row.insertCell().textContent = times[i].toFixed(2);
    row.insertCell().textContent = score.toFixed(2);
  });
  figure.append(table);
  return figure;
}
