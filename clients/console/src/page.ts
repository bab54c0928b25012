import type { OperationName, Result, Variables } from './api.js';

/** A chart window: the last hour, day or week (the history keeps 7 days). */
export type Range = 'hour' | 'day' | 'week';

export const RANGE_MS: Record<Range, number> = { hour: 3600_000, day: 86_400_000, week: 7 * 86_400_000 };

export interface PageContext {
  run: <N extends OperationName>(name: N, variables: Variables<N>) => Promise<Result<N>>;
  /**
   * Asks for confirmation and a reason, runs the mutation with it, says how it went (with the audit id)
   * and draws the page again.
   */
  act: <N extends OperationName>(action: {
    title: string;
    detail: string;
    name: N;
    variables: (reason: string) => Variables<N>;
    done: (result: Result<N>) => string;
    /** Checked after the confirmation, before the mutation: a message refuses the action. */
    precheck?: () => Promise<string | null>;
  }) => Promise<void>;
  /** The chart window's start (ISO) for the range picked on the page. */
  since: string;
  range: Range;
  /** Where the console lives, for links between pages. */
  go: (page: PageName) => void;
}

export type PageName = 'overview' | 'queues' | 'latency' | 'vectors' | 'flags' | 'experiments' | 'audit';

export interface PageDef {
  title: string;
  /** What the page answers, shown under its title. */
  question: string;
  /** Whether the page has charts over time (it shows the hour/day/week picker). */
  charts: boolean;
  /** Drawn again every 30 s (default); the audit log is not, so pages paged in stay. */
  refresh?: boolean;
  render: (ctx: PageContext) => Promise<Node[]>;
}
