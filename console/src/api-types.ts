// The Admin API's answers as the hub documents them: types generated from openapi.json (`npm run openapi`
// writes them into the SDK's package), so a view and the route it reads cannot drift apart unnoticed —
// `tsc -p console` fails when a field a view uses is renamed or removed.
import type { paths } from '../../packages/issuer/src/generated/openapi.ts';

type Get<P extends keyof paths> = paths[P] extends { get: { responses: { 200: { content: { 'application/json': infer A } } } } } ? A : never;

/** The 200 answer of `GET path`, e.g. `Answer<'/admin/v1/audit'>`. */
export type Answer<P extends keyof paths> = Get<P>;
