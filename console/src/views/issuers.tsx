import type { Route } from '../router.ts';
import { View } from '../ui.tsx';

export function IssuersView(_props: { route: Route }) {
  return <View title="issuers">Not built yet.</View>;
}
