/// <reference lib="dom.iterable" />
/**
 * The web page's script (bundled to `dist/web/app.js`, no framework, no CDN): drop or pick a
 * video, follow the upload and the job, and read the score, level, description and the per-frame
 * chart; in compare mode two drop zones and which video is better.
 */
import { ApiError, describeApiError, submitJob, waitForJob, type WebCompareResult, type WebJob, type WebScoreResult } from './api-client.js';
import { frameChart } from './chart.js';

function $(selector: string): HTMLElement {
  const element = document.querySelector<HTMLElement>(selector);
  if (!element) throw new Error(`web page: missing ${selector}`);
  return element;
}

const errorBox = $('#error');
const describeBox = $('#describe') as HTMLInputElement;
const compareButton = $('#compare-button') as HTMLButtonElement;
const verdict = $('#verdict');
const chosen: Record<string, File | undefined> = {};
let busy = false;

function showError(message: string | null): void {
  errorBox.textContent = message ?? '';
  errorBox.hidden = message === null;
}

function setBusy(value: boolean): void {
  busy = value;
  for (const input of document.querySelectorAll<HTMLInputElement>('input')) input.disabled = value;
  compareButton.disabled = value || !(chosen.a && chosen.b);
}

/** Shows upload and job progress in a status region. */
function progressView(status: HTMLElement): { upload(fraction: number): void; job(job: WebJob): void; clear(): void } {
  status.replaceChildren();
  const label = document.createElement('span');
  const bar = document.createElement('progress');
  bar.max = 1;
  bar.value = 0;
  status.append(label, bar);
  return {
    upload(fraction) {
      label.textContent = `Uploading… ${Math.round(fraction * 100)}%`;
      bar.setAttribute('aria-label', 'Upload progress');
      bar.value = fraction;
    },
    job(job) {
      const words = { queued: 'Waiting in the queue…', running: 'Scoring…', completed: 'Done.', failed: 'Failed.' } as const;
      label.textContent = `${words[job.state]}${job.state === 'running' ? ` ${Math.round(job.progress * 100)}%` : ''}${job.attempts > 1 ? ` (attempt ${job.attempts})` : ''}`;
      bar.setAttribute('aria-label', 'Job progress');
      bar.value = job.progress;
    },
    clear() {
      status.replaceChildren();
    },
  };
}

function renderScore(target: HTMLElement, result: WebScoreResult, name: string, fileName: string): void {
  target.replaceChildren();
  const heading = document.createElement('h3');
  heading.textContent = `${name}: ${fileName}`;
  const line = document.createElement('p');
  const score = document.createElement('span');
  score.className = 'score';
  score.dataset.role = 'score';
  score.textContent = result.score.toFixed(2);
  score.setAttribute('aria-label', `score ${result.score.toFixed(2)} out of 5`);
  const level = document.createElement('span');
  level.className = 'level';
  level.dataset.role = 'level';
  level.textContent = result.level;
  line.append(score, level);
  target.append(heading, line);
  if (result.description !== undefined) {
    const description = document.createElement('p');
    description.className = 'description';
    description.dataset.role = 'description';
    description.textContent = result.description === '' ? '(no description)' : result.description;
    target.append(description);
  }
  target.append(frameChart(result.perFrame, result.frames, `Score of each key frame of ${fileName}`));
  target.hidden = false;
}

async function run(kind: 'score' | 'compare', files: Record<string, File>, status: HTMLElement): Promise<WebJob | null> {
  showError(null);
  setBusy(true);
  const view = progressView(status);
  try {
    const accepted = await submitJob(kind, files, describeBox.checked, (fraction) => view.upload(fraction));
    return await waitForJob(accepted, (job) => view.job(job));
  } catch (error) {
    view.clear();
    showError(error instanceof ApiError ? describeApiError(error) : `Unexpected error: ${error instanceof Error ? error.message : String(error)}`);
    return null;
  } finally {
    setBusy(false);
  }
}

async function scoreOne(file: File): Promise<void> {
  const target = $('[data-result="video"]');
  target.hidden = true;
  const job = await run('score', { video: file }, $('[data-status="video"]'));
  if (job) renderScore(target, job.result as WebScoreResult, 'Video', file.name);
}

async function compareTwo(): Promise<void> {
  const { a, b } = chosen;
  if (!a || !b) return;
  const targets = { a: $('[data-result="a"]'), b: $('[data-result="b"]') };
  for (const target of Object.values(targets)) {
    target.hidden = true;
    target.classList.remove('winner');
  }
  verdict.hidden = true;
  const job = await run('compare', { a, b }, $('[data-status="compare"]'));
  if (!job) return;
  const result = job.result as WebCompareResult;
  renderScore(targets.a, result.a, 'A', a.name);
  renderScore(targets.b, result.b, 'B', b.name);
  const gap = Math.abs(result.difference).toFixed(2);
  if (result.better === 'tie') verdict.textContent = 'Both videos score the same.';
  else {
    targets[result.better].classList.add('winner');
    const winner = result.better === 'a' ? a.name : b.name;
    verdict.textContent = `${result.better.toUpperCase()} (${winner}) is better, by ${gap} on the 1–5 scale.`;
  }
  if (result.description) verdict.textContent += ` ${result.description}`;
  verdict.dataset.better = result.better;
  verdict.hidden = false;
}

function choose(slot: string, file: File | undefined): void {
  if (!file || busy) return;
  if (slot === 'video') {
    void scoreOne(file);
    return;
  }
  chosen[slot] = file;
  const label = document.querySelector<HTMLElement>(`[data-drop="${slot}"] label`);
  if (label) label.textContent = `Video ${slot.toUpperCase()}: ${file.name} (drop another or choose to replace)`;
  compareButton.disabled = !(chosen.a && chosen.b);
}

for (const drop of document.querySelectorAll<HTMLElement>('[data-drop]')) {
  const slot = drop.dataset.drop ?? '';
  const input = drop.querySelector('input');
  input?.addEventListener('change', () => {
    choose(slot, input.files?.[0]);
    input.value = '';
  });
  drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    choose(slot, event.dataTransfer?.files[0]);
  });
}

compareButton.addEventListener('click', () => void compareTwo());

for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="mode"]')) {
  radio.addEventListener('change', () => {
    const compare = radio.value === 'compare' && radio.checked;
    if (!radio.checked) return;
    $('#score-panel').hidden = compare;
    $('#compare-panel').hidden = !compare;
    showError(null);
  });
}
document.body.dataset.ready = 'true';
