import type { Route } from '../router.ts';
import { View } from '../ui.tsx';

export function SitesView(_props: { route: Route }) {
  return <View title="sites">Not built yet.</View>;
}
