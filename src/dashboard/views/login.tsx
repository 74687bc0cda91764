import { useState } from 'preact/hooks';
import { api, describeError } from '../api.ts';

export function LoginView({
  onLogin,
  message,
}: {
  onLogin: () => void;
  message: string | undefined;
}) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>(message);
  const submit = async (event: Event) => {
    event.preventDefault();
    try {
      await api('POST', '/v1/session', { token: token.trim() });
      history.replaceState(null, '', '/');
      onLogin();
    } catch (failure) {
      setError(describeError(failure));
    }
  };
  return (
    <main class="page login">
      <h1>offload</h1>
      <form onSubmit={submit} aria-describedby={error ? 'login-error' : undefined}>
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          required
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
        />
        <p class="hint">
          Use the login link or the session token <code>offload start</code> printed, or a token
          from <code>offload token create</code>.
        </p>
        <button type="submit">Log in</button>
        {error && (
          <p id="login-error" role="alert" class="error">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
