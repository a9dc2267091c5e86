/**
 * Browser side of the web page: the public API only (`POST /v1/score|compare`, `GET /v1/jobs/:id`).
 * Uploads go through XMLHttpRequest, the one browser API that reports upload progress.
 */

/** A score result as the API returns it. */
export interface WebScoreResult {
  readonly score: number;
  readonly level: string;
  readonly perFrame: readonly number[];
  readonly rawScore: number;
  readonly frames: readonly { readonly index: number; readonly time: number }[];
  readonly description?: string;
}

/** A compare result as the API returns it. */
export interface WebCompareResult {
  readonly a: WebScoreResult;
  readonly b: WebScoreResult;
  readonly difference: number;
  readonly better: 'a' | 'b' | 'tie';
  readonly description?: string;
}

/** A job as `GET /v1/jobs/:id` returns it. */
export interface WebJob {
  readonly id: string;
  readonly kind: 'score' | 'compare' | 'describe';
  readonly state: 'queued' | 'running' | 'completed' | 'failed';
  readonly progress: number;
  readonly result?: unknown;
  readonly error?: { readonly code: string; readonly message: string };
  readonly attempts: number;
  readonly links: { readonly self: string };
}

/** An error answer of the API, or a failed job, or a network failure (status 0). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** A readable sentence for an API error (what happened, and what to do). */
export function describeApiError(error: ApiError): string {
  switch (error.status) {
    case 0:
      return `Could not reach the server: ${error.message}`;
    case 413:
      return `The file is too large for this server. ${error.message}`;
    case 415:
      return `The server did not accept the upload. ${error.message}`;
    case 422:
      return `This is not a video the server can read. ${error.message}`;
    case 429:
      return `The server is busy (queue full). Try again${error.retryAfterSeconds ? ` in ${error.retryAfterSeconds} s` : ' later'}.`;
    case 503:
      return `The server is not ready (${error.message}). Try again${error.retryAfterSeconds ? ` in ${error.retryAfterSeconds} s` : ' later'}.`;
    default:
      if (error.code === 'E_JOB_FAILED' || error.status === 200) return `Scoring failed: ${error.message}`;
      return `Request failed (${error.status} ${error.code}): ${error.message}`;
  }
}

function parseError(status: number, text: string, retryAfter: string | null): ApiError {
  let code = `HTTP_${status}`;
  let message = text.slice(0, 300) || `HTTP ${status}`;
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (body.error && typeof body.error.message === 'string') {
      message = body.error.message;
      if (typeof body.error.code === 'string') code = body.error.code;
    }
  } catch {
    // not JSON: keep the text
  }
  const seconds = retryAfter === null ? undefined : Number(retryAfter);
  return new ApiError(status, code, message, seconds !== undefined && Number.isFinite(seconds) ? seconds : undefined);
}

/**
 * Uploads the files as multipart/form-data to `POST /v1/<kind>`; `onUpload(fraction)` follows the
 * upload. Resolves with the accepted (or already finished) job; rejects with {@link ApiError}.
 */
export function submitJob(kind: 'score' | 'compare', files: Readonly<Record<string, File>>, describe: boolean, onUpload: (fraction: number) => void): Promise<WebJob> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [field, file] of Object.entries(files)) form.append(field, file, file.name);
    form.append('describe', describe ? 'true' : 'false');
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `v1/${kind}`);
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable && event.total > 0) onUpload(event.loaded / event.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status === 200 || xhr.status === 202) {
        try {
          resolve(JSON.parse(xhr.responseText) as WebJob);
        } catch {
          reject(new ApiError(xhr.status, 'E_BAD_RESPONSE', 'the server sent a response that is not JSON'));
        }
        return;
      }
      // A job that failed within ?wait= comes back as a job with an error.
      try {
        const job = JSON.parse(xhr.responseText) as Partial<WebJob>;
        if (job.state === 'failed' && job.error) {
          reject(new ApiError(xhr.status, job.error.code, job.error.message));
          return;
        }
      } catch {
        // fall through
      }
      reject(parseError(xhr.status, xhr.responseText, xhr.getResponseHeader('retry-after')));
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'E_NETWORK', 'the connection failed')));
    xhr.addEventListener('abort', () => reject(new ApiError(0, 'E_ABORTED', 'the upload was cancelled')));
    xhr.send(form);
  });
}

/** Polls the job every `intervalMs` until it ends; `onUpdate` sees each state. Rejects for a failed job. */
export async function waitForJob(job: WebJob, onUpdate: (job: WebJob) => void, intervalMs = 300): Promise<WebJob> {
  let current = job;
  for (;;) {
    onUpdate(current);
    if (current.state === 'completed') return current;
    if (current.state === 'failed') {
      const error = current.error ?? { code: 'E_INTERNAL', message: 'the job failed' };
      throw new ApiError(200, 'E_JOB_FAILED', `${error.message} (${error.code})`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    let response: Response;
    try {
      response = await fetch(`v1/jobs/${encodeURIComponent(current.id)}`, { headers: { accept: 'application/json' } });
    } catch {
      throw new ApiError(0, 'E_NETWORK', 'the connection failed while waiting for the result');
    }
    const text = await response.text();
    if (!response.ok) throw parseError(response.status, text, response.headers.get('retry-after'));
    current = JSON.parse(text) as WebJob;
  }
}
