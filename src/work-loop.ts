/**
 * The loop every worker runs: do a round, and when the round found less than a full batch, sleep until
 * the idle timeout or a kick (new work committed in this process), whichever comes first. A kick that
 * comes while a round runs is kept: that round may have looked before the new work was committed, so
 * the next round starts at once instead of after the idle timeout.
 */
export class WorkLoop {
  private running = false;
  private wake?: () => void;
  private kickedDuringRound = false;
  private loop?: Promise<void>;

  constructor(
    private readonly round: () => Promise<number>,
    private readonly fullRound: number,
    private readonly idleWaitMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  kick(): void {
    if (this.wake) this.wake();
    else this.kickedDuringRound = true;
  }

  private async run(): Promise<void> {
    while (this.running) {
      let done = 0;
      this.kickedDuringRound = false;
      try {
        done = await this.round();
      } catch (err) {
        this.onError(err);
      }
      if (done < this.fullRound && this.running && !this.kickedDuringRound) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.idleWaitMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
      }
    }
  }
}
