import type pg from 'pg';
import { Gauge } from 'prom-client';
import { coerceError } from '../errors/errors.js';
import type { AlertThresholds } from '../config/alertThresholds.js';
import { evaluateAlerts, type Alert } from '../ops/alerts.js';
import type { Logger } from '../platform/logger.js';
import type { ReplicaStatus } from '../db/replicas.js';
import type { Metrics } from '../platform/metrics.js';

/** Scrapes closer together than this share one evaluation (one statement), whatever the scrapers. */
const CACHE_MS = 10_000;

interface RecallRow {
  index_name: string;
  table_name: string;
  method: string;
  recall: number;
}
const recallSql = `SELECT index_name, table_name, method, recall FROM vector_index_state WHERE recall IS NOT NULL`;

/**
 * The runbook's alerts on /metrics, so Prometheus can alert without polling GraphQL:
 * `lodestar_alert_firing{rule,severity}` (0/1), `lodestar_alert_value{rule}` and
 * `lodestar_alert_threshold{rule}`. Evaluated at scrape time (at most every 10 s); when the database
 * cannot answer, the gauges keep their last values and `lodestar_alert_evaluation_ok` drops to 0.
 */
export function registerAlertMetrics(
  metrics: Metrics,
  pool: Pick<pg.Pool, 'query'>,
  thresholds: AlertThresholds,
  logger: Logger,
  replicas: () => readonly ReplicaStatus[] = () => [],
): void {
  let cached: { at: number; alerts: Alert[] } | undefined;
  let pending: Promise<Alert[] | undefined> | undefined;
  const evaluationOk = new Gauge({
    name: 'lodestar_alert_evaluation_ok',
    help: '1 when the last alert evaluation read the database, 0 when it failed',
    registers: [metrics.registry],
    // Collected first: evaluate here, so even the first scrape reports this evaluation's outcome.
    async collect() {
      await current();
    },
  });
  const current = async (): Promise<Alert[] | undefined> => {
    if (cached && Date.now() - cached.at < CACHE_MS) return cached.alerts;
    pending ??= evaluateAlerts(pool, thresholds, replicas())
      .then((alerts) => {
        cached = { at: Date.now(), alerts };
        evaluationOk.set(1);
        return alerts;
      })
      .catch((error: unknown) => {
        evaluationOk.set(0);
        logger.warn({ err: coerceError(error) }, 'alert evaluation for /metrics failed');
        return cached?.alerts;
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
  new Gauge({
    name: 'lodestar_alert_firing',
    help: 'Runbook "Monitoring Alerts": 1 when the rule fires now',
    labelNames: ['rule', 'severity'],
    registers: [metrics.registry],
    async collect() {
      for (const alert of (await current()) ?? []) {
        this.set({ rule: alert.rule, severity: alert.severity }, alert.firing ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'lodestar_alert_value',
    help: 'The current value each alert rule compares (absent when there is nothing to measure)',
    labelNames: ['rule'],
    registers: [metrics.registry],
    async collect() {
      this.reset();
      for (const alert of (await current()) ?? []) {
        if (alert.value !== null) this.set({ rule: alert.rule }, alert.value);
      }
    },
  });
  let recalls: { at: number; rows: Promise<RecallRow[]> } | undefined;
  new Gauge({
    name: 'lodestar_vector_index_recall',
    help: 'Last measured recall@k of each vector index against exact search (absent until measured)',
    labelNames: ['index', 'table', 'method'],
    registers: [metrics.registry],
    async collect() {
      if (!recalls || Date.now() - recalls.at >= CACHE_MS) {
        recalls = {
          at: Date.now(),
          rows: pool
            .query<RecallRow>(recallSql)
            .then((r) => r.rows)
            .catch((error: unknown) => {
              logger.warn({ err: coerceError(error) }, 'vector recall for /metrics failed');
              recalls = undefined;
              return [];
            }),
        };
      }
      const rows = await recalls.rows;
      this.reset();
      for (const r of rows)
        this.set({ index: r.index_name, table: r.table_name, method: r.method }, r.recall);
    },
  });
  new Gauge({
    name: 'lodestar_alert_threshold',
    help: 'Each alert rule’s threshold (ALERT_* settings)',
    labelNames: ['rule'],
    registers: [metrics.registry],
    async collect() {
      for (const alert of (await current()) ?? []) this.set({ rule: alert.rule }, alert.threshold);
    },
  });
}
