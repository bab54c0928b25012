import { el } from './dom.js';

/**
 * Asks before an action changes anything: what will happen, and a reason that goes into the audit log
 * with it. Resolves to the reason, or null when cancelled. A reason is required (at most 500 characters,
 * as the API accepts).
 */
export function confirmAction(title: string, detail: string): Promise<string | null> {
  return new Promise((resolve) => {
    const reason = el('textarea', {
      attrs: {
        id: 'confirm-reason',
        maxlength: '500',
        rows: '3',
        required: '',
        placeholder: 'Why? (kept in the audit log)',
      },
    });
    const error = el('p', { className: 'field-error', attrs: { 'aria-live': 'polite' } });
    const confirm = el('button', { text: 'Confirm', className: 'danger', attrs: { type: 'submit' } });
    const cancel = el('button', { text: 'Cancel', attrs: { type: 'button' } });
    const form = el(
      'form',
      { attrs: { method: 'dialog', novalidate: '' } },
      el('h2', { text: title }),
      el('p', { text: detail }),
      el('label', { text: 'Reason', attrs: { for: 'confirm-reason' } }),
      reason,
      error,
      el('div', { className: 'dialog-actions' }, cancel, confirm),
    );
    const dialog = el('dialog', { attrs: { 'aria-label': title } }, form);
    const finish = (value: string | null) => {
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const text = reason.value.trim();
      if (text.length === 0) {
        error.textContent = 'Give a reason: it is recorded with the action.';
        reason.focus();
        return;
      }
      finish(text);
    });
    cancel.addEventListener('click', () => finish(null));
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      finish(null);
    });
    document.body.append(dialog);
    dialog.showModal();
    reason.focus();
  });
}
