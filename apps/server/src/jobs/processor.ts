/**
 * The job processor that runs a {@link Scorer}: shared by the in-process queue and by the
 * Redis workers. Results carry no file paths (uploads live under server-side spool names);
 * error messages name the job's fields (`video`, `a`, `b`) instead of spool paths.
 */
import type { CompareResult, ScoreResult, Scorer } from '@vqlm/models';
import { toJobError } from './in-process-queue.js';
import type { JobInput, JobProcessor } from './queue.js';

/** A score result as the API returns it (the video's path removed). */
export type ApiScoreResult = Omit<ScoreResult, 'path'>;

/** A compare result as the API returns it. */
export interface ApiCompareResult {
  readonly a: ApiScoreResult;
  readonly b: ApiScoreResult;
  readonly difference: number;
  readonly better: CompareResult['better'];
  readonly description?: string;
}

/** A describe result as the API returns it. */
export interface ApiDescribeResult {
  readonly description: string;
}

/** The job's field names, in the order of `input.videos`. */
export function fieldNames(input: Pick<JobInput, 'kind'>): readonly string[] {
  return input.kind === 'compare' ? ['a', 'b'] : ['video'];
}

function strip(result: ScoreResult): ApiScoreResult {
  const { path: _path, ...rest } = result;
  return rest;
}

/** An error whose message names the job's fields instead of its file paths. */
class JobFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'JobFailure';
  }
}

/**
 * A {@link JobProcessor} that scores, compares or describes with `scorer`. Progress: 0.05 when
 * the job starts, 1 when it is done (the Scorer API reports no finer steps).
 */
export function createScorerProcessor(scorer: Scorer): JobProcessor {
  return async (input, report) => {
    const names = fieldNames(input);
    if (input.videos.length !== names.length) {
      throw new JobFailure('E_BAD_REQUEST', `${input.kind}: expected ${names.length} video(s), got ${input.videos.length}`);
    }
    report(0.05);
    try {
      let result: ApiScoreResult | ApiCompareResult | ApiDescribeResult;
      if (input.kind === 'score') {
        result = strip(await scorer.score(input.videos[0], { describe: input.describe === true }));
      } else if (input.kind === 'compare') {
        const compared = await scorer.compare(input.videos[0], input.videos[1], { describe: input.describe === true });
        result = {
          a: strip(compared.a),
          b: strip(compared.b),
          difference: compared.difference,
          better: compared.better,
          ...(compared.description === undefined ? {} : { description: compared.description }),
        };
      } else {
        result = { description: await scorer.describe(input.videos[0]) };
      }
      report(1);
      return result;
    } catch (error) {
      const { code, message } = toJobError(error);
      let named = message;
      input.videos.forEach((video, i) => {
        named = named.split(JSON.stringify(video)).join(names[i]).split(video).join(names[i]);
      });
      throw new JobFailure(code, named);
    }
  };
}
