import type { Route } from '../router.ts';
import { View } from '../ui.tsx';

export function SearchView(_props: { route: Route }) {
  return <View title="search">Not built yet.</View>;
}
