/**
 * The loop every worker runs: do a round, and when the round found less than a full batch, sleep until
 * the idle timeout or a kick (new work committed in this process), whichever comes first.
 */
export class WorkLoop {
  private running = false;
  private wake?: () => void;
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
    this.wake?.();
  }

  private async run(): Promise<void> {
    while (this.running) {
      let done = 0;
      try {
        done = await this.round();
      } catch (err) {
        this.onError(err);
      }
      if (done < this.fullRound && this.running) {
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
