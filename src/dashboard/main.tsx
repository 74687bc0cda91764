import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, describeError, SESSION_ENDED, setCsrfToken, type Me } from './api.ts';
import { useRoute } from './hooks.ts';
import { live } from './live.ts';
import { DeadLettersView } from './views/dead-letters.tsx';
import { JobView } from './views/job.tsx';
import { JobsView } from './views/jobs.tsx';
import { LoginView } from './views/login.tsx';
import { ModesView } from './views/modes.tsx';
import { OverviewView } from './views/overview.tsx';
import { WorkersView } from './views/workers.tsx';

const NAV = [
  ['', 'Overview'],
  ['jobs', 'Jobs'],
  ['dead-letters', 'Dead letters'],
  ['workers', 'Workers'],
  ['modes', 'Modes'],
] as const;

function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [failure, setFailure] = useState<string | undefined>(undefined);
  const route = useRoute();

  const loadMe = () =>
    api<Me>('GET', '/v1/session').then(
      (who) => {
        setCsrfToken(who.csrfToken);
        setMe(who);
        live.start();
      },
      (error: unknown) =>
        error instanceof ApiError && error.status === 401
          ? setMe(null)
          : setFailure(describeError(error)),
    );
  const [ended, setEnded] = useState<string | undefined>(undefined);
  useEffect(() => void loadMe(), []);
  useEffect(() => {
    const onEnded = (event: Event) => {
      setEnded((event as CustomEvent<string>).detail || 'Your session has ended.');
      setMe(null);
    };
    addEventListener(SESSION_ENDED, onEnded);
    return () => removeEventListener(SESSION_ENDED, onEnded);
  }, []);

  if (failure)
    return (
      <main class="page">
        <p role="alert" class="error">
          {failure}
        </p>
      </main>
    );
  if (me === undefined)
    return (
      <main class="page">
        <p>Loading…</p>
      </main>
    );
  if (me === null) {
    const expired = new URLSearchParams(location.search).get('login') === 'expired';
    return (
      <LoginView
        onLogin={() => (setEnded(undefined), loadMe())}
        message={
          ended ??
          (expired
            ? 'That login link has been used or has expired. Paste a token instead.'
            : undefined)
        }
      />
    );
  }

  const [section = '', id] = route.path;
  const logout = async () => {
    await api('POST', '/v1/session/logout').catch(() => undefined);
    setMe(null);
  };
  return (
    <>
      <header class="bar">
        <strong class="brand">offload</strong>
        <nav aria-label="Sections">
          {NAV.map(([target, label]) => (
            <a href={`#/${target}`} aria-current={section === target ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <span class="who">
          {me.name}{' '}
          <button type="button" class="link" onClick={logout}>
            Log out
          </button>
        </span>
      </header>
      <main class="page" id="main">
        {section === '' && <OverviewView />}
        {section === 'jobs' && id === undefined && <JobsView query={route.query} />}
        {section === 'jobs' && id !== undefined && <JobView id={id} />}
        {section === 'dead-letters' && <DeadLettersView />}
        {section === 'workers' && <WorkersView />}
        {section === 'modes' && <ModesView />}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
