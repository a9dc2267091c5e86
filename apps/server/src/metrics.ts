/** Prometheus metrics of one server instance (own registry, so several servers can share a process). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { JobQueue, JobRecord } from './jobs/queue.js';

export interface ServerMetrics {
  readonly registry: Registry;
  observeRequest(method: string, route: string, status: number, seconds: number): void;
  observeJob(record: JobRecord): void;
}

export function createMetrics(queue: JobQueue, options: { defaultMetrics?: boolean } = {}): ServerMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'vqlm_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'vqlm_http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  new Gauge({
    name: 'vqlm_queue_jobs',
    help: 'Jobs in the queue by state (waiting, active)',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      let depth: { waiting: number; active: number };
      try {
        depth = await queue.depth();
      } catch {
        // The queue backend (Redis) is unreachable: /metrics stays up; the gauge is reset so a stale depth is not reported.
        this.reset();
        return;
      }
      this.set({ state: 'waiting' }, depth.waiting);
      this.set({ state: 'active' }, depth.active);
    },
  });
  const jobs = new Counter({
    name: 'vqlm_jobs_total',
    help: 'Finished jobs by kind and outcome (completed, failed)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [registry],
  });
  const jobDuration = new Histogram({
    name: 'vqlm_job_duration_seconds',
    help: 'Job run time (start to finish) by kind and outcome',
    labelNames: ['kind', 'outcome'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [registry],
  });
  return {
    registry,
    observeRequest(method, route, status, seconds) {
      const labels = { method, route, status: String(status) };
      requests.inc(labels);
      latency.observe(labels, seconds);
    },
    observeJob(record) {
      jobs.inc({ kind: record.kind, outcome: record.state });
      if (record.startedAt && record.finishedAt) {
        const seconds = (Date.parse(record.finishedAt) - Date.parse(record.startedAt)) / 1000;
        jobDuration.observe({ kind: record.kind, outcome: record.state }, Math.max(0, seconds));
      }
    },
  };
}
