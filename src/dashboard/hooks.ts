import { useEffect, useState } from 'preact/hooks';
import { describeError } from './api.ts';
import { live } from './live.ts';

/**
 * Loads data, and (unless `follow` is false) loads it again whenever the store changes, at most twice a second (the stats worker's pulse).
 */
export function useLiveData<T>(
  load: () => Promise<T>,
  deps: unknown[],
  follow = true,
): { data: T | undefined; error: string | undefined; reload: () => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [tick, setTick] = useState(0);
  useEffect(() => (follow ? live.onChange(() => setTick((n) => n + 1)) : undefined), []);
  useEffect(() => {
    let current = true;
    load().then(
      (value) => current && (setData(value), setError(undefined)),
      (failure: unknown) => current && setError(describeError(failure)),
    );
    return () => {
      current = false;
    };
  }, [...deps, tick]);
  return { data, error, reload: () => setTick((n) => n + 1) };
}

/** Parses `#/jobs/42?state=failed` into a path and its query. */
export function useRoute(): { path: string[]; query: URLSearchParams } {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const onChange = () => setHash(location.hash);
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  const [path = '', query = ''] = hash.replace(/^#\/?/, '').split('?');
  return { path: path.split('/').filter(Boolean), query: new URLSearchParams(query) };
}

export function formatTime(iso: string | null): string {
  return iso ? new Date(iso).toLocaleTimeString() : '–';
}

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

export function durationOf(from: string | null, to: string | null): string {
  return from && to ? formatMs(Date.parse(to) - Date.parse(from)) : '–';
}
