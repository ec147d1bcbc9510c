/**
 * A rolling restart under load on 2 api + 2 worker processes (bench/scale.ts and
 * test/e2e/rolling-restart.e2e.test.ts): track requests flow round-robin over the api processes while each
 * api, then each worker, gets SIGTERM, exits and is started again; then nothing may be lost.
 */
import { freshDatabase } from '../../test/helpers/stores.ts';
import { checkNothingLost, type LossCheck, registerIssuers, scaleReceiver, startCluster } from './cluster.ts';
import { failoverFeed } from './load.ts';

export interface RollingFigures extends LossCheck {
  requests: number;
  failedOver: number;
  /** Each stop in turn: which process, its exit code, SIGTERM to exit. */
  stops: { what: string; exitCode: number | null; drainMs: number }[];
}

/**
 * `rate` track requests/s (two per card, the second superseding the first) for as long as the restarts
 * take, with `pauseMs` of plain load before the first and after each; `issuers` issuers.
 */
export async function rollingRestart(rate: number, pauseMs = 1500, issuerCount = 4): Promise<RollingFigures> {
  const db = await freshDatabase('postgres');
  const rx = await scaleReceiver();
  const cluster = await startCluster(db.url, 2, 2);
  try {
    const issuers = await registerIssuers(cluster.apiUrls[0], issuerCount, rx.url);
    let restarting = true;
    const fed = failoverFeed(cluster.apiUrls, issuers, 'roll', rate, () => !restarting);
    const pause = () => new Promise((r) => setTimeout(r, pauseMs));
    const stops: RollingFigures['stops'] = [];
    try {
      await pause();
      for (let i = 0; i < 2; i++) {
        stops.push({ what: `api ${i}`, ...(await cluster.restartApi(i)) });
        await pause();
      }
      for (let i = 0; i < 2; i++) {
        stops.push({ what: `worker ${i}`, ...(await cluster.restartWorker(i)) });
        await pause();
      }
    } finally {
      restarting = false;
    }
    const feed = await fed;
    const check = await checkNothingLost(db.url, feed.accepted, rx, 120_000);
    return { ...check, requests: feed.requests, failedOver: feed.failedOver, stops };
  } finally {
    await cluster.stop();
    await rx.close();
    await db.drop();
  }
}

/** The figures in two lines. */
export function describeRolling(r: RollingFigures, rate: number): string[] {
  return [
    `rolling restart 2+2 at ${rate} track requests/s: ${r.stops.map((s) => `${s.what} exit ${s.exitCode} after ${Math.round(s.drainMs)} ms`).join('; ')}`,
    `  requests sent ${r.requests}, failed over to the other api ${r.failedOver}; operations accepted ${r.accepted}, lost ${r.lostOperations}` +
      `  | notifications committed ${r.committed}, received ${r.received}, lost ${r.lostNotifications}, operations out of order ${r.outOfOrder}`,
  ];
}
