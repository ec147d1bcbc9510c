import type { Route } from '../router.ts';
import { View } from '../ui.tsx';

export function AuditView(_props: { route: Route }) {
  return <View title="audit">Not built yet.</View>;
}
