import type { Result } from '../api.js';
import { intervalChart } from '../chart.js';
import { button, el, fmt, pct, section, table } from '../dom.js';
import type { PageContext, PageDef } from '../page.js';

type Data = Result<'ConsoleExperiments'>['ops'];
type Experiment = Data['experiments'][number];

function weightsEditor(ctx: PageContext, experiment: Experiment): HTMLElement {
  const inputs = experiment.arms.map((arm) =>
    el('input', {
      attrs: {
        type: 'number',
        min: '0',
        max: '1000',
        step: '1',
        value: String(arm.weight),
        'aria-label': `${experiment.key} ${arm.name} weight`,
      },
    }),
  );
  const rows = experiment.arms.map((arm, i) => [
    arm.name,
    arm.policy,
    arm.epsilon === null ? '—' : fmt(arm.epsilon),
    inputs[i] ?? null,
  ]);
  return el(
    'div',
    {},
    table(['arm', 'policy', 'ε', 'weight'], rows, `${experiment.key} arms`),
    el(
      'div',
      { className: 'actions' },
      button('Save weights', () => {
        const weights = inputs.map((input) => Number(input.value));
        if (weights.some((w) => !Number.isInteger(w) || w < 0)) {
          inputs
            .find((input) => !Number.isInteger(Number(input.value)) || Number(input.value) < 0)
            ?.reportValidity();
          return;
        }
        void ctx.act({
          title: `Save ${experiment.key}'s weights?`,
          detail: `New weights: ${experiment.arms.map((a, i) => `${a.name} ${weights[i]}`).join(', ')}. Viewers keep their arm while its weight stays above 0.`,
          name: 'ConsoleSaveExperiment',
          variables: (reason) => ({
            reason,
            input: {
              key: experiment.key,
              active: experiment.active,
              description: experiment.description,
              arms: experiment.arms.map((a, i) => ({
                name: a.name,
                policy: a.policy,
                epsilon: a.epsilon,
                weight: weights[i] ?? a.weight,
              })),
            },
          }),
          done: (r) =>
            `${r.saveExperiment.key} saved: ${r.saveExperiment.arms.map((a) => `${a.name} ${a.weight}`).join(', ')}`,
        });
      }),
    ),
  );
}

export const experiments: PageDef = {
  title: 'Experiments',
  question: 'How are the A/B arms weighted, and which one gets more engagement (with how much certainty)?',
  charts: false,
  async render(ctx) {
    const data = (await ctx.run('ConsoleExperiments', {})).ops;
    const report = data.policyReport;
    const panels = data.experiments.map((experiment) => {
      const arms = report.arms.filter((a) => a.experiment === experiment.key);
      const ctr = arms.map((a) => ({
        label: a.arm ?? a.policy,
        value: a.ctr?.value ?? null,
        low: a.ctr?.low ?? null,
        high: a.ctr?.high ?? null,
        note: `${fmt(a.impressions)} impressions`,
      }));
      const estimates = arms.flatMap((a) =>
        a.actions.flatMap((action) => [
          {
            label: `${a.arm ?? a.policy} · ${action.action} · IPS`,
            value: action.ips?.value ?? null,
            low: action.ips?.low ?? null,
            high: action.ips?.high ?? null,
          },
          {
            label: `${a.arm ?? a.policy} · ${action.action} · SNIPS`,
            value: action.snips?.value ?? null,
            low: action.snips?.low ?? null,
            high: action.snips?.high ?? null,
          },
        ]),
      );
      return el(
        'section',
        { className: 'panel', attrs: { 'data-experiment': experiment.key } },
        el(
          'h2',
          {},
          experiment.key,
          ' ',
          el('span', {
            className: `badge ${experiment.active ? 'rolling' : 'off'}`,
            text: experiment.active ? 'ACTIVE' : 'INACTIVE',
          }),
        ),
        experiment.description ? el('p', { text: experiment.description }) : null,
        weightsEditor(ctx, experiment),
        el(
          'div',
          { className: 'charts' },
          intervalChart('CTR per arm (95% Wilson interval)', ctr, (v) => pct(v)),
          intervalChart('Off-policy estimates per action (IPS, SNIPS; 95% intervals)', estimates, (v) =>
            pct(v),
          ),
        ),
      );
    });
    const since = new Date(report.since).toLocaleDateString('en-GB');
    return [
      el('p', { className: 'meta', text: `Engagement since ${since} (the policy report's default window).` }),
      ...(panels.length > 0
        ? panels
        : [
            section(
              'Experiments',
              el('p', { className: 'empty', text: 'No experiments (saveExperiment creates one).' }),
            ),
          ]),
    ];
  },
};
