/** Registry credentials as the Engine's `X-Registry-Auth` carries them. */
export interface RegistryAuth {
  username: string;
  password: string;
  serveraddress: string;
}

/** The header value as the Engine expects it: the credentials' JSON in base64 with the URL alphabet, padded (Go's base64.URLEncoding). */
export function registryAuthHeader(auth: RegistryAuth): string {
  return Buffer.from(JSON.stringify(auth)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}
