// The read or admin token: kept in sessionStorage only (gone when the tab
// closes), sent as "Authorization: Bearer"; never put in a URL or logged.
// If storage is disabled it lives in memory until the page is reloaded.

const KEY = 'pgdog-control.token';
let memoryToken = '';

export function currentToken(): string {
  try {
    return sessionStorage.getItem(KEY) ?? memoryToken;
  } catch {
    return memoryToken;
  }
}

export function setToken(token: string): void {
  memoryToken = token;
  try {
    if (token) sessionStorage.setItem(KEY, token);
    else sessionStorage.removeItem(KEY);
  } catch {
    /* storage disabled: memoryToken only */
  }
}
