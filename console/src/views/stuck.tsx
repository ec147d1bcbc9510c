import type { Route } from '../router.ts';
import { View } from '../ui.tsx';

export function StuckView(_props: { route: Route }) {
  return <View title="stuck">Not built yet.</View>;
}
