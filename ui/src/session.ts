/**
 * The user's token lives in sessionStorage only: gone when the tab closes, never in a URL,
 * a cookie or localStorage. Non-secret preferences (prices) go to localStorage.
 */
const TOKEN_KEY = 'kube-usage-operator.token';
const PREFS_KEY = 'kube-usage-operator.prefs';

export function loadToken(): string | undefined {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export function saveToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

export function loadPrefs<T extends object>(defaults: T): T {
  try {
    const stored = JSON.parse(localStorage.getItem(PREFS_KEY) ?? '{}') as Partial<T>;
    return { ...defaults, ...stored };
  } catch {
    return defaults;
  }
}

export function savePrefs(prefs: object): void {
  try {
    localStorage.setItem(PREFS_KEY, JSON.stringify(prefs));
  } catch {
    // Storage may be full or disabled; prices then last for this page only.
  }
}
