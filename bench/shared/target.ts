/** One checked target of a phase's results: shown in the report as PASS or FAIL. */
export interface Target {
  name: string;
  value: string;
  target: string;
  pass: boolean;
}
