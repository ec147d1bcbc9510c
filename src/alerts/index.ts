import type { Logger } from 'pino';
import { Agent } from 'undici';
import type { Db } from '../store/db.ts';
import type { OperatorWebhookConfig } from './config.ts';
import { OperatorAlertEvaluator } from './evaluator.ts';
import { OperatorWebhookSender, undiciStatusPost } from './sender.ts';

/** Retries of one event: about 3 hours in all, then it is given up (Prometheus's alert stays the record). */
export const OPERATOR_RETRY_DELAYS_MS = [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 3_600_000] as const;
/** Events kept while the receiver is away: far more transitions than the seven alerts make in hours. */
export const OPERATOR_QUEUE_SIZE = 1000;

/** The operator webhooks of a worker: the evaluator and its sender, with their own HTTP client. */
export function startOperatorAlerts(config: OperatorWebhookConfig, db: Db, log: Logger, now: () => number): { stop(): Promise<void> } {
  const t = config.timeoutMs;
  const agent = new Agent({ connections: 4, headersTimeout: t, bodyTimeout: t, connectTimeout: t });
  const sender = new OperatorWebhookSender({
    target: config.target,
    post: undiciStatusPost(agent),
    log,
    timeoutMs: config.timeoutMs,
    retryDelaysMs: OPERATOR_RETRY_DELAYS_MS,
    maxQueue: OPERATOR_QUEUE_SIZE,
    now,
  });
  const evaluator = new OperatorAlertEvaluator({ db, log, sender, intervalMs: config.intervalMs, stuckThreshold: config.stuckThreshold, now });
  evaluator.start();
  log.info({ target: config.target.shown, intervalMs: config.intervalMs }, 'operator webhooks on');
  return {
    async stop() {
      await evaluator.stop();
      // Its sends are aborted by now: destroy rather than close, which would wait for a hanging receiver.
      await agent.destroy();
    },
  };
}
