import { ApiClient, ApiError } from '../api-client.ts';
import { type AppContext, pageTitle } from '../app-context.ts';
import { h, replaceChildren } from '../dom.ts';
import { saveToken } from '../session.ts';

/** Asks for the API token, checks it against the API, and keeps it for this browser tab. */
export async function renderSignIn(context: AppContext): Promise<void> {
  pageTitle('Sign in');
  const input = h('input', {
    id: 'token',
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    required: true,
    'aria-describedby': 'token-help token-source token-error',
  });
  const error = h('p', { id: 'token-error', class: 'field-error', role: 'alert' });
  const form = h(
    'form',
    { class: 'card narrow', novalidate: true },
    h('label', { for: 'token' }, 'API token'),
    input,
    h(
      'p',
      { id: 'token-help', class: 'hint' },
      'The bearer token of the HTTP API. It is kept for this browser tab only and sent only to the API.',
    ),
    h(
      'p',
      { id: 'token-source', class: 'hint' },
      'Where it comes from: on the local stack, ',
      h('code', {}, 'npm start'),
      ' prints it (the Auth line) with a Console link that signs you in; it is also in ',
      h('code', {}, '.local/stack.json'),
      '. On AWS, ask the operator who manages the API tokens secret for one (docs/guide.md, section 12, “Clients”).',
    ),
    error,
    h('button', { type: 'submit' }, 'Sign in'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) {
      error.textContent = 'Enter the API token.';
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    void new ApiClient(context.config.apiUrl, token).usage().then(
      () => {
        saveToken(token);
        context.navigate('#/');
      },
      (failure: unknown) => {
        input.setAttribute('aria-invalid', 'true');
        error.textContent =
          failure instanceof ApiError && (failure.status === 401 || failure.status === 403)
            ? 'The API refused this token.'
            : `The API could not be reached: ${String(failure instanceof Error ? failure.message : failure)}`;
        input.focus();
      },
    );
  });
  replaceChildren(context.main, h('h1', {}, 'Sign in'), form);
}
