import type { Route } from '../router.ts';
import { View } from '../ui.tsx';

export function CarriersView(_props: { route: Route }) {
  return <View title="carriers">Not built yet.</View>;
}
