/**
 * The upload spool: each upload request gets its own directory `upload-XXXXXX` under the spool
 * directory. The request removes it when validation fails or the client goes away; once queued, the
 * job owns it (its path is in `JobInput.owned`) and the queue removes it when the job ends.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export class Spool {
  readonly dir: string;
  private readonly live = new Set<string>();

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  /** A fresh directory for one request's files. */
  async create(): Promise<string> {
    await this.init();
    const dir = await mkdtemp(join(this.dir, 'upload-'));
    this.live.add(dir);
    return dir;
  }

  /** The directory now belongs to a job (the queue removes it). */
  release(dir: string): void {
    this.live.delete(dir);
  }

  async remove(dir: string): Promise<void> {
    this.live.delete(dir);
    await rm(dir, { recursive: true, force: true });
  }

  /** Removes every directory still held by a request (at shutdown). */
  async removeAll(): Promise<void> {
    await Promise.all([...this.live].map((dir) => this.remove(dir)));
  }

  /** Directories held by requests in progress. */
  get size(): number {
    return this.live.size;
  }
}
