import { View } from '../ui.tsx';

export function CardView({ issuerId, cardId }: { issuerId: string; cardId: string }) {
  return (
    <View title={`Card ${cardId}`}>
      {issuerId} {cardId}
    </View>
  );
}
