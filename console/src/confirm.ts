import { h } from './dom.ts';

export interface ConfirmOptions {
  /** The consequence, as a question: "This job is rendering: cancelling it still costs $0.80. Cancel it?" */
  question: string;
  /** The button that goes ahead: "Yes, cancel the job". */
  confirm: string;
  /** The button that changes nothing: "No, keep it". */
  keep: string;
  /**
   * The action; the confirmation stays (its buttons disabled) until it settles. `done` removes
   * it (the caller shows the outcome); `again`, or a failure, puts the button back.
   */
  run: () => Promise<'done' | 'again'>;
}

let counter = 0;

/**
 * Asks before a button's action, in place of the button: the consequence and two buttons. Focus
 * moves to the safe one, so a second press of Enter changes nothing; "No" or Escape puts the
 * button back, focused. A screen reader reads the question as the group's name on entering it.
 */
export function confirmBefore(trigger: HTMLButtonElement, options: ConfirmOptions): void {
  counter += 1;
  const questionId = `confirm-question-${counter}`;
  const yes = h('button', { type: 'button', class: 'danger' }, options.confirm);
  const no = h('button', { type: 'button', class: 'secondary' }, options.keep);
  const group = h(
    'div',
    { class: 'confirm', role: 'group', 'aria-labelledby': questionId },
    h('p', { id: questionId, class: 'confirm-question' }, options.question),
    yes,
    no,
  );
  const putBack = () => {
    group.replaceWith(trigger);
    trigger.focus();
  };
  no.addEventListener('click', putBack);
  group.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !yes.disabled) putBack();
  });
  yes.addEventListener('click', () => {
    yes.disabled = true;
    no.disabled = true;
    // The caller may have rendered the page again meanwhile: then there is nothing to undo.
    options.run().then(
      (outcome) => {
        if (!group.isConnected) return;
        if (outcome === 'done') group.remove();
        else putBack();
      },
      () => {
        if (group.isConnected) putBack();
      },
    );
  });
  trigger.replaceWith(group);
  no.focus();
}
