import type { Route } from '../router.ts';
import { View } from '../ui.tsx';

export function NotificationsView(_props: { route: Route }) {
  return <View title="notifications">Not built yet.</View>;
}
